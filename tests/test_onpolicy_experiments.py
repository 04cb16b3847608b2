"""Chapter 04's experiment plumbing on a tiny budget: the warm start, equal added compute, what
each run leaves in the ledger for chapter 05, and the table built from stored sweeps."""

from dataclasses import replace

import pytest

from distillab import frontier, records, world
from distillab import onpolicy_experiments
from distillab import trace_experiments
from distillab.ledger import Ledger
from distillab.onpolicy import OnPolicyConfig, step_flops_ratio
from distillab.profiles import get_profile
from distillab.comparison import Comparison, StudentRun
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
    return Ledger(TINY, tmp_path_factory.mktemp("ledger") / "ledger.jsonl")


@pytest.fixture(scope="module")
def setup(home, ledger):
    return onpolicy_experiments.prepare(REFERENCE_TEACHER, "the reference", TINY, ledger=ledger)


def test_prepare_trains_one_warm_start_per_seed_and_records_it(setup, ledger):
    assert sorted(setup.warm) == [0, 1] and setup.chapter == "04"
    assert all(run.steps == TINY.trace_student_steps and run.model is not None for run in setup.warm.values())
    warm = [e for e in ledger.entries() if e.arm == onpolicy_experiments.WARM_START]
    assert len(warm) == 2 and all(e.chapter == "04" and e.family == records.TRACES for e in warm)
    assert all(e.compute.teacher_data == setup.teacher_data_flops > 0 for e in warm)


def test_warm_starts_are_saved_and_reused_only_for_the_same_recipe(isolated_workspace, tmp_path):
    ledger = Ledger(TINY, tmp_path / "ledger.jsonl")
    first = onpolicy_experiments.prepare(REFERENCE_TEACHER, "the reference", TINY, ledger=ledger)
    assert first.reused == () and len(ledger) == 2
    assert all((trace_experiments.student_dir(TINY, seed) / "model.safetensors").is_file() for seed in TINY.seeds)
    assert str(trace_experiments.student_dir(TINY, 0)).startswith(str(isolated_workspace))
    again = onpolicy_experiments.prepare(REFERENCE_TEACHER, "the reference", TINY, ledger=ledger)
    assert again.reused == (0, 1) and len(ledger) == 2  # loaded, not trained (and not recorded) again
    assert again.warm[0].flops == first.warm[0].flops and again.warm[0].accuracy == first.warm[0].accuracy
    longer = replace(TINY, trace_student_steps=5)
    assert onpolicy_experiments.prepare(REFERENCE_TEACHER, "the reference", longer, seeds=(0,)).reused == ()
    with pytest.raises(ValueError, match="seeds must be"):
        onpolicy_experiments.prepare(REFERENCE_TEACHER, "the reference", TINY, seeds=3)


def test_arms_get_equal_added_compute_and_leave_the_whole_bill(setup, ledger):
    config = OnPolicyConfig()
    steps = onpolicy_experiments.equal_compute_steps(setup, config, 6)
    assert steps == max(2, round(6 / step_flops_ratio(setup.warm[0].model, setup.teacher, 1.0)))
    before = {seed: [p.detach().clone() for p in run.model.parameters()] for seed, run in setup.warm.items()}
    runs = onpolicy_experiments.compare(setup, onpolicy_experiments.headline_arms(setup, config, 6), ledger=ledger)
    assert [r.steps for r in runs[onpolicy_experiments.MORE_SFT]] == [6, 6] and [r.steps for r in runs[onpolicy_experiments.ON_POLICY]] == [steps, steps]
    for seed, run in setup.warm.items():  # every arm trained a copy: the warm start is untouched
        assert all((a == b).all() for a, b in zip(before[seed], run.model.parameters()))
    entries = {(e.arm, e.seed): e for e in ledger.entries() if e.arm in (onpolicy_experiments.MORE_SFT, onpolicy_experiments.ON_POLICY)}
    on, sft = entries[onpolicy_experiments.ON_POLICY, 0], entries[onpolicy_experiments.MORE_SFT, 0]
    assert on.family == records.ON_POLICY and sft.family == records.TRACES
    assert on.compute.warm_start == setup.warm[0].flops and on.compute.student_sampling > 0
    assert on.compute.teacher_scoring > 0 and sft.compute.student_sampling == 0
    assert on.settings["lmbda"] == 1.0 and on.settings["beta"] == 1.0
    points = {p.label: p for p in frontier.points([on, sft], TINY)}
    assert points[onpolicy_experiments.ON_POLICY].total_flops(False) == pytest.approx(on.compute.training + setup.warm[0].flops
                                                                     + setup.teacher_data_flops)


