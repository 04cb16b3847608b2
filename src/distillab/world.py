"""The synthetic reasoning world: word problems, their chain of thought, an exact verifier, splits.

Used by every chapter: chapter 01 trains the teacher on it, chapters 02-05 distil from it.

A problem with three steps looks like this::

    prompt:       ana has 6 eggs . she sells 2 . she finds 5 . she buys 3 . how many ?
    trace:        <think> 6 - 2 = 4 . 4 + 5 = 9 . 9 + 3 = 12 </think> answer 12
    answers only: answer 12

Every number is one token, every sentence of a given kind has a fixed number of tokens, so all
problems of one difficulty have exactly the same length: a batch of one difficulty has no padding.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass

MIN_DIFFICULTY, MAX_DIFFICULTY = 1, 5
DIFFICULTIES = tuple(range(MIN_DIFFICULTY, MAX_DIFFICULTY + 1))
MAX_NUMBER = 29  # every number in a problem or a trace lies in 0..MAX_NUMBER
MIN_OPERAND, MAX_OPERAND = 1, 9

NAMES = {"ana": "she", "ben": "he", "cleo": "she", "dev": "he", "eva": "she", "finn": "he"}
ITEMS = ("eggs", "apples", "coins", "books", "shells", "stamps")
ADD_VERBS = ("finds", "buys", "gets", "wins")
SUB_VERBS = ("sells", "loses", "gives", "drops")

THINK_OPEN, THINK_CLOSE, ANSWER = "<think>", "</think>", "answer"
STYLES = ("trace", "answer")  # what a completion holds: the chain of thought, or the answer only

TEST_SEED = 2025  # the held-out test problems of every chapter come from this seed


@dataclass(frozen=True)
class Step:
    """One step of a problem: a verb that adds or removes `operand` items."""

    verb: str
    operand: int

    @property
    def sign(self) -> str:
        return "+" if self.verb in ADD_VERBS else "-"

    def apply(self, value: int) -> int:
        return value + self.operand if self.sign == "+" else value - self.operand


@dataclass(frozen=True)
class Problem:
    """A word problem: someone starts with `start` items, then each step adds or removes some."""

    name: str
    item: str
    start: int
    steps: tuple[Step, ...]

    @property
    def difficulty(self) -> int:
        return len(self.steps)

    @property
    def values(self) -> list[int]:
        """The running count after each step (the last one is the answer)."""
        values, value = [], self.start
        for step in self.steps:
            value = step.apply(value)
            values.append(value)
        return values

    @property
    def answer(self) -> int:
        return self.values[-1]

    @property
    def signature(self) -> tuple:
        """The arithmetic of the problem without its decoration (name, item, verb wording).

        Two problems with the same signature are the same exercise, so splits compare signatures.
        """
        return (self.start, tuple((s.sign, s.operand) for s in self.steps))

    @property
    def prompt(self) -> str:
        pronoun = NAMES[self.name]
        sentences = [f"{self.name} has {self.start} {self.item}"]
        sentences += [f"{pronoun} {step.verb} {step.operand}" for step in self.steps]
        return " . ".join(sentences) + " . how many ?"

    @property
    def trace(self) -> str:
        """The program-made chain of thought, wrapped in think tags, then the answer."""
        lines, value = [], self.start
        for step in self.steps:
            new_value = step.apply(value)
            lines.append(f"{value} {step.sign} {step.operand} = {new_value}")
            value = new_value
        return f"{THINK_OPEN} {' . '.join(lines)} {THINK_CLOSE} {ANSWER} {value}"

    @property
    def question(self) -> str:
        """The problem in plain English, as a real instruction-tuned model would be asked it
        (chapter 06); `prompt` is the course's own terse format."""
        name, pronoun = self.name.capitalize(), NAMES[self.name].capitalize()
        sentences = [f"{name} has {self.start} {self.item}."]
        sentences += [f"{pronoun} {step.verb} {step.operand} {self.item}." for step in self.steps]
        return " ".join(sentences) + f" How many {self.item} does {name} have now?"

    def completion(self, style: str = "trace") -> str:
        """What the model should write after the prompt: the full trace or the answer only."""
        check_style(style)
        return self.trace if style == "trace" else f"{ANSWER} {self.answer}"


def check_difficulty(difficulty: int) -> int:
    """Return `difficulty` if it is a valid number of steps, else raise a clear ValueError."""
    if isinstance(difficulty, bool) or not isinstance(difficulty, int) or not (
        MIN_DIFFICULTY <= difficulty <= MAX_DIFFICULTY
    ):
        raise ValueError(
            f"difficulty must be a whole number of steps from {MIN_DIFFICULTY} to "
            f"{MAX_DIFFICULTY}, got {difficulty!r}"
        )
    return difficulty


def example_problem(difficulty: int) -> Problem:
    """A problem of `difficulty` steps. Every problem of one difficulty has the same number of words
    in its prompt and in its trace, so this one measures them all (generation lengths, costs)."""
    return Problem("ana", "eggs", 0, (Step("finds", 1),) * check_difficulty(difficulty))


def widest_example(difficulty: int) -> Problem:
    """A problem of `difficulty` steps whose numbers all have two digits: the most tokens a trace of
    that difficulty takes when a tokenizer splits numbers into digits (chapter 06)."""
    return Problem("ana", "eggs", 10, (Step("finds", 9),) * check_difficulty(difficulty))


def check_style(style: str) -> str:
    if style not in STYLES:
        raise ValueError(f"style must be one of {STYLES}, got {style!r}")
    return style


