"""Chapter 02's experiment functions: the sweep definitions, the summary rows, the stored results."""

from dataclasses import replace

import pytest

from distillab import kd_experiments, stored_sweeps
from distillab.distillation import DistillationConfig
from distillab.profiles import get_profile
from distillab.comparison import Comparison, StudentRun


def runs(arm, *accuracies):
    return [StudentRun(arm, seed, {1: a}, 1.0, 1.0, 10, 5) for seed, a in enumerate(accuracies)]


def sweeps_with(**comparisons) -> kd_experiments.KDSweeps:
    """The stored sweeps with `comparisons` (fields of KDComparisons) in place of theirs, every other one empty."""
    real = kd_experiments.load_sweeps()
    empty = {name: ({} if isinstance(value, dict) and not isinstance(value, Comparison) else Comparison({}))
             for name, value in vars(real.comparisons).items()}
    return replace(real, transfer_prompts=500, student_steps=570,
                   comparisons=kd_experiments.KDComparisons(**{**empty, **comparisons}))


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
    stored = kd_experiments.load_sweeps()
    standard = get_profile("standard")
    assert stored.profile == "standard" and stored.seeds == standard.seeds
    assert stored.written_by == "distillab.kd_experiments.measure_sweeps"
    assert stored.student_steps == standard.student_steps and stored.transfer_prompts == standard.transfer_prompts
    for sweep, configs in kd_experiments.sweep_configs().items():
        assert list(stored.sweep(sweep)) == [kd_experiments.SFT, *configs]
        for arm_runs in stored.sweep(sweep).values():
            assert [r.seed for r in arm_runs] == list(standard.seeds)
    for sweep in kd_experiments.PAIRED_SWEEPS:
        assert all(list(c) == [kd_experiments.SFT, kd_experiments.KD] for c in stored.sweep(sweep).values())
    assert sorted(stored.comparisons.n) == [250, 500, 1000, 4000]  # numbers again, not JSON's text
    assert stored.sweep("N") is stored.comparisons.n and stored.describe().startswith("measured at the standard profile")
    with pytest.raises(ValueError, match="no sweep 'beta': chapter 02 stored temperature, alpha"):
        stored.sweep("beta")


def test_a_miniature_sweep_runs_end_to_end_and_round_trips_through_its_file(tmp_path):
    profile = replace(get_profile("fast"), student_steps=2, seeds=(0, 1), eval_per_difficulty=1,
                      transfer_prompts=10, warmup_steps=0)
    results = kd_experiments.measure_sweeps(profile, n_values=(15,), step_values=(1,))
    comparisons = results["comparisons"]
    assert set(comparisons["N"]) == {10, 15} and set(comparisons["steps"]) == {1, 2}
    assert results["cache_bytes_per_token"] == {"full": 134.0, "top-1": 4.0, "top-5": 20.0, "top-20": 80.0}
    assert set(comparisons["teacher"]) == {"half-budget", "fully trained"}
    path = tmp_path / "kd.json"
    path.write_text(stored_sweeps.to_json(results, kd_experiments.measure_sweeps))
    back = kd_experiments.load_sweeps(path)
    live = stored_sweeps.measured(results, kd_experiments.KDSweeps, kd_experiments.measure_sweeps)
    assert kd_experiments.question_rows(back) == kd_experiments.question_rows(live)
    assert set(back.comparisons.n) == {10, 15} and back.comparisons.steps.keys() == live.comparisons.steps.keys() == {1, 2}
    assert back.student_runs == live.student_runs == 2 * (1 + 10 + 2 + 2 + 2)  # SFT, 10 KD configs, N=15, steps=1, fully trained


def test_prepare_refuses_too_few_prompts():
    with pytest.raises(ValueError, match="num_prompts must be a whole number >= 5"):
        kd_experiments.prepare(kd_experiments.HALF_BUDGET_TEACHER, "half-budget", get_profile("fast"), 3)


