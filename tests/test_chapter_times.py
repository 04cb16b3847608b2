"""A chapter's expected time here: the bench machine's time, with its matmul peak beside this one's."""

import json

from distillab import chapter_times, reuse
from distillab.profiles import get_profile

FIGURES = {"chapter_seconds": {"01_a": 90.0, "02_b": 300.0}, "chapter_seconds_fast": {"01_a": 10.0, "02_b": 30.0},
           "chapter_matmul_peak_gflops": {"01_a": 200.0, "02_b": 150.0}, "rerun_unchanged_seconds": {"02_b": 8.3},
           "cpu_threads": 2, "teacher_train_fraction_of_peak": 0.62}


def test_the_expected_time_is_the_bench_time_with_both_peaks_and_no_scaling(tmp_path, monkeypatch):
    path = tmp_path / "latest.json"
    path.write_text(json.dumps(FIGURES))
    monkeypatch.setattr(reuse, "matmul_peak_gflops", lambda refresh=False: 75.0)
    line = chapter_times.expected("02_b", get_profile("standard"), path)
    assert "took 5.0 min" in line and "matmul peak 150 GFLOP/s" in line and "this CPU's: 75 GFLOP/s" in line
    assert "2 threads" in line and "expect about" not in line  # a ratio of peaks never shown to predict a time
    assert "took 30 s" in chapter_times.expected("02_b", get_profile("fast"), path)  # the fast profile's own time
    assert "no time for 09_x" in chapter_times.expected("09_x", get_profile("fast"), path)
    assert "make bench" in chapter_times.expected("02_b", get_profile("fast"), tmp_path / "missing.json")
    assert chapter_times.teacher_fraction_of_peak(path) == 0.62
    assert chapter_times.teacher_fraction_of_peak(tmp_path / "missing.json") is None


def test_a_chapters_first_lines_are_its_time_its_budget_and_the_profiles_caveat(tmp_path, monkeypatch):
    path = tmp_path / "latest.json"
    path.write_text(json.dumps(FIGURES))
    monkeypatch.setattr(reuse, "matmul_peak_gflops", lambda refresh=False: 75.0)
    standard = chapter_times.opening("02_b", get_profile("standard"), "seeds (0, 1, 2)", path).split("\n")
    assert len(standard) == 2 and "took 5.0 min" in standard[0] and standard[1] == "profile standard: seeds (0, 1, 2)"
    fast = chapter_times.opening("02_b", get_profile("fast"), "seeds (0, 1)", path).split("\n")
    assert len(fast) == 3 and fast[2] == get_profile("fast").caveat


def test_the_opening_sentence_gives_both_profiles_and_the_rerun_where_measured():
    assert chapter_times.time_sentence("01_a", FIGURES) == "90 s at the standard profile, 10 s at the fast one"
    assert chapter_times.time_sentence("02_b", FIGURES) == ("5.0 min at the standard profile, 30 s at the fast one; "
                                                             "run again with nothing changed, 8 s")


def test_the_course_bench_file_has_a_peak_for_every_timed_chapter():
    figures = json.loads(chapter_times.BENCH_FILE.read_text())
    assert set(figures["chapter_matmul_peak_gflops"]) == set(figures["chapter_seconds"])
