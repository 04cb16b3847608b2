"""Automatic checks for the labs: run the learner's function on cases and say, in plain words,
what is wrong. Every lab's check functions are built from `Case` and `run_cases`; each lab has its
own module here (`checks.pricing` for lab 00, `checks.verifier` for lab 01, ...).

A check prints one line and returns a `CheckResult`:
  - passed:        "✅ parse_answer: all 14 cases right."
  - failed:        "❌ parse_answer: 2 of 14 cases wrong. ..." (the first wrong case, and why)
  - not done yet:  "⏳ parse_answer: not done yet. Replace ..." (the function is still the stub)
A check never raises, so a learner's notebook runs top to bottom whatever state it is in; the
instructor's hidden tests (`assert result.passed, result.message`) turn a failure into an error.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

PASSED, FAILED, NOT_DONE = "passed", "failed", "not done yet"
ICONS = {PASSED: "✅", FAILED: "❌", NOT_DONE: "⏳"}
RELATIVE_TOLERANCE = 1e-6
# Factors by which a result is off when a unit or a formula's constant was dropped or doubled.
ROUND_FACTORS = (2, 3, 4, 6, 10, 60, 1000, 3600, 1e6, 1e9, 1e12)


@dataclass(frozen=True)
class CheckResult:
    name: str  # the function that was checked
    status: str  # PASSED, FAILED or NOT_DONE
    message: str  # what to do next, in words

    @property
    def passed(self) -> bool:
        return self.status == PASSED

    def __str__(self) -> str:
        return f"{ICONS[self.status]} {self.name}: {self.message}"


@dataclass(frozen=True)
class Raises:
    """The expected outcome of a case where the function must refuse its input."""
    error: type[Exception]


@dataclass(frozen=True)
class Case:
    """One input and the right output, with the wrong outputs learners often give and what each
    one means. `label` says in words what the case is about ("two answers"). A mistake's wrong
    output may also be an exception class: the error a wrong version raises (a ZeroDivisionError
    where a ValueError was asked for)."""
    label: str
    args: tuple
    expected: object
    mistakes: Sequence[tuple[object, str]] = field(default_factory=tuple)
    shown: str | None = None  # how to show the call in feedback, when the args are too long to print


def same(got: object, expected: object, rel_tol: float = RELATIVE_TOLERANCE, abs_tol: float = 1e-12) -> bool:
    """Equal in value *and* kind: 9 is not "9", True is not 1, floats to `rel_tol`, dicts key by key."""
    if expected is None or got is None:
        return got is expected
    if isinstance(expected, bool) or isinstance(got, bool):
        return isinstance(got, bool) and isinstance(expected, bool) and got == expected
    if isinstance(expected, dict):
        return (isinstance(got, dict) and set(got) == set(expected)
                and all(same(got[key], expected[key], rel_tol, abs_tol) for key in expected))
    if isinstance(expected, float):
        return (isinstance(got, (int, float)) and math.isfinite(got)
                and math.isclose(got, expected, rel_tol=rel_tol, abs_tol=abs_tol))
    if isinstance(expected, int):
        return isinstance(got, int) and got == expected
    return type(got) is type(expected) and got == expected


def explain(got: object, expected: object) -> str:
    """Plain words for the commonest kinds of wrong result, whatever the exercise."""
    if isinstance(expected, int) and not isinstance(expected, bool) and isinstance(got, str):
        return f"You returned the text {got!r}; return the number itself (an int)."
    if isinstance(expected, bool) and not isinstance(got, bool):
        return f"Return True or False (a bool), not a {type(got).__name__}."
    if isinstance(expected, (int, float)) and isinstance(got, (int, float)) and not isinstance(got, bool) \
            and expected and math.isclose(got, 100 * expected, rel_tol=1e-6):
        return "That is 100 times too big: return a fraction between 0 and 1, not a percentage."
    if isinstance(expected, (int, float)) and isinstance(got, (int, float)) and not isinstance(got, bool) \
            and expected and got and (got > 0) == (expected > 0):
        for factor in ROUND_FACTORS:
            for ratio, way in ((got / expected, "big"), (expected / got, "small")):
                if math.isclose(ratio, factor, rel_tol=1e-6):
                    return (f"That is {factor:,g} times too {way}: look for a factor of {factor:,g} "
                            "left out or put in twice (a unit, a constant of a formula).")
    if isinstance(expected, dict) and isinstance(got, dict):
        if set(got) != set(expected):
            return f"Your keys are {sorted(got, key=repr)}; they should be {sorted(expected, key=repr)}."
        hints = {explain(got[key], expected[key]) for key in expected if not same(got[key], expected[key])}
        return hints.pop() if len(hints) == 1 else ""
    return ""


def _call(function: Callable, case: Case) -> str:
    shown = case.shown if case.shown is not None else ", ".join(map(_short, case.args))
    return f"{getattr(function, '__name__', 'your function')}({shown})"


def _short(value: object, limit: int = 60) -> str:
    """A value as feedback shows it: floats to 6 significant digits, long reprs cut."""
    if isinstance(value, float):
        text = f"{value:.6g}"
        text += ".0" if text.lstrip("-").isdigit() else ""  # 1.0 stays a float on screen
    elif isinstance(value, dict):
        text = "{" + ", ".join(f"{_short(k)}: {_short(v)}" for k, v in value.items()) + "}"
    else:
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class WrongKind(Exception):
    """Raised by a `convert` function: the result is not even the kind of thing asked for."""


def _judge(function: Callable, case: Case, convert: Callable | None = None,
           tolerance: tuple[float, float] = (RELATIVE_TOLERANCE, 1e-12), describe: Callable = explain) -> str | None:
    """None when the case is right, else what went wrong (NotImplementedError propagates)."""
    try:
        got = function(*case.args)
        if convert is not None:
            got = convert(got)
    except NotImplementedError:
        raise
    except WrongKind as wrong:
        return f"{_call(function, case)}: {wrong}"
    except Exception as error:  # the learner's bug, reported in words instead of a traceback
        if isinstance(case.expected, Raises) and isinstance(error, case.expected.error):
            return None
        wanted = (f"It should raise {case.expected.error.__name__}." if isinstance(case.expected, Raises)
                  else f"It should return {_short(case.expected)}.")
        hint = next((why for wrong, why in case.mistakes if _is_error_class(wrong) and isinstance(error, wrong)), "")
        return f"{_call(function, case)} raised {type(error).__name__}: {error}. {wanted} {hint}".rstrip()
    hint = next((why for wrong, why in case.mistakes
                 if not _is_error_class(wrong) and same(got, wrong, *tolerance)), "")
    if isinstance(case.expected, Raises):
        return (f"{_call(function, case)} returned {_short(got)}; it should refuse this input "
                f"with a {case.expected.error.__name__} that says what is wrong. {hint}").rstrip()
    if same(got, case.expected, *tolerance):
        return None
    hint = hint or describe(got, case.expected)
    return (f"{_call(function, case)} returned {_short(got)}, expected {_short(case.expected)}. "
            f"{hint}").rstrip()


def _is_error_class(value: object) -> bool:
    return isinstance(value, type) and issubclass(value, BaseException)


def run_cases(name: str, function: object, cases: Sequence[Case], convert: Callable | None = None,
              tolerance: tuple[float, float] = (RELATIVE_TOLERANCE, 1e-12), quiet: bool = False,
              describe: Callable[[object, object], str] = explain) -> CheckResult:
    """Run `function` on every case, print the verdict and return it. Never raises.
    `convert` turns a result into what the cases compare (e.g. a scalar tensor into a float),
    raising `WrongKind` with an explanation when it cannot. `tolerance` is (relative, absolute)
    for floats, e.g. looser for float32 arithmetic. `quiet` returns the verdict without printing
    it, for checks that test more than cases. `describe(got, expected)` says in words how a wrong
    result differs when no case's mistake matches it (by default `explain`'s general hints)."""
    result = _verdict(name, function, cases, convert, tolerance, describe)
    return result if quiet else report(result)


def _verdict(name, function, cases, convert, tolerance, describe) -> CheckResult:
    if not callable(function):
        return CheckResult(name, FAILED, f"expected a function, got {type(function).__name__}. "
                                         f"Run the cell that defines `{name}` first.")
    failures = []
    for case in cases:
        try:
            problem = _judge(function, case, convert, tolerance, describe)
        except NotImplementedError:
            return CheckResult(name, NOT_DONE, "not done yet. Replace the `raise NotImplementedError` "
                                               "line with your code, then run this cell again.")
        if problem is not None:
            failures.append((case, problem))
    if not failures:
        return CheckResult(name, PASSED, f"all {len(cases)} cases right.")
    case, problem = failures[0]
    return CheckResult(name, FAILED, f"{len(failures)} of {len(cases)} cases wrong. "
                                     f"First, the case '{case.label}': {problem}")


def report(result: CheckResult) -> CheckResult:
    print(result)
    return result


def ready(*results: CheckResult) -> bool:
    """True when every check passed; otherwise say which exercises a cell is waiting for."""
    waiting = [result.name for result in results if not result.passed]
    if waiting:
        print(f"⏳ This cell uses {', '.join(waiting)}; it runs once "
              f"{'that check passes' if len(waiting) == 1 else 'those checks pass'}.")
    return not waiting
