"""Chapter 02's experiment functions: the sweep definitions, the summary rows, the stored results."""

from dataclasses import replace

import pytest

from distillab import kd_experiments
from distillab.distillation import DistillationConfig
from distillab.profiles import get_profile


def row(arm, seed, accuracy):
    return {"arm": arm, "seed": seed, "mean_accuracy": accuracy, "accuracy": {"1": accuracy}, "flops": 1.0,
            "seconds": 1.0, "steps": 10, "data_size": 5}


def test_every_sweep_shares_the_default_arm_and_changes_one_knob():
    base = DistillationConfig()
    for sweep, configs in kd_experiments.sweep_configs().items():
        assert base in configs.values(), sweep
        for config in configs.values():
            changed = {field for field in ("loss", "temperature", "alpha", "beta", "scale_by_t_squared", "top_k")
                       if getattr(config, field) != getattr(base, field)}
            assert changed <= {"loss", "top_k"} or len(changed) <= 2, (sweep, changed)


def test_missing_sweep_results_say_how_to_make_them(tmp_path):
    with pytest.raises(FileNotFoundError, match="python -m distillab.kd_experiments"):
        kd_experiments.load_sweeps(tmp_path / "nothing.json")


def test_the_stored_sweeps_cover_every_knob_on_the_standard_seeds():
    sweeps = kd_experiments.load_sweeps()
    standard = get_profile("standard")
    assert sweeps["profile"] == "standard" and sweeps["seeds"] == list(standard.seeds)
    assert sweeps["student_steps"] == standard.student_steps and sweeps["transfer_prompts"] == standard.transfer_prompts
    assert set(sweeps["sweeps"]) == {*kd_experiments.sweep_configs(), "N", "steps", "teacher"}
    for sweep, configs in kd_experiments.sweep_configs().items():
        assert set(sweeps["sweeps"][sweep]) == {"SFT", *configs}
        for runs in sweeps["sweeps"][sweep].values():
            assert [r["seed"] for r in runs] == list(standard.seeds)


def test_a_miniature_sweep_runs_end_to_end():
    profile = replace(get_profile("fast"), student_steps=2, seeds=(0, 1), eval_per_difficulty=1,
                      transfer_prompts=10, warmup_steps=0)
    results = kd_experiments.measure_sweeps(profile, n_values=(15,), step_values=(1,))
    assert set(results["sweeps"]["N"]) == {"10", "15"} and set(results["sweeps"]["steps"]) == {"1", "2"}
    assert results["cache_bytes_per_token"] == {"full": 134.0, "top-1": 4.0, "top-5": 20.0, "top-20": 80.0}
    assert set(results["sweeps"]["teacher"]) == {"half-budget", "fully trained"}


def test_prepare_refuses_too_few_prompts():
    with pytest.raises(ValueError, match="num_prompts must be at least 5"):
        kd_experiments.prepare(kd_experiments.HALF_BUDGET_TEACHER, "half-budget", get_profile("fast"), 3)


def test_verdicts_hold_on_every_seed_and_list_each_run_once():
    sft = [row("SFT", 0, 0.30), row("SFT", 1, 0.40)]
    sweeps = {"seeds": [0, 1], "sweeps": {
        "temperature": {"SFT": sft, "T=1": [row("a", 0, 0.5), row("a", 1, 0.6)],
                        "T=2": [row("b", 0, 0.2), row("b", 1, 0.5)], "T=4": [row("c", 0, 0.1), row("c", 1, 0.2)]},
        "top-k": {"SFT": sft, "k=1": [row("d", 0, 0.30), row("d", 1, 0.40)], "all": [row("a", 0, 0.5), row("a", 1, 0.6)]},
        "N": {"500": {"SFT": sft, "KD": [row("a", 0, 0.5), row("a", 1, 0.6)]}},
    }}
    out = kd_experiments.verdicts(sweeps)
    assert out["better on every seed"] == ["temperature: T=1: +20.0 points (seeds from +20.0 to +20.0)"]
    assert out["worse on every seed"] == ["temperature: T=4: -20.0 points (seeds from -20.0 to -20.0)"]
    assert out["not settled"] == ["temperature: T=2: +0.0 points (seeds from -10.0 to +10.0)"]
    assert out["the same on every seed"] == ["top-k: k=1: +0.0 points (seeds from +0.0 to +0.0)"]


def test_step_cost_times_the_three_kinds_of_step():
    setup = kd_experiments.prepare(kd_experiments.HALF_BUDGET_TEACHER, "half-budget",
                                   replace(get_profile("fast"), eval_per_difficulty=1), num_prompts=10)
    seconds = kd_experiments.step_cost(setup, num_steps=2)
    assert set(seconds) == {"SFT", "KD, cached teacher", "KD, teacher on the fly"} and all(v > 0 for v in seconds.values())
