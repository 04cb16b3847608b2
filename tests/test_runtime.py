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
    runtime.seed_everything(2**40)  # larger than NumPy's 32-bit seeds: wrapped, not refused


@pytest.mark.parametrize("seed", [1.5, "0", None, True])
def test_a_seed_that_is_not_a_whole_number_is_refused(seed):
    with pytest.raises(ValueError, match="seed must be a whole number"):
        runtime.seed_everything(seed)


def test_the_device_is_picked_in_one_place(monkeypatch):
    monkeypatch.setenv("DISTILLAB_DEVICE", "cpu")
    assert runtime.pick_device() == torch.device("cpu")
    monkeypatch.delenv("DISTILLAB_DEVICE")
    expected = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
    assert runtime.pick_device().type == expected
