"""How many worker processes a comparison uses by default, and where it uses none (the results
of runs in workers are tested in test_reuse.py: the same as one after the other, and Ctrl-C)."""

import torch

from distillab import worker_pool


def test_one_worker_per_core_at_most_one_per_run(monkeypatch):
    monkeypatch.delenv(worker_pool.WORKER_ENV, raising=False)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 4)
    monkeypatch.setattr("distillab.runtime.pick_device", lambda: torch.device("cpu"))
    assert worker_pool.default_count(6, pretrained=False) == 4
    assert worker_pool.default_count(3, pretrained=False) == 3
    assert worker_pool.default_count(1, pretrained=False) == 1


def test_no_workers_for_a_pretrained_model_on_a_gpu_inside_a_worker_or_a_launch(monkeypatch):
    monkeypatch.setattr(torch, "get_num_threads", lambda: 4)
    monkeypatch.setattr("distillab.runtime.pick_device", lambda: torch.device("cpu"))
    assert worker_pool.default_count(6, pretrained=True) == 1  # a copy of a 135M-parameter model per worker
    monkeypatch.setenv(worker_pool.WORKER_ENV, "1")
    assert worker_pool.default_count(6, pretrained=False) == 1
    monkeypatch.delenv(worker_pool.WORKER_ENV)
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert worker_pool.default_count(6, pretrained=False) == 1
    monkeypatch.delenv("WORLD_SIZE")
    monkeypatch.setattr("distillab.runtime.pick_device", lambda: torch.device("cuda", 0))
    assert worker_pool.default_count(6, pretrained=False) == 1