def test_equal_steps_and_lambda_zero_arms(setup):
    same = onpolicy_experiments.on_policy_arm(setup, OnPolicyConfig(), 3, equal_steps=True)
    assert same.training.num_steps == 3 and same.family == records.ON_POLICY
    assert onpolicy_experiments.on_policy_arm(setup, OnPolicyConfig(lmbda=0.0), 3).family == records.LOGITS  # no student sampling
    runs = onpolicy_experiments.compare(setup, {onpolicy_experiments.EQUAL_STEPS: same}, seeds=(0,))
    assert [r.steps for r in runs[onpolicy_experiments.EQUAL_STEPS]] == [3]


def runs(arm, *means, steps=10):
    return [StudentRun(arm, seed, {1: mean}, 1e11, 1.0, steps, 10) for seed, mean in enumerate(means)]


def runs_by_hand() -> onpolicy_experiments.OnPolicySweeps:
    """The stored sweeps with comparisons small enough to work out by hand: two seeds, accuracies in points."""
    added = Comparison({onpolicy_experiments.MORE_SFT: runs(onpolicy_experiments.MORE_SFT, 0.9, 0.7),
                        onpolicy_experiments.ON_POLICY: runs(onpolicy_experiments.ON_POLICY, 0.85, 0.5, steps=3),
                        "mix λ=0.5": runs("mix λ=0.5", 0.95, 0.6, steps=4),
                        onpolicy_experiments.EQUAL_STEPS: [replace(run, flops=3e11) for run in runs(onpolicy_experiments.EQUAL_STEPS, 0.9, 0.75)]})
    stored = onpolicy_experiments.load_sweeps()
    warm = Comparison({onpolicy_experiments.WARM_START: runs(onpolicy_experiments.WARM_START, 0.8, 0.6)})
    return replace(stored, comparisons=replace(stored.comparisons, warm_start=warm, added_compute=added))


def test_every_arm_is_asked_against_the_warm_start_then_against_more_sft_worked_out_by_hand():
    rows = {(r["baseline"], r["arm"]): r for r in onpolicy_experiments.question_rows(runs_by_hand())}
    assert list(rows)[:4] == [(onpolicy_experiments.WARM_START, arm) for arm in (onpolicy_experiments.MORE_SFT, onpolicy_experiments.ON_POLICY, "mix λ=0.5", onpolicy_experiments.EQUAL_STEPS)]
    assert (onpolicy_experiments.MORE_SFT, onpolicy_experiments.MORE_SFT) not in rows and len(rows) == 7
    more_sft = rows[onpolicy_experiments.WARM_START, onpolicy_experiments.MORE_SFT]  # +10 and +10 points
    assert more_sft["gain (points)"] == pytest.approx(10.0) and more_sft["verdict"] == "better on every seed"
    on_policy = rows[onpolicy_experiments.MORE_SFT, onpolicy_experiments.ON_POLICY]  # -5 and -20 points
    assert (on_policy["gain min"], on_policy["gain max"]) == pytest.approx((-20.0, -5.0))
    assert on_policy["verdict"] == "worse on every seed" and on_policy["seeds ahead"] == "0/2"
    assert rows[onpolicy_experiments.WARM_START, onpolicy_experiments.ON_POLICY]["verdict"] == "not settled"  # +5 and -10
    assert rows[onpolicy_experiments.MORE_SFT, "mix λ=0.5"]["verdict"] == "not settled"  # +5 and -10


