"""Students: the one training path (train, measure, record), arms compared seed by seed, and the
typed comparison that tables and stored sweeps are made from."""

from dataclasses import replace

import pytest

from distillab import records, world
from distillab.ledger import Ledger
from distillab.profiles import get_profile
from distillab.records import TeacherRef
from distillab.comparison import (Comparison, StudentRun, accuracies_by_setting, mean_accuracy_by_difficulty, paired_gain,
                                  spread, table_by_setting)
from distillab.students import Arm, Setup, check_seeds, compare
from distillab.training import TrainingConfig, TrainingSet
from distillab.workspace import HALF_BUDGET_TEACHER


def run(arm, seed, accuracy):
    return StudentRun(arm, seed, {1: accuracy, 2: accuracy}, 1.0, 1.0, 10, 100)


def test_paired_gain_is_matched_by_seed_not_by_order():
    sft = [run("SFT", 0, 0.30), run("SFT", 1, 0.50), run("SFT", 2, 0.40)]
    kd = [run("KD", 2, 0.45), run("KD", 0, 0.40), run("KD", 1, 0.45)]
    gain = paired_gain(sft, kd)
    assert gain.seeds == (0, 1, 2)
    assert gain.gains == pytest.approx((10.0, -5.0, 5.0))
    assert gain.mean == pytest.approx(10 / 3) and gain.min == pytest.approx(-5) and gain.max == pytest.approx(10)
    assert gain.wins == 2 and "ahead on 2 of 3 seeds" in gain.describe()
    assert gain.row("q", "SFT", "KD")["verdict"] == "not settled"


def test_arms_on_different_seeds_cannot_be_compared():
    with pytest.raises(ValueError, match="same seeds"):
        paired_gain([run("SFT", 0, 0.3)], [run("KD", 1, 0.4)])


def test_spread_reports_mean_min_max_and_seeds():
    assert spread([run("SFT", 0, 0.30), run("SFT", 1, 0.50)]) == "40.0 % (min 30.0, max 50.0; seeds 0, 1)"


def test_mean_accuracy_by_difficulty_averages_over_seeds():
    runs = [StudentRun("SFT", 0, {1: 0.5, 2: 0.1}, 1, 1, 1, 1), StudentRun("SFT", 1, {1: 0.7, 2: 0.3}, 1, 1, 1, 1)]
    assert mean_accuracy_by_difficulty(runs) == pytest.approx({1: 0.6, 2: 0.2})


def test_comparison_table_pairs_each_arm_with_the_baseline_by_seed():
    arms = Comparison({"SFT": [run("SFT", 0, 0.30), run("SFT", 1, 0.40)], "KD": [run("KD", 1, 0.50), run("KD", 0, 0.35)]})
    sft, kd = arms.table()
    assert sft["mean accuracy (%)"] == pytest.approx(35.0) and sft["gain over SFT (points)"] is None
    assert kd["gain over SFT (points)"] == pytest.approx(7.5)
    assert (kd["gain min"], kd["gain max"], kd["seeds ahead"]) == (pytest.approx(5.0), pytest.approx(10.0), "2/2")
    sft, kd = arms.table(baseline="KD")
    assert sft["gain over KD (points)"] == pytest.approx(-7.5) and kd["gain over KD (points)"] is None
    with pytest.raises(ValueError, match="'RL' is not one of the arms"):
        arms.table(baseline="RL")
    back = Comparison.from_rows(arms.to_rows())
    assert back.table() == arms.table() and back["KD"][0].history is None


@pytest.mark.parametrize("seeds", [3, [], (0, 0), ("a",), (True,), "012"])
def test_seeds_knob_is_checked(seeds):
    with pytest.raises(ValueError, match="seeds must be"):
        check_seeds(seeds)


