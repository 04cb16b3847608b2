"""Comparisons and their statistics: a trained student's result (`StudentRun`), arms run on the
same seeds (`Comparison`), one arm minus another seed by seed (`PairedGain`), what holds on every
seed (`verdict`), and the questions a chapter asks of its comparisons (`Question`), rendered as rows
with one set of column names.

At these budgets one run is not evidence: the same recipe can land 30 points apart with another
seed. So every comparison runs each arm on the same seeds and reports the per-seed differences
(min, mean, max), never one number alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from distillab import world
from distillab.claims import effect_spread, lower_bound_95, seeds_needed, upper_bound_95
from distillab.records import RunRecord
from distillab.training import History


@dataclass
class StudentRun:
    arm: str  # the arm's name in its comparison, e.g. kd_experiments.KD
    seed: int
    accuracy: dict[int, float]  # difficulty -> fraction right on the held-out problems
    flops: float  # its own training FLOPs, counted
    seconds: float  # its own training wall time
    steps: int
    data_size: int
    history: History | None = field(default=None, repr=False)  # None when read back from a stored sweep
    model: torch.nn.Module | None = field(default=None, repr=False)  # the trained student (in memory only)
    record: RunRecord | None = field(default=None, repr=False)  # what the ledger got (None: from a stored sweep)
    reused: bool = False  # read back from the ledger (same key), not trained in this comparison

    @property
    def mean_accuracy(self) -> float:
        return world.mean_accuracy(self.accuracy)

    def to_row(self) -> dict:
        """The run as plain JSON, as the stored sweeps keep it (the model and history stay behind)."""
        return {"arm": self.arm, "seed": self.seed, "mean_accuracy": self.mean_accuracy, "accuracy": self.accuracy,
                "flops": self.flops, "seconds": self.seconds, "steps": self.steps, "data_size": self.data_size,
                "numerics": self.record.numerics if self.record is not None else None}

    @classmethod
    def from_record(cls, arm: str, record: RunRecord, model: torch.nn.Module | None = None) -> StudentRun:
        """A finished run read back from the ledger, as `arm` of this comparison (and its saved model)."""
        return cls(arm, record.seed, record.accuracy, record.compute.training, record.seconds, record.steps,
                   record.data_size, model=model, record=record, reused=True)

    @classmethod
    def from_row(cls, row: dict) -> StudentRun:
        return cls(row["arm"], row["seed"], {int(d): a for d, a in row["accuracy"].items()}, row["flops"],
                   row["seconds"], row["steps"], row["data_size"])

class Comparison(dict):
    """Arms run on the same seeds: arm name -> its runs (one per seed). The first arm is the
    baseline unless a method is told another."""

    timing: dict | None = None  # set by `compare`: its seconds, when its first seed was complete, runs reused

    def gain(self, baseline: str, arm: str, difficulties: tuple[int, ...] | None = None) -> PairedGain:
        """`arm` minus `baseline`, seed by seed, in points of mean accuracy (over `difficulties`
        only, when given: e.g. (4, 5), the hardest problems)."""
        for name in (baseline, arm):
            if name not in self:
                raise ValueError(f"{name!r} is not one of the arms {list(self)}")
        return paired_gain(self[baseline], self[arm], difficulties)

    def accuracies(self) -> dict[str, list[float]]:
        """Each arm's mean accuracy (%) per seed, in seed order: what a plot of the seeds draws."""
        return {name: [100 * run.mean_accuracy for run in sorted(runs, key=lambda run: run.seed)]
                for name, runs in self.items()}

    def by_difficulty(self) -> dict[str, dict[int, float]]:
        """Each arm's accuracy per difficulty, averaged over its seeds."""
        return {name: mean_accuracy_by_difficulty(runs) for name, runs in self.items()}

    def by_seed(self, arm: str) -> dict[int, StudentRun]:
        """`arm`'s runs by their seed, for pairing them with another arm's."""
        return {run.seed: run for run in self[arm]}

    def table(self, baseline: str | None = None) -> list[dict]:
        """Rows for a table: each arm's mean and range over seeds, and its gain over the `baseline`
        arm (default: the first) seed by seed."""
        baseline = next(iter(self)) if baseline is None else baseline
        gain_column = f"gain over {baseline} (points)"
        rows = []
        for name, runs in self.items():
            values = [100 * run.mean_accuracy for run in runs]
            row = {"arm": name, "mean accuracy (%)": mean_over_seeds(runs), "min": min(values),
                   "max": max(values), gain_column: None, "gain min": None, "gain max": None, "seeds ahead": None}
            if name != baseline:
                gain = self.gain(baseline, name)
                row.update({gain_column: gain.mean, "gain min": gain.min, "gain max": gain.max,
                            "seeds ahead": f"{gain.wins}/{len(gain.gains)}"})
            rows.append(row)
        return rows

    def to_rows(self) -> dict[str, list[dict]]:
        return {name: [run.to_row() for run in runs] for name, runs in self.items()}

    @classmethod
    def from_rows(cls, rows: dict[str, list[dict]]) -> Comparison:
        return cls({name: [StudentRun.from_row(row) for row in runs] for name, runs in rows.items()})

