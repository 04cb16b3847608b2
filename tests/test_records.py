"""Typed run records: what a family is, where a teacher lives and whether it is still the same
weights, and the one line format of the ledger."""

import json
from dataclasses import replace

import pytest
from helpers import REFERENCE, record

from distillab import records
from distillab.models import PROVENANCE_FILE, Provenance, build_model, count_parameters, save_model
from distillab.records import OtherVersionError, RecordError, RunRecord, TeacherRef
from distillab.workspace import REFERENCE_TEACHER, portable, teacher_path


def test_a_record_round_trips_through_one_ledger_line():
    run = record(records.ON_POLICY, "on-policy", 0.9, warm_start=2e12, teacher_data=6e11, student_sampling=1e10)
    back = RunRecord.from_json(run.to_json())
    assert back == run and back.accuracy == {d: 0.9 for d in range(1, 6)}
    assert back.compute.total() == pytest.approx(1e11 + 2e12 + 6e11)
    assert back.compute.total(REFERENCE.training_flops) == pytest.approx(1e11 + 2e12 + 6e11 + REFERENCE.training_flops)


def test_the_teacher_reference_reads_the_saved_teacher():
    provenance = json.loads((REFERENCE_TEACHER / PROVENANCE_FILE).read_text())
    assert REFERENCE.location == "package:reference/teacher" and len(REFERENCE.weights_sha256) == 64
    assert REFERENCE.training_flops == provenance["flops"] and REFERENCE.parameters == provenance["parameters"]
    assert REFERENCE.changed_since() is None


def test_a_retrained_teacher_is_detected(tokenizer):
    folder = teacher_path("standard")
    model = build_model("tiny", tokenizer, seed=0)
    provenance = Provenance("tiny", 0, "standard", 1, count_parameters(model))
    save_model(model, tokenizer, folder, provenance)
    before = TeacherRef.of(folder, "your own")
    assert before.location == "home:standard/teacher" and before.changed_since() is None
    save_model(build_model("tiny", tokenizer, seed=1), tokenizer, folder, provenance)  # same name, new weights
    assert "retrained since" in before.changed_since()
    assert TeacherRef.of(folder, "your own").weights_sha256 != before.weights_sha256


def test_a_family_is_one_of_the_constants_and_a_distilled_run_names_its_teacher():
    with pytest.raises(RecordError, match="unknown family 'distilled somehow'"):
        record("distilled somehow", "x", 0.5)
    with pytest.raises(RecordError, match="needs teacher"):
        replace(record(records.TRACES, "x", 0.5), teacher=None)
    with pytest.raises(RecordError, match="has no teacher"):
        replace(record(records.ANSWERS_ONLY, "x", 0.5), teacher=REFERENCE)


def test_a_line_of_another_version_or_shape_is_refused_not_guessed():
    old = {"kind": "KD", "model_size": "small", "parameters": 1, "data_size": 1, "steps": 1, "flops": 1.0,
           "seconds": 1.0, "accuracy": {"1": 0.5}, "extra": {"teacher": "half-budget"}}
    with pytest.raises(OtherVersionError, match="schema 1"):
        RunRecord.from_json(json.dumps(old))
    line = json.loads(record(records.TRACES, "x", 0.5).to_json())
    with pytest.raises(RecordError, match="unknown family"):
        RunRecord.from_json(json.dumps({**line, "family": "mystery"}))
    with pytest.raises(RecordError, match="missing or unexpected"):
        RunRecord.from_json(json.dumps({**line, "flops": 3.0}))
    for text in ("not json", "[1, 2]"):
        with pytest.raises(RecordError):
            RunRecord.from_json(text)


def test_portable_locations_survive_a_move_of_the_home_folder(monkeypatch, tmp_path):
    location = portable(teacher_path("standard"))
    monkeypatch.setenv("DISTILLAB_HOME", str(tmp_path / "elsewhere"))
    from distillab.workspace import resolve

    assert resolve(location) == tmp_path / "elsewhere" / "standard" / "teacher"
    assert resolve(portable(tmp_path / "any" / "folder")) == (tmp_path / "any" / "folder").resolve()