def test_compare_trains_every_arm_on_every_seed_and_records_typed_runs(tokenizer, tmp_path):
    data = TrainingSet.from_problems({1: world.sample_problems(8, 1, seed=0)}, tokenizer)
    answers = TrainingSet.from_problems({1: world.sample_problems(8, 1, seed=0)}, tokenizer, style="answer")
    profile = replace(get_profile("fast"), seeds=(0, 1))
    setup = Setup(chapter="03", profile=profile, teacher=None, tokenizer=tokenizer,
                  teacher_ref=TeacherRef.of(HALF_BUDGET_TEACHER, "half-budget"),
                  held_out={1: world.sample_problems(4, 1, seed=9)}, training=TrainingConfig(3, 4, warmup_steps=0))
    ledger = Ledger(profile, tmp_path / "ledger.jsonl")
    arms = {"traces": Arm(records.TRACES, data, teacher_data_flops=5.0, settings={"k": 1}),
            "answers": Arm(records.ANSWERS_ONLY, answers, training=TrainingConfig(2, 4, warmup_steps=0))}
    results = compare(setup, arms, ledger=ledger)
    assert list(results) == ["traces", "answers"] and [r.seed for r in results["traces"]] == [0, 1]
    assert [r.steps for r in results["answers"]] == [2, 2] and all(r.flops > 0 for r in results["traces"])
    entries = {(e.arm, e.seed): e for e in ledger.entries()}  # in the order the runs finished
    assert len(ledger.entries()) == 4 and set(entries) == {("traces", 0), ("answers", 0), ("traces", 1), ("answers", 1)}
    traces = entries["traces", 0]
    assert traces.family == records.TRACES and traces.chapter == "03" and traces.settings == {"k": 1}
    assert traces.compute.teacher_data == 5.0 and traces.compute.training == results["traces"][0].flops
    assert traces.teacher.name == "half-budget" and entries["answers", 0].teacher is None  # answers alone: no teacher
    assert traces == results["traces"][0].record
    with pytest.raises(ValueError, match="family must be one of"):
        Arm("copied", data)


def test_a_gain_over_some_difficulties_and_runs_by_seed_pair_by_seed_number_not_position():
    def run(arm, seed, accuracy):
        return StudentRun(arm, seed, dict(enumerate(accuracy, start=1)), 0.0, 0.0, 1, 1)

    runs = Comparison({"A": [run("A", 0, [1.0, 0.0, 0.0, 0.2, 0.4]), run("A", 1, [1.0, 0.0, 0.0, 0.0, 0.0])],
                       "B": [run("B", 1, [0.0, 0.0, 0.0, 0.5, 0.5]), run("B", 0, [0.0, 0.0, 0.0, 0.4, 0.6])]})
    hard = runs.gain("A", "B", difficulties=(4, 5))  # by hand: seed 0 50 - 30 = +20, seed 1 50 - 0 = +50
    assert hard.seeds == (0, 1) and hard.gains == pytest.approx((20.0, 50.0))
    assert runs.gain("A", "B").gains == pytest.approx((-12.0, 0.0))  # all five: seed 0 20 - 32, seed 1 20 - 20
    assert runs.by_seed("B")[0].accuracy[5] == 0.6


def test_a_knobs_settings_read_back_as_numbers_in_order_with_each_settings_table():
    def pair(sft, kd):
        return Comparison({"SFT": [run("SFT", 0, sft[0]), run("SFT", 1, sft[1])],
                           "KD": [run("KD", 1, kd[1]), run("KD", 0, kd[0])]})
    by_n = {1000: pair((0.5, 0.6), (0.7, 0.6)), 250: pair((0.2, 0.3), (0.3, 0.2))}  # as sweeps.read gives them
    rows = table_by_setting(by_n, "N")
    assert [(row["N"], row["arm"]) for row in rows] == [(250, "SFT"), (250, "KD"), (1000, "SFT"), (1000, "KD")]
    assert rows[1]["gain over SFT (points)"] == pytest.approx(0.0) and rows[1]["seeds ahead"] == "1/2"
    assert rows[3]["gain over SFT (points)"] == pytest.approx(10.0) and rows[3]["gain min"] == pytest.approx(0.0)
    assert accuracies_by_setting(by_n, ("KD",)) == {"KD": {250: pytest.approx([30.0, 20.0]),
                                                           1000: pytest.approx([70.0, 60.0])}}  # in seed order
    by_teacher = {"half-budget": pair((0.2, 0.3), (0.3, 0.4)), "fully trained": pair((0.5, 0.6), (0.7, 0.6))}
    assert [row["teacher"] for row in table_by_setting(by_teacher, "teacher")][::2] == ["half-budget", "fully trained"]


