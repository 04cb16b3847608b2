"""Lab 01's checks: the course's own verifier passes them, and the verifiers people actually write
fail them with the right explanation."""

import pytest

from distillab import world
from distillab.checks import FAILED
from distillab.checks import verifier


def reference_accuracy(problems, texts):
    if len(problems) != len(texts):
        raise ValueError("lengths differ")
    by_level = {}
    for problem, text in zip(problems, texts):
        by_level.setdefault(problem.difficulty, []).append(world.is_correct(text, problem))
    return {level: sum(marks) / len(marks) for level, marks in sorted(by_level.items())}


def test_the_course_verifier_passes_every_check():
    assert verifier.check_parse_answer(world.parse_answer).passed
    assert verifier.check_is_correct(world.is_correct).passed
    assert verifier.check_accuracy_by_difficulty(reference_accuracy).passed


def first_answer(text):
    tokens = text.split()
    return int(tokens[tokens.index("answer") + 1]) if "answer" in tokens[:-1] else None


def last_answer(text):
    tokens = text.split()
    return int(tokens[-1]) if len(tokens) >= 2 and tokens[-2] == "answer" and tokens[-1].isdigit() else None


def int_of_last(text):
    tokens = text.split()
    if tokens.count("answer") != 1 or len(tokens) < 2 or tokens[-2] != "answer":
        return None
    try:
        return int(tokens[-1])
    except ValueError:
        return None


def truthy_zero(text):
    value = world.parse_answer(text)
    return value if value else None


@pytest.mark.parametrize("wrong, hint", [
    (first_answer, "two answers"),
    (last_answer, "Two answers are ambiguous even when they agree"),
    (int_of_last, "int() is too generous"),
    (truthy_zero, "0 is a real answer"),
    (lambda text: text.split()[-1] if "answer" in text else None, "return the number itself"),
])
def test_real_parser_bugs_are_named(wrong, hint):
    result = verifier.check_parse_answer(wrong)
    assert result.status == FAILED and hint in result.message


def test_a_parser_that_crashes_on_a_truncated_text_is_told_so():
    def crashes(text):
        tokens = text.split()
        return int(tokens[tokens.index("answer") + 1])
    result = verifier.check_parse_answer(crashes)
    assert result.status == FAILED and "raised" in result.message


def test_substring_verifier_is_caught():
    result = verifier.check_is_correct(lambda text, problem: str(problem.answer) in text)
    assert "compare the parsed answer" in result.message


@pytest.mark.parametrize("wrong, hint", [
    (lambda problems, texts: {level: sum(world.is_correct(t, p) for p, t in zip(problems, texts)) / len(problems)
                              for level in {p.difficulty for p in problems}}, "overall accuracy"),
    (lambda problems, texts: {level: sum(world.is_correct(t, p) for p, t in zip(problems, texts)
                                         if p.difficulty == level) / len(problems)
                              for level in {p.difficulty for p in problems}}, "divided each level"),
    (lambda problems, texts: {k: 100 * v for k, v in reference_accuracy(problems, texts).items()}, "percentage"),
])
def test_accuracy_mistakes_are_named(wrong, hint):
    result = verifier.check_accuracy_by_difficulty(wrong)
    assert result.status == FAILED and hint in result.message


def test_silently_dropping_texts_is_caught():
    def zips(problems, texts):
        return reference_accuracy(problems[: len(texts)], texts[: len(problems)])
    result = verifier.check_accuracy_by_difficulty(zips)
    assert "zip() quietly dropped" in result.message


def truthy_is_correct(text, problem):
    answer = world.parse_answer(text)
    if not answer:  # a beginner's test for "no answer": it takes 0 for none
        return False
    return answer == problem.answer


def test_an_answer_of_zero_taken_for_no_answer_is_named():
    result = verifier.check_is_correct(truthy_is_correct)
    assert result.status == FAILED and "the right answer is 0" in result.message
    assert "`if not answer` takes it for no answer" in result.message


def test_is_correct_feedback_shows_the_whole_short_text():
    result = verifier.check_is_correct(lambda text, problem: str(problem.answer) in text)
    assert repr(verifier.TRACE.replace("answer 9", "answer 8")) in result.message


def test_a_parser_that_misses_extra_whitespace_gets_a_hint_that_fits_a_regex_too():
    import re

    def strict_regex(text):
        match = re.fullmatch(r"(?:.* )?answer (\d+)", text)
        return int(match.group(1)) if match and text.split().count("answer") == 1 else None
    result = verifier.check_parse_answer(strict_regex)
    assert result.status == FAILED and "extra spaces and a newline" in result.message
    assert "regular expression" in result.message and "str.split()" in result.message


def counts_with(is_correct):
    def accuracy(problems, texts):
        if len(problems) != len(texts):
            raise ValueError("lengths differ")
        by_level = {}
        for problem, text in zip(problems, texts):
            by_level.setdefault(problem.difficulty, []).append(is_correct(text, problem))
        return {level: sum(marks) / len(marks) for level, marks in sorted(by_level.items())}
    return accuracy


def test_an_accuracy_that_fails_through_the_learners_is_correct_points_at_it():
    result = verifier.check_accuracy_by_difficulty(counts_with(truthy_is_correct), truthy_is_correct)
    assert result.status == FAILED and "fix is_correct (exercise 2) first" in result.message
    assert "it should say True" in result.message and "`if not answer`" in result.message
    # without the learner's is_correct, the check still fails on the case itself
    assert "a right answer of 0" in verifier.check_accuracy_by_difficulty(counts_with(truthy_is_correct)).message
    assert verifier.check_accuracy_by_difficulty(counts_with(world.is_correct), world.is_correct).passed


def test_grading_names_the_text_the_learner_judges_otherwise():
    problems = [world.Problem("ana", "eggs", 6, (world.Step("sells", 2), world.Step("sells", 4))),
                world.Problem("ana", "eggs", 6, (world.Step("sells", 2), world.Step("finds", 5)))]
    texts = [problems[0].trace, problems[1].trace]
    course = {2: 1.0}
    assert verifier.check_grading(counts_with(world.is_correct), world.is_correct, problems, texts, course).passed
    wrong = verifier.check_grading(counts_with(truthy_is_correct), truthy_is_correct, problems, texts, course)
    assert wrong.status == FAILED and repr(problems[0].trace) in wrong.message and "Fix is_correct" in wrong.message
    halves = verifier.check_grading(lambda p, t: {2: 0.5}, world.is_correct, problems, texts, course)
    assert halves.status == FAILED and "difficulty 2" in halves.message
