import pytest

from distillab.profiles import PROFILES, get_profile


def test_env_var_picks_the_profile(monkeypatch):
    monkeypatch.setenv("DISTILLAB_PROFILE", "standard")
    assert get_profile().name == "standard"
    monkeypatch.delenv("DISTILLAB_PROFILE")
    assert get_profile().name == "standard"  # the learner's default
    assert get_profile("fast").name == "fast"


def test_unknown_profile_is_named(monkeypatch):
    monkeypatch.setenv("DISTILLAB_PROFILE", "turbo")
    with pytest.raises(ValueError, match="unknown profile 'turbo'.*'fast', 'standard'"):
        get_profile()


def test_fast_is_cheaper_than_standard():
    fast, standard = PROFILES["fast"], PROFILES["standard"]
    assert fast.teacher_steps * fast.batch_size < standard.teacher_steps * standard.batch_size
    assert standard.teacher_steps <= 1000  # the budget for the teacher


def test_training_config_follows_the_budget():
    standard = PROFILES["standard"]
    config = standard.training_config()
    assert (config.num_steps, config.batch_size, config.warmup_steps) == (
        standard.teacher_steps, standard.batch_size, standard.warmup_steps)
    assert standard.training_config(num_steps=8).warmup_steps == 2  # shrinks with a short run
    with pytest.raises(ValueError, match="num_steps must be a whole number >= 1"):
        standard.training_config(num_steps=-5)


def test_students_get_their_own_budget_and_paired_seeds():
    for profile in PROFILES.values():
        config = profile.student_config(seed=2)
        assert (config.num_steps, config.batch_size, config.seed) == (profile.student_steps, profile.batch_size, 2)
        assert len(profile.seeds) >= 2 and len(set(profile.seeds)) == len(profile.seeds)
    assert len(PROFILES["standard"].seeds) >= 3  # the issue: every asserted claim on >= 3 seeds
    assert PROFILES["fast"].student_steps < PROFILES["standard"].student_steps


def test_the_environment_variable_is_read_in_one_place():
    """A chapter picks its profile once (`get_profile(PROFILE)`) and passes it on: no function of the
    package falls back on $DISTILLAB_PROFILE by itself (`get_profile()` with no argument)."""
    import ast
    from pathlib import Path

    import distillab

    offenders = []
    for path in Path(distillab.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "get_profile":
                if not node.args and not node.keywords:
                    offenders.append(f"{path.name}:{node.lineno}")
            if isinstance(node, ast.Constant) and node.value == "DISTILLAB_PROFILE" and path.name not in ("profiles.py", "bench.py"):
                offenders.append(f"{path.name}:{node.lineno} reads the variable")
    assert offenders == []