VERDICTS = ("better on every seed", "the same on every seed", "worse on every seed", "not settled")


def by_verdict(rows: list[dict]) -> list[dict]:
    """Table rows with a "verdict" column grouped in the order of VERDICTS (better, the same, worse,
    not settled), each group in its first order."""
    return sorted(rows, key=lambda row: VERDICTS.index(row["verdict"]))


def verdict(lowest_gain: float, highest_gain: float) -> str:
    """An arm is better (worse) than its baseline only if it is ahead (behind) on every seed, the
    same only if it ties on every seed; anything else is not settled at this budget."""
    if lowest_gain == highest_gain == 0:
        return VERDICTS[1]
    if lowest_gain > 0:
        return VERDICTS[0]
    return VERDICTS[2] if highest_gain < 0 else VERDICTS[3]


@dataclass(frozen=True)
class PairedGain:
    """Arm B minus arm A, seed by seed, in points of mean accuracy."""
    seeds: tuple[int, ...]
    gains: tuple[float, ...]  # percentage points, one per seed

    @property
    def mean(self) -> float:
        return sum(self.gains) / len(self.gains)

    @property
    def min(self) -> float:
        return min(self.gains)

    @property
    def max(self) -> float:
        return max(self.gains)

    @property
    def wins(self) -> int:
        return sum(gain > 0 for gain in self.gains)

    @property
    def verdict(self) -> str:
        """What holds on *every* seed: one of VERDICTS."""
        return verdict(self.min, self.max)

    def summary(self) -> dict:
        """The gain as plain JSON, as make bench stores a headline: mean, min, max (points), seeds,
        and the one-sided 95 % lower bound on the mean (None from one seed; `claims`)."""
        bound = lower_bound_95(self.gains)
        return {"mean": self.mean, "min": self.min, "max": self.max, "seeds": len(self.gains),
                "lower_bound": bound if len(self.gains) > 1 else None}

    def describe(self) -> str:
        return (f"{self.mean:+.1f} points on average (per seed from {self.min:+.1f} to {self.max:+.1f}; "
                f"ahead on {self.wins} of {len(self.gains)} seeds)")

    def seeds_to_settle(self) -> int | str | None:
        """How many seeds would put the 95 % lower bound on the side of zero the mean is on, in 4
        runs out of 5, at this mean and spread (`claims.seeds_needed`): "over 30" when even 30 would
        not; None for no gain at all, or one seed (no spread to measure)."""
        if self.mean == 0 or len(self.gains) < 2:
            return None
        needed = seeds_needed(abs(self.mean), effect_spread(self.gains))
        return "over 30" if needed is None else needed

    def row(self, question: str, baseline: str, arm: str) -> dict:
        """One row of a chapter's table of questions: what was compared, what held on every seed, the
        gain's one-sided 95 % bound (`one_sided_bound`), and the seeds that would settle it
        (`seeds_to_settle`)."""
        return {"question": question, "baseline": baseline, "arm": arm, "gain (points)": self.mean,
                "gain min": self.min, "gain max": self.max, "seeds ahead": f"{self.wins}/{len(self.gains)}",
                "verdict": self.verdict, "gain at 95 %": self.one_sided_bound(), "seeds to settle": self.seeds_to_settle()}

    def one_sided_bound(self) -> str | None:
        """The one-sided 95 % bound on the side of zero the mean is on, as text: '≥ -2.7' for a
        gain (its lower bound), '≤ -15.1' for a loss (its upper bound). None for no gain, or one seed."""
        if self.mean == 0 or len(self.gains) < 2:
            return None
        return f"≥ {lower_bound_95(self.gains):+.1f}" if self.mean > 0 else f"≤ {upper_bound_95(self.gains):+.1f}"


