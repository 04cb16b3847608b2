"""Students: train one, measure it, record it; then compare arms paired by seed. The unit of every
experiment in chapters 02-04 ("same student size, same data, same optimizer steps, one knob changed").

At these budgets one run is not evidence: the same recipe can land 30 points apart with another
seed. So every comparison here runs each arm on the same seeds and reports the per-seed
differences (min, mean, max), never one number alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch
from tqdm.auto import tqdm
from transformers import PreTrainedTokenizerFast

from distillab import world
from distillab.evaluation import evaluate
from distillab.ledger import Ledger, LedgerEntry
from distillab.models import STUDENT_SIZE, build_model, count_parameters
from distillab.training import History, Objective, TrainingConfig, TrainingSet, sft_objective, train


@dataclass
class StudentRun:
    arm: str  # the recipe's name, e.g. "SFT" or "KD forward_kl (T=1, α=1)"
    seed: int
    accuracy: dict[int, float]  # difficulty -> fraction right on the held-out problems
    flops: float  # student training FLOPs, counted
    seconds: float  # student training wall time
    steps: int
    data_size: int
    history: History = field(repr=False)
    model: torch.nn.Module | None = field(default=None, repr=False)  # the trained student (kept in memory only)

    @property
    def mean_accuracy(self) -> float:
        return world.mean_accuracy(self.accuracy)


def train_student(
    arm: str,
    data: TrainingSet,
    tokenizer: PreTrainedTokenizerFast,
    held_out: dict[int, list[world.Problem]],
    training: TrainingConfig,
    objective: Objective = sft_objective,
    size: str = STUDENT_SIZE,
    ledger: Ledger | None = None,
    profile: str = "",
    extra: dict | None = None,
    model: torch.nn.Module | None = None,
) -> StudentRun:
    """Build a student of `size` (initialised with `training.seed`, unless `model` is given), train
    it with `objective` and evaluate it; with a `ledger`, record the run there (kind = `arm`)."""
    student = model if model is not None else build_model(size, tokenizer, seed=training.seed)
    history = train(student, data, training, objective, progress=False, description=arm)
    evaluation = evaluate(student, tokenizer, held_out)
    run = StudentRun(arm, training.seed, evaluation.accuracy, history.total_flops, history.total_seconds,
                     training.num_steps, len(data), history, student)
    if ledger is not None:
        ledger.record(LedgerEntry(
            kind=arm, model_size=size, parameters=count_parameters(student), data_size=len(data),
            steps=training.num_steps, flops=history.total_flops, seconds=history.total_seconds,
            accuracy=evaluation.accuracy, seed=training.seed, profile=profile,
            extra={"eval_generation_flops": evaluation.flops, **(extra or {})},
        ))
    return run


VERDICTS = ("better on every seed", "the same on every seed", "worse on every seed", "not settled")


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
    def low(self) -> float:
        return min(self.gains)

    @property
    def high(self) -> float:
        return max(self.gains)

    @property
    def wins(self) -> int:
        return sum(gain > 0 for gain in self.gains)

    @property
    def verdict(self) -> str:
        """What holds on *every* seed: one of VERDICTS."""
        return verdict(self.low, self.high)

    def describe(self) -> str:
        return (f"{self.mean:+.1f} points on average (per seed from {self.low:+.1f} to {self.high:+.1f}; "
                f"ahead on {self.wins} of {len(self.gains)} seeds)")


def paired_gain(baseline: list[StudentRun], other: list[StudentRun]) -> PairedGain:
    """`other` minus `baseline` in mean accuracy (points), matched by seed."""
    by_seed = {run.seed: run for run in baseline}
    missing = [run.seed for run in other if run.seed not in by_seed]
    if missing or len(other) != len(baseline) or not other:
        raise ValueError(f"arms must run on the same seeds to be compared: {sorted(by_seed)} vs "
                         f"{sorted(run.seed for run in other)}")
    seeds = tuple(sorted(run.seed for run in other))
    other_by_seed = {run.seed: run for run in other}
    gains = tuple(100 * (other_by_seed[s].mean_accuracy - by_seed[s].mean_accuracy) for s in seeds)
    return PairedGain(seeds, gains)


def spread(runs: list[StudentRun]) -> str:
    """'46.2 % (min 38.0, max 55.1; seeds 0, 1, 2)'."""
    values = [100 * run.mean_accuracy for run in runs]
    return (f"{sum(values) / len(values):.1f} % (min {min(values):.1f}, max {max(values):.1f}; "
            f"seeds {', '.join(str(run.seed) for run in runs)})")


def mean_accuracy_by_difficulty(runs: list[StudentRun]) -> dict[int, float]:
    """Each difficulty's accuracy averaged over the runs (seeds) of one arm."""
    return {d: sum(run.accuracy[d] for run in runs) / len(runs) for d in runs[0].accuracy}


def run_arms(arms: dict[str, tuple[TrainingSet, Objective]], seeds: list[int], tokenizer,
             held_out, training: TrainingConfig, size: str = STUDENT_SIZE, ledger: Ledger | None = None,
             profile: str = "", extra: dict | None = None,
             arm_extra: dict[str, dict] | None = None) -> dict[str, list[StudentRun]]:
    """Every arm on every seed (same steps, same student size), with one progress bar. `extra` goes
    into every ledger entry, `arm_extra[arm]` into that arm's only (e.g. the teacher FLOPs its data cost)."""
    results: dict[str, list[StudentRun]] = {arm: [] for arm in arms}
    jobs = [(arm, seed) for seed in seeds for arm in arms]
    for arm, seed in tqdm(jobs, desc="students"):
        data, objective = arms[arm]
        results[arm].append(train_student(arm, data, tokenizer, held_out, replace(training, seed=seed),
                                          objective, size, ledger, profile,
                                          {**(extra or {}), **(arm_extra or {}).get(arm, {})}))
    return results


def run_to_dict(run: StudentRun) -> dict:
    """A run as plain JSON (what the stored sweeps keep; the model and history stay behind)."""
    return {"arm": run.arm, "seed": run.seed, "mean_accuracy": run.mean_accuracy, "accuracy": run.accuracy,
            "flops": run.flops, "seconds": run.seconds, "steps": run.steps, "data_size": run.data_size}


def run_from_dict(row: dict) -> StudentRun:
    return StudentRun(row["arm"], row["seed"], {int(k): v for k, v in row["accuracy"].items()}, row["flops"],
                      row["seconds"], row["steps"], row["data_size"], None)


def summarise(arms: dict[str, list[dict]], baseline: str | None = None) -> list[dict]:
    """Rows for a table: each arm's mean and range over seeds, and its gain over the `baseline`
    arm (default: the first) seed by seed. `arms` maps a name to its runs as `run_to_dict` rows."""
    baseline = next(iter(arms)) if baseline is None else baseline
    if baseline not in arms:
        raise ValueError(f"baseline {baseline!r} is not one of the arms {list(arms)}")
    reference = [run_from_dict(r) for r in arms[baseline]]
    gain_column = f"gain over {baseline} (points)"
    out = []
    for name, rows in arms.items():
        values = [100 * r["mean_accuracy"] for r in rows]
        row = {"arm": name, "mean accuracy (%)": sum(values) / len(values), "min": min(values), "max": max(values),
               gain_column: None, "gain min": None, "gain max": None, "seeds ahead": None}
        if name != baseline:
            gain = paired_gain(reference, [run_from_dict(r) for r in rows])
            row.update({gain_column: gain.mean, "gain min": gain.low, "gain max": gain.high,
                        "seeds ahead": f"{gain.wins}/{len(gain.gains)}"})
        out.append(row)
    return out
