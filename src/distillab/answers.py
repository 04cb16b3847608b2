"""The free-text verifier: the final whole-number answer in what a real model writes
("So Ana has 12 eggs.", "The answer is **12**.", "\\boxed{12}"). Chapter 06 and lab 06 use it; the
course's own models are held to the strict `world.parse_answer`.

The rules, in order:
1. Only what follows the last `</think>` counts when the text has one (the reasoning is not the
   answer); a `<think>` never closed is reasoning cut off: no answer.
2. The last `\\boxed{...}` holds the answer, when there is one.
3. Otherwise the first number after the last cue ("answer", "answer is", "answer:", "final answer").
4. Otherwise the last number in the text (a trace's final result comes last).
A number is whole, in digits (`12`, `-3`, `1,200`, `12.0`; a `$` or a unit around it is fine) or in
words up to ninety-nine (`twelve`, `twenty-one`). `12.5` is not a whole number: no answer (None).
"""

from __future__ import annotations

import re

from distillab import world

_UNITS = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
          "fifteen sixteen seventeen eighteen nineteen").split()
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
         "ninety": 90}
NUMBER_WORDS = {word: value for value, word in enumerate(_UNITS)}
NUMBER_WORDS.update(_TENS)
NUMBER_WORDS.update({f"{tens}-{unit}": value + n for tens, value in _TENS.items()
                     for n, unit in enumerate(_UNITS[1:10], start=1)})

_DIGITS = r"[-−]?\d{1,3}(?:,\d{3})+(?:\.\d+)?|[-−]?\d+(?:\.\d+)?"  # 1,200 · -3 · 12 · 12.0 · 12.5
_WORDS = "|".join(sorted(map(re.escape, NUMBER_WORDS), key=len, reverse=True))  # longest first: twenty-one
NUMBER = re.compile(rf"(?<![\w.])(?:{_DIGITS})(?![\w])|\b(?:{_WORDS})\b", re.IGNORECASE)
CUE = re.compile(r"\b(?:final\s+answer|answer)\b\s*(?:is|was|:|=)?", re.IGNORECASE)
BOXED = re.compile(r"\\boxed\{([^{}]*)\}")


def to_whole_number(token: str) -> int | None:
    """`token` (one NUMBER match) as a whole number, or None when it is not one (`12.5`)."""
    word = NUMBER_WORDS.get(token.lower())
    if word is not None:
        return word
    value = float(token.replace(",", "").replace("−", "-"))
    return int(value) if value.is_integer() else None


def parse_final_answer(text: str) -> int | None:
    """The final whole-number answer `text` gives, or None when it gives none (rules above)."""
    if world.THINK_CLOSE in text:
        text = text.rsplit(world.THINK_CLOSE, 1)[1]
    elif world.THINK_OPEN in text:
        return None
    boxed = BOXED.findall(text)
    if boxed:
        numbers = NUMBER.findall(boxed[-1])
        return to_whole_number(numbers[0]) if len(numbers) == 1 else None
    cues = list(CUE.finditer(text))
    if cues:
        after = NUMBER.search(text, cues[-1].end())
        if after is not None:
            return to_whole_number(after.group())
    numbers = NUMBER.findall(text)
    return to_whole_number(numbers[-1]) if numbers else None


def is_correct(text: str, problem: world.Problem) -> bool:
    """The free-text verifier: does `text` end on the problem's exact answer?"""
    return parse_final_answer(text) == problem.answer
