"""The rejection-sampling planner: expected yield per prompt, and the prompts, samples and FLOPs a
target number of traces needs."""

import pytest

from distillab import world
from distillab.rejection import kept_per_prompt, plan_rejection_sampling, run_plan, sample_tokens


def test_expected_yield_per_prompt():
    assert kept_per_prompt(0.5, 1, "first") == 0.5
    assert kept_per_prompt(0.5, 3, "first") == pytest.approx(1 - 0.125)
    assert kept_per_prompt(0.5, 3, "all") == 1.5 and kept_per_prompt(0.0, 3, "unfiltered") == 1.0
    with pytest.raises(ValueError, match="acceptance must be a number from 0 to 1"):
        kept_per_prompt(1.5, 1)


def test_plan_prices_the_prompts_and_samples_a_target_needs(tokenizer):
    plan = plan_rejection_sampling({1: 1.0, 5: 0.5}, num_traces=101, k=1, keep="first", num_parameters=1000)
    assert plan.prompts == {1: 51, 5: 100} and plan.samples == {1: 51, 5: 100}
    assert plan.flops == pytest.approx(2 * 1000 * (51 * sample_tokens(1) + 100 * sample_tokens(5)))
    two = plan_rejection_sampling({1: 1.0, 5: 0.5}, num_traces=100, k=2, keep="first", num_parameters=1000)
    assert two.prompts == {1: 50, 5: 67} and two.total_samples == 234
    for difficulty in world.DIFFICULTIES:  # [BOS] prompt trace [EOS], as the tokenizer counts them
        problem = world.sample_problems(1, difficulty, seed=4)[0]
        tokens = tokenizer(problem.prompt + " " + problem.trace)["input_ids"] + [tokenizer.eos_token_id]
        assert sample_tokens(difficulty) == len(tokens)
    with pytest.raises(ValueError, match="accepts no sample at difficulty 5"):
        plan_rejection_sampling({1: 1.0, 5: 0.0}, 10, 4, "first", 1000)


def test_run_plan_samples_what_the_plan_needs_and_counts_the_kept_traces():
    from distillab.models import load_model
    from distillab.workspace import HALF_BUDGET_TEACHER

    teacher, tokenizer, _ = load_model(HALF_BUDGET_TEACHER)
    pool = world.training_problems(8, 12, world.held_out_problems(1))
    acceptance = {1.0: {d: 0.5 for d in world.DIFFICULTIES}}
    plan = {1: (1.0, 1), 5: (1.0, 2)}
    kept, flops = run_plan(teacher, tokenizer, pool, plan, 3, acceptance)
    assert set(kept) == {1, 5} and all(0 <= n <= 8 for n in kept.values()) and flops > 0
    calls = []

    def keep_all_first(problems, samples, keep):  # a learner's keep_traces, called as the lab calls it
        calls.append((len(problems), keep))
        return [(p, texts[0]) for p, texts in zip(problems, samples)]

    unfiltered, same_flops = run_plan(teacher, tokenizer, pool, plan, 3, acceptance, lambda a, k: 1 - (1 - a) ** k,
                                      keep_all_first)
    assert calls == [(6, "first"), (4, "first")]  # ceil(3 / 0.5) and ceil(3 / 0.75) prompts
    assert unfiltered == {1: 6, 5: 4} and same_flops == flops  # the same seeded samples
    with pytest.raises(ValueError, match="no sample is expected to pass"):
        run_plan(teacher, tokenizer, pool, {1: (1.0, 1)}, 3, {1.0: {1: 0.0}})
