"""A claim: what a chapter asserts of a recipe, stated as a paired effect over seeds.

A student's accuracy moves with its seed, and on another CPU or thread count (the same floats summed
in another order) about as far again. So a chapter never asserts one run: it pairs two arms seed by
seed, takes each seed's effect (the arm minus its baseline), and states

- the mean effect, and each seed's effect;
- a one-sided 95 % lower bound on the mean: `mean - t * sd / sqrt(n)`, Student's t with n - 1
  degrees of freedom (the paired t interval: it assumes the seeds' effects scatter roughly
  normally, which with three to five seeds nobody can check, so it is a yardstick, not a proof);
- how many seeds are ahead.

How many seeds a claim needs is a power calculation (`seeds_needed`): given the effect and the
spread of one seed's effect (measured over seeds and over numeric variants), the fewest seeds whose
lower bound reaches the margin in 4 runs of the chapter out of 5.

The claim holds when the lower bound reaches its margin (`rule="interval"`). Some chapters still
assert the older rule, that every seed reaches the margin (`rule="every seed"`); their text says so.

`check` is the one place a claim is judged. In a notebook a claim that does not hold on the
learner's run is reported (what was measured, the interval the course measured, why a seed moves on
another CPU) and the chapter goes on; under the test suite, `make bench` and `make claims`
(`STRICT_ENV` set) it raises `ClaimNotHeld`, so nothing weaker reaches the course.
"""

from __future__ import annotations

import math
import os
import statistics
from dataclasses import dataclass

STRICT_ENV = "DISTILLAB_STRICT_CLAIMS"  # "1": a claim that does not hold raises (tests, bench, make claims)
RULES = ("interval", "every seed")

# Student's t, one-sided 95 % (the 0.95 quantile), by degrees of freedom; beyond 30 the value at 30,
# which is a little larger than the true one: the bound errs low, never high.
T_ONE_SIDED_95 = {1: 6.314, 2: 2.920, 3: 2.353, 4: 2.132, 5: 2.015, 6: 1.943, 7: 1.895, 8: 1.860, 9: 1.833,
                  10: 1.812, 11: 1.796, 12: 1.782, 13: 1.771, 14: 1.761, 15: 1.753, 16: 1.746, 17: 1.740,
                  18: 1.734, 19: 1.729, 20: 1.725, 21: 1.721, 22: 1.717, 23: 1.714, 24: 1.711, 25: 1.708,
                  26: 1.706, 27: 1.703, 28: 1.701, 29: 1.699, 30: 1.697}

WHY_A_SEED_MOVES = (
    "A single run is one draw: another seed, and also another CPU or number of threads (the same floats "
    "summed in another order), moves a student's accuracy by several points at this budget, most of all "
    "when it stops halfway to solving the longer problems. The course states each claim over several "
    "seeds and checks it under several such numeric variants (make claims); your run is one more draw, "
    "and the chapter goes on.")


def upper_bound_95(values: list[float] | tuple[float, ...]) -> float:
    """The one-sided 95 % upper bound on the mean of `values`: the lower bound of their negatives,
    turned back (+inf for one value)."""
    return -lower_bound_95([-value for value in values])


def effect_spread(values: list[float] | tuple[float, ...]) -> float:
    """The standard deviation of one seed's effect (0 from one value, which gives no spread)."""
    return statistics.stdev(values) if len(values) > 1 else 0.0


def normal_cdf(x: float) -> float:
    return 0.5 * (1 + math.erf(x / math.sqrt(2)))


def power(effect: float, spread: float, seeds: int, margin: float = 0.0) -> float:
    """The chance that `seeds` paired seeds put the 95 % lower bound at or above `margin`, when one
    seed's effect scatters with standard deviation `spread` around a true mean `effect`.

    The bound reaches the margin when the t statistic (mean - margin) / (sd / sqrt(n)) reaches the
    critical t. That statistic follows a noncentral t distribution; we use its normal approximation
    (t - ncp) / sqrt(1 + t^2 / (2 (n - 1))), ncp = (effect - margin) sqrt(n) / spread, which is a
    little pessimistic at few seeds (0.797 where the exact value is 0.82 at 8 seeds and
    effect = spread): it errs towards more seeds, never fewer."""
    if seeds < 2:
        return 0.0
    if spread <= 0:
        return 1.0 if effect > margin else 0.0
    t = T_ONE_SIDED_95[min(seeds - 1, 30)]
    shift = (effect - margin) * math.sqrt(seeds) / spread
    return normal_cdf((shift - t) / math.sqrt(1 + t * t / (2 * (seeds - 1))))


def seeds_needed(effect: float, spread: float, margin: float = 0.0, wanted: float = 0.8,
                 most: int = 30) -> int | None:
    """The fewest seeds (2 to `most`) whose 95 % lower bound reaches `margin` with chance `wanted`
    (`power`); None when even `most` seeds are not enough (the effect is too small for its spread)."""
    return next((n for n in range(2, most + 1) if power(effect, spread, n, margin) >= wanted), None)


def largest_margin(effects: list[float] | tuple[float, ...], seeds: int, wanted: float = 0.9,
                   step: float = 10.0) -> float | None:
    """The largest margin, a whole multiple of `step` from 0 up, that a claim run on `seeds` seeds
    clears with chance `wanted` (`power`), at the mean and spread of every effect measured so far
    (`effects`: seeds, machines and numeric variants pooled); None when not even 0 is cleared that
    often. This is how a chapter chooses its margin: from measurements, not by habit."""
    mean, scatter = statistics.fmean(effects), effect_spread(effects)
    if power(mean, scatter, seeds, 0.0) < wanted:
        return None
    margin = 0.0
    while power(mean, scatter, seeds, margin + step) >= wanted:
        margin += step
    return margin


