"""Two kernels training at once on one machine: the second is told, and keeps its own threads (a
run's threads are part of its result); a busy machine is named before a long run starts."""

import os
import subprocess
import sys
import warnings

import pytest
import torch

from distillab import runtime


def test_another_distillab_run_is_named_and_the_threads_are_kept(monkeypatch, tmp_path):
    monkeypatch.setattr(runtime, "RUNNING", tmp_path)
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (tmp_path / str(other.pid)).write_text("chapter 02's students")
        (tmp_path / "999999999").write_text("a run that ended long ago")  # a dead process is not counted
        monkeypatch.setattr(os, "cpu_count", lambda: 2)
        monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
        seen = []
        monkeypatch.setattr(torch, "set_num_threads", seen.append)
        with pytest.warns(UserWarning, match=r"1 other distillab run\(s\) are training on this machine \(chapter 02's "
                                             r"students\): teacher keeps its 2 thread\(s\).*at least 2x"):
            with runtime.share_the_cores("teacher"):
                assert (tmp_path / str(os.getpid())).read_text() == "teacher"
        assert seen == [] and not (tmp_path / str(os.getpid())).exists()
    finally:
        other.kill()
        other.wait()


def test_a_busy_machine_is_named_and_an_idle_one_is_not(monkeypatch, tmp_path):
    monkeypatch.setattr(runtime, "RUNNING", tmp_path)
    assert "other processes keep 2.0 of 2 core(s) busy" in runtime.busy_warning("KD", [], 2.0, 2, 2)
    assert "at least 2x" in runtime.busy_warning("KD", [], 2.0, 2, 2)
    assert runtime.busy_warning("KD", [], 0.1, 2, 2) == ""
    monkeypatch.setattr(runtime, "cores_used_by_others", lambda: 0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with runtime.share_the_cores("idle"):
            pass


def test_the_callers_own_work_is_not_counted_as_another_job():
    import time

    start = time.perf_counter()
    while time.perf_counter() - start < 1.0:  # this process keeps a core busy, as the run before would
        sum(range(10_000))
    assert runtime.cores_used_by_others(0.3) < 0.5  # an otherwise idle machine (the test suite runs alone)


def test_another_process_spinning_is_counted():
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        import time

        time.sleep(0.5)
        assert runtime.cores_used_by_others(0.5) > 0.5
    finally:
        spinner.kill()
        spinner.wait()


def test_a_run_keeps_the_threads_it_was_given_and_names_its_numerics():
    before = torch.get_num_threads()
    with runtime.fixed_threads(1):
        assert torch.get_num_threads() == 1
        assert runtime.numerics(1)["threads"] == 1
    assert torch.get_num_threads() == before
    assert runtime.run_threads(pretrained=False) == runtime.STUDENT_THREADS
    assert runtime.numerics(2)["cpu capability"] == torch.backends.cpu.get_cpu_capability()
