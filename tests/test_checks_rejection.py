"""Lab 03's checks: the course's own functions pass, and each named mistake is caught and named."""

import math

import pytest

from distillab import world
from distillab.checks import FAILED, NOT_DONE, PASSED
from distillab.checks.rejection import MAX_K, best_plan, check_cheapest_plan, check_keep_traces, check_yield_per_prompt
from distillab.rejection import kept_per_prompt
from distillab.sampling import TraceSamples


def course_keep_traces(problems, samples, keep="first"):
    """The lab's filter through the package's TraceSamples (the verifier's verdicts computed here)."""
    if keep not in ("first", "all"):
        raise ValueError(keep)
    verdicts = [[world.is_correct(text, p) for text in texts] for p, texts in zip(problems, samples)]
    return TraceSamples(problems, samples, verdicts, 1.0, 0, 0, 0.0, 0.0).traces(keep)


def filter_with(accept, keep_first_only_for_all=False):
    def keep_traces(problems, samples, keep="first"):
        out = []
        for p, texts in zip(problems, samples):
            right = [t for t in texts if accept(t, p)]
            out += [(p, t) for t in (right[:1] if keep == "first" or keep_first_only_for_all else right)]
        return out
    return keep_traces


def test_the_course_functions_pass():
    assert check_keep_traces(course_keep_traces).status == PASSED
    assert check_yield_per_prompt(lambda a, k: kept_per_prompt(a, k, "first")).status == PASSED
    assert check_cheapest_plan(best_plan).status == PASSED


@pytest.mark.parametrize("bug, hint", [
    (filter_with(lambda t, p: True), "without asking the verifier"),
    (filter_with(lambda t, p: f"answer {p.answer}" in t), "not a substring test"),
    (filter_with(lambda t, p: t.endswith(str(p.answer))), "ends with the digit 9"),
])
def test_each_filter_mistake_is_named(bug, hint):
    result = check_keep_traces(bug)
    assert result.status == FAILED and hint in result.message, result.message


def test_keeping_one_when_all_are_asked_is_named():
    result = check_keep_traces(filter_with(world.is_correct, keep_first_only_for_all=True))
    assert result.status == FAILED and "keeps every correct sample" in result.message, result.message


@pytest.mark.parametrize("bug, hint", [
    (lambda a, k: k * a, "k·a is how many right samples"),
    (lambda a, k: min(1.0, k * a), "k·a capped at 1 is still how many right samples"),
    (lambda a, k: a ** k, "all k samples are right"),
    (lambda a, k: (1 - a) ** k, "take 1 minus it"),
    (lambda a, k: 1 - a ** k, "chance that all are *wrong*"),
])
def test_each_yield_mistake_is_named(bug, hint):
    result = check_yield_per_prompt(bug)
    assert result.status == FAILED and hint in result.message, result.message


def k_times_a_plan(acceptance, prompts_available, wanted):
    plan = {}
    for d in sorted(next(iter(acceptance.values()))):
        options = [(math.ceil(wanted / (k * acceptance[t][d])) * k, k, t) for t in sorted(acceptance)
                   for k in range(1, MAX_K + 1) if acceptance[t][d] and prompts_available * k * acceptance[t][d] >= wanted]
        if not options:
            raise ValueError(d)
        plan[d] = min(options)[2], min(options)[1]
    return plan


@pytest.mark.parametrize("bug, hint", [
    (lambda acc, p, w: {d: (max(acc, key=lambda t: acc[t][d]), 1) for d in next(iter(acc.values()))},
     "raise k until prompts × yield ≥ wanted"),
    (k_times_a_plan, "not k·a"),
    (lambda acc, p, w: best_plan({min(acc): acc[min(acc)]}, p, w), "Compare every temperature"),
])
def test_each_plan_mistake_is_named(bug, hint):
    result = check_cheapest_plan(bug)
    assert result.status == FAILED and hint in result.message, result.message


def test_an_impossible_target_must_raise():
    def never_raises(acceptance, prompts_available, wanted):
        try:
            return best_plan(acceptance, prompts_available, wanted)
        except ValueError:
            return {}
    result = check_cheapest_plan(never_raises)
    assert result.status == FAILED and "ValueError" in result.message, result.message


def test_the_stubs_are_not_done():
    def stub(*args):
        raise NotImplementedError("your code here")
    assert {check(stub).status for check in (check_keep_traces, check_yield_per_prompt, check_cheapest_plan)} == {NOT_DONE}


def test_a_wrong_tie_break_in_the_plan_is_caught_and_named():
    def last_of_the_ties(acceptance, prompts_available, wanted):  # `<=` keeps the last option tried
        plan = {}
        for d in sorted(next(iter(acceptance.values()))):
            best = None
            for temperature in sorted(acceptance):
                for k in range(1, MAX_K + 1):
                    per_prompt = kept_per_prompt(acceptance[temperature][d], k, "first")
                    if per_prompt > 0 and prompts_available * per_prompt >= wanted:
                        samples = math.ceil(wanted / per_prompt) * k
                        if best is None or samples <= best[0]:
                            best = (samples, temperature, k)
            if best is None:
                raise ValueError(f"no plan for difficulty {d}")
            plan[d] = best[1:]
        return plan

    result = check_cheapest_plan(last_of_the_ties)
    assert result.status == FAILED and "on a tie, take the smaller k, then the *lower* temperature" in result.message


def test_keep_traces_feedback_shows_which_samples_were_kept():
    def unfiltered(problems, samples, keep="first"):
        if keep not in ("first", "all"):
            raise ValueError(keep)
        return [(problem, texts[0]) for problem, texts in zip(problems, samples)]

    message = check_keep_traces(unfiltered).message
    assert "returned '[9→says 8, 3→right, 9→says 19]', expected '[9→right, 3→right]'" in message
    assert "Problem(" not in message and "without asking the verifier" in message