def random_problem(rng: random.Random, difficulty: int) -> Problem:
    """Draw one problem with `difficulty` steps; every running count stays in 0..MAX_NUMBER."""
    check_difficulty(difficulty)
    name, item = rng.choice(sorted(NAMES)), rng.choice(ITEMS)
    value = start = rng.randint(0, MAX_NUMBER)
    steps = []
    for _ in range(difficulty):
        # Only offer the moves that keep the count in range: results are in range by construction.
        moves = [("+", n) for n in range(MIN_OPERAND, MAX_OPERAND + 1) if value + n <= MAX_NUMBER]
        moves += [("-", n) for n in range(MIN_OPERAND, MAX_OPERAND + 1) if value - n >= 0]
        sign, operand = rng.choice(moves)
        verb = rng.choice(ADD_VERBS if sign == "+" else SUB_VERBS)
        step = Step(verb, operand)
        value = step.apply(value)
        steps.append(step)
    return Problem(name, item, start, tuple(steps))


def sample_problems(
    num_problems: int,
    difficulty: int,
    seed: int,
    exclude: Iterable[tuple] = (),
) -> list[Problem]:
    """`num_problems` random problems of one difficulty, skipping any whose signature is excluded."""
    check_difficulty(difficulty)
    if isinstance(num_problems, bool) or not isinstance(num_problems, int) or num_problems < 0:
        raise ValueError(f"num_problems must be a whole number >= 0, got {num_problems!r}")
    excluded = set(exclude)
    # A separate stream per (seed, difficulty), so adding a difficulty never changes the others.
    rng = random.Random(f"{seed}-{difficulty}")
    problems: list[Problem] = []
    for _ in range(1000 * num_problems + 1000):
        if len(problems) == num_problems:
            return problems
        problem = random_problem(rng, difficulty)
        if problem.signature not in excluded:
            problems.append(problem)
    raise ValueError(
        f"could not draw {num_problems} problems of difficulty {difficulty} outside the excluded set"
    )


def held_out_problems(per_difficulty: int, seed: int = TEST_SEED) -> dict[int, list[Problem]]:
    """The held-out problems, `per_difficulty` of each difficulty. No training set contains them."""
    return {d: sample_problems(per_difficulty, d, seed) for d in DIFFICULTIES}


def training_problems(
    per_difficulty: int,
    seed: int,
    held_out: dict[int, list[Problem]],
    difficulties: Iterable[int] = DIFFICULTIES,
) -> dict[int, list[Problem]]:
    """Training problems drawn from `seed`, none sharing a signature with a `held_out` problem."""
    excluded = {p.signature for problems in held_out.values() for p in problems}
    return {d: sample_problems(per_difficulty, d, seed, exclude=excluded) for d in difficulties}


def parse_answer(text: str) -> int | None:
    """The answer a generated `text` gives, or None when it gives no single clear answer.

    The rules, strictly: the word `answer` appears exactly once, it is followed by exactly one
    token, and that token is a whole number written in digits (`answer 9`). Anything else (no
    answer, two answers, text cut off after `answer`, `answer nine`, `answer 9 .`) is None.
    """
    tokens = text.split()
    positions = [i for i, token in enumerate(tokens) if token == ANSWER]
    if len(positions) != 1 or positions[0] != len(tokens) - 2:
        return None
    value = tokens[-1]
    return int(value) if value.isascii() and value.isdigit() else None


def is_correct(text: str, problem: Problem) -> bool:
    """The verifier: does the generated `text` give the problem's exact answer?"""
    return parse_answer(text) == problem.answer


def in_plain_english(completion: str) -> str:
    """A completion in the world's format as a plain-English reply, for a student asked in plain
    English (chapter 07): `<think> 6 - 2 = 4 . 4 + 5 = 9 </think> answer 9` becomes
    `6 - 2 = 4. 4 + 5 = 9. The answer is 9.`, and `answer 9` becomes `The answer is 9.`. The
    reasoning is kept as written, step by step; only its wrapping changes. A text with no single
    clear answer (`parse_answer` gives None) has nothing to render: ValueError."""
    answer = parse_answer(completion)
    if answer is None:
        raise ValueError(f"{completion!r} gives no single clear answer in the world's format (... answer N), "
                         "so it cannot be rendered: render only texts the verifier accepted")
    reasoning = completion.split()[:-2]  # drop the final `answer N`
    sentences, words = [], []
    for token in reasoning + ["."]:
        if token in (THINK_OPEN, THINK_CLOSE):
            continue
        if token == ".":
            if words:
                sentences.append(" ".join(words) + ".")
            words = []
        else:
            words.append(token)
    return " ".join(sentences + [f"The answer is {answer}."])


def mean_accuracy(accuracy: dict[int, float]) -> float:
    """The unweighted mean over difficulties, so each level counts the same (NaN when empty)."""
    return sum(accuracy.values()) / len(accuracy) if accuracy else float("nan")


def count_overlap(training: dict[int, list[Problem]], held_out: dict[int, list[Problem]]) -> int:
    """How many training problems share their arithmetic with a held-out problem (should be 0)."""
    held_signatures = {p.signature for problems in held_out.values() for p in problems}
    return sum(p.signature in held_signatures for problems in training.values() for p in problems)


def vocabulary() -> list[str]:
    """Every word the world can write, in a fixed order (numbers first)."""
    words = [str(n) for n in range(MAX_NUMBER + 1)]
    words += ["+", "-", "=", ".", "?", "has", "how", "many", THINK_OPEN, THINK_CLOSE, ANSWER]
    words += sorted(NAMES) + sorted(set(NAMES.values())) + list(ITEMS)
    words += list(ADD_VERBS) + list(SUB_VERBS)
    return words
