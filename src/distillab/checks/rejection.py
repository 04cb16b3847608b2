"""Checks for lab 03 · Rejection sampling on a budget: the verifier filter, the yield of k samples
per prompt, and the cheapest plan (temperature and k per difficulty) that collects the traces a
team wants from a scarce pool of prompts."""

from __future__ import annotations

import math

from distillab import world
from distillab.checks import Case, CheckResult, Raises, WrongKind, _short, run_cases
from distillab.rejection import kept_per_prompt

MAX_K = 16  # the most samples per prompt a plan may ask for


def _problem(start: int, *steps: tuple[str, int]) -> world.Problem:
    return world.Problem("ana", "eggs", start, tuple(world.Step(verb, amount) for verb, amount in steps))


def check_keep_traces(keep_traces) -> CheckResult:
    """`keep_traces(problems, samples, keep)`: (problem, text) pairs the verifier accepts, the
    first per problem (keep="first") or all of them (keep="all"); any other keep is a ValueError."""
    nine = _problem(6, ("sells", 2), ("finds", 5))  # answer 9
    three = _problem(1, ("finds", 2))  # answer 3
    right, wrong = nine.trace, nine.trace.replace("answer 9", "answer 8")
    nineteen = nine.trace.replace("answer 9", "answer 19")  # ends with a 9, but the answer is 19
    twice = nine.trace + " answer 9"
    samples = [[wrong, right, right], [three.trace], [nineteen, twice]]
    problems = [nine, three, nine]
    shown = ("3 problems (answers 9, 3, 9) with samples [says 8, right, right], [right], [says 19, says 9 twice]; "
             "a kept pair shows as answer→sample")
    no_verifier = [(nine, wrong), (three, three.trace), (nine, nineteen)]
    substring = [(nine, right), (three, three.trace), (nine, twice)]
    substring_all = [(nine, right), (nine, right), (three, three.trace), (nine, twice)]
    ends_with = [(nine, right), (three, three.trace), (nine, nineteen)]
    ends_with_why = ("'... answer 19' ends with the digit 9, and it is wrong. Parse the answer and compare it "
                     "with the problem's: world.is_correct(text, problem) does exactly that.")

    def readable(pairs):
        """[(problem, text), ...] as feedback shows it: each problem by its answer, each sample by what
        it says, e.g. "[9→right, 3→right]"."""
        if not isinstance(pairs, list) or not all(isinstance(p, tuple) and len(p) == 2 for p in pairs):
            raise WrongKind(f"returned {type(pairs).__name__} {_short(pairs)}; return a list of (problem, text) pairs.")
        said = {right: "right", wrong: "says 8", nineteen: "says 19", twice: "says 9 twice", three.trace: "right"}
        return "[" + ", ".join(f"{getattr(problem, 'answer', problem)}→{said.get(text, repr(text))}"
                               for problem, text in pairs) + "]"

    def case(label, keep, expected, mistakes=()):
        return Case(label, (problems, samples, keep), readable(expected),
                    [(readable(wrong_pairs), why) for wrong_pairs, why in mistakes], shown=f"{shown}, keep={keep!r}")

    return run_cases("keep_traces", keep_traces, [
        case("keep the first correct sample", "first", [(nine, right), (three, three.trace)], mistakes=[
            (no_verifier, "You kept the first sample of each problem without asking the verifier: that is "
                          "training on unfiltered traces. Keep a sample only if world.is_correct(text, problem)."),
            ([(nine, right), (nine, right), (three, three.trace)],
             "keep='first' keeps at most one trace per problem: stop at its first correct sample."),
            (substring, "A text that contains 'answer 9' is not necessarily right: '... answer 9 answer 9' gives "
                        "two answers. Use the verifier (world.is_correct), not a substring test."),
            (ends_with, ends_with_why),
        ]),
        case("keep every correct sample", "all", [(nine, right), (nine, right), (three, three.trace)], mistakes=[
            ([(nine, right), (three, three.trace)], "keep='all' keeps every correct sample, not just the first."),
            (substring_all, "A text that contains 'answer 9' is not necessarily right: '... answer 9 answer 9' "
                            "gives two answers. Use the verifier (world.is_correct), not a substring test."),
            ([(nine, right), (nine, right), (three, three.trace), (nine, nineteen), (nine, twice)], ends_with_why),
        ]),
        Case("nothing right", ([three], [[three.trace.replace("answer 3", "answer 4")]], "first"), "[]",
             shown="1 problem, one wrong sample, keep='first'"),
        Case("an unknown keep rule", (problems, samples, "best"), Raises(ValueError),
             shown=f"{shown}, keep='best'"),
    ], convert=readable)


