"""Lab 00's checks: the right formulas pass, and each unit mistake is caught and named."""

import pytest

from distillab import cost
from distillab.checks import FAILED, PASSED
from distillab.checks import pricing


def test_the_course_formulas_pass():
    gpu = cost.H100
    assert pricing.check_rental_dollars(lambda gpus, minutes, price: gpus * minutes / 60 * price).passed
    assert pricing.check_flops_from_gpu_hours(
        lambda hours, peak, util: cost.flops_from_gpu_hours(hours, gpu.with_changes(peak_tflops=peak, utilization=util))
    ).passed
    assert pricing.check_seconds_on_cpu(cost.seconds_on_this_machine).passed
    assert pricing.check_tokens_per_example(lambda flops, n, examples: flops / cost.training_flops(n, 1) / examples).passed


@pytest.mark.parametrize("wrong, hint", [
    (lambda gpus, minutes, price: gpus * minutes * price, "60 times too much"),
    (lambda gpus, minutes, price: minutes / 60 * price, "price of one GPU"),
])
def test_rental_mistakes_are_named(wrong, hint):
    result = pricing.check_rental_dollars(wrong)
    assert result.status == FAILED and hint in result.message


@pytest.mark.parametrize("wrong, hint", [
    (lambda hours, peak, util: hours * peak * 1e12 * util, "3,600 times too small"),
    (lambda hours, peak, util: hours * 3600 * peak * util, "10^12 times too small"),
    (lambda hours, peak, util: hours * peak * util, "left out both the 3,600"),  # a beginner's first try
    (lambda hours, peak, util: hours * 3600 * peak * 1e12 / util, "divided by the utilization"),
    (lambda hours, peak, util: hours * 3600 * peak * 1e12, "left out the utilization"),
])
def test_flops_mistakes_are_named(wrong, hint):
    assert hint in pricing.check_flops_from_gpu_hours(wrong).message


@pytest.mark.parametrize("wrong, hint", [
    (lambda flops, peak, util: flops / (peak * 1e9) * util, "multiplied by the utilization"),
    (lambda flops, peak, util: flops / peak / util, "10^9 times too long"),
    (lambda flops, peak, util: flops / (peak * 1e9 * util), "should raise ValueError"),  # 0 utilization
])
def test_seconds_mistakes_are_named(wrong, hint):
    assert hint in pricing.check_seconds_on_cpu(wrong).message


def test_a_cpu_time_that_accepts_nonsense_fails():
    def lenient(flops, peak, util):
        return flops / (peak * 1e9 * util) if util else float("inf")
    result = pricing.check_seconds_on_cpu(lenient)
    assert result.status == FAILED and "refuse this input with a ValueError" in result.message


def test_two_n_instead_of_six_n_is_named():
    result = pricing.check_tokens_per_example(lambda flops, n, examples: flops / (2 * n) / examples)
    assert "3 times too many" in result.message


def test_the_stub_is_not_done(capsys):
    def stub(*args):
        raise NotImplementedError("your code here")
    for check in (pricing.check_rental_dollars, pricing.check_flops_from_gpu_hours,
                  pricing.check_seconds_on_cpu, pricing.check_tokens_per_example):
        assert check(stub).status == "not done yet"
    assert PASSED not in capsys.readouterr().out


@pytest.mark.parametrize("wrong, hint", [
    (lambda flops, n, examples: flops / (n * examples), "you left out the 6 of 6·N·D"),
    (lambda flops, n, examples: 6 * flops / (n * examples), "you multiplied by the 6"),
    (lambda flops, n, examples: flops / (6 * n), "total number of training tokens"),
])
def test_the_6_of_6nd_is_named_when_it_goes_missing_or_misplaced(wrong, hint):
    result = pricing.check_tokens_per_example(wrong)
    assert result.status == FAILED and hint in result.message, result.message


def test_a_cpu_time_that_refuses_only_a_negative_peak_is_told_zero_is_not_positive():
    def refuses_negative_only(flops, peak, util):
        if not 0 < util <= 1:
            raise ValueError("utilization must be in (0, 1]")
        if peak < 0:
            raise ValueError("the peak must not be negative")
        return flops / (peak * 1e9 * util)
    result = pricing.check_seconds_on_cpu(refuses_negative_only)
    assert result.status == FAILED and "a peak of 0" in result.message
    assert "ZeroDivisionError" in result.message and "not only a negative one" in result.message


def test_a_utilization_of_zero_that_divides_is_named():
    def refuses_above_one_only(flops, peak, util):
        if util > 1 or peak <= 0:
            raise ValueError("bad input")
        return flops / (peak * 1e9 * util)
    result = pricing.check_seconds_on_cpu(refuses_above_one_only)
    assert result.status == FAILED and "(0, 1] leaves 0 out" in result.message
