"""Chapter 04's experiment plumbing on a tiny budget: the warm start, equal added compute, what
each run leaves in the ledger for chapter 05, and the table built from stored sweeps."""

from dataclasses import replace

import pytest

from distillab import frontier
from distillab import trace_experiments as te
from distillab import onpolicy_experiments as ope
from distillab.ledger import Ledger
from distillab.onpolicy import OnPolicyConfig, step_cost_ratio
from distillab.profiles import get_profile
from distillab.workspace import REFERENCE_TEACHER

TINY = replace(get_profile("fast"), trace_prompts=50, trace_student_steps=4, eval_per_difficulty=4, batch_size=4,
               onpolicy_added_steps=6, seeds=(0, 1))


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """A workspace for the module's shared setup (the per-test one starts only after it)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DISTILLAB_HOME", str(tmp_path_factory.mktemp("home")))
        yield


@pytest.fixture(scope="module")
def ledger(tmp_path_factory):
    return Ledger(tmp_path_factory.mktemp("ledger") / "ledger.jsonl")


@pytest.fixture(scope="module")
def setup(home, ledger):
    return ope.prepare(REFERENCE_TEACHER, "the reference", TINY, ledger=ledger)


def test_prepare_trains_one_warm_start_per_seed_and_records_it(setup, ledger):
    assert sorted(setup.warm) == [0, 1]
    assert all(run.steps == TINY.trace_student_steps and run.model is not None for run in setup.warm.values())
    warm = [e for e in ledger.entries() if e.kind == ope.WARM_START]
    assert len(warm) == 2 and all(e.extra["chapter"] == "04" and e.extra["teacher_generation_flops"] > 0 for e in warm)


def test_warm_starts_are_saved_and_reused_only_for_the_same_recipe(isolated_workspace, tmp_path):
    ledger = Ledger(tmp_path / "ledger.jsonl")
    first = ope.prepare(REFERENCE_TEACHER, "the reference", TINY, ledger=ledger)
    assert first.reused == () and len(ledger) == 2
    assert all((te.student_dir(TINY, seed) / "model.safetensors").is_file() for seed in TINY.seeds)
    assert str(te.student_dir(TINY, 0)).startswith(str(isolated_workspace))
    again = ope.prepare(REFERENCE_TEACHER, "the reference", TINY, ledger=ledger)
    assert again.reused == (0, 1) and len(ledger) == 2  # loaded, not trained (and not recorded) again
    assert again.warm[0].flops == first.warm[0].flops and again.warm[0].accuracy == first.warm[0].accuracy
    longer = replace(TINY, trace_student_steps=5)
    assert ope.prepare(REFERENCE_TEACHER, "the reference", longer, seeds=(0,)).reused == ()


def test_arms_get_equal_added_compute_and_leave_the_whole_bill(setup, ledger):
    config = OnPolicyConfig()
    steps = ope.equal_compute_steps(setup, config, 6)
    assert steps == max(2, round(6 / step_cost_ratio(setup.warm[0].model, setup.traces.teacher, 1.0)))
    before = {seed: [p.detach().clone() for p in run.model.parameters()] for seed, run in setup.warm.items()}
    runs = ope.compare(setup, {ope.MORE_SFT: None, "on-policy": config}, 6, ledger=ledger)
    assert [r.steps for r in runs[ope.MORE_SFT]] == [6, 6] and [r.steps for r in runs["on-policy"]] == [steps, steps]
    for seed, run in setup.warm.items():  # every arm trained a copy: the warm start is untouched
        assert all((a == b).all() for a, b in zip(before[seed], run.model.parameters()))
    entries = {(e.kind, e.seed): e for e in ledger.entries() if e.kind in (ope.MORE_SFT, "on-policy")}
    on, sft = entries["on-policy", 0], entries[ope.MORE_SFT, 0]
    assert on.extra["on_policy_batches"] == steps and sft.extra["on_policy_batches"] == 0
    assert on.extra["warm_start_flops"] == setup.warm[0].flops and on.extra["student_generation_flops"] > 0
    assert on.extra["lmbda"] == 1.0 and on.extra["beta"] == 1.0
    points = {p.label: p for p in frontier.points([on, sft])}
    assert points["on-policy"].family == frontier.ON_POLICY and points[ope.MORE_SFT].family == frontier.TRACES
    assert points["on-policy"].own_flops == pytest.approx(on.flops + setup.warm[0].flops)


def test_equal_steps_arm_gets_the_sft_step_count(setup):
    runs = ope.compare(setup, {"same steps": OnPolicyConfig()}, 3, equal_steps=("same steps",))
    assert [r.steps for r in runs["same steps"]] == [3, 3]


def row(arm, seed, mean, steps=10, flops=1e11):
    return {"arm": arm, "seed": seed, "mean_accuracy": mean, "accuracy": {"1": mean}, "flops": flops,
            "seconds": 1.0, "steps": steps, "data_size": 10}


def test_comparisons_pair_every_arm_with_more_sft_and_the_warm_start():
    sweeps = {"warm": [row("warm", 0, 0.8), row("warm", 1, 0.6)],
              "arms": {ope.MORE_SFT: [row(ope.MORE_SFT, 0, 0.9), row(ope.MORE_SFT, 1, 0.7)],
                       "on-policy": [row("on-policy", 0, 0.85, steps=3), row("on-policy", 1, 0.5, steps=3)]}}
    rows = {r["arm"]: r for r in ope.comparisons(sweeps)}
    assert rows[ope.MORE_SFT]["gain over warm start"] == pytest.approx(10.0)
    assert rows[ope.MORE_SFT]["over warm: verdict"] == "better on every seed" and "verdict" not in rows[ope.MORE_SFT]
    assert rows["on-policy"]["gain over more SFT"] == pytest.approx(-12.5)
    assert rows["on-policy"]["verdict"] == "worse on every seed" and rows["on-policy"]["added steps"] == 3
    assert rows["on-policy"]["over warm: verdict"] == "not settled"