class ClaimNotHeld(AssertionError):
    """A chapter's claim did not hold where it must (tests, bench, make claims)."""


def lower_bound_95(values: list[float] | tuple[float, ...]) -> float:
    """The one-sided 95 % lower bound on the mean of `values` (paired t): -inf for one value, which
    gives no spread to measure."""
    n = len(values)
    if n < 2:
        return -math.inf
    t = T_ONE_SIDED_95[min(n - 1, 30)]
    return statistics.fmean(values) - t * statistics.stdev(values) / math.sqrt(n)


@dataclass(frozen=True)
class Claim:
    """An effect measured seed by seed (`effects[i]` on `seeds[i]`: the arm minus its baseline, in
    `unit`), and what the chapter asserts of it."""
    name: str  # what is claimed, e.g. "KD beats SFT"
    seeds: tuple[int, ...]
    effects: tuple[float, ...]
    margin: float = 0.0  # the lower bound (rule "interval"), or every seed (rule "every seed"), reaches this
    rule: str = "interval"
    mean_margin: float = -math.inf  # and the mean reaches this (the older rule's second half)
    unit: str = "points"

    def __post_init__(self) -> None:
        if self.rule not in RULES:
            raise ValueError(f"a claim's rule is one of {RULES}, got {self.rule!r}")
        if len(self.seeds) != len(self.effects) or not self.effects:
            raise ValueError(f"a claim needs one effect per seed, at least one: {self.seeds} and {self.effects}")

    @classmethod
    def of_gain(cls, name: str, gain, **rule) -> Claim:
        """The claim of a `comparison.PairedGain` (points of mean accuracy)."""
        return cls(name, tuple(gain.seeds), tuple(gain.gains), **rule)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.effects)

    @property
    def lower_bound(self) -> float:
        return lower_bound_95(self.effects)

    @property
    def seeds_ahead(self) -> int:
        return sum(effect > 0 for effect in self.effects)

    @property
    def spread(self) -> float:
        return effect_spread(self.effects)

    def seeds_needed(self, wanted: float = 0.8) -> int | None:
        """How many seeds the interval rule would need, at this mean and spread, for its lower bound
        to reach this claim's margin with chance `wanted` (`seeds_needed`)."""
        return seeds_needed(self.mean, self.spread, self.margin, wanted)

    @property
    def holds(self) -> bool:
        reached = self.lower_bound >= self.margin if self.rule == "interval" else min(self.effects) >= self.margin
        return reached and self.mean >= self.mean_margin

    def requirement(self) -> str:
        """The rule in words: 'the 95 % lower bound is at least +0.0 points'."""
        if self.rule == "interval":
            said = f"the 95 % lower bound is at least {self.margin:+.1f} {self.unit}"
        else:
            said = f"every seed is at least {self.margin:+.1f} {self.unit}"
        return said + (f" and the mean at least {self.mean_margin:+.1f}" if self.mean_margin > -math.inf else "")

    def describe(self) -> str:
        """'KD beats SFT: +11.7 points on average over 3 seeds (+9.7, +4.3, +21.0), 95 % lower bound
        -2.8, ahead on 3 of 3'."""
        bound = "no interval from one seed" if len(self.effects) < 2 else f"95 % lower bound {self.lower_bound:+.1f}"
        each = ", ".join(f"{effect:+.1f}" for effect in self.effects)
        return (f"{self.name}: {self.mean:+.1f} {self.unit} on average over {len(self.effects)} seed(s) ({each}), "
                f"{bound}, ahead on {self.seeds_ahead} of {len(self.effects)}")

    def summary(self) -> dict:
        """As `bench/claims.json` keeps it."""
        return {"mean": self.mean, "lower_bound": self.lower_bound if len(self.effects) > 1 else None,
                "seeds": list(self.effects), "seed_numbers": list(self.seeds), "seeds_ahead": self.seeds_ahead,
                "margin": self.margin, "rule": self.rule, "unit": self.unit, "holds": self.holds}


def strict() -> bool:
    """Whether a claim that does not hold raises here (STRICT_ENV=1: the tests, bench, make claims)."""
    return os.environ.get(STRICT_ENV, "") == "1"


def check(claim: Claim, stored: Claim | None = None) -> bool:
    """Judge `claim` and say so in one paragraph; True when it holds. When it does not: under
    `STRICT_ENV` a ClaimNotHeld, else the report (beside `stored`, the course's own measurement, when
    given) and False, so the notebook goes on."""
    if claim.holds:
        print(f"Claim holds: {claim.describe()}; asserted: {claim.requirement()}.")
        return True
    message = f"This run does not show the claim. {claim.describe()}; the claim needs {claim.requirement()}."
    if stored is not None:
        message += f" The course measured: {stored.describe()}."
    if strict():
        raise ClaimNotHeld(message)
    print(f"{message} {WHY_A_SEED_MOVES}")
    return False


def check_where_asserted(found: list[Claim], asserted: bool, where: str = "at the standard profile with the default knobs",
                         stored: Claim | None = None) -> None:
    """A chapter's headline claims: each judged by `check` where the chapter asserts them (`asserted`:
    the run is `where`), else each stated beside what it needs, and why this run only reports them.
    `stored` (the course's own measurement, shown beside a claim that fails) is for a single claim."""
    if stored is not None and len(found) != 1:
        raise ValueError(f"a stored claim goes beside one claim, and there are {len(found)}: pass stored=None")
    if asserted:
        for claim in found:
            check(claim, stored)
        return
    for claim in found:
        print(f"{claim.describe()}; the claim needs {claim.requirement()}.")
    print(f"The claims are asserted {where}; this run only reports them.")
