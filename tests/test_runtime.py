"""The one device choice and the one seeding function."""

import random

import numpy as np
import pytest
import torch

from distillab import runtime


def test_seed_everything_repeats_every_generator():
    draws = []
    for _ in range(2):
        runtime.seed_everything(7)
        draws.append((random.random(), float(np.random.rand()), float(torch.rand(1))))
    assert draws[0] == draws[1]
    runtime.seed_everything(8)
    assert (random.random(), float(np.random.rand()), float(torch.rand(1))) != draws[0]
    big = []
    for _ in range(2):  # larger than NumPy's 32-bit seeds: wrapped, not refused, and still repeatable
        runtime.seed_everything(2**40 + 3)
        big.append((random.random(), float(np.random.rand()), float(torch.rand(1))))
    assert big[0] == big[1] != draws[0]


@pytest.mark.parametrize("seed", [1.5, "0", None, True])
def test_a_seed_that_is_not_a_whole_number_is_refused(seed):
    with pytest.raises(ValueError, match="seed must be a whole number"):
        runtime.seed_everything(seed)


@pytest.mark.parametrize("cuda, mps, local_rank, expected", [
    (True, True, None, torch.device("cuda", 0)),  # CUDA first, even where MPS is there too
    (True, False, "3", torch.device("cuda", 3)),  # one GPU per process under a data-parallel launch
    (False, True, None, torch.device("mps")),
    (False, False, None, torch.device("cpu")),
])
def test_the_device_is_picked_in_one_place(monkeypatch, cuda, mps, local_rank, expected):
    monkeypatch.delenv("DISTILLAB_DEVICE", raising=False)
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    if local_rank is not None:
        monkeypatch.setenv("LOCAL_RANK", local_rank)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    assert runtime.pick_device() == expected
    monkeypatch.setenv("DISTILLAB_DEVICE", "cpu")  # the override wins over any accelerator
    assert runtime.pick_device() == torch.device("cpu")
