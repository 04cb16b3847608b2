"""Shared fixtures. Every test runs with its own workspace so nothing touches the learner's files."""

import pytest

from distillab.tokenizer import build_tokenizer


@pytest.fixture(autouse=True)
def isolated_workspace(tmp_path, monkeypatch):
    monkeypatch.setenv("DISTILLAB_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DISTILLAB_PROFILE", "fast")
    return tmp_path / "home"


@pytest.fixture(scope="session")
def tokenizer():
    return build_tokenizer()


@pytest.fixture(autouse=True)
def the_learners_home_is_never_touched():
    """A test that undid the isolated workspace would write into ~/.distillab: fail it instead."""
    from pathlib import Path

    home = Path.home() / ".distillab"
    existed = home.exists()
    yield
    assert existed or not home.exists(), "a test wrote into the learner's ~/.distillab"
