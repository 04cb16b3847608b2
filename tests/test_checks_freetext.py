"""Lab 06's checks name the mistakes learners make: each wrong version below is caught, and the
message says what it got wrong."""

import re

import pytest

from distillab import answers, world
from distillab.answers import parse_final_answer, to_whole_number
from distillab.checks.freetext import check_parse_final_answer, check_read_number, chatty_completions


def test_the_package_passes_both_checks():
    assert check_read_number(to_whole_number).passed
    assert check_parse_final_answer(parse_final_answer).passed
    assert check_parse_final_answer(the_four_rules()).passed  # the stand-in the wrong versions vary


def int_of_float(token):  # no typographic minus, no commas, no words
    return int(float(token))


def no_words(token):
    value = float(token.replace(",", "").replace("−", "-"))
    return int(value) if value.is_integer() else None


def no_sign(token):
    return to_whole_number(token.lstrip("-−"))


def keeps_commas_apart(token):
    return to_whole_number(token.split(",")[0])


def rounds(token):
    value = answers.NUMBER_WORDS.get(token.lower())
    return value if value is not None else round(float(token.replace(",", "").replace("−", "-")))


def case_sensitive_words(token):
    if token in answers.NUMBER_WORDS:
        return answers.NUMBER_WORDS[token]
    return None if token[0].isalpha() else to_whole_number(token)


def first_number(text):
    numbers = answers.NUMBER.findall(text)
    return to_whole_number(numbers[0]) if numbers else None


def last_number(text):
    numbers = answers.NUMBER.findall(text)
    return to_whole_number(numbers[-1]) if numbers else None


def the_four_rules(think=-1, box=-1, cue=-1, cue_falls_through=True):
    """The lab's parser with each "last" choosable: -1 is the rule (the last </think>, box, cue),
    0 the first one, the mistake a learner makes; and a cue with no number after it either goes on
    to rule 4 (the rule) or gives None (the mistake)."""

    def parse(text):
        if world.THINK_CLOSE in text:
            text = text.split(world.THINK_CLOSE)[-1] if think == -1 else text.split(world.THINK_CLOSE, 1)[1]
        elif world.THINK_OPEN in text:
            return None
        boxes = answers.BOXED.findall(text)
        if boxes:
            numbers = answers.NUMBER.findall(boxes[box])
            return to_whole_number(numbers[0]) if len(numbers) == 1 else None
        cues = list(answers.CUE.finditer(text))
        after = answers.NUMBER.search(text, cues[cue].end()) if cues else None
        if cues and after is None and not cue_falls_through:
            return None
        return to_whole_number(after.group()) if after else last_number(text)

    return parse


first_cue, first_box, first_think = the_four_rules(cue=0), the_four_rules(box=0), the_four_rules(think=0)
cue_or_nothing = the_four_rules(cue_falls_through=False)
for name, wrong in (("first_cue", first_cue), ("first_box", first_box), ("first_think", first_think),
                    ("cue_or_nothing", cue_or_nothing)):
    wrong.__name__ = name


def ignores_think(text):
    return parse_final_answer(text.replace(world.THINK_CLOSE, "").replace(world.THINK_OPEN, ""))


def ignores_boxes(text):
    return parse_final_answer(re.sub(r"\\boxed\{([^{}]*)\}", r"\1", text)) if "\\boxed" in text else parse_final_answer(text)


def period_is_decimal(text):
    return parse_final_answer(text) if not re.search(r"\d\.(\s|$)", text) else None


# Each wrong version a learner writes, and the words its check must name the mistake with.
WRONG_VERSIONS = [
    (check_read_number, int_of_float, "a typographic minus '−' (read it as '-')"),
    (check_read_number, no_words, "look it up in answers.NUMBER_WORDS"),
    (check_read_number, no_sign, "You dropped the minus sign"),
    (check_read_number, keeps_commas_apart, "separates thousands"),
    (check_read_number, rounds, "12.5 is not a whole number"),
    (check_read_number, case_sensitive_words, "Look words up in lower case"),
    (check_parse_final_answer, first_number, "You read a number inside the reasoning"),
    (check_parse_final_answer, last_number, "the first number that follows it is the answer"),
    (check_parse_final_answer, first_cue, "use the *last* cue"),
    (check_parse_final_answer, ignores_think, "Only the text after the last </think> counts"),
    (check_parse_final_answer, ignores_boxes, "A box with two numbers gives no single answer"),
    (check_parse_final_answer, period_is_decimal, "the full stop is not a decimal point"),
    (check_parse_final_answer, first_box, "You read the first \\boxed{...}"),
    (check_parse_final_answer, first_think, "You split the text at the first </think>"),
    (check_parse_final_answer, cue_or_nothing, "go on to rule 4"),
]


def test_a_parser_failing_because_of_its_number_reader_is_told_so(monkeypatch):
    def parser_with_a_wrong_reader(text):  # the right rules, reading numbers with no_words
        with monkeypatch.context() as patched:
            patched.setattr(answers, "to_whole_number", no_words)
            return parse_final_answer(text)

    blamed = check_parse_final_answer(parser_with_a_wrong_reader, no_words)
    assert not blamed.passed and "fails exercise 1's check" in blamed.message
    assert "exercise 1" not in check_parse_final_answer(last_number, to_whole_number).message  # its reader is right


@pytest.mark.parametrize("check, wrong, named", WRONG_VERSIONS, ids=lambda v: getattr(v, "__name__", ""))
def test_each_wrong_version_is_caught_and_named(check, wrong, named):
    result = check(wrong)
    assert not result.passed and named in result.message, result.message


def test_a_chatty_model_is_graded_right_by_the_free_text_verifier_and_at_zero_by_the_strict_one():
    problems = world.sample_problems(30, 3, seed=9)
    completions = chatty_completions(problems)
    truth = [right for _, right in completions]
    assert 0 < sum(truth) < len(truth)
    assert [answers.is_correct(text, p) for (text, _), p in zip(completions, problems)] == truth
    assert not any(world.is_correct(text, p) for (text, _), p in zip(completions, problems))
