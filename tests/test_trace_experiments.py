"""Chapter 03's experiment functions: new prompts, the arms, the comparisons, the stored results."""

from dataclasses import replace

import pytest
from helpers import assert_rows_match_their_runs

from distillab import stored_sweeps, world
from distillab import trace_experiments
from distillab.comparison import Comparison, StudentRun
from distillab.profiles import get_profile
from distillab.teacher import teacher_problems


def test_trace_prompts_are_new_to_the_test_set_and_to_the_teacher_where_the_world_allows():
    standard = get_profile("standard")
    setup = trace_experiments.prepare(trace_experiments.REFERENCE_TEACHER, "reference", get_profile("fast"), num_prompts=500)
    assert {d: len(v) for d, v in setup.prompts.items()} == {d: 100 for d in world.DIFFICULTIES}
    teacher = teacher_problems(standard, seed=0)  # the reference teacher: standard profile, seed 0
    held = {p.signature for level in setup.held_out.values() for p in level}
    for d, level in setup.prompts.items():
        assert not held & {p.signature for p in level}
        new = sum(p.signature not in {q.signature for q in teacher[d]} for p in level)
        assert new == setup.new_to_teacher[d]
        assert new == len(level) or d < trace_experiments.FRESH_FROM, d
    assert setup.new_to_teacher[1] < len(setup.prompts[1]) / 2  # a few hundred 1-step problems exist: it saw most


def test_too_few_prompts_is_a_clear_error():
    with pytest.raises(ValueError, match="num_prompts must be a whole number >= 5"):
        trace_experiments.trace_prompts(3, {})


def test_a_miniature_sweep_runs_end_to_end_and_answers_every_question(tmp_path):
    profile = replace(get_profile("fast"), trace_student_steps=2, seeds=(0, 1), eval_per_difficulty=1,
                      trace_prompts=50, warmup_steps=0)
    results = trace_experiments.measure_sweeps(profile, n_values=(10, 20), selection_n=20, vote_ks=(1, 2), vote_temperatures=(1.0,))
    comparisons = results["comparisons"]
    assert set(comparisons) == {"arms", "filter", "mix", "N", "selection"}
    assert list(comparisons["arms"]) == [trace_experiments.ANSWERS, trace_experiments.FILTERED, trace_experiments.UNFILTERED, trace_experiments.GOLD]
    assert list(comparisons["selection"]) == ["random", "hardest", "longest", "diverse"]
    assert results["selection"]["longest_equals_hardest"] is True  # every step adds the same number of tokens
    live = stored_sweeps.measured(results, trace_experiments.TraceSweeps, trace_experiments.measure_sweeps)
    rows = trace_experiments.question_rows(live)
    assert [row["question"] for row in rows][:4] == ["traces vs answers", "the filter at T=1",
                                                     f"the filter at T={trace_experiments.HOT_TEMPERATURE:g}",
                                                     "the teacher's text vs the truth"]
    assert assert_rows_match_their_runs(comparisons, rows) >= 4  # verdicts and gains by hand, paired by seed
    assert rows[-1]["question"] == "majority vote (T=1)" and rows[-1]["arm"] == "vote@2"
    path = tmp_path / "trace.json"
    path.write_text(stored_sweeps.to_json(results, trace_experiments.measure_sweeps))
    back = trace_experiments.load_sweeps(path)
    assert trace_experiments.question_rows(back) == rows
    for read in (trace_experiments.filter_tables, trace_experiments.selection_table, trace_experiments.accuracy_against_n, trace_experiments.accuracy_against_total_flops,
                 trace_experiments.describe_selection_overlap):  # the same whether measured now or read back (JSON keys are text)
        assert read(back) == read(live), read.__name__
    assert set(back.comparisons.n) == {10, 20, back.sampling[1.0].kept}  # numbers again; the whole pool last
    assert back.vote[1.0][0].flops[1] > 0 and back.selection.of("longest") == back.selection.longest
    assert set(trace_experiments.selection_compared(back)) == {"random", "hardest", "diverse"}  # "longest" trained the same traces
    assert [row["traces"] for row in trace_experiments.filter_tables(back)[1.0]] == [
        comparisons["arms"][arm][0].data_size for arm in (trace_experiments.UNFILTERED, trace_experiments.FILTERED)]


def test_the_headline_arms_name_what_the_student_learns_from():
    profile = replace(get_profile("fast"), eval_per_difficulty=1)
    setup = trace_experiments.prepare(trace_experiments.REFERENCE_TEACHER, "the reference", profile, num_prompts=10)
    samples = setup.traces()
    arms = trace_experiments.headline_arms(setup, samples)
    assert list(arms) == [trace_experiments.ANSWERS, trace_experiments.FILTERED]
    assert arms[trace_experiments.FILTERED].teacher_data_flops == samples.flops and arms[trace_experiments.ANSWERS].teacher_data_flops == 0
    assert list(trace_experiments.headline_arms(setup, samples, keep="unfiltered", mix="examples")) == [trace_experiments.ANSWERS, trace_experiments.UNFILTERED]
    assert trace_experiments.headline_arms(setup, samples, mix="examples")[trace_experiments.ANSWERS].training.mix == "examples"


def test_missing_sweep_results_say_how_to_make_them(tmp_path):
    with pytest.raises(FileNotFoundError, match="python -m distillab.trace_experiments"):
        trace_experiments.load_sweeps(tmp_path / "nothing.json")


