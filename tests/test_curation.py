"""Data selection: each rule picks what it says, reproducibly, and refuses an impossible n."""

import pytest

from distillab import curation, world


def pool(per_difficulty=30):
    problems = [p for level in world.training_problems(per_difficulty, 5, {}).values() for p in level]
    return [(p, p.trace) for p in problems]


def test_random_is_reproducible_and_draws_without_repeats():
    traces = pool()
    first, again = curation.select(traces, 40, "random", seed=1), curation.select(traces, 40, "random", seed=1)
    assert first == again and len({id(t) for t in first}) == 40
    assert curation.select(traces, 40, "random", seed=2) != first


def test_hardest_takes_the_most_steps_and_longest_the_most_tokens():
    traces = pool()
    hardest = curation.select(traces, 45, "hardest")
    assert [p.difficulty for p, _ in hardest].count(5) == 30 and {p.difficulty for p, _ in hardest} == {4, 5}
    short_five = (traces[-1][0], "answer 3")  # a 5-step problem with a one-line text is not long
    longest = curation.select(traces + [short_five], 31, "longest")
    assert short_five not in longest
    assert min(len(text.split()) for _, text in longest) >= len(traces[-1][1].split()) - 6


def test_diverse_spreads_over_problem_types_before_repeating_any():
    traces = pool(60)
    diverse = curation.select(traces, 62, "diverse")
    types = {curation.problem_type(p) for p, _ in traces}
    assert {curation.problem_type(p) for p, _ in diverse} == types  # one of each type it can find
    assert len({p.signature for p, _ in diverse}) == len(diverse)
    described = curation.describe(diverse)
    assert described["types"] == len(types) and sum(described["by_difficulty"].values()) == 62


def test_problem_type_is_steps_and_signs():
    problem = world.Problem("ana", "eggs", 5, (world.Step("finds", 2), world.Step("sells", 1)))
    assert curation.problem_type(problem) == (2, "+-")


@pytest.mark.parametrize("n, rule, message", [
    (0, "random", "n must be a whole number from 1 to the pool's size \\(150 traces\\)"),
    (151, "random", "n must be a whole number from 1 to the pool's size"),
    (10, "best", "rule must be one of"),
])
def test_bad_selection_is_a_clear_error(n, rule, message):
    with pytest.raises(ValueError, match=message):
        curation.select(pool(), n, rule)
