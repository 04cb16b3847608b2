from distillab import workspace
from distillab.models import Provenance, build_model, count_parameters, save_model
from distillab.profiles import get_profile


def test_workspace_is_per_profile_and_takes_the_profile_it_is_given(isolated_workspace):
    assert workspace.workspace("fast") == isolated_workspace / "fast"
    assert workspace.workspace(get_profile("standard")) == isolated_workspace / "standard"
    assert workspace.teacher_path("standard") == isolated_workspace / "standard" / "teacher"
    assert workspace.ledger_path(get_profile("standard")).parent.name == "standard"  # $DISTILLAB_PROFILE is fast


def test_find_teacher_prefers_your_own_standard_teacher(tokenizer, monkeypatch, tmp_path):
    monkeypatch.setattr(workspace, "REFERENCE_TEACHER", tmp_path / "reference")
    model = build_model("tiny", tokenizer)
    provenance = Provenance("tiny", 0, "standard", 1, count_parameters(model))
    save_model(model, tokenizer, tmp_path / "reference", provenance)
    assert workspace.find_teacher() == (tmp_path / "reference", "the reference")
    assert not (workspace.home() / "standard").exists()  # looking for it made no empty standard/ folder
    save_model(model, tokenizer, workspace.teacher_path("fast"), provenance)
    assert workspace.find_teacher()[1] == "the reference"  # a fast teacher is only a smoke test
    save_model(model, tokenizer, workspace.teacher_path("standard"), provenance)
    assert workspace.find_teacher() == (workspace.teacher_path("standard"), "your own")


def test_no_teacher_at_all_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(workspace, "REFERENCE_TEACHER", tmp_path / "missing")
    try:
        workspace.find_teacher()
    except FileNotFoundError as error:
        assert "run chapter 01" in str(error)
    else:
        raise AssertionError("expected FileNotFoundError")


def test_a_teacher_far_below_the_reference_is_named_with_the_way_back(tokenizer, monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(workspace, "REFERENCE_TEACHER", tmp_path / "reference")
    model = build_model("tiny", tokenizer)
    perfect = {d: 1.0 for d in range(1, 6)}
    save_model(model, tokenizer, tmp_path / "reference", Provenance("large", 0, "standard", 900, 1, accuracy=perfect))
    near = {d: 0.95 for d in range(1, 6)}  # 5 points below: no warning
    save_model(model, tokenizer, workspace.teacher_path("standard"), Provenance("large", 1, "standard", 900, 1, accuracy=near))
    assert workspace.find_teacher()[1] == "your own" and "⚠" not in capsys.readouterr().out
    weak = {1: 0.3, 2: 0.1, 3: 0.0, 4: 0.0, 5: 0.0}  # a 10-step Try-this teacher
    save_model(model, tokenizer, workspace.teacher_path("standard"), Provenance("large", 0, "standard", 10, 1, accuracy=weak))
    assert workspace.find_teacher() == (workspace.teacher_path("standard"), "your own")  # still the one used
    out = capsys.readouterr().out
    assert "⚠" in out and "10 steps, 8 % mean held-out accuracy, 92 points below the reference teacher's 100 %" in out
    assert f"delete {workspace.teacher_path('standard')}" in out and "default knobs" in out
