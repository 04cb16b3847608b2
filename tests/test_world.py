import random

import pytest

from distillab import world


@pytest.mark.parametrize("difficulty", world.DIFFICULTIES)
def test_problems_stay_in_range_and_traces_are_right(difficulty):
    rng = random.Random(0)
    for _ in range(300):
        problem = world.random_problem(rng, difficulty)
        assert problem.difficulty == difficulty
        assert 0 <= problem.start <= world.MAX_NUMBER
        assert all(0 <= v <= world.MAX_NUMBER for v in problem.values)
        assert all(world.MIN_OPERAND <= s.operand <= world.MAX_OPERAND for s in problem.steps)
        # the trace is arithmetic a reader can check line by line
        lines = problem.trace.split(world.THINK_OPEN)[1].split(world.THINK_CLOSE)[0].split(" . ")
        assert len(lines) == difficulty
        for line in lines:
            a, op, b, eq, c = line.split()
            assert eq == "=" and int(c) == (int(a) + int(b) if op == "+" else int(a) - int(b))
        assert world.parse_answer(problem.trace) == problem.answer
        assert world.parse_answer(problem.completion("answer")) == problem.answer


def test_one_difficulty_has_one_length():
    for difficulty in world.DIFFICULTIES:
        problems = world.sample_problems(50, difficulty, seed=1)
        assert len({len(p.prompt.split()) for p in problems}) == 1
        assert len({len(p.trace.split()) for p in problems}) == 1


def test_example_from_the_design_note():
    p = world.Problem("ana", "eggs", 6, (world.Step("sells", 2), world.Step("finds", 5)))
    assert p.prompt == "ana has 6 eggs . she sells 2 . she finds 5 . how many ?"
    assert p.trace == "<think> 6 - 2 = 4 . 4 + 5 = 9 </think> answer 9"
    assert p.completion("answer") == "answer 9"


@pytest.mark.parametrize("text, expected", [
    ("<think> 6 - 2 = 4 </think> answer 4", 4),
    ("answer 17", 17),
    ("<think> 6 - 2 = 4 </think>", None),  # no answer
    ("answer 4 answer 5", None),  # two answers
    ("<think> 6 - 2 = 4 </think> answer", None),  # cut off after the answer word
    ("<think> 6 - 2 = 4 </think> answer many", None),  # not a number
    ("answer 4 .", None),  # trailing text after the answer
    ("answer -4", None),
    ("answer ４", None),  # a non-ASCII digit is not our number
    ("", None),
])
def test_parse_answer_is_strict(text, expected):
    assert world.parse_answer(text) == expected


def test_verifier_checks_the_answer():
    p = world.Problem("ben", "coins", 3, (world.Step("finds", 4),))
    assert world.is_correct("answer 7", p)
    assert not world.is_correct("answer 8", p)
    assert not world.is_correct("<think> 3 + 4 = 7 </think>", p)


def test_splits_are_seeded_and_disjoint():
    held_out = world.held_out_problems(100)
    assert held_out == world.held_out_problems(100)
    train = world.training_problems(500, seed=3, held_out=held_out)
    assert train == world.training_problems(500, seed=3, held_out=held_out)
    assert train != world.training_problems(500, seed=4, held_out=held_out)
    held_signatures = {p.signature for ps in held_out.values() for p in ps}
    for problems in train.values():
        assert not {p.signature for p in problems} & held_signatures


@pytest.mark.parametrize("bad", [0, 6, 9, -1, 2.5, "3", True])
def test_bad_difficulty_is_named(bad):
    with pytest.raises(ValueError, match="difficulty must be a whole number of steps from 1 to 5"):
        world.sample_problems(3, bad, seed=0)


def test_bad_counts_and_styles():
    with pytest.raises(ValueError, match="num_problems"):
        world.sample_problems(-1, 2, seed=0)
    with pytest.raises(ValueError, match="style must be one of"):
        world.Problem("ana", "eggs", 1, (world.Step("finds", 1),)).completion("essay")


def test_vocabulary_has_no_duplicates_and_covers_every_text():
    words = world.vocabulary()
    assert len(words) == len(set(words))
    rng = random.Random(5)
    for d in world.DIFFICULTIES:
        for _ in range(50):
            p = world.random_problem(rng, d)
            assert set((p.prompt + " " + p.trace).split()) <= set(words)


def test_mean_accuracy_and_overlap_count():
    assert world.mean_accuracy({1: 1.0, 2: 0.5}) == 0.75
    held_out = world.held_out_problems(10)
    assert world.count_overlap(held_out, held_out) == 50
    assert world.count_overlap(world.training_problems(50, seed=1, held_out=held_out), held_out) == 0


@pytest.mark.parametrize("completion, reply", [
    ("<think> 6 - 2 = 4 . 4 + 5 = 9 </think> answer 9", "6 - 2 = 4. 4 + 5 = 9. The answer is 9."),
    ("<think> 6 - 2 = 4 </think> answer 4", "6 - 2 = 4. The answer is 4."),
    ("answer 7", "The answer is 7."),
    ("<think> 6 - 2 = 5 . 4 + 5 = 9 </think> answer 9", "6 - 2 = 5. 4 + 5 = 9. The answer is 9."),  # as written
])
def test_a_trace_in_plain_english_keeps_every_step_as_written(completion, reply):
    assert world.in_plain_english(completion) == reply


def test_a_text_with_no_clear_answer_cannot_be_rendered():
    with pytest.raises(ValueError, match="no single clear answer.*render only texts the verifier accepted"):
        world.in_plain_english("<think> 6 - 2 = 4 </think> answer 4 answer 5")