def paired_gain(baseline: list[StudentRun], other: list[StudentRun],
                difficulties: tuple[int, ...] | None = None) -> PairedGain:
    """`other` minus `baseline` in mean accuracy (points; over `difficulties` only, when given),
    matched by seed."""
    by_seed = {run.seed: run for run in baseline}
    missing = [run.seed for run in other if run.seed not in by_seed]
    if missing or len(other) != len(baseline) or not other:
        raise ValueError(f"arms must run on the same seeds to be compared: {sorted(by_seed)} vs "
                         f"{sorted(run.seed for run in other)}")
    seeds = tuple(sorted(run.seed for run in other))
    other_by_seed = {run.seed: run for run in other}
    def accuracy(run: StudentRun) -> float:
        if difficulties is None:
            return run.mean_accuracy
        return sum(run.accuracy[d] for d in difficulties) / len(difficulties)

    gains = tuple(100 * (accuracy(other_by_seed[s]) - accuracy(by_seed[s])) for s in seeds)
    return PairedGain(seeds, gains)


def mean_of(runs: list[StudentRun], value: Callable[[StudentRun], float]) -> float:
    """`value` of each of one arm's runs (one per seed), averaged over them."""
    return sum(value(run) for run in runs) / len(runs)


def mean_over_seeds(runs: list[StudentRun]) -> float:
    """One arm's mean accuracy, in %, averaged over its runs (one per seed)."""
    return mean_of(runs, lambda run: 100 * run.mean_accuracy)


def spent(runs: list[StudentRun]) -> str:
    """What one run of an arm cost, averaged over its seeds: '1.23e+11 FLOPs, 40 steps, 5.2 s per run'."""
    return (f"{mean_of(runs, lambda run: run.flops):.3g} FLOPs, {mean_of(runs, lambda run: run.steps):.0f} steps, "
            f"{mean_of(runs, lambda run: run.seconds):.1f} s per run")


def spread(runs: list[StudentRun]) -> str:
    """'46.2 % (min 38.0, max 55.1; seeds 0, 1, 2)'."""
    values = [100 * run.mean_accuracy for run in runs]
    return (f"{mean_over_seeds(runs):.1f} % (min {min(values):.1f}, max {max(values):.1f}; "
            f"seeds {', '.join(str(run.seed) for run in runs)})")


def mean_accuracy_by_difficulty(runs: list[StudentRun]) -> dict[int, float]:
    """Each difficulty's accuracy averaged over the runs (seeds) of one arm."""
    return {d: mean_of(runs, lambda run: run.accuracy[d]) for d in runs[0].accuracy}


def _settings(by_setting: dict) -> list:
    """The settings of one knob, smallest first when they are numbers, else in the order measured."""
    keys = list(by_setting)
    if all(isinstance(key, (int, float)) for key in keys):
        keys.sort()
    return keys


def table_by_setting(by_setting: dict, column: str) -> list[dict]:
    """One knob's comparisons, one per setting (a number or a name): each setting's
    `Comparison.table`, with the setting as the first column, named `column`."""
    return [{column: key, **row} for key in _settings(by_setting) for row in by_setting[key].table()]


def accuracies_by_setting(by_setting: dict, arms: tuple[str, ...]) -> dict[str, dict]:
    """Each of `arms`'s accuracies (%), per seed, at every setting of one knob: arm -> setting ->
    values, what `plots.plot_mean_and_range` draws."""
    return {arm: {key: by_setting[key].accuracies()[arm] for key in _settings(by_setting)} for arm in arms}


@dataclass(frozen=True)
class Question:
    """What a chapter asks of a comparison: does `arm` beat `baseline`, seed by seed? `label` names
    the question in its table."""
    label: str
    baseline: str
    arm: str

    def gain(self, runs: Comparison) -> PairedGain:
        return runs.gain(self.baseline, self.arm)

    def row(self, runs: Comparison) -> dict:
        """The question answered by `runs`, as one row of the table every chapter shows its questions in."""
        return self.gain(runs).row(self.label, self.baseline, self.arm)
