"""Students: one run trained, measured and recorded; arms compared seed by seed."""

import pytest

from distillab import world
from distillab.ledger import Ledger
from distillab.students import StudentRun, paired_gain, run_arms, spread, summarise, train_student
from distillab.training import History, TrainingConfig, TrainingSet, sft_objective


def run(arm, seed, accuracy):
    return StudentRun(arm, seed, {1: accuracy, 2: accuracy}, 1.0, 1.0, 10, 100, History())


def test_paired_gain_is_matched_by_seed_not_by_order():
    sft = [run("SFT", 0, 0.30), run("SFT", 1, 0.50), run("SFT", 2, 0.40)]
    kd = [run("KD", 2, 0.45), run("KD", 0, 0.40), run("KD", 1, 0.45)]
    gain = paired_gain(sft, kd)
    assert gain.seeds == (0, 1, 2)
    assert gain.gains == pytest.approx((10.0, -5.0, 5.0))
    assert gain.mean == pytest.approx(10 / 3) and gain.low == pytest.approx(-5) and gain.high == pytest.approx(10)
    assert gain.wins == 2 and "ahead on 2 of 3 seeds" in gain.describe()


def test_arms_on_different_seeds_cannot_be_compared():
    with pytest.raises(ValueError, match="same seeds"):
        paired_gain([run("SFT", 0, 0.3)], [run("KD", 1, 0.4)])


def test_spread_reports_mean_min_max_and_seeds():
    assert spread([run("SFT", 0, 0.30), run("SFT", 1, 0.50)]) == "40.0 % (min 30.0, max 50.0; seeds 0, 1)"


def test_train_student_measures_and_records(tokenizer, tmp_path):
    data = TrainingSet.from_problems({1: world.sample_problems(8, 1, seed=0)}, tokenizer)
    held_out = {1: world.sample_problems(4, 1, seed=9)}
    ledger = Ledger(tmp_path / "ledger.jsonl")
    results = run_arms({"SFT": (data, sft_objective)}, [0, 1], tokenizer, held_out, TrainingConfig(3, 4, warmup_steps=0), size="tiny", ledger=ledger,
                       profile="fast", extra={"transfer_set": 8})
    runs = results["SFT"]
    assert [r.seed for r in runs] == [0, 1] and all(r.flops > 0 and r.steps == 3 for r in runs)
    entries = ledger.entries()
    assert [e.kind for e in entries] == ["SFT", "SFT"] and entries[0].extra["transfer_set"] == 8
    assert entries[0].data_size == 8 and set(entries[0].accuracy) == {1}


def test_mean_accuracy_by_difficulty_averages_over_seeds():
    from distillab.students import mean_accuracy_by_difficulty

    runs = [StudentRun("SFT", 0, {1: 0.5, 2: 0.1}, 1, 1, 1, 1, History()),
            StudentRun("SFT", 1, {1: 0.7, 2: 0.3}, 1, 1, 1, 1, History())]
    assert mean_accuracy_by_difficulty(runs) == pytest.approx({1: 0.6, 2: 0.2})


def row(arm, seed, accuracy):
    return {"arm": arm, "seed": seed, "mean_accuracy": accuracy, "accuracy": {"1": accuracy}, "flops": 1.0,
            "seconds": 1.0, "steps": 10, "data_size": 5}


def test_summarise_pairs_each_arm_with_the_baseline_by_seed():
    arms = {"SFT": [row("SFT", 0, 0.30), row("SFT", 1, 0.40)], "KD": [row("KD", 1, 0.50), row("KD", 0, 0.35)]}
    sft, kd = summarise(arms)
    assert sft["mean accuracy (%)"] == pytest.approx(35.0) and sft["gain over SFT (points)"] is None
    assert kd["gain over SFT (points)"] == pytest.approx(7.5)
    assert (kd["gain min"], kd["gain max"], kd["seeds ahead"]) == (pytest.approx(5.0), pytest.approx(10.0), "2/2")
    sft, kd = summarise(arms, baseline="KD")
    assert sft["gain over KD (points)"] == pytest.approx(-7.5) and kd["gain over KD (points)"] is None
    with pytest.raises(ValueError, match="baseline 'RL' is not one of the arms"):
        summarise(arms, baseline="RL")