def test_rows_by_verdict_follow_the_order_of_the_verdicts_not_the_alphabet():
    from distillab.comparison import VERDICTS, by_verdict
    rows = [{"arm": "a", "verdict": "worse on every seed"}, {"arm": "b", "verdict": "not settled"},
            {"arm": "c", "verdict": "better on every seed"}, {"arm": "d", "verdict": "worse on every seed"},
            {"arm": "e", "verdict": "the same on every seed"}]
    assert [row["arm"] for row in by_verdict(rows)] == ["c", "e", "a", "d", "b"]
    assert VERDICTS[-1] == "not settled"  # alphabetically it would come second


def test_what_an_arm_spent_is_the_mean_over_its_seeds_worked_out_by_hand():
    from distillab.comparison import mean_of, spent
    runs = [StudentRun("a", 0, {1: 0.5}, 1e11, 4.0, 40, 10), StudentRun("a", 1, {1: 0.7}, 3e11, 6.0, 40, 10)]
    assert mean_of(runs, lambda run: run.flops / run.steps) == pytest.approx(5e9)  # (2.5e9 + 7.5e9) / 2
    assert spent(runs) == "2e+11 FLOPs, 40 steps, 5.0 s per run"


def _pretrained_setup(tokenizer, tmp_path):
    """A tiny checkpoint saved to disk (the pretrained model), its training set and a setup."""
    from distillab.architectures import save_checkpoint
    from distillab.models import build_model

    folder = save_checkpoint(build_model("tiny", tokenizer, 1, architecture="llama"), tokenizer, tmp_path / "pretrained")
    answers = TrainingSet.from_problems({1: world.sample_problems(8, 1, seed=0)}, tokenizer, style="answer")
    setup = Setup(chapter="07", profile=get_profile("fast"), teacher=None, tokenizer=tokenizer,
                  teacher_ref=TeacherRef.of(HALF_BUDGET_TEACHER, "half-budget"),
                  held_out={1: world.sample_problems(4, 1, seed=9)},
                  training=TrainingConfig(3, 4, learning_rate=1e-2, warmup_steps=0))
    return folder, answers, setup


def test_a_student_that_starts_from_a_pretrained_model_records_what_it_forgot(tokenizer, tmp_path):
    from distillab.students import train_student

    folder, answers, setup = _pretrained_setup(tokenizer, tmp_path)
    run = train_student(setup, "answers", Arm(records.ANSWERS_ONLY, answers, tokenizer=tokenizer, start_from=folder), 0)
    lost = run.record.forgetting
    assert lost["drift"] > 0 and lost["perplexity_after"] != lost["perplexity_before"] > 0
    built = train_student(setup, "answers", Arm(records.ANSWERS_ONLY, answers), 0)
    assert built.record.forgetting is None  # a student built here had nothing to forget


def test_a_lora_students_adapters_are_kept_on_disk_when_the_students_are_let_go(tokenizer, tmp_path):
    from distillab import reuse
    from distillab.architectures import LoraSettings, has_adapters, load_causal_lm

    folder, answers, setup = _pretrained_setup(tokenizer, tmp_path)
    arms = {"lora": Arm(records.ANSWERS_ONLY, answers, tokenizer=tokenizer, start_from=folder, lora=LoraSettings(rank=2)),
            "full": Arm(records.ANSWERS_ONLY, answers, tokenizer=tokenizer, start_from=folder)}
    ledger = Ledger(setup.profile, tmp_path / "ledger.jsonl")
    result = compare(setup, arms, (0,), ledger, keep_models=False, workers=1)
    assert result["lora"][0].model is None and result["full"][0].model is None  # let go once measured
    kept = reuse.saved_student(result["lora"][0].record, setup.profile)
    assert kept is not None and has_adapters(load_causal_lm(kept)[0])
    assert reuse.saved_student(result["full"][0].record, setup.profile) is None  # 16 bytes a parameter: not kept
    assert [r.weights_sha256 is not None for r in ledger.entries()] == [True, False]
