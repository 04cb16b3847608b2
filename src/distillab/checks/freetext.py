"""Checks for lab 06 · Read the answer a real model writes: a number token as a whole number, and
the final answer of a free-text completion. The cases are what instruction-tuned models write:
markdown, units, thousands separators, `\\boxed{}`, reasoning in think tags, several numbers, and
a cue ("the answer is") followed by more numbers."""

from __future__ import annotations

import random
from dataclasses import replace

from distillab.checks import FAILED, Case, CheckResult, report, run_cases

FIRST_NUMBER = ("You took the first number in the text. With no cue, the final result comes last in a "
                "model's reasoning: take the last number.")
CUE_WITHOUT_NUMBER = ("The last cue has no number after it, so it names nothing: go on to rule 4 and take the "
                      "last number in the text.")
LAST_NUMBER = ("You took the last number although the text names its answer (\"the answer is ...\"): "
               "after a cue, the first number that follows it is the answer.")
NOT_WHOLE = ("12.5 is not a whole number: rounding or cutting it off would give a wrong answer credit. "
             "Return None for a number with a fractional part (12.0 is fine: it is 12).")
SIGN = "You dropped the minus sign: -3 is minus three. Keep a leading '-' (or the '−' sign)."
THOUSANDS = ("A comma between digit groups separates thousands (1,200 is one thousand two hundred): "
             "remove the commas before converting.")


def check_read_number(read_number, quiet: bool = False) -> CheckResult:
    """`read_number(token)`: one number token (as `answers.NUMBER` finds them) as an int, or None
    when it is not a whole number (`quiet`: return the verdict without printing it)."""
    cases = [
        Case("a plain number", ("12",), 12),
        Case("zero", ("0",), 0),
        Case("a negative number", ("-3",), -3, mistakes=[(3, SIGN)]),
        Case("a typographic minus '−' (read it as '-')", ("−3",), -3, mistakes=[(3, SIGN)]),
        Case("a thousands separator (drop the commas)", ("1,200",), 1200, mistakes=[(1, THOUSANDS), (200, THOUSANDS)]),
        Case("a whole number written as a decimal", ("12.0",), 12, mistakes=[
            (None, "12.0 is the whole number 12: convert through float and keep it when it has no fraction."),
            (12.0, "Return an int (12), not a float (12.0).")]),
        Case("a fraction", ("12.5",), None, mistakes=[(12, NOT_WHOLE), (13, NOT_WHOLE), (12.5, NOT_WHOLE)]),
        Case("a number in words (look it up in answers.NUMBER_WORDS)", ("twelve",), 12, mistakes=[
            (None, "Models write small numbers in words: look the word up in answers.NUMBER_WORDS.")]),
        Case("a capitalised word", ("Twenty-one",), 21, mistakes=[
            (None, "Look words up in lower case: 'Twenty-one' is 'twenty-one'."),
            (20, "That is twenty, not twenty-one: look up the whole hyphenated word.")]),
    ]
    return run_cases("read_number", read_number, cases, quiet=quiet)


