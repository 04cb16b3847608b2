from distillab import teacher
from distillab.ledger import Ledger
from distillab.models import load_model, weights_sha256
from distillab.profiles import get_profile
from distillab.records import TEACHER
from distillab.workspace import ledger_path, teacher_path


def test_recipe_trains_records_and_saves():
    run = teacher.train_teacher(profile="fast", size="tiny", num_steps=3, progress=False)
    assert run.provenance.steps == 3 and run.provenance.flops == run.history.total_flops > 0
    assert set(run.evaluation.accuracy) == {1, 2, 3, 4, 5}
    record = teacher.record_teacher(run)
    assert Ledger(run.profile).entries() == [record]
    assert record.family == TEACHER and record.compute.training == run.provenance.flops


def test_the_profile_a_chapter_chose_decides_the_ledger_not_the_environment(monkeypatch):
    """Chapter 01 with PROFILE = "fast" in its knob cell and $DISTILLAB_PROFILE unset: the fast
    teacher is recorded in the fast ledger and saved in the fast workspace, never the standard's."""
    monkeypatch.delenv("DISTILLAB_PROFILE")
    profile = get_profile("fast")  # the knob cell's choice
    run = teacher.train_teacher(profile, size="tiny", num_steps=2, progress=False)
    saved = teacher.save_model(run.model, run.tokenizer, teacher_path(profile), run.provenance)
    record = teacher.record_teacher(run, saved)
    assert get_profile().name == "standard"  # what the environment alone would have chosen
    assert Ledger(get_profile("fast")).entries() == [record] and record.weights_sha256 == weights_sha256(saved)
    assert not ledger_path("standard").exists() and Ledger(get_profile("standard")).entries() == []
    assert not teacher_path("standard").exists()


def test_command_line_saves_the_teacher(capsys):
    teacher.main(["--profile", "fast", "--size", "tiny", "--steps", "3"])
    model, tokenizer, provenance = load_model(teacher_path("fast"))
    assert provenance.size == "tiny" and provenance.steps == 3
    assert Ledger(get_profile("fast")).entries()[0].weights_sha256 == weights_sha256(teacher_path("fast"))
    assert "accuracy by difficulty" in capsys.readouterr().out
