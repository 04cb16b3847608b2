from distillab import teacher
from distillab.ledger import Ledger
from distillab.models import load_model
from distillab.workspace import teacher_path


def test_recipe_trains_records_and_saves(tmp_path):
    run = teacher.train_teacher(size="tiny", profile="fast", num_steps=3, progress=False)
    assert run.provenance.steps == 3 and run.provenance.flops == run.history.total_flops > 0
    assert set(run.evaluation.accuracy) == {1, 2, 3, 4, 5}
    entry = teacher.record_teacher(run)
    assert Ledger().entries()[0].flops == entry.flops


def test_command_line_saves_the_teacher(capsys):
    teacher.main(["--profile", "fast", "--size", "tiny", "--steps", "3"])
    model, tokenizer, provenance = load_model(teacher_path("fast"))
    assert provenance.size == "tiny" and provenance.steps == 3
    assert "accuracy by difficulty" in capsys.readouterr().out
