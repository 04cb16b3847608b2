"""Chapter 03's filter study: four arms from the half-budget teacher's samples, and the stored runs."""

from dataclasses import replace

import pytest
from helpers import assert_rows_match_their_runs

from distillab import curation, stored_sweeps, world
from distillab import filter_experiments
from distillab.profiles import get_profile


def test_matched_draws_as_many_per_difficulty_as_it_is_asked():
    pool = [(world.example_problem(d), f"text {d} {i}") for d in (1, 2, 3) for i in range(5)]
    like = [(world.example_problem(1), "a"), (world.example_problem(3), "b"), (world.example_problem(3), "c")]
    chosen = curation.matched(pool, like, seed=1)
    assert sorted(p.difficulty for p, _ in chosen) == [1, 3, 3] and all(trace in pool for trace in chosen)
    assert chosen == curation.matched(pool, like, seed=1)  # reproducible
    with pytest.raises(ValueError, match="the pool has 5 traces of difficulty 3, fewer than the 8 asked for"):
        curation.matched(pool, like * 2 + [(world.example_problem(3), "d")] * 4, seed=1)


def test_a_miniature_filter_sweep_answers_its_three_questions(tmp_path):
    profile = replace(get_profile("fast"), trace_student_steps=2, seeds=(0, 1), eval_per_difficulty=1,
                      trace_prompts=50, warmup_steps=0)
    results = filter_experiments.measure_sweeps(profile)
    traces, wrong = results["traces"], results["wrong_share"]
    assert traces[filter_experiments.MATCHED] == traces[filter_experiments.FILTERED] < traces[filter_experiments.UNFILTERED] == 50
    assert wrong[filter_experiments.FILTERED] == wrong[filter_experiments.BEST_OF_K] == 0 < wrong[filter_experiments.UNFILTERED]
    assert results["teacher_data_flops"][filter_experiments.BEST_OF_K] > results["teacher_data_flops"][filter_experiments.UNFILTERED]
    live = stored_sweeps.measured(results, filter_experiments.FilterSweeps, filter_experiments.measure_sweeps)
    rows = filter_experiments.question_rows(live)
    assert [row["arm"] for row in rows] == [filter_experiments.FILTERED, filter_experiments.FILTERED, filter_experiments.BEST_OF_K]
    assert [row["traces"] for row in filter_experiments.arms_table(live)] == [traces[arm] for arm in results["comparisons"]["filter"]]
    dropped, dropped_hard = filter_experiments.dropped_by_filter(live)
    assert dropped == 1 - traces[filter_experiments.FILTERED] / traces[filter_experiments.UNFILTERED] and 0 <= dropped_hard <= 1
    assert assert_rows_match_their_runs(results["comparisons"], rows) == len(rows)  # verdicts and gains by hand
    path = tmp_path / "filter.json"
    path.write_text(stored_sweeps.to_json(results, filter_experiments.measure_sweeps))
    back = filter_experiments.load_sweeps(path)
    assert filter_experiments.question_rows(back) == rows and set(back.acceptance) == {1, filter_experiments.BEST_OF}
    assert back.acceptance_line().startswith("half-budget teacher, T = 1: share of samples right by difficulty: 1 steps")