def test_the_arms_table_gives_each_arms_added_steps_flops_and_accuracy():
    table = {row["arm"]: row for row in onpolicy_experiments.arms_table(runs_by_hand())}
    assert list(table) == [onpolicy_experiments.MORE_SFT, onpolicy_experiments.ON_POLICY, "mix λ=0.5", onpolicy_experiments.EQUAL_STEPS]
    assert table[onpolicy_experiments.ON_POLICY] == {"arm": onpolicy_experiments.ON_POLICY, "added steps": 3, "added FLOPs": 1e11,
                                    "mean accuracy (%)": pytest.approx(67.5), "min": pytest.approx(50.0),
                                    "max": pytest.approx(85.0)}


def test_the_findings_chapter_04_asserts_worked_out_by_hand():
    found = onpolicy_experiments.findings(runs_by_hand())
    assert found.behind_on_every_seed == (onpolicy_experiments.ON_POLICY,)  # the mix leads on seed 0, so it is not behind on all
    assert found.best_lead == pytest.approx(5.0)  # the mix, seed 0: 95 - 90
    assert found.equal_steps_cost == pytest.approx(3.0)  # 3e11 against 1e11 FLOPs per seed
    assert found.equal_steps_over_warm.gains == pytest.approx((10.0, 15.0))
    assert found.equal_steps_against_sft.gains == pytest.approx((0.0, 5.0))


def test_the_stored_comparison_ran_every_arm_on_the_standard_seeds():
    stored, standard = onpolicy_experiments.load_sweeps(), get_profile("standard")
    assert stored.written_by == "distillab.onpolicy_experiments.measure_sweeps"
    added = stored.comparisons.added_compute
    assert list(added) == [onpolicy_experiments.MORE_SFT, *onpolicy_experiments.sweep_configs(), onpolicy_experiments.EQUAL_STEPS]
    assert all([r.seed for r in arm_runs] == list(standard.seeds) for arm_runs in added.values())
    assert stored.student_runs == len(standard.seeds) * (1 + len(added) + 1)  # warm start, arms, from scratch
    assert {written.seed for written in stored.from_scratch_writes} == set(standard.seeds)
    scratch = onpolicy_experiments.from_scratch_comparison(stored)
    assert [run.seed for run in scratch.from_scratch] == list(standard.seeds) and scratch.flops_ratio > 0


def test_the_counted_cost_of_a_step_in_sft_steps_worked_out_by_hand():
    added = runs_by_hand().comparisons.added_compute  # every run 1e11 FLOPs: SFT in 10 steps, on-policy in 3
    assert onpolicy_experiments.counted_step_flops_ratio(added, onpolicy_experiments.ON_POLICY) == pytest.approx((1e11 / 3) / (1e11 / 10))
    assert onpolicy_experiments.counted_step_flops_ratio(added, onpolicy_experiments.MORE_SFT) == pytest.approx(1.0)


def test_the_disagreement_table_marks_exactly_the_tokens_the_teacher_would_not_have_written(teacher):
    model, tokenizer = teacher
    problem = world.held_out_problems(3)[3][0]
    words = problem.trace.split()
    first_result = words.index("=") + 1
    words[first_result] = str((int(words[first_result]) + 1) % 30)  # one wrong number
    rows = onpolicy_experiments.disagreement_rows(model, model, tokenizer, problem, " ".join(words))
    assert [row["token"] for row in rows] == words + [tokenizer.eos_token]
    assert list(rows[0]) == ["token", "reverse KL (nats)", "the teacher's choice", ""]
    assert all(row["reverse KL (nats)"] == pytest.approx(0.0, abs=1e-5) for row in rows)  # its own student
    marked = [i for i, row in enumerate(rows) if row[""] == "<- disagrees"]
    assert first_result in marked
    assert marked == [i for i, row in enumerate(rows) if row["the teacher's choice"] != row["token"]]
