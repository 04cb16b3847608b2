import pytest

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


def stopped_at(step: int, profile, num_steps: int):
    """A tiny teacher whose training the learner stopped (Ctrl-C) during step `step`."""
    import os
    import signal

    from distillab import training

    real = training.BatchSampler.next_batch
    calls = {"n": 0}

    def press_stop(self):
        calls["n"] += 1
        if calls["n"] == step:
            os.kill(os.getpid(), signal.SIGINT)
        return real(self)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(training.BatchSampler, "next_batch", press_stop)
        return teacher.train_teacher(profile, size="tiny", num_steps=num_steps, progress=False)


def test_a_stopped_teacher_is_saved_recorded_and_resumed_to_the_uninterrupted_result():
    """Ctrl-C in the middle of chapter 01's training: the teacher so far is saved (with what resuming
    needs) and recorded as interrupted; the same recipe run again finishes it, and the result is the
    run that never stopped. Chapter 05 then shows the finished teacher only."""
    import torch

    from distillab import frontier

    fast = get_profile("fast")
    whole = teacher.train_teacher(fast, size="tiny", num_steps=8, progress=False)
    stopped = stopped_at(3, fast, num_steps=8)
    assert stopped.history.interrupted and stopped.provenance.steps == 3 and stopped.provenance.interrupted
    folder = teacher.save_teacher(stopped, teacher_path(fast))
    partial = teacher.record_teacher(stopped, folder)
    assert partial.interrupted and partial.steps == 3
    model, _, provenance = load_model(folder)  # a loadable partial teacher
    assert provenance.interrupted and provenance.planned_steps == 8

    finished = teacher.train_teacher(fast, size="tiny", num_steps=8, progress=False, resume_from=folder)
    assert not finished.history.interrupted and finished.provenance.steps == 8
    assert finished.history.loss == whole.history.loss and finished.evaluation.accuracy == whole.evaluation.accuracy
    assert all(torch.equal(a, b) for a, b in zip(finished.model.parameters(), whole.model.parameters()))
    teacher.save_teacher(finished, folder)
    done = teacher.record_teacher(finished, folder)
    assert done.continues == partial.weights_sha256 and not (folder / "training_state.safetensors").exists()
    points = frontier.points(Ledger(fast).entries(), fast)
    assert [(p.label, p.parameters) for p in points] == [("teacher", done.parameters)]  # the stopped run is superseded
    other_recipe = teacher.interrupted_run(folder, "tiny", fast, 0, fast.training_config(8))
    assert other_recipe is None  # nothing left to resume


def test_a_resume_that_cannot_continue_refuses_and_keeps_the_stopped_teacher():
    """Chapter 01 stopped at step 2 of 6, then run again with 8 steps: no silent fresh start over
    the stopped teacher; the error names the difference and the ways on; START_OVER replaces it."""
    fast = get_profile("fast")
    stopped = stopped_at(2, fast, num_steps=6)
    folder = teacher.save_teacher(stopped, teacher_path(fast))
    before = weights_sha256(folder)
    with pytest.raises(ValueError, match=r"stopped at step 2 of 6, and this run cannot continue it: steps 6 there, "
                                         r"8 now\. Continue it:.*Start over: set START_OVER = True.*Keep both"):
        teacher.train_teacher(fast, size="tiny", num_steps=8, progress=False, resume_from=folder)
    assert weights_sha256(folder) == before and (folder / "training_state.safetensors").is_file()
    fresh = teacher.train_teacher(fast, size="tiny", num_steps=8, progress=False, resume_from=folder, start_over=True)
    assert fresh.provenance.steps == 8 and fresh.continues is None


def test_a_finished_teacher_of_the_same_recipe_is_read_back_not_trained_again(capsys):
    """Chapter 01 run again with the same knobs: the saved teacher, its history and its evaluation
    come back, nothing is trained or recorded twice; another budget or RETRAIN trains."""
    fast = get_profile("fast")
    folder = teacher_path(fast)
    first = teacher.train_teacher(fast, size="tiny", num_steps=4, progress=False, resume_from=folder)
    teacher.save_teacher(first, folder)
    recorded = teacher.record_teacher(first, folder)
    capsys.readouterr()
    again = teacher.train_teacher(fast, size="tiny", num_steps=4, progress=False, resume_from=folder)
    assert again.reused and "read back, not trained again" in capsys.readouterr().out
    assert again.history.loss == first.history.loss and again.evaluation.accuracy == first.evaluation.accuracy
    assert again.evaluation.flops == first.evaluation.flops and again.provenance == load_model(folder)[2]
    assert teacher.save_teacher(again, folder) == folder and teacher.record_teacher(again, folder) == recorded
    assert len(Ledger(fast).entries()) == 1
    assert not teacher.train_teacher(fast, size="tiny", num_steps=5, progress=False, resume_from=folder).reused
    fresh = teacher.train_teacher(fast, size="tiny", num_steps=4, progress=False, resume_from=folder, retrain=True)
    assert not fresh.reused and fresh.history.loss == first.history.loss  # the same recipe, the same result


def test_going_back_to_knobs_trained_before_reads_that_teacher_back(capsys):
    """Chapter 01's Try-this (another budget) replaces the workspace's teacher; back at the first
    knobs, the first teacher is read back from where finished teachers are kept: the same weights,
    no training, no second ledger line."""
    fast = get_profile("fast")
    folder = teacher_path(fast)
    first = teacher.train_teacher(fast, size="tiny", num_steps=4, progress=False, resume_from=folder)
    teacher.save_teacher(first, folder)
    recorded = teacher.record_teacher(first, folder)
    first_weights = weights_sha256(folder)
    other = teacher.train_teacher(fast, size="tiny", num_steps=3, progress=False, resume_from=folder)
    teacher.save_teacher(other, folder)
    teacher.record_teacher(other, folder)
    assert weights_sha256(folder) != first_weights
    capsys.readouterr()
    back = teacher.train_teacher(fast, size="tiny", num_steps=4, progress=False, resume_from=folder)
    assert back.reused and "read back, not trained again" in capsys.readouterr().out
    assert teacher.save_teacher(back, folder) == folder and weights_sha256(folder) == first_weights
    assert teacher.record_teacher(back, folder) == recorded and len(Ledger(fast).entries()) == 2
    kept = sorted(p.name for p in (folder.parent / "teachers").iterdir())
    assert len(kept) == 2  # both finished teachers, by key
    again = teacher.train_teacher(fast, size="tiny", num_steps=3, progress=False, resume_from=folder)
    assert again.reused and again.history.loss == other.history.loss


def test_the_reference_teachers_table_reads_their_provenance():
    rows = teacher.reference_rows()
    assert [(row["reference teacher"], row["steps"]) for row in rows] == [("full budget", 900), ("half budget", 450)]
    assert all(0 <= row[f"{d}-step (%)"] <= 100 for row in rows for d in range(1, 6))
    assert rows[0]["5-step (%)"] >= rows[1]["5-step (%)"]  # the full budget knows at least as much
