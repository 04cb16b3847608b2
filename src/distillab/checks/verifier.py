"""Checks for lab 01 · A verifier you can trust: the answer parser, the verifier and accuracy by
difficulty. The cases are the generations a real model produces: clean traces, no answer, two
answers, text cut off by the token limit, an answer that is not a number."""

from __future__ import annotations

import random

from distillab import world
from distillab.checks import FAILED, PASSED, Case, CheckResult, Raises, report, run_cases

TRACE = "<think> 6 - 2 = 4 . 4 + 5 = 9 </think> answer 9"

FIRST_OF_TWO = "You took the first of two answers. A text with two answers gives no single clear answer: return None."
LAST_OF_TWO = "You took the last of two answers. A text with two answers gives no single clear answer: return None."
ONLY_DIGITS = ("int() is too generous here: it accepts signs, spaces and digits of other scripts. "
               "Accept the token only if it is made of the ASCII digits 0-9 (str.isascii and str.isdigit).")


def check_parse_answer(parse_answer) -> CheckResult:
    """`parse_answer(text)`: the whole number after the single `answer`, which must be the
    second-to-last token, or None."""
    cases = [
        Case("a clean trace", (TRACE,), 9),
        Case("an answers-only completion", ("answer 17",), 17),
        Case("the answer 0", ("<think> 3 - 3 = 0 </think> answer 0",), 0, mistakes=[
            (None, "0 is a real answer; check `is None`, not truthiness.")]),
        Case("extra spaces and a newline", ("answer   12\n",), 12, mistakes=[
            (None, "Several spaces and a final newline still separate the same two tokens: treat any run "
                   "of whitespace as one separator and ignore it at the ends (str.split() with no "
                   "argument does both; in a regular expression, \\s+ between tokens and \\s* at the end).")]),
        Case("no answer at all", ("<think> 6 - 2 = 4 . 4 + 5 = 9 </think>",), None, mistakes=[
            (9, "There is no `answer` token here; a number inside the reasoning is not an answer.")]),
        Case("an empty generation", ("",), None),
        Case("cut off right after the word answer", ("<think> 6 - 2 = 4 </think> answer",), None),
        Case("cut off in the middle of the reasoning", ("<think> 6 - 2 = 4 . 4 +",), None),
        Case("two answers that agree", ("answer 9 answer 9",), None, mistakes=[
            (9, "Two answers are ambiguous even when they agree: a model that writes several answers "
                "must not get credit. Accept `answer` only when it appears exactly once.")]),
        Case("two answers that differ", (TRACE.replace("answer 9", "answer 8 answer 9"),), None,
             mistakes=[(8, FIRST_OF_TWO), (9, LAST_OF_TWO)]),
        Case("text after the answer", (TRACE + " .",), None, mistakes=[
            (9, "The answer must end the text: `answer` is the second-to-last token and the number "
                "the last. Anything after it means the model did not stop cleanly.")]),
        Case("an answer in words", ("answer nine",), None),
        Case("an unknown token as the answer", ("answer [UNK]",), None),
        Case("a negative number", ("answer -3",), None, mistakes=[(-3, ONLY_DIGITS)]),
        Case("digits of another script", ("answer \u0669",), None, mistakes=[(9, ONLY_DIGITS)]),
        Case("number glued to the word", ("answer9",), None),
    ]
    return run_cases("parse_answer", parse_answer, cases)


def _problem(start: int, *steps: tuple[str, int]) -> world.Problem:
    return world.Problem("ana", "eggs", start, tuple(world.Step(verb, amount) for verb, amount in steps))


ZERO_IS_AN_ANSWER = ("0 is a real answer, and here the right one: `if not answer` takes it for no answer. "
                     "Test for no answer with `is None`.")


def _shown_with_problem(text: str, problem: world.Problem) -> str:
    """How feedback shows a call of is_correct: the whole text and the problem's prompt."""
    return f"{text!r}, <problem: {problem.prompt}>"


def check_is_correct(is_correct) -> CheckResult:
    """`is_correct(text, problem)`: does the text give the problem's exact answer?"""
    problem = _problem(6, ("sells", 2), ("finds", 5))  # answer 9
    other = _problem(6, ("sells", 2), ("finds", 4))  # answer 8
    none_left = _problem(6, ("sells", 2), ("sells", 4))  # answer 0

    def case(label, text, for_problem, expected, mistakes=()):
        return Case(label, (text, for_problem), expected, mistakes, shown=_shown_with_problem(text, for_problem))

    return run_cases("is_correct", is_correct, [
        case("the right answer", TRACE, problem, True),
        case("a wrong answer", TRACE.replace("answer 9", "answer 8"), problem, False, mistakes=[
            (True, "The right number appears in the reasoning, but the final answer is 8: compare "
                   "the parsed answer, not whether the number appears somewhere.")]),
        case("no answer", "<think> 6 - 2 = 4 . 4 + 5 = 9 </think>", problem, False),
        case("two answers", TRACE + " answer 9", problem, False),
        case("right answer, for a different problem", TRACE, other, False),
        case("the right answer is 0", "<think> 6 - 2 = 4 . 4 - 4 = 0 </think> answer 0", none_left, True,
             mistakes=[(False, ZERO_IS_AN_ANSWER)]),
    ])


