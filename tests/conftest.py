"""Shared fixtures. Every test runs with its own workspace so nothing touches the learner's files."""

import os
from typing import NamedTuple

import pytest

from distillab.claims import STRICT_ENV
from distillab.tokenizer import build_tokenizer

# Under the tests a chapter's claim that does not hold fails loudly (a learner's notebook only
# reports it); nbval's kernels start from this process's environment.
os.environ.setdefault(STRICT_ENV, "1")


@pytest.fixture(autouse=True)
def isolated_workspace(tmp_path, monkeypatch):
    monkeypatch.setenv("DISTILLAB_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DISTILLAB_PROFILE", "fast")
    return tmp_path / "home"


@pytest.fixture(scope="session")
def tokenizer():
    return build_tokenizer()


class Teacher(NamedTuple):
    model: object
    tokenizer: object


@pytest.fixture(scope="module")
def teacher(request) -> Teacher:
    """A shipped teacher and its tokenizer, loaded once per test module: the reference teacher, or
    the one the module names in `TEACHER` (e.g. `workspace.HALF_BUDGET_TEACHER`)."""
    from distillab.models import load_model
    from distillab.workspace import REFERENCE_TEACHER

    model, tokenizer, _ = load_model(getattr(request.module, "TEACHER", REFERENCE_TEACHER))
    return Teacher(model, tokenizer)


@pytest.fixture(autouse=True)
def the_learners_home_is_never_touched():
    """A test that undid the isolated workspace would write into ~/.distillab: fail it instead."""
    from pathlib import Path

    home = Path.home() / ".distillab"
    existed = home.exists()
    yield
    assert existed or not home.exists(), "a test wrote into the learner's ~/.distillab"




def _models_at_start():
    import os
    from pathlib import Path

    return Path(os.environ.get("DISTILLAB_MODELS") or Path(os.environ.get("DISTILLAB_HOME") or Path.home() / ".distillab") / "models")


@pytest.fixture(scope="session")
def real_model_folder():
    """The converted SmolLM2 checkpoint that `make model` wrote. `make test` requires it
    (DISTILLAB_REQUIRE_MODEL=1); a bare pytest run without it skips these tests and says why."""
    import os

    from distillab import realmodel

    folder = _models_at_start() / realmodel.NAME
    if not realmodel.is_fetched(folder):
        message = f"{realmodel.NAME} is not at {folder}: run `make model` first"
        if os.environ.get("DISTILLAB_REQUIRE_MODEL") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return folder


@pytest.fixture
def real_model(real_model_folder, monkeypatch):
    """The real model's folder, found by the package as a chapter finds it."""
    monkeypatch.setenv("DISTILLAB_MODELS", str(real_model_folder.parent))
    return real_model_folder
