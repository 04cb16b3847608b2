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
