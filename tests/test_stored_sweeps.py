"""Stored sweeps: one serialiser, files that name their schema and writer, and a clear way back
when a file is missing or was written by something else."""

import json
from dataclasses import dataclass

import pytest

from distillab import stored_sweeps
from distillab.comparison import Comparison, StudentRun


def runs(arm, *means):
    return [StudentRun(arm, seed, {1: mean, 2: mean}, 1e9, 1.0, 10, 5) for seed, mean in enumerate(means)]


def measure(profile):  # a stand-in for a module's measure_sweeps
    shared = runs("SFT", 0.3, 0.4)
    return {"profile": "fast", "seeds": [0, 1], "seconds": 1.0, "comparisons": {
        "loss": Comparison({"SFT": shared, "KD": runs("KD", 0.5, 0.6)}),
        "N": {250: Comparison({"SFT": shared, "KD": runs("KD", 0.2, 0.3)})}}}


@dataclass(frozen=True)
class ToyComparisons:
    loss: Comparison
    n: dict[int, Comparison]


@dataclass(frozen=True)
class Toy(stored_sweeps.Stored):  # a stand-in for a module's sweep class
    comparisons: ToyComparisons


def test_comparisons_round_trip_at_any_depth_and_runs_are_counted_once(tmp_path):
    results = measure(None)
    assert stored_sweeps.student_runs(results) == 6  # the shared SFT runs count once
    path = tmp_path / "stored.json"
    path.write_text(stored_sweeps.to_json(results, measure))
    stored = json.loads(path.read_text())
    assert stored["schema"] == stored_sweeps.SCHEMA and stored["written_by"] == f"{__name__}.measure"
    assert stored["student_runs"] == 6
    back = stored_sweeps.read(path, Toy, measure, "make it")
    assert isinstance(back.comparisons.n[250], Comparison) and back.seeds == (0, 1)  # JSON's "250" a number again
    assert back.comparisons.loss.table() == results["comparisons"]["loss"].table()
    assert back.student_runs == 6 and stored_sweeps.measured(results, Toy, measure) == back
    assert back.measured_with("2 steps") == "measured at the fast profile: seeds 0, 1, 2 steps: 6 student runs in 0.0 min"


def test_missing_or_foreign_files_say_how_to_measure_again(tmp_path):
    with pytest.raises(FileNotFoundError, match="run `make it`"):
        stored_sweeps.read(tmp_path / "nothing.json", Toy, measure, "make it")
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"profile": "standard", "sweeps": {}}))
    with pytest.raises(ValueError, match="holds an older format written by an older version.*run `make it`"):
        stored_sweeps.read(old, Toy, measure, "make it")
    other = tmp_path / "other.json"
    other.write_text(stored_sweeps.to_json(measure(None), test_missing_or_foreign_files_say_how_to_measure_again))
    with pytest.raises(ValueError, match="this version reads .* written by .*measure"):
        stored_sweeps.read(other, Toy, measure, "make it")


def test_the_command_writes_the_file(tmp_path, capsys):
    out = tmp_path / "out.json"
    stored_sweeps.sweep_command("test", measure, out, ["--profile", "fast"])
    assert json.loads(out.read_text())["student_runs"] == 6 and "wrote" in capsys.readouterr().out


def test_a_sweep_run_as_a_module_names_its_real_module(monkeypatch):
    """`python -m distillab.X` runs X as `__main__`; the stored file must still name distillab.X."""
    import sys
    import types

    from distillab.stored_sweeps import writer_name

    def measure_sweeps():
        pass

    measure_sweeps.__module__, measure_sweeps.__qualname__ = "__main__", "measure_sweeps"
    main = types.ModuleType("__main__")
    main.__spec__ = types.SimpleNamespace(name="distillab.filter_experiments")
    monkeypatch.setitem(sys.modules, "__main__", main)
    assert writer_name(measure_sweeps) == "distillab.filter_experiments.measure_sweeps"


@dataclass(frozen=True)
class ArmsComparisons:
    arms: Comparison


@dataclass(frozen=True)
class Arms(stored_sweeps.Stored):
    teacher_data_flops: dict[str, float]
    comparisons: ArmsComparisons


def test_a_file_of_the_previous_schema_reads_with_its_names_changed_and_upgrades_in_place(tmp_path, capsys):
    """Schema 2 spelt the teacher's data cost "teacher_flops" and the answers-only arm "answer-only"."""
    results = {"profile": "fast", "seeds": [0, 1], "seconds": 1.0, "teacher_data_flops": {"answers only": 0.0},
               "comparisons": {"arms": Comparison({"answers only": runs("answers only", 0.3, 0.4), "KD": runs("KD", 0.5, 0.6)})}}
    current = stored_sweeps.to_json(results, measure)
    previous = (current.replace(stored_sweeps.SCHEMA, stored_sweeps.PREVIOUS).replace('"answers only"', '"answer-only"')
                .replace('"teacher_data_flops"', '"teacher_flops"'))
    assert '"answer-only"' in previous and "teacher_data_flops" not in previous
    path = tmp_path / "old.json"
    path.write_text(previous)
    back = stored_sweeps.read(path, Arms, measure, "make it")
    assert back.schema == stored_sweeps.SCHEMA and back.teacher_data_flops == {"answers only": 0.0}
    assert list(back.comparisons.arms) == ["answers only", "KD"]
    assert [run.arm for run in back.comparisons.arms["answers only"]] == ["answers only"] * 2  # inside the runs too
    stored_sweeps.main(["--upgrade", str(path)])
    assert path.read_text() == current and "upgraded" in capsys.readouterr().out  # as if written now
    assert stored_sweeps.upgrade_file(path) is False  # already current: left as it is


def test_the_reader_turns_text_keys_into_the_numbers_the_type_names_and_says_what_is_missing():
    assert stored_sweeps.typed(dict[float, dict[int, float]], {"0.5": {"1": 0.25}}) == {0.5: {1: 0.25}}
    assert stored_sweeps.typed(tuple[int, ...], [1, 2]) == (1, 2) and stored_sweeps.typed(float, 3) == 3.0
    assert stored_sweeps.field_name("top-k") == "top_k" and stored_sweeps.field_name("own samples") == "own_samples"
    with pytest.raises(ValueError, match="the key 'x' should be a number"):
        stored_sweeps.typed(dict[int, float], {"x": 1.0})
    with pytest.raises(ValueError, match="the stored results lack comparisons .read as Arms."):
        stored_sweeps.typed(Arms, {"schema": "s", "written_by": "w", "student_runs": 0, "profile": "fast", "seeds": [0],
                                   "seconds": 1.0, "teacher_data_flops": {}})
