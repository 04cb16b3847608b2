"""Chapter 07's numbers and tables, worked out by hand: the gains against the model as it comes,
what each arm cost, acceptance, the stored study of the real model as a teacher, what each arm
learned beside what it forgot, and the distilled student's answers beside the model as it comes."""

import pytest

from distillab import realmodel_results, records, world
from distillab.comparison import Comparison, StudentRun
from distillab.evaluation import Evaluation
from distillab.records import Compute, RunRecord
from distillab.sampling import TraceSamples


def run(arm, seed, accuracy, seconds=10.0, steps=5, flops=1e12):
    return StudentRun(arm, seed, {d: accuracy for d in world.DIFFICULTIES}, flops, seconds, steps, 100)


def test_gains_over_the_model_as_it_comes_are_paired_by_seed():
    before = Evaluation({d: 0.1 for d in world.DIFFICULTIES}, 1.0, 10, 1.0, 50)
    gain = realmodel_results.gain_over([run("x", 1, 0.5), run("x", 0, 0.3)], before)
    assert gain.seeds == (0, 1) and gain.gains == pytest.approx((20.0, 40.0))
    assert realmodel_results.multi_step({1: 1.0, 2: 1.0, 3: 0.3, 4: 0.2, 5: 0.1}) == pytest.approx(0.2)


def test_the_cost_table_by_hand():
    comparison = Comparison({"a": [run("a", 0, 0.1, seconds=10, steps=5, flops=2e12),
                                   run("a", 1, 0.2, seconds=20, steps=5, flops=4e12)]})
    facts = {"a": realmodel_results.ArmFacts(trainable_parameters=1234, teacher_data_flops=1e12)}
    [row] = realmodel_results.cost_rows(comparison, facts, peak_gflops=400.0)
    assert row["seconds per step"] == pytest.approx(3.0) and row["training FLOPs"] == pytest.approx(3e12)
    assert row["GFLOP/s"] == pytest.approx(200.0) and row["share of the matmul peak (%)"] == pytest.approx(50.0)
    assert realmodel_results.seconds_per_step(comparison) == {"a": pytest.approx(3.0)}
    assert "share of the matmul peak (%)" not in realmodel_results.cost_rows(comparison, facts)[0]
    assert row["trainable parameters"] == "1,234"
    # (3e12 + 1e12) FLOPs at 989 TFLOP/s and the H100's stated use, at its hourly price
    from distillab.cost import H100

    assert row["H100 dollars"] == pytest.approx(4e12 / (H100.peak_tflops * 1e12 * H100.utilization) / 3600
                                                * H100.dollars_per_hour)


def test_acceptance_by_temperature_and_the_cost_of_a_kept_sample():
    problems = world.sample_problems(2, 1, seed=0) + world.sample_problems(2, 3, seed=0)
    samples = TraceSamples(problems, [["a", "b"]] * 4, [[True, False], [True, True], [False, False], [True, False]],
                           0.7, 10, 10, 8e9, 1.0, "natural")
    [row] = realmodel_results.acceptance_rows({0.7: samples})
    assert row["1 steps (%)"] == 75.0 and row["3 steps (%)"] == 25.0 and row["all (%)"] == 50.0
    assert row["kept"] == "4 of 8" and row["GFLOPs per kept sample"] == pytest.approx(2.0)
    none = TraceSamples(problems, [["a", "b"]] * 4, [[False, False]] * 4, 0.7, 10, 10, 8e9, 1.0, "natural")
    [row] = realmodel_results.acceptance_rows({0.7: none})
    assert row["kept"] == "0 of 8" and row["GFLOPs per kept sample"] == "none kept"  # not inf


