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
                     training.num_steps, len(data), history)
    if ledger is not None:
        ledger.record(LedgerEntry(
            kind=arm, model_size=size, parameters=count_parameters(student), data_size=len(data),
            steps=training.num_steps, flops=history.total_flops, seconds=history.total_seconds,
            accuracy=evaluation.accuracy, seed=training.seed, profile=profile,
            extra={"eval_generation_flops": evaluation.flops, **(extra or {})},
        ))
    return run


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
             profile: str = "", extra: dict | None = None) -> dict[str, list[StudentRun]]:
    """Every arm on every seed (same steps, same student size), with one progress bar."""
    results: dict[str, list[StudentRun]] = {arm: [] for arm in arms}
    jobs = [(arm, seed) for seed in seeds for arm in arms]
    for arm, seed in tqdm(jobs, desc="students"):
        data, objective = arms[arm]
        results[arm].append(train_student(arm, data, tokenizer, held_out, replace(training, seed=seed),
                                          objective, size, ledger, profile, extra))
    return results
