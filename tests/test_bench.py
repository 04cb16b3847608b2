"""The benchmark's pure parts: a chapter's headline read back from the ledger by its arm constants,
whatever their display names are."""

import pytest
from helpers import record

from distillab import bench, kd_experiments, records
from distillab.ledger import Ledger
from distillab.profiles import get_profile


def test_paired_points_pairs_a_chapters_runs_by_seed(tmp_path):
    ledger = Ledger(get_profile("fast"), tmp_path / "ledger.jsonl")
    for r in [record(records.TRACES, "SFT", 0.40, chapter="02"), record(records.LOGITS, "KD", 0.50, chapter="02"),
              record(records.TRACES, "SFT", 0.45, seed=1, chapter="02"), record(records.LOGITS, "KD", 0.50, seed=1, chapter="02"),
              record(records.LOGITS, "KD", 0.90, seed=2, chapter="02"), record(records.LOGITS, "KD", 0.99, chapter="04")]:
        ledger.record(r)
    points = bench.paired_points(ledger, "02", "SFT", "KD")
    assert points["seeds"] == 2
    assert points["mean"] == pytest.approx(7.5) and points["min"] == pytest.approx(5.0)
    assert points["max"] == pytest.approx(10.0)
    with pytest.raises(ValueError, match="no chapter 03 'SFT' and 'KD' runs on a common seed"):
        bench.paired_points(ledger, "03", "SFT", "KD")


def test_renaming_an_arm_constant_keeps_the_bench_and_the_frontier_finding_it(monkeypatch, tmp_path):
    """Chapter 02's arms are named in one place, kd_experiments; rename them there and the run
    written by the chapter's functions is still read back by the bench and filed by chapter 05."""
    from dataclasses import replace

    from distillab import frontier

    monkeypatch.setattr(kd_experiments, "SFT", "fine-tuning on the teacher's words")
    monkeypatch.setattr(kd_experiments, "KD", "logit KD, renamed")
    profile = replace(get_profile("fast"), student_steps=2, seeds=(0,), eval_per_difficulty=1, warmup_steps=0)
    setup = kd_experiments.prepare(kd_experiments.HALF_BUDGET_TEACHER, "half-budget", profile, num_prompts=10)
    ledger = Ledger(profile, tmp_path / "ledger.jsonl")
    kd_experiments.compare(setup, kd_experiments.headline_arms(setup), ledger=ledger)
    points = bench.paired_points(ledger, "02", kd_experiments.SFT, kd_experiments.KD)
    assert points["seeds"] == 1
    families = {p.label: p.family for p in frontier.points(ledger.entries(), profile)}
    assert families["logit KD, renamed"] == records.LOGITS
    assert families["fine-tuning on the teacher's words"] == records.TRACES
    assert families["teacher (half-budget)"] == records.TEACHER  # the teacher it learnt from, a point of its own


def test_the_bench_warns_when_the_machine_was_busy():
    from distillab.bench import timings_warning

    assert timings_warning(0.1, 0.2) == ""  # cores other processes kept busy, sampled: an idle machine is near 0
    assert "another job shared the cores" in timings_warning(1.7, 0.0)
    assert "another job ran beside it" in timings_warning(0.0, 1.1)


def test_every_chapter_and_the_readme_state_the_times_make_bench_measured():
    """The times a chapter's opening and the README's table give are bench/latest.json's, so they
    change only with a new `make bench`."""
    import json
    from pathlib import Path

    import nbformat

    from distillab.bench import readme_times
    from distillab.chapter_times import time_sentence

    root = Path(__file__).parents[1]
    results = json.loads((root / "bench" / "latest.json").read_text())
    readme = (root / "README.md").read_text()
    chapters = sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert [path.stem for path in chapters] == list(results["chapter_seconds"])
    for path in chapters:
        opening = " ".join(nbformat.read(path, as_version=4).cells[0].source.split())
        assert time_sentence(path.stem, results) in opening, path.name
        row = next(line for line in readme.splitlines() if line.startswith(f"| `{path.stem}` |"))
        assert f"| {readme_times(path.stem, results)} measured by `make bench`" in row, path.stem


def test_run_notebook_times_the_cells_and_reads_the_kernels_peak_memory(tmp_path):
    import nbformat

    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import time\nblock = bytearray(300 * 2**20)  # 300 MB, touched\nfor i in range(0, len(block), 4096): block[i] = 1\n"
        "time.sleep(0.5)")])
    path = tmp_path / "probe.ipynb"
    nbformat.write(notebook, path)
    larger = bytearray(2100 * 2**20)  # this process peaks above the kernel's, which must not count it
    for i in range(0, len(larger), 4096):
        larger[i] = 1
    del larger
    run = bench.run_notebook(path)
    assert 0.5 <= run.seconds < 30
    assert 300 < run.peak_memory_mb < 2000, run.peak_memory_mb


def test_chapters_01_to_03_add_up_the_first_three_chapters():
    seconds = {"00_the_cheap_copy": 5.0, "01_a_tiny_teacher": 100.0, "02_logit_distillation": 90.0,
               "03_reasoning_trace_distillation": 80.0, "04_on_policy_distillation": 50.0}
    assert bench.chapters_01_to_03_seconds(seconds) == 270.0


def test_running_chapters_restores_the_environment_even_a_variable_that_was_unset(monkeypatch, tmp_path):
    import os

    monkeypatch.delenv("DISTILLAB_PROFILE", raising=False)
    monkeypatch.setenv("DISTILLAB_HOME", str(tmp_path / "mine"))
    assert bench.run_chapters_at(get_profile("fast"), [], str(tmp_path / "bench")) == {}
    assert "DISTILLAB_PROFILE" not in os.environ and os.environ["DISTILLAB_HOME"] == str(tmp_path / "mine")


def test_the_bench_finds_the_notebooks_in_the_repository_or_says_it_needs_a_clone(monkeypatch, tmp_path):
    assert [path.stem[:2] for path in bench.chapter_paths()] == [f"{n:02d}" for n in range(8)]
    monkeypatch.setattr(bench, "ROOT", tmp_path)  # as if installed from a wheel, with no checkout around it
    with pytest.raises(FileNotFoundError, match="run it from a clone of the course's repository"):
        bench.chapter_paths()
    with pytest.raises(FileNotFoundError, match="no notebooks/ and labs/"):
        bench.update_chapters(tmp_path / "latest.json", ["07_a_real_model"])