def test_the_stored_teacher_study_in_one_paragraph():
    from distillab.realmodel_sweeps import OwnSamples

    problems = world.sample_problems(2, 1, seed=0)
    samples = TraceSamples(problems, [["a"], ["b"]], [[True], [True]], 0.0, 10, 10, 2e8, 1.0)
    own = OwnSamples(temperature=0.7, k=4, problems=100, acceptance={1: 0.1, 2: 0.0}, kept=4, flops=4e12)
    text = own.study(samples)
    assert "100 problems x k = 4 at T = 0.7" in text and "1: 10 %, 2: 0 %" in text and "4 kept" in text
    assert "1e+12 FLOPs" in text and "1e+08" in text and "the course teacher's is 10,000 times cheaper" in text


def test_what_each_arm_learned_beside_what_it_lost():
    def run(arm, seed, accuracy, forgetting):
        record = RunRecord(chapter="07", family=records.ANSWERS_ONLY, arm=arm, profile="fast", seed=seed,
                           model_size="SmolLM2-135M-Instruct", parameters=1, data_size=1, steps=1, seconds=1.0,
                           accuracy={1: accuracy}, compute=Compute(1.0), forgetting=forgetting)
        return StudentRun(arm, seed, {1: accuracy}, 1.0, 1.0, 1, 1, None, None, record)

    lost = lambda after, drift: {"perplexity_before": 10.0, "perplexity_after": after, "drift": drift,  # noqa: E731
                                 "passages_sha256": "ab"}
    comparison = Comparison({"traces": [run("traces", 1, 0.5, lost(11.0, 0.2)), run("traces", 0, 0.3, lost(12.0, 0.4))],
                             "old": [run("old", 0, 0.2, None)]})
    before = Evaluation({1: 0.1}, 0.0, 0, 0.0, 1)
    points = realmodel_results.learned_and_lost(comparison, before)
    assert list(points) == ["traces"]  # runs recorded before forgetting was measured are left out
    assert points["traces"] == [pytest.approx((20.0, 20.0, 0.4)), pytest.approx((40.0, 10.0, 0.2))]  # by seed
    [row] = realmodel_results.forgetting_rows(comparison, before)
    assert row["learned (points over as it comes)"] == pytest.approx(30.0) and row["seeds"] == 2
    assert row["perplexity after"] == pytest.approx(11.5) and row["drift (nats)"] == pytest.approx(0.3)


def test_the_distilled_students_answers_beside_the_model_as_it_comes():
    from types import SimpleNamespace

    problems = {1: world.sample_problems(2, 1, seed=0), 2: world.sample_problems(2, 2, seed=0)}
    right, wrong = (f"so the answer is {p.answer}" for p in (problems[1][0], problems[2][0])), "the answer is -1"
    before = Evaluation({1: 0.0, 2: 0.0}, 1.0, 1, 1.0, 4, {1: [wrong, wrong], 2: [wrong, wrong]})
    after = Evaluation({1: 1.0, 2: 1.0}, 1.0, 1, 1.0, 2, {1: [next(right)], 2: [next(right) + " " + "x" * 300]})
    rows = realmodel_results.side_by_side(SimpleNamespace(held_out=problems), before, after)
    assert [row["steps"] for row in rows] == [1, 2] and rows[0]["answer"] == problems[1][0].answer
    assert rows[0]["as it comes"] == "✗ the answer is -1" and rows[0]["distilled"].startswith("✓ so the answer is")
    assert rows[1]["distilled"].endswith(" …") and len(rows[1]["distilled"]) == len("✓ ") + 140 + len(" …")


def test_chapter_07s_margins_come_from_the_power_calculation_and_the_unused_seeds_clear_them():
    import json
    from pathlib import Path

    from distillab import claims

    for name, margin in realmodel_results.HEADLINE_MARGINS.items():
        assert claims.largest_margin(realmodel_results.HEADLINE_MEASURED[name], 3) == margin, name
    stored = json.loads((Path(__file__).resolve().parents[1] / "bench" / "claims_07_seeds_3_4_5.json").read_text())
    assert stored["seeds"] == [3, 4, 5]
    for name, effects in realmodel_results.HEADLINE_MEASURED.items():
        found = stored["claims"][f"07: {name}"]["variants"]["default"]
        assert found["holds"] and tuple(found["seeds"]) == pytest.approx(effects[3:], abs=0.05), name