def check_yield_per_prompt(yield_per_prompt) -> CheckResult:
    """`yield_per_prompt(acceptance, k)`: the chance that at least one of k samples is right."""
    def case(acceptance, k):
        expected = kept_per_prompt(acceptance, k, "first")
        mistakes = [(min(k * acceptance, 99.0), "k·a is how many right samples you expect (keep='all'); one "
                                                "prompt yields at most one trace with keep='first'. Think about "
                                                "the chance that *all* k are wrong."),
                    (min(k * acceptance, 1.0), "k·a capped at 1 is still how many right samples you expect, "
                                               "not a chance: 0.3 × 4 = 1.2 right samples does not make a right "
                                               "one certain. Think about the chance that *all* k are wrong."),
                    (acceptance ** k, "a^k is the chance that all k samples are right; you need at least one."),
                    ((1 - acceptance) ** k, "(1 - a)^k is the chance that all k are wrong: take 1 minus it."),
                    (1 - acceptance ** k, "1 - a^k is the chance that not all are right. You need 1 minus the "
                                          "chance that all are *wrong*.")]
        return Case(f"a = {acceptance}, k = {k}", (acceptance, k), expected,
                    [(value, why) for value, why in mistakes if abs(value - expected) > 1e-9])

    return run_cases("yield_per_prompt", yield_per_prompt, [
        case(0.3, 4), case(0.5, 1), case(0.5, 2), case(0.9, 3), case(1.0, 5), case(0.0, 8), case(0.25, 16)])


def best_plan(acceptance: dict[float, dict[int, float]], prompts_available: int, wanted: int) -> dict:
    """The reference: for each difficulty, the (temperature, k) that collects `wanted` traces from
    at most `prompts_available` prompts with the fewest samples (ties: smaller k, then lower T)."""
    difficulties = sorted(next(iter(acceptance.values())))
    plan = {}
    for d in difficulties:
        options = []
        for temperature in sorted(acceptance):
            for k in range(1, MAX_K + 1):
                per_prompt = kept_per_prompt(acceptance[temperature][d], k, "first")
                if per_prompt > 0 and prompts_available * per_prompt >= wanted:
                    options.append((math.ceil(wanted / per_prompt) * k, k, temperature))
        if not options:
            raise ValueError(f"difficulty {d}: no plan reaches {wanted} traces from {prompts_available} prompts")
        _, k, temperature = min(options)
        plan[d] = (temperature, k)
    return plan


def check_cheapest_plan(cheapest_plan) -> CheckResult:
    """`cheapest_plan(acceptance, prompts_available, wanted)`: {difficulty: (temperature, k)},
    the fewest samples that still expect `wanted` traces per difficulty from the prompts there are;
    a ValueError when even k = MAX_K cannot get there."""
    table = {0.7: {1: 0.95, 2: 0.8, 3: 0.6, 4: 0.4, 5: 0.3}, 1.0: {1: 0.9, 2: 0.7, 3: 0.5, 4: 0.35, 5: 0.2}}
    hot_is_better = {0.7: {1: 0.5, 3: 0.2}, 1.3: {1: 0.6, 3: 0.45}}

    def case(label, args, mistakes_from=()):
        expected = best_plan(*args)
        return Case(label, args, expected, [(wrong, why) for wrong, why in mistakes_from if wrong != expected])

    ignore_pool = {d: (0.7, 1) for d in range(1, 6)}
    plenty = case("plenty of prompts: one sample each at the best temperature", (table, 1000, 100), [
        ({d: (1.0, 1) for d in range(1, 6)}, "At T = 0.7 the verifier accepts more samples on every level, "
                                            "so each trace costs fewer samples there.")])
    scarce = case("100 prompts per level, 80 traces wanted", (table, 100, 80), [
        (ignore_pool, "With only 100 prompts, k = 1 cannot yield 80 traces where the acceptance is below "
                      "0.8: raise k until prompts × yield ≥ wanted."),
        ({1: (0.7, 1), 2: (0.7, 1), 3: (0.7, 2), 4: (0.7, 2), 5: (0.7, 3)},
         "Your plan expects too few traces on some level: count the yield as 1 - (1 - a)^k, the chance "
         "that at least one sample is right, not k·a.")])
    return run_cases("cheapest_plan", cheapest_plan, [
        plenty,
        scarce,
        case("a hotter temperature that is more accurate", (hot_is_better, 100, 90), [
            ({1: (0.7, 4), 3: (0.7, 11)}, "Compare every temperature: here T = 1.3 is accepted more often.")]),
        case("two temperatures that tie", ({0.5: {1: 0.5, 2: 0.5}, 1.0: {1: 0.5, 2: 0.5}}, 100, 40), [
            ({1: (1.0, 1), 2: (1.0, 1)}, "Both temperatures need the same samples here: on a tie, take the smaller k, "
                                         "then the *lower* temperature (you kept the last one you tried)."),
            ({1: (0.5, 2), 2: (0.5, 2)}, "k = 1 already yields enough and costs fewer samples than k = 2.")]),
        Case("an impossible target", (table, 10, 11), Raises(ValueError), shown="10 prompts, 11 traces wanted",
             mistakes=[]),
        Case("a level the verifier never accepts", ({1.0: {1: 0.9, 5: 0.0}}, 100, 50), Raises(ValueError),
             shown="acceptance 0 at 5 steps"),
    ])
