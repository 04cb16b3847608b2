"""The check machinery itself: verdicts, comparisons, feedback that never raises."""

import pytest

from distillab.checks import FAILED, NOT_DONE, PASSED, Case, Raises, explain, ready, run_cases, same

CASES = [Case("doubling 2", (2,), 4, mistakes=[(2, "You returned the input unchanged.")]),
         Case("doubling 0", (0,), 0),
         Case("a text", ("x",), Raises(TypeError))]


def double(value):
    if isinstance(value, str):
        raise TypeError("numbers only")
    return 2 * value


def test_a_right_function_passes_and_prints_one_line(capsys):
    result = run_cases("double", double, CASES)
    assert result.status == PASSED and result.passed
    assert capsys.readouterr().out == "✅ double: all 3 cases right.\n"


def test_a_stub_is_not_done_yet(capsys):
    def stub(value):
        raise NotImplementedError("your code here")
    result = run_cases("double", stub, CASES)
    assert result.status == NOT_DONE and not result.passed
    assert "not done yet" in capsys.readouterr().out


def test_a_known_mistake_is_named():
    result = run_cases("double", lambda value: value if not isinstance(value, str) else 1 / 0, CASES)
    assert result.status == FAILED
    assert "2 of 3 cases wrong" in result.message
    assert "You returned the input unchanged." in result.message


def test_an_exception_is_reported_in_words_never_raised():
    def broken(value):
        return [][value]
    result = run_cases("double", broken, CASES)
    assert result.status == FAILED
    assert "raised IndexError" in result.message and "It should return 4" in result.message


def test_returning_instead_of_refusing_is_a_failure():
    result = run_cases("double", lambda value: 2 * value, CASES)
    assert "it should refuse this input with a TypeError" in result.message


def test_something_that_is_not_a_function_fails_clearly():
    result = run_cases("double", 42, CASES)
    assert result.status == FAILED and "expected a function, got int" in result.message


@pytest.mark.parametrize("got, expected, equal", [
    (9, 9, True), ("9", 9, False), (9.0, 9, False), (True, 1, False), (1, True, False),
    (None, 0, False), (0, None, False), (None, None, True),
    (0.1 + 0.2, 0.3, True), (0.31, 0.3, False), (float("nan"), 0.3, False), (3, 3.0, True),
    ({1: 0.5}, {1: 0.5}, True), ({1: 0.5, 2: 1.0}, {1: 0.5}, False), ({1: "0.5"}, {1: 0.5}, False),
])
def test_same_compares_value_and_kind(got, expected, equal):
    assert same(got, expected) is equal


def test_explain_names_the_common_kinds_of_wrong():
    assert "text '9'" in explain("9", 9)
    assert "bool" in explain(1, True)
    assert "percentage" in explain(50.0, 0.5)
    assert "keys" in explain({1: 0.5}, {1: 0.5, 2: 1.0})


def test_ready_waits_for_every_check(capsys):
    passed = run_cases("double", double, CASES)
    waiting = run_cases("half", lambda value: (_ for _ in ()).throw(NotImplementedError()), CASES)
    capsys.readouterr()
    assert ready(passed)
    assert not ready(passed, waiting)
    assert "uses half" in capsys.readouterr().out


@pytest.mark.parametrize("got, expected, words", [
    (6.0, 1.0, "6 times too big"), (1.0, 3600.0, "3,600 times too small"), (2e12, 2.0, "1e+12 times too big"),
    (5.0, 2.0, ""), (-6.0, 1.0, ""),
])
def test_a_result_off_by_a_round_factor_says_so(got, expected, words):
    assert (words in explain(got, expected)) and (words or explain(got, expected) == "")
