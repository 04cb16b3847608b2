import pytest

from distillab import world
from distillab.answers import is_correct, parse_final_answer

# What real models write, and the answer a fair verifier reads out of it.
CASES = [
    ("The answer is 12.", 12),
    ("answer 12", 12),
    ("<think> 6 - 2 = 4 . 4 + 5 = 9 </think> answer 9", 9),  # the course's own format
    ("6 - 2 = 4. 4 + 5 = 9. So Ana has 9 eggs.", 9),  # several numbers: the last one
    ("\\boxed{12}", 12),
    ("The answer is **12** eggs.", 12),  # markdown and a unit
    ("Answer: twenty-one", 21),  # in words
    ("answer: 1,200", 1200),  # a thousands separator
    ("Final answer: $12", 12),
    ("answer 12.0", 12),
    ("The answer is -3.", -3),
    ("I first thought 5, but the answer is 7 eggs, not 8", 7),  # the cue wins over later numbers
    ("<think> 3 + 4 = 7 </think> She has 7 left.", 7),
    ("It is 12.5", None),  # not a whole number
    ("no idea", None),
    ("<think> 3 + 4 = 7", None),  # cut off while thinking
    ("The answer is 3rd", None),
    ("\\boxed{3 or 4}", None),  # two numbers in the box: no single answer
]


@pytest.mark.parametrize("text, expected", CASES)
def test_the_final_answer_is_read_as_a_fair_grader_would(text, expected):
    assert parse_final_answer(text) == expected


def test_the_course_format_agrees_with_the_strict_verifier():
    for difficulty in world.DIFFICULTIES:
        problem = world.example_problem(difficulty)
        assert parse_final_answer(problem.trace) == world.parse_answer(problem.trace) == problem.answer
        assert is_correct(problem.trace, problem)


def test_a_question_in_plain_english_names_the_item_and_asks_for_a_count():
    problem = world.Problem("ana", "eggs", 6, (world.Step("sells", 2), world.Step("finds", 5)))
    assert problem.question == "Ana has 6 eggs. She sells 2 eggs. She finds 5 eggs. How many eggs does Ana have now?"
