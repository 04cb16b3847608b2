"""Where the learner's own artifacts live (their teacher, their students, their ledger), one folder
per profile, and where the reference teachers shipped with the package live. Chapters 01-05.

The folder is `$DISTILLAB_HOME` if set, else `~/.distillab`. Every function here takes the profile
the chapter chose: the environment variable is read once, by `profiles.get_profile`, never here.
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

from distillab.models import PROVENANCE_FILE, WEIGHTS_FILE
from distillab.profiles import Profile, get_profile

HOME_ENV = "DISTILLAB_HOME"
REFERENCE_DIR = Path(__file__).parent / "reference"
REFERENCE_TEACHER = REFERENCE_DIR / "teacher"  # chapter 01's recipe, standard profile, seed 0: 900 steps
# The same recipe stopped at half the budget (450 steps): less accurate, less certain, and chapter
# 02's better teacher for logit distillation.
HALF_BUDGET_TEACHER = REFERENCE_DIR / "half-budget-teacher"
# How a location is written down (records keep it): inside the package, inside $DISTILLAB_HOME, or as is.
PACKAGE_PREFIX, HOME_PREFIX = "package:", "home:"


def home() -> Path:
    return Path(os.environ.get(HOME_ENV) or Path.home() / ".distillab")


def workspace(profile: Profile | str, create: bool = True) -> Path:
    """The learner's folder for runs at `profile` (created on first use; `create=False` only names
    it, to look for something there). A $DISTILLAB_HOME that is not a folder, or not one this user
    can write to, is a clear error that names it."""
    name = profile.name if isinstance(profile, Profile) else get_profile(profile).name
    root = home()
    folder = root / name
    if not create:
        return folder
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise type(error)(error.errno, _unusable(root, error.strerror or str(error))) from None
    if not os.access(folder, os.W_OK):
        raise PermissionError(errno.EACCES, _unusable(root, f"{folder} is not writable"))
    return folder


def _unusable(root: Path, why: str) -> str:
    source = f"{HOME_ENV}={os.environ[HOME_ENV]}" if os.environ.get(HOME_ENV) else "the default ~/.distillab"
    return (f"the course cannot keep your models and ledger in {root} ({why}; from {source}). Set {HOME_ENV} to "
            "a folder you can write to, e.g. `export DISTILLAB_HOME=~/distillab-work` before starting JupyterLab, "
            "or `os.environ['DISTILLAB_HOME'] = ...` in the first cell")


def teacher_path(profile: Profile | str, create: bool = True) -> Path:
    """Where chapter 01 saves the learner's own teacher at `profile` (`create`: as `workspace`)."""
    return workspace(profile, create) / "teacher"


def kept_teacher_path(profile: Profile | str, key: str) -> Path:
    """Where a finished teacher of `key` (`teacher.teacher_key`) trained at `profile` is kept, so
    that going back to knobs trained before reads it back instead of training it again."""
    return workspace(profile) / "teachers" / key[:24]


def ledger_path(profile: Profile | str) -> Path:
    return workspace(profile) / "ledger.jsonl"


# A teacher of your own whose mean held-out accuracy is this many points or more below the reference
# teacher's is named whenever a chapter picks it up: its students cannot learn what it does not know.
WEAK_TEACHER_POINTS = 10


def find_teacher() -> tuple[Path, str]:
    """The teacher a chapter should distil from: the learner's own if chapter 01 (or
    `python -m distillab.teacher`) trained one at the standard profile, else the reference teacher.
    A fast-profile teacher is a smoke test, too weak to distil from, so it is never picked; nor is
    one whose training was interrupted (until it is resumed and finished). Your own teacher that is
    WEAK_TEACHER_POINTS or more below the reference (a short or small Try-this run of chapter 01)
    is still the one picked, and is named, with the way back to the reference.
    Returns (path, "your own" | "the reference")."""
    own = teacher_path("standard", create=False)  # looking leaves no empty standard/ folder behind
    if (own / WEIGHTS_FILE).is_file() and not read_provenance(own).get("interrupted"):
        warning = weak_teacher_warning(own)
        if warning:
            print(warning)
        return own, "your own"
    if (REFERENCE_TEACHER / WEIGHTS_FILE).is_file():
        return REFERENCE_TEACHER, "the reference"
    raise FileNotFoundError(
        f"no teacher found: neither your own ({own}) nor the reference ({REFERENCE_TEACHER}); "
        "run chapter 01 or `python -m distillab.teacher` to train one"
    )


def weak_teacher_warning(own: Path) -> str | None:
    """A warning naming the teacher in `own` when its mean held-out accuracy is WEAK_TEACHER_POINTS
    or more below the reference teacher's, with the two ways back; None for a teacher near it."""
    mine, reference = _mean_accuracy(read_provenance(own)), _mean_accuracy(read_provenance(REFERENCE_TEACHER))
    if mine is None or reference is None or 100 * (reference - mine) < WEAK_TEACHER_POINTS:
        return None
    saved = read_provenance(own)
    key = saved.get("extra", {}).get("key")
    kept = kept_teacher_path("standard", key) if key else None
    copy = f" (a copy of it stays in {kept})" if kept is not None and (kept / WEIGHTS_FILE).is_file() else ""
    return (f"⚠ Distilling from your own teacher in {own}: {saved.get('size')}, seed {saved.get('seed')}, "
            f"{saved.get('steps')} steps, {100 * mine:.0f} % mean held-out accuracy, {100 * (reference - mine):.0f} "
            f"points below the reference teacher's {100 * reference:.0f} % (this warning starts at "
            f"{WEAK_TEACHER_POINTS} points). Its students cannot learn what it does not know. To go back: run "
            "chapter 01 with its default knobs (a teacher you finished before with them is read back in "
            f"seconds), or delete {own} to distil from the reference teacher again{copy}.")


def read_provenance(folder: Path) -> dict:
    """The provenance.json of the model saved in `folder`, as plain JSON ({} when there is none or it
    cannot be read): for looking a saved model up without loading it."""
    try:
        return json.loads((folder / PROVENANCE_FILE).read_text())
    except (OSError, ValueError):
        return {}


def _mean_accuracy(provenance: dict) -> float | None:
    accuracy = provenance.get("accuracy") or {}
    return sum(accuracy.values()) / len(accuracy) if accuracy else None


def portable(path: str | Path) -> str:
    """`path` written so that it still means the same folder after the package or $DISTILLAB_HOME
    moves: "package:reference/teacher", "home:standard/teacher", or the absolute path."""
    path = Path(path).resolve()
    for prefix, root in ((PACKAGE_PREFIX, Path(__file__).parent), (HOME_PREFIX, home())):
        if path.is_relative_to(root.resolve()):
            return prefix + path.relative_to(root.resolve()).as_posix()
    return str(path)


def resolve(location: str) -> Path:
    """The folder a `portable` location names, today."""
    if location.startswith(PACKAGE_PREFIX):
        return Path(__file__).parent / location.removeprefix(PACKAGE_PREFIX)
    if location.startswith(HOME_PREFIX):
        return home() / location.removeprefix(HOME_PREFIX)
    return Path(location)
