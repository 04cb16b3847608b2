"""A chapter's expected time here: the bench machine's time scaled by the two matmul peaks."""

import json

from distillab import chapter_times, reuse
from distillab.profiles import get_profile

FIGURES = {"matmul_peak_gflops": 200.0, "chapter_seconds": {"01_a": 100.0, "02_b": 300.0, "07_c": 50.0},
           "chapter_seconds_fast": {"01_a": 10.0, "02_b": 30.0, "07_c": 5.0},
           "partial_update": {"chapters": ["02_b"], "matmul_peak_gflops": 150.0}}


def test_each_chapter_is_scaled_by_the_peak_its_time_was_measured_at():
    assert chapter_times.chapter_peaks(FIGURES) == {"01_a": 200.0, "02_b": 150.0, "07_c": 200.0}
    recorded = {**FIGURES, "chapter_matmul_peak_gflops": {"07_c": 400.0}}
    assert chapter_times.chapter_peaks(recorded) == {"01_a": 200.0, "02_b": 150.0, "07_c": 400.0}


def test_the_expected_time_is_the_bench_time_times_the_ratio_of_peaks(tmp_path, monkeypatch):
    path = tmp_path / "latest.json"
    path.write_text(json.dumps(FIGURES))
    monkeypatch.setattr(reuse, "matmul_peak_gflops", lambda profile, refresh=False: 75.0)
    line = chapter_times.expected("02_b", get_profile("standard"), path)
    assert "took 5 min" in line and "peak 150 GFLOP/s" in line and "75 GFLOP/s" in line and "about 10 min here" in line
    assert "took 30 s" in chapter_times.expected("02_b", get_profile("fast"), path)  # the fast profile's own time
    assert "no time for 09_x" in chapter_times.expected("09_x", get_profile("fast"), path)
    assert "make bench" in chapter_times.expected("02_b", get_profile("fast"), tmp_path / "missing.json")


def test_the_course_bench_file_has_a_time_and_a_peak_for_every_timed_chapter():
    figures = json.loads(chapter_times.BENCH_FILE.read_text())
    assert set(chapter_times.chapter_peaks(figures)) >= set(figures["chapter_seconds"])
