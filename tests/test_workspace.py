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