def _accuracy_case(label: str, right_wrong: list[tuple[int, bool]]) -> Case:
    """Problems of the given difficulties, each answered right or wrong, with the expected
    accuracy by difficulty and the two wrong results learners most often return."""
    problems, texts = [], []
    for index, (difficulty, right) in enumerate(right_wrong):
        problem = world.random_problem(random.Random(index), difficulty)
        answer = problem.answer if right else (problem.answer + 1) % (world.MAX_NUMBER + 1)
        problems.append(problem)
        texts.append(problem.trace.rsplit(" ", 1)[0] + f" {answer}")
    levels = sorted({difficulty for difficulty, _ in right_wrong})
    expected = {level: sum(r for d, r in right_wrong if d == level) / sum(d == level for d, _ in right_wrong)
                for level in levels}
    overall = sum(r for _, r in right_wrong) / len(right_wrong)
    share_of_all = {level: sum(r for d, r in right_wrong if d == level) / len(right_wrong) for level in levels}
    shown = ", ".join(f"{d}-step {'right' if r else 'wrong'}" for d, r in right_wrong)
    return Case(label, (problems, texts), expected, shown=f"problems and texts: {shown}", mistakes=[
        ({level: overall for level in levels}, "You gave every level the overall accuracy; count each "
                                               "difficulty on its own."),
        (share_of_all, "You divided each level's right answers by *all* the problems; divide by the "
                       "number of problems of that level."),
    ])


def check_accuracy_by_difficulty(accuracy_by_difficulty, is_correct=None) -> CheckResult:
    """`accuracy_by_difficulty(problems, texts)`: {difficulty: fraction right}, for the levels
    present, refusing lists of different lengths with a ValueError. Given the learner's own
    `is_correct` (which their function counts with), a failure that comes from it says so."""
    problem = _problem(6, ("sells", 2), ("finds", 5))
    none_left = _problem(6, ("sells", 2), ("sells", 4))  # answer 0
    cases = [
        _accuracy_case("one level, all right", [(2, True), (2, True)]),
        _accuracy_case("two levels, mixed", [(1, True), (1, False), (3, True), (3, False), (3, False)]),
        _accuracy_case("levels interleaved", [(5, False), (1, True), (5, True), (1, True), (5, True)]),
        _accuracy_case("a level with nothing right", [(4, False), (4, False), (2, True)]),
        Case("a right answer of 0", ([none_left, problem], [none_left.trace, TRACE]), {2: 1.0},
             shown="problems and texts: 2-step right (answer 0), 2-step right (answer 9)"),
        Case("no problems at all", ([], []), {}),
        Case("more texts than problems", ([problem], [TRACE, TRACE]), Raises(ValueError),
             shown="[one problem], [two texts]", mistakes=[
                 ({2: 1.0}, "zip() quietly dropped the extra text: check the lengths match first.")]),
    ]
    result = run_cases("accuracy_by_difficulty", accuracy_by_difficulty, cases, quiet=True)
    if result.status == FAILED and is_correct is not None:
        pairs = [pair for case in cases if not isinstance(case.expected, Raises) for pair in zip(*case.args)]
        wrong_verdict = _first_wrong_verdict(is_correct, pairs)
        if wrong_verdict is not None:
            result = CheckResult(result.name, FAILED, f"{wrong_verdict} Your accuracy_by_difficulty counts with "
                                                      "your is_correct, so fix is_correct (exercise 2) first.")
    return report(result)


def _first_wrong_verdict(is_correct, pairs) -> str | None:
    """Where the learner's `is_correct` disagrees with the world's verifier on (problem, text)
    pairs, in words (the first such pair), else None."""
    for problem, text in pairs:
        try:
            got = is_correct(text, problem)
        except Exception as error:  # the learner's bug, in words
            return f"Your is_correct({_shown_with_problem(text, problem)}) raised {type(error).__name__}: {error}."
        right = world.is_correct(text, problem)
        if got != right:
            hint = f" {ZERO_IS_AN_ANSWER}" if right and problem.answer == 0 else ""
            return (f"Your is_correct({_shown_with_problem(text, problem)}) says {got!r}; the answer is "
                    f"{problem.answer}, so it should say {right!r}.{hint}")
    return None


def check_grading(accuracy_by_difficulty, is_correct, problems: list[world.Problem], texts: list[str],
                  course_accuracy: dict[int, float]) -> CheckResult:
    """The learner's verifier grading a model's `texts` for `problems` must give the course's
    accuracy by difficulty (`course_accuracy`, from `evaluation.evaluate`) exactly. A difference is
    named: the first text the learner's `is_correct` judges otherwise, or the difficulty whose
    accuracy differs."""
    name = "grading the teacher"
    mine = accuracy_by_difficulty(problems, texts)
    if mine == course_accuracy:
        shown = {difficulty: f"{fraction:.0%}" for difficulty, fraction in mine.items()}
        return report(CheckResult(name, PASSED, f"your verifier and the course's agree on every text: {shown}."))
    wrong_verdict = _first_wrong_verdict(is_correct, list(zip(problems, texts)))
    if wrong_verdict is not None:
        return report(CheckResult(name, FAILED, f"{wrong_verdict} Fix is_correct (exercise 2), then run its check "
                                                "and this cell again."))
    levels = sorted(set(mine) | set(course_accuracy), key=repr)
    level = next(d for d in levels if mine.get(d) != course_accuracy.get(d))
    return report(CheckResult(name, FAILED, f"your is_correct agrees with the course's on every text, but your "
                                            f"accuracy_by_difficulty gives {mine.get(level)!r} for difficulty {level!r} "
                                            f"where the course counts {course_accuracy.get(level)!r}: look at how it "
                                            "counts each difficulty."))
