"""The one place that picks the device and seeds every random number generator (all chapters),
and the one way a `python -m distillab.*` command ends (`run_command`)."""

from __future__ import annotations

import os
import random
import sys
from collections.abc import Callable

import numpy as np
import torch
from transformers.utils import logging as transformers_logging

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the course never downloads anything
# The course draws its own progress bars (training, generation); transformers' bars for loading
# and saving a 7 MB model would only add noise under every save and load.
transformers_logging.disable_progress_bar()


def pick_device() -> torch.device:
    """CUDA if present, then Apple's MPS, else the CPU. `DISTILLAB_DEVICE=cpu` forces a choice."""
    forced = os.environ.get("DISTILLAB_DEVICE")
    if forced:
        return torch.device(forced)
    if torch.cuda.is_available():  # one GPU per process when launched on several (LOCAL_RANK)
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch so that a run with the same seed repeats exactly."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed must be a whole number, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def run_command(main: Callable[[], object], prog: str) -> int:
    """Run a command's `main` and return its exit code (0 when it returns None). A bad input or a
    fault the package reports (ValueError, OSError) ends in one line on stderr that says what was
    wrong and what to do, exit 1; Ctrl-C ends in one line, exit 130. Never a traceback."""
    try:
        code = main()
    except KeyboardInterrupt:
        print(f"{prog}: stopped (Ctrl-C); what finished before it is kept", file=sys.stderr)
        return 130
    except (ValueError, OSError) as error:
        print(f"{prog}: {' '.join(str(error).split())}", file=sys.stderr)
        return 1
    return int(code or 0)
