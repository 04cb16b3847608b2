"""Checks for lab 00 · Pricing a distillation run: rental dollars, FLOPs from GPU-hours, seconds on
a CPU, and training tokens per example. Each case lists the wrong results that the usual unit
mistakes produce, so the feedback can name the mistake."""

from __future__ import annotations

from distillab.checks import Case, CheckResult, Raises, run_cases

MINUTES_PER_HOUR = 60.0
SECONDS_PER_HOUR = 3600.0


def check_rental_dollars(rental_dollars) -> CheckResult:
    """`rental_dollars(num_gpus, minutes, dollars_per_gpu_hour)`: what renting the GPUs costs."""
    cases = []
    for label, gpus, minutes, price in [("s1: 16 GPUs for 26 minutes", 16, 26.0, 2.0),
                                        ("Sky-T1: 8 GPUs for 19 hours", 8, 19 * 60.0, 3.5),
                                        ("one GPU for one hour", 1, 60.0, 2.5)]:
        hours = minutes / MINUTES_PER_HOUR
        cases.append(Case(label, (gpus, minutes, price), gpus * hours * price, mistakes=[
            (gpus * minutes * price, "That is 60 times too much: the price is per GPU-*hour*, so turn "
                                     "the minutes into hours first."),
            (hours * price, f"That is the price of one GPU; the run used {gpus} at once."),
            (minutes * price, "That is one GPU, priced per minute as if per hour: multiply by the "
                              "number of GPUs, and turn minutes into hours."),
        ]))
    return run_cases("rental_dollars", rental_dollars, cases)


def check_flops_from_gpu_hours(flops_from_gpu_hours) -> CheckResult:
    """`flops_from_gpu_hours(gpu_hours, peak_tflops, utilization)`: the FLOPs those hours did."""
    cases = []
    for label, hours, peak, utilization in [("s1 on H100s", 16 * 26 / 60, 989.0, 0.40),
                                            ("Sky-T1 on H100s", 8 * 19.0, 989.0, 0.35),
                                            ("a made-up GPU", 2.0, 100.0, 0.5)]:
        right = hours * SECONDS_PER_HOUR * peak * 1e12 * utilization
        cases.append(Case(label, (hours, peak, utilization), right, mistakes=[
            (right / SECONDS_PER_HOUR, "That is 3,600 times too small: TFLOP/s is *per second*, and "
                                       "an hour has 3,600 seconds."),
            (right / 1e12, "That is 10^12 times too small: one TFLOP is 10^12 FLOPs. Return FLOPs."),
            (right / SECONDS_PER_HOUR / 1e12, "That is 3.6·10^15 times too small: you left out both the 3,600 "
                                              "seconds of an hour and the 10^12 FLOPs of a TFLOP. Return FLOPs: "
                                              "hours × 3,600 × TFLOP/s × 10^12 × utilization."),
            (right / utilization ** 2, "You divided by the utilization: a GPU that reaches 40 % of "
                                       "its peak does *less* work per hour, so multiply."),
            (right / utilization, "You left out the utilization: real training reaches only a "
                                  "fraction of the peak."),
        ]))
    return run_cases("flops_from_gpu_hours", flops_from_gpu_hours, cases)


def check_seconds_on_cpu(seconds_on_cpu) -> CheckResult:
    """`seconds_on_cpu(flops, cpu_peak_gflops, utilization)`: how long a CPU takes for `flops`,
    refusing a peak or utilization that makes no sense with a ValueError."""
    cases = []
    for label, flops, peak, utilization in [("s1's FLOPs on a 200 GFLOP/s CPU", 9.9e18, 200.0, 0.6),
                                            ("one TFLOP on a 50 GFLOP/s CPU", 1e12, 50.0, 0.5)]:
        right = flops / (peak * 1e9 * utilization)
        cases.append(Case(label, (flops, peak, utilization), right, mistakes=[
            (right * utilization ** 2, "You multiplied by the utilization: reaching only part of the "
                                       "peak makes the run take *longer*, so divide by it."),
            (right * utilization, "You left out the utilization."),
            (right * 1e9, "That is 10^9 times too long: one GFLOP/s is 10^9 FLOPs per second."),
        ]))
    cases += [
        Case("a utilization of 0", (1e12, 200.0, 0.0), Raises(ValueError), mistakes=[
            (ZeroDivisionError, "(0, 1] leaves 0 out: a utilization of 0 is refused with a ValueError "
                                "before anything divides by it (`if not 0 < utilization <= 1`).")]),
        Case("a utilization above 1", (1e12, 200.0, 1.5), Raises(ValueError)),
        Case("a negative peak", (1e12, -200.0, 0.5), Raises(ValueError)),
        Case("a peak of 0", (1e12, 0.0, 0.5), Raises(ValueError), mistakes=[
            (ZeroDivisionError, "A peak of 0 is not positive either: refuse every peak that is not above 0 "
                                "(`if not cpu_peak_gflops > 0`), not only a negative one.")]),
    ]
    return run_cases("seconds_on_cpu", seconds_on_cpu, cases)


def check_tokens_per_example(tokens_per_example) -> CheckResult:
    """`tokens_per_example(flops, num_parameters, num_examples)`: training tokens each example
    stands for, from FLOPs ≈ 6·N·D (epochs included)."""
    cases = []
    for label, flops, parameters, examples in [("s1", 9.87e18, 32e9, 1_000),
                                               ("Sky-T1", 1.9e20, 32e9, 17_000),
                                               ("our teacher", 2.68e13, 1.78e6, 12_000)]:
        right = flops / (6 * parameters * examples)
        cases.append(Case(label, (flops, parameters, examples), right, mistakes=[
            (3 * right, "That is 3 times too many: training costs about 6·N FLOPs per token (2·N "
                        "forward, 4·N backward); 2·N is the cost of *generating* one."),
            (6 * right, "That is 6 times too many: you left out the 6 of 6·N·D. FLOPs = 6 × parameters × "
                        "tokens, so tokens = FLOPs / (6 × parameters)."),
            (36 * right, "That is 36 times too many: you multiplied by the 6 of 6·N·D instead of dividing by it."),
            (right * examples, "That is the total number of training tokens; divide by the number "
                               "of examples."),
        ]))
    return run_cases("tokens_per_example", tokens_per_example, cases)
