"""Two kernels training at once on one machine: the second is told, and takes only its share of
the cores; a busy machine (the load average) is named before a long run starts."""

import os
import subprocess
import sys
import warnings

import pytest
import torch

from distillab import runtime


def test_another_distillab_run_is_named_and_the_cores_are_shared(monkeypatch, tmp_path):
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
                                             r"students\): teacher uses 1 of its 2 core\(s\) instead of 2.*about 2x"):
            with runtime.share_the_cores("teacher"):
                assert (tmp_path / str(os.getpid())).read_text() == "teacher"
        assert seen == [1, 2] and not (tmp_path / str(os.getpid())).exists()
    finally:
        other.kill()
        other.wait()


def test_a_busy_machine_is_named_and_an_idle_one_is_not(monkeypatch, tmp_path):
    monkeypatch.setattr(runtime, "RUNNING", tmp_path)
    assert "load average 2.0 on 2 core(s)" in runtime.busy_warning("KD", [], 2.0, 2, 2, 2)
    assert "at least 2x" in runtime.busy_warning("KD", [], 2.0, 2, 2, 2)
    assert runtime.busy_warning("KD", [], 0.1, 2, 2, 2) == ""
    monkeypatch.setattr(os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with runtime.share_the_cores("idle"):
            pass
