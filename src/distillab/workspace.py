"""Where the learner's own artifacts live (their teacher, their ledger), one folder per profile,
and where the reference teachers shipped with the package live. Used by chapters 01-05.

The folder is `$DISTILLAB_HOME` if set, else `~/.distillab`.
"""

from __future__ import annotations

import os
from pathlib import Path

from distillab.profiles import get_profile

HOME_ENV = "DISTILLAB_HOME"
REFERENCE_DIR = Path(__file__).parent / "reference"
REFERENCE_TEACHER = REFERENCE_DIR / "teacher"  # chapter 01's recipe, standard profile, seed 0: 900 steps
# The same recipe stopped at half the budget (450 steps): less accurate, less certain, and chapter
# 02's better teacher for logit distillation.
HALF_BUDGET_TEACHER = REFERENCE_DIR / "half-budget-teacher"


def workspace(profile: str | None = None) -> Path:
    """The learner's folder for runs at `profile` (created on first use)."""
    root = Path(os.environ.get(HOME_ENV) or Path.home() / ".distillab")
    folder = root / get_profile(profile).name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def teacher_path(profile: str | None = None) -> Path:
    """Where chapter 01 saves the learner's own teacher."""
    return workspace(profile) / "teacher"


def ledger_path(profile: str | None = None) -> Path:
    return workspace(profile) / "ledger.jsonl"


def find_teacher() -> tuple[Path, str]:
    """The teacher a chapter should distil from: the learner's own if chapter 01 (or
    `python -m distillab.teacher`) trained one at the standard profile, else the reference teacher.
    A fast-profile teacher is a smoke test, too weak to distil from, so it is never picked.
    Returns (path, "your own" | "the reference")."""
    own = teacher_path("standard")
    if (own / "model.safetensors").is_file():
        return own, "your own"
    if (REFERENCE_TEACHER / "model.safetensors").is_file():
        return REFERENCE_TEACHER, "the reference"
    raise FileNotFoundError(
        f"no teacher found: neither your own ({own}) nor the reference ({REFERENCE_TEACHER}); "
        "run chapter 01 or `python -m distillab.teacher` to train one"
    )