def test_comparisons_hold_on_every_seed_and_list_each_run_once():
    sft = runs("SFT", 0.30, 0.40)
    # the forward-KL T = 1 arm is in every knob's sweep and is the headline of N: asked about once
    stored = sweeps_with(
        temperature=Comparison({"SFT": sft, "T=1": runs("a", 0.5, 0.6), "T=2": runs("b", 0.2, 0.5),
                                "T=4": runs("c", 0.1, 0.2)}),
        top_k=Comparison({"SFT": sft, "k=1": runs("d", 0.30, 0.40), "full distribution": runs("a", 0.5, 0.6)}),
        n={500: Comparison({"SFT": sft, "KD": runs("a", 0.5, 0.6)}), 250: Comparison({"SFT": sft, "KD": runs("e", 0.2, 0.3)})})
    rows = {(row["question"], row["arm"]): row for row in kd_experiments.question_rows(stored)}
    assert list(rows) == [("temperature", "T=1"), ("temperature", "T=2"), ("temperature", "T=4"), ("top-k", "k=1"),
                          ("N = 250", "KD")]
    assert rows["N = 250", "KD"]["verdict"] == "worse on every seed"
    assert rows["temperature", "T=1"]["verdict"] == "better on every seed"
    assert rows["temperature", "T=1"]["gain (points)"] == pytest.approx(20.0)
    assert rows["temperature", "T=4"]["verdict"] == "worse on every seed"
    assert rows["temperature", "T=2"]["verdict"] == "not settled"
    assert rows["top-k", "k=1"]["verdict"] == "the same on every seed"


def test_seconds_per_step_times_the_three_kinds_of_step():
    setup = kd_experiments.prepare(kd_experiments.HALF_BUDGET_TEACHER, "half-budget",
                                   replace(get_profile("fast"), eval_per_difficulty=1), num_prompts=10)
    seconds = kd_experiments.seconds_per_step(setup, num_steps=2)
    assert list(seconds.by_name()) == ["SFT", "KD, cached teacher", "KD, teacher on the fly"]
    assert all(value > 0 for value in seconds.by_name().values()) and seconds.lines()[0].endswith("= 1.00x SFT")


def test_neighbour_ratios_worked_out_by_hand():
    rows = [{"teacher": "half-budget", "T": 1, "right answer": 0.9, "right ± 1": 0.06, "everything else": 0.04},
            {"teacher": "fully trained", "T": 1, "right answer": 0.99, "right ± 1": 0.006, "everything else": 0.004},
            {"teacher": "half-budget", "T": 2, "right answer": 0.5, "right ± 1": 0.3, "everything else": 0.2}]
    ratio, per_token = kd_experiments.neighbour_ratios(rows, vocab_size=23)  # 20 tokens besides the answer and its two neighbours
    assert ratio == pytest.approx(10.0)  # 0.06 / 0.006, at T = 1 only
    assert per_token == pytest.approx((0.06 / 2) / (0.04 / 20))  # 15


def test_a_sweep_of_settings_is_one_table_with_the_setting_as_its_first_column():
    sft = runs("SFT", 0.30, 0.40)
    stored = sweeps_with(teacher={"half-budget": Comparison({"SFT": sft, "KD": runs("KD", 0.5, 0.6)}),
                                    "fully trained": Comparison({"SFT": sft, "KD": runs("KD", 0.3, 0.5)})},
                           alpha=Comparison({"SFT": sft, "α=1": runs("a", 0.5, 0.6)}))
    rows = kd_experiments.sweep_table(stored, "teacher")
    assert [(row["teacher"], row["arm"]) for row in rows] == [("half-budget", "SFT"), ("half-budget", "KD"),
                                                              ("fully trained", "SFT"), ("fully trained", "KD")]
    assert rows[3]["gain over SFT (points)"] == pytest.approx(5.0)  # +0 and +10
    assert kd_experiments.sweep_table(stored, "alpha") == stored.comparisons.alpha.table()