def check_parse_final_answer(parse_final_answer, read_number=None) -> CheckResult:
    """`parse_final_answer(text)`: the final whole-number answer of a free-text completion, by the
    lab's four rules, or None. `read_number` is the learner's own number reader, which the parser
    reads every number with: while it fails its own check, a failure here says so."""
    cases = [
        Case("the course's own format", ("<think> 6 - 2 = 4 . 4 + 5 = 9 </think> answer 9",), 9, mistakes=[
            (6, "You read a number inside the reasoning: only what follows </think> counts, and there the "
                "cue `answer` names 9."),
            (4, "You read a number inside the reasoning: only what follows </think> counts, and there the "
                "cue `answer` names 9.")]),
        Case("a sentence with a cue", ("The answer is 12.",), 12, mistakes=[
            (None, "'12.' is the number 12 at the end of a sentence: the full stop is not a decimal point.")]),
        Case("markdown and a unit", ("So the answer is **12** eggs.",), 12),
        Case("a dollar sign", ("Final answer: $12",), 12),
        Case("reasoning with no cue", ("6 - 2 = 4. Then 4 + 5 = 9. So Ana has 9 eggs.",), 9, mistakes=[
            (6, FIRST_NUMBER)]),
        Case("more numbers after the cue", ("The answer is 7 eggs, not 8.",), 7, mistakes=[(8, LAST_NUMBER)]),
        Case("a cue with no number after it", ("5 + 2 = 7, and that is my answer.",), 7, mistakes=[
            (None, CUE_WITHOUT_NUMBER), (5, CUE_WITHOUT_NUMBER)]),
        Case("the last cue counts", ("My first answer was 5. Checking again: 5 + 2 = 7. Final answer: 7",), 7,
             mistakes=[(5, "A model may correct itself: use the *last* cue in the text, not the first.")]),
        Case("boxed", ("3 + 9 = 12, so \\boxed{12}",), 12, mistakes=[
            (3, "The answer is in \\boxed{...}: when there is one, read the number inside the last box.")]),
        Case("two numbers in the box", ("\\boxed{3 or 4}",), None, mistakes=[
            (3, "A box with two numbers gives no single answer: None."),
            (4, "A box with two numbers gives no single answer: None.")]),
        Case("a cue inside the reasoning", ("<think> is the answer 5? no: 5 + 2 = 7 </think> She has 7 eggs.",), 7,
             mistakes=[(5, "Only the text after the last </think> counts: a cue inside the reasoning is the "
                           "model thinking aloud, not its answer.")]),
        Case("a box, then a corrected box", ("First try: \\boxed{5}. Checking: 5 + 2 = 7, so \\boxed{7}",), 7,
             mistakes=[(5, "You read the first \\boxed{...}: a model may box a first try, check it and box its "
                           "correction. The number inside the *last* box is the answer.")]),
        Case("thinking twice", ("<think> 6 - 2 = 4 </think> Let me check. <think> is the answer 4? no: 4 + 5 = 9 "
                                "</think> Ana has 9 eggs.",), 9,
             mistakes=[(4, "You split the text at the first </think>: a model may think again after it. Only "
                           "what follows the *last* </think> counts.")]),
        Case("cut off while thinking", ("<think> 6 - 2 = 4 . 4 + 5 =",), None, mistakes=[
            (5, "The text opens <think> and never closes it: the model was cut off mid-reasoning and gave "
                "no answer. Return None."),
            (4, "The text opens <think> and never closes it: the model was cut off mid-reasoning and gave "
                "no answer. Return None.")]),
        Case("a thousands separator", ("The answer is 1,200.",), 1200, mistakes=[(1, THOUSANDS), (200, THOUSANDS)]),
        Case("a negative answer", ("The answer is -3.",), -3, mistakes=[(3, SIGN)]),
        Case("not a whole number", ("Each gets 12.5 eggs.",), None, mistakes=[(12, NOT_WHOLE), (13, NOT_WHOLE)]),
        Case("in words", ("Answer: twenty-one",), 21),
        Case("no number at all", ("I am not sure.",), None),
        Case("an ordinal is not an answer", ("The answer is 3rd.",), None, mistakes=[
            (3, "'3rd' is a position, not a count: a number must stand alone (answers.NUMBER does not match it).")]),
    ]
    result = run_cases("parse_final_answer", parse_final_answer, cases, quiet=True)
    if result.status == FAILED and read_number is not None and not check_read_number(read_number, quiet=True).passed:
        result = replace(result, message=f"{result.message} Your parser reads its numbers with your read_number, "
                                         "which still fails exercise 1's check: fix that first, since some of "
                                         "these failures may be its.")
    return report(result)


def _words(number: int) -> str:
    from distillab.answers import NUMBER_WORDS

    return next(word for word, value in NUMBER_WORDS.items() if value == number)


def chatty_completions(problems: list, slips: float = 0.3, seed: int = 0) -> list[tuple[str, bool]]:
    """What an instruction-tuned model might write for each problem, in six styles that rotate, with
    an arithmetic slip (one too many) in the final answer of exactly a share `slips` of them (the
    nearest whole number), chosen at random: (text, is it right)."""
    slipped = set(random.Random(seed).sample(range(len(problems)), round(slips * len(problems))))
    out = []
    for index, problem in enumerate(problems):
        steps = ". ".join(f"{before} {step.sign} {step.operand} = {after}" for before, step, after in
                          zip([problem.start, *problem.values], problem.steps, problem.values))
        right = index not in slipped
        answer = problem.answer if right else problem.answer + 1
        name, item = problem.name.capitalize(), problem.item
        styles = [f"{name} starts with {problem.start} {item}. {steps}. So the answer is **{answer}**.",
                  f"Let's compute: {steps}.\n\n\\boxed{{{answer}}}",
                  f"Step by step: {steps}. {name} now has {answer} {item}.",
                  f"<think> {steps} </think> The answer is {answer}.",
                  f"{steps}. Final answer: {_words(answer)}",
                  f"{steps}. The answer is {answer} {item}, not {answer + 2}."]
        out.append((styles[index % len(styles)], right))
    return out
