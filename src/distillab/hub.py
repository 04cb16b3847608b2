"""Whether this process may reach the Hugging Face hub: `stay_offline`, which the course's own entry
points call (every chapter's and lab's first cells, every `python -m distillab.*` command; the
Makefile exports HF_HUB_OFFLINE=1 as well), and `downloads_allowed`, which the code that could
download (realmodel, a recipe's hub models) asks first.

Importing distillab changes nothing in the process: a plain script that imports it reads
HF_HUB_OFFLINE as Hugging Face does (unset: the hub may be reached). This module imports nothing
heavy, so `stay_offline` can run before the Hugging Face libraries load; it works after as well.
"""

from __future__ import annotations

import os
import sys

VARIABLE = "HF_HUB_OFFLINE"


def _is_on(value: str | None) -> bool:
    """How huggingface_hub reads a flag variable: "1", "ON", "YES" or "TRUE", in any case."""
    return (value or "").upper() in {"1", "ON", "YES", "TRUE"}


def stay_offline() -> None:
    """This process, and every process it starts, stays off the hub: HF_HUB_OFFLINE=1, unless the
    learner set it already (HF_HUB_OFFLINE=0 is how the recipe and realmodel commands are allowed
    their downloads). huggingface_hub reads the variable once, when it loads: if it has loaded
    already, its own setting is changed too, so its next request is refused."""
    os.environ.setdefault(VARIABLE, "1")
    constants = sys.modules.get("huggingface_hub.constants")
    if constants is not None:
        constants.HF_HUB_OFFLINE = _is_on(os.environ[VARIABLE]) or _is_on(os.environ.get("TRANSFORMERS_OFFLINE"))


def downloads_allowed() -> bool:
    """Whether the hub may be reached from this process now: not when huggingface_hub itself is
    offline, nor when HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) is on now; unset, as for Hugging
    Face, they allow it."""
    constants = sys.modules.get("huggingface_hub.constants")
    if constants is not None and constants.HF_HUB_OFFLINE:
        return False
    return not (_is_on(os.environ.get(VARIABLE)) or _is_on(os.environ.get("TRANSFORMERS_OFFLINE")))