@pytest.mark.skipif(not trace_experiments.SWEEPS_PATH.is_file(), reason="the sweeps have not been measured yet")
def test_the_stored_sweeps_ran_every_arm_on_the_standard_seeds_and_budget():
    stored_sweeps, standard = trace_experiments.load_sweeps(), get_profile("standard")
    assert stored_sweeps.profile == "standard" and stored_sweeps.seeds == standard.seeds
    assert stored_sweeps.student_steps == standard.trace_student_steps and stored_sweeps.prompts == standard.trace_prompts
    assert stored_sweeps.written_by == "distillab.trace_experiments.measure_sweeps"
    stored = stored_sweeps.comparisons
    assert sorted(stored.filter) == [trace_experiments.RECIPE_TEMPERATURE, trace_experiments.HOT_TEMPERATURE]
    for comparison in [stored.arms, stored.mix, stored.selection, *stored.filter.values(), *stored.n.values()]:
        for runs in comparison.values():
            assert [r.seed for r in runs] == list(standard.seeds)
            assert {r.steps for r in runs} == {standard.trace_student_steps}


def test_the_acceptance_probe_is_drawn_once_then_read_back(monkeypatch):
    profile = get_profile("fast")
    setup = trace_experiments.prepare(trace_experiments.REFERENCE_TEACHER, "the reference", profile, num_prompts=10)
    first = setup.acceptance((0.5, 2.0), per_difficulty=2, k=2)
    assert set(first) == {0.5, 2.0} and set(first[0.5]) == set(world.DIFFICULTIES)
    assert all(0 <= share <= 1 for by_level in first.values() for share in by_level.values())

    def no_sampling(*args, **kwargs):
        raise AssertionError("the probe should be read back, not drawn again")

    monkeypatch.setattr(trace_experiments, "sample_traces", no_sampling)
    assert setup.acceptance((0.5, 2.0), per_difficulty=2, k=2) == first
    with pytest.raises(AssertionError, match="read back"):  # other temperatures: drawn
        setup.acceptance((1.0,), per_difficulty=2, k=2)
    with pytest.raises(AssertionError, match="read back"):  # RETRAIN: drawn again
        replace(setup, refresh=True).acceptance((0.5, 2.0), per_difficulty=2, k=2)


def test_a_students_vote_at_k_is_measured_once_per_student_then_read_back(monkeypatch):
    from distillab.models import STUDENT_SIZE, build_model

    setup = trace_experiments.prepare(trace_experiments.REFERENCE_TEACHER, "the reference", get_profile("fast"), num_prompts=10)
    student = build_model(STUDENT_SIZE, setup.tokenizer, seed=0)
    first = trace_experiments.remembered_vote(setup, student, per_difficulty=2, ks=(1, 2), temperature=0.5)
    assert first.ks == [1, 2] and set(first.accuracy[2]) == set(world.DIFFICULTIES) and first.flops[2] == 2 * first.flops[1]

    def no_vote(*args, **kwargs):
        raise AssertionError("the vote should be read back, not measured again")

    monkeypatch.setattr(trace_experiments, "vote_at_k", no_vote)
    again = trace_experiments.remembered_vote(setup, student, per_difficulty=2, ks=(1, 2), temperature=0.5)
    assert (again.ks, again.accuracy, again.flops, again.temperature) == (first.ks, first.accuracy, first.flops, 0.5)
    with pytest.raises(AssertionError, match="read back"):  # another student: measured
        trace_experiments.remembered_vote(setup, build_model(STUDENT_SIZE, setup.tokenizer, seed=1), per_difficulty=2, ks=(1, 2), temperature=0.5)


def test_accuracy_against_n_and_against_total_compute_worked_out_by_hand():
    def filtered(accuracies, flops):
        return Comparison({trace_experiments.FILTERED: [StudentRun(trace_experiments.FILTERED, seed, {1: a}, flops, 1.0, 10, 5)
                                         for seed, a in enumerate(accuracies)]})
    real = trace_experiments.load_sweeps()
    stored = replace(real, teacher_data_flops_per_trace=1e9,
                     comparisons=replace(real.comparisons, n={1000: filtered((0.5, 0.7), 3e12), 250: filtered((0.2, 0.4), 2e12)}))
    assert trace_experiments.accuracy_against_n(stored) == {250: pytest.approx([20.0, 40.0]), 1000: pytest.approx([50.0, 70.0])}
    assert list(trace_experiments.accuracy_against_total_flops(stored)) == [2e12 + 250 * 1e9, 3e12 + 1000 * 1e9]


def test_chapter_03s_margins_come_from_the_power_calculation_and_the_stored_sweeps_clear_them():
    from distillab import claims

    for name, margin in trace_experiments.STANDARD_MARGINS.items():
        assert claims.largest_margin(trace_experiments.MEASURED[name], 3) == margin, name
    stored = trace_experiments.load_sweeps().comparisons.arms
    found = trace_experiments.headline_claims(stored, get_profile("standard"))
    assert [claim.name for claim in found] == list(trace_experiments.STANDARD_MARGINS)
    assert all(claim.rule == "interval" and claim.holds for claim in found)
    assert trace_experiments.MEASURED["traces beat answers"][:3] == pytest.approx(found[0].effects, abs=0.05)
    fast = trace_experiments.headline_claims(stored, get_profile("fast"))
    assert len(fast) == 1 and fast[0].rule == "every seed" and fast[0].margin == 0.0
    # the fast margin comes from every seed measured at fast under every numeric variant (bench/claims_fast.json)
    from pathlib import Path
    import json

    variants = json.loads((Path(__file__).resolve().parents[1] / "bench" / "claims_fast.json").read_text())
    variants = variants["claims"]["03: traces beat answers"]["variants"].values()
    assert sorted(trace_experiments.FAST_MEASURED) == pytest.approx(sorted(g for v in variants for g in v["seeds"]), abs=1e-6)
    assert all(gain > fast[0].margin for gain in trace_experiments.FAST_MEASURED)
