"""Chapter 07's stored sweep of how to fine-tune the real model: LoRA's rank and learning rate
against training every weight at a few learning rates, all on the course teacher's traces at the
chapter's steps and batch; then the best of each kind on every seed, at equal steps and at equal
seconds:

    python -m distillab.realmodel_fine_tuning     # standard profile, ~70 min on 2 cores

writes `reference/realmodel_fine_tuning.json`, which chapter 07 reads (`load_sweep`). Three rounds:

1. every setting of the grid (`LORA_RANKS` x `LORA_LEARNING_RATES`, `FULL_LEARNING_RATES`) on the
   first seed of `SEEDS`;
2. the best `FINALISTS` settings of each kind, by that seed's mean accuracy, on every seed of
   `SEEDS` (the first seed's runs read back);
3. the best LoRA setting of round 2 for the steps that take the seconds of the best full setting's
   steps, on every seed: equal seconds.

Every finished run goes into a ledger in the workspace, so a sweep stopped part-way resumes where it
stopped when run again with the same `DISTILLAB_HOME`.
"""

from __future__ import annotations

import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from distillab.architectures import LoraSettings
from distillab.comparison import Comparison, PairedGain, mean_of, mean_over_seeds
from distillab.ledger import Ledger
from distillab.profiles import Profile
from distillab.realmodel_experiments import LORA, fine_tuning_name, learning_rate_text, prepare, teacher_traces, traces_arm
from distillab.realmodel_results import ArmFacts, arm_facts, seconds_per_step
from distillab.students import Arm, compare
from distillab.stored_sweeps import Stored, read, sweep_command
from distillab.workspace import REFERENCE_DIR, REFERENCE_TEACHER, workspace

LORA_RANKS = (8, 16, 64)  # LoRA's alpha is twice its rank, as the chapter's (an update's scale stays the same)
LORA_LEARNING_RATES = (3e-4, 1e-3, 3e-3)
FULL_LEARNING_RATES = (3e-5, 1e-4, 3e-4)
SEEDS = (0, 1, 2)
FINALISTS = 2  # per kind, from the first seed to every seed
SWEEP_PATH = REFERENCE_DIR / "realmodel_fine_tuning.json"
GRID_FORMATS = {learning_rate_text(rate): ".1f" for rate in LORA_LEARNING_RATES + FULL_LEARNING_RATES}  # grid_rows
FORGETTING_FORMATS = {"perplexity change (%)": "+.1f", "drift (nats)": ".4f"}  # forgetting_rows
COMMAND = "python -m distillab.realmodel_fine_tuning"


@dataclass(frozen=True)
class Setting:
    """One way to fine-tune: LoRA adapters of `rank` (None: every weight) at `learning_rate`, for
    `steps` (None: the chapter's)."""
    rank: int | None
    learning_rate: float
    steps: int | None = None

    @property
    def lora(self) -> LoraSettings | None:
        return None if self.rank is None else LoraSettings(rank=self.rank, alpha=2.0 * self.rank, targets=LORA.targets)

    @property
    def kind(self) -> str:
        return "full" if self.rank is None else "lora"

    @property
    def name(self) -> str:
        return fine_tuning_name(self.lora, self.learning_rate, self.steps)


GRID = tuple(Setting(rank, rate) for rank in LORA_RANKS for rate in LORA_LEARNING_RATES) + tuple(
    Setting(None, rate) for rate in FULL_LEARNING_RATES)


@dataclass(frozen=True)
class Grid:
    """The grid the sweep searched."""
    lora_ranks: list[int]
    lora_learning_rates: list[float]
    full_learning_rates: list[float]
    finalists_per_kind: int


@dataclass(frozen=True)
class Best:
    """The settings the sweep found best (their names)."""
    lora: str
    full: str
    longer_lora: str  # the best LoRA setting at the steps of equal seconds


@dataclass(frozen=True)
class Forgot:
    """What one run lost away from the task (`distillab.forgetting`)."""
    seed: int
    perplexity_before: float
    perplexity_after: float
    drift: float  # nats
    passages_sha256: str


@dataclass(frozen=True)
class FineTuningComparisons:
    first_seed: Comparison  # round 1: every setting of the grid, one seed
    every_seed: Comparison  # round 2: the finalists, every seed
    equal_seconds: Comparison  # round 3: the best full setting beside the best LoRA given its seconds


@dataclass(frozen=True)
class FineTuningSweep(Stored):
    """The stored sweep, read back (`load_sweep`): each round's comparison, the settings it found
    best, and what their runs cost and forgot."""
    steps: int
    batch_size: int
    held_out_per_difficulty: int
    grid: Grid
    best: Best
    arm_facts: dict[str, ArmFacts]
    forgetting: dict[str, list[Forgot]]  # setting -> per seed
    comparisons: FineTuningComparisons

    def describe(self) -> str:
        return (f"stored at the {self.profile} profile: {self.steps} steps x {self.batch_size}, "
                f"{self.held_out_per_difficulty} test problems per difficulty, seed 0; measured in {self.seconds / 60:.0f} min")

    def settings(self, kind: str) -> list[Setting]:
        return [setting for setting in GRID if setting.kind == kind]

    def grid_rows(self) -> list[dict]:
        """Round 1 as a grid: a row per way to fine-tune (LoRA at each rank, every weight) with its
        trainable parameters, a column per learning rate, each cell the first seed's mean accuracy in %
        (None where the grid has no such setting). `GRID_FORMATS` formats it."""
        rates = sorted({setting.learning_rate for setting in GRID})
        rows = []
        for rank in dict.fromkeys(setting.rank for setting in GRID):
            kind = "every weight" if rank is None else f"LoRA rank {rank}"
            names = {setting.learning_rate: setting.name for setting in GRID if setting.rank == rank}
            rows.append({"fine-tuning": kind,
                         "trainable parameters": f"{self.arm_facts[next(iter(names.values()))].trainable_parameters:,}",
                         **{learning_rate_text(rate): (100 * self.comparisons.first_seed[names[rate]][0].mean_accuracy
                                                       if rate in names else None) for rate in rates}})
        return rows

    def first_round_spans(self) -> dict[str, float]:
        """Per row of `grid_rows` (LoRA at each rank, every weight): how far seed 0's accuracy moved
        across its learning rates, in points."""
        spans = {}
        for row in self.grid_rows():
            cells = [cell for column, cell in row.items() if column.startswith("lr ") and cell is not None]
            spans[row["fine-tuning"]] = max(cells) - min(cells)
        return spans

    def first_round_gap(self) -> float:
        """How far apart the best LoRA setting and the best full one were on seed 0, in points."""
        return abs(100 * (self.comparisons.first_seed[self.best.lora][0].mean_accuracy
                          - self.comparisons.first_seed[self.best.full][0].mean_accuracy))

    def worst_of_first_round(self) -> str:
        """The setting with the lowest accuracy on seed 0."""
        return min(self.comparisons.first_seed, key=lambda name: self.comparisons.first_seed[name][0].mean_accuracy)

    def lora_minus_full(self) -> PairedGain:
        """The best LoRA setting minus the best full one, paired by seed, at the same steps."""
        return self.comparisons.every_seed.gain(self.best.full, self.best.lora)

    def longer_lora_minus_full(self) -> PairedGain:
        """The best LoRA setting given the best full one's seconds, minus that full one, paired by seed."""
        return self.comparisons.equal_seconds.gain(self.best.full, self.best.longer_lora)

    def forgetting_rows(self) -> list[dict]:
        """Per setting of rounds 2 and 3, mean over its seeds: its accuracy beside what it lost away
        from the task (the perplexity's change on the English passages, the drift on chat prompts;
        `distillab.forgetting`). `FORGETTING_FORMATS` formats it."""
        runs = {**self.comparisons.every_seed, **self.comparisons.equal_seconds}
        return [{"setting": name, "seeds": len(found), "mean accuracy (%)": mean_over_seeds(runs[name]),
                 "perplexity change (%)": statistics.fmean(100 * (f.perplexity_after / f.perplexity_before - 1)
                                                           for f in found),
                 "drift (nats)": statistics.fmean(f.drift for f in found)}
                for name, found in self.forgetting.items() if name in runs]


def _best(comparison: Comparison, settings: list[Setting], kind: str, count: int = 1) -> list[Setting]:
    """The `count` settings of `kind` ("lora" or "full") with the highest mean accuracy over their
    seeds in `comparison`, best first (the earlier in the grid wins a tie)."""
    return sorted((s for s in settings if s.kind == kind),
                  key=lambda s: -mean_of(comparison[s.name], lambda run: run.mean_accuracy))[:count]


def _forgetting(*comparisons: Comparison) -> dict[str, list[dict]]:
    """Per setting, per seed, what its run measured away from the task (`distillab.forgetting`)."""
    found = {}
    for comparison in comparisons:
        for name, runs in comparison.items():
            for run in runs:
                if run.record is not None and run.record.forgetting:
                    found.setdefault(name, {})[run.seed] = {"seed": run.seed, **run.record.forgetting}
    return {name: [by_seed[seed] for seed in sorted(by_seed)] for name, by_seed in found.items()}


def measure_sweep(profile: Profile) -> dict:
    """The three rounds (module docstring) at `profile`, with the reference teacher."""
    start = time.perf_counter()
    setup = prepare(REFERENCE_TEACHER, "the reference", profile)
    samples = teacher_traces(setup)
    ledger = Ledger(profile, workspace(profile) / "sweeps" / "realmodel_fine_tuning.jsonl")
    ledger.path.parent.mkdir(parents=True, exist_ok=True)

    def arms(settings) -> dict[str, Arm]:
        return {s.name: traces_arm(setup, samples, s.lora, s.learning_rate, s.steps) for s in settings}

    def run(settings, seeds) -> Comparison:
        return compare(setup, arms(settings), seeds, ledger, keep_models=False)

    first = run(GRID, SEEDS[:1])
    chosen = [s for kind in ("lora", "full") for s in _best(first, GRID, kind, FINALISTS)]
    finalists = [s for s in GRID if s in chosen]  # in the grid's order
    every = run(finalists, SEEDS)
    best = {kind: _best(every, finalists, kind)[0] for kind in ("lora", "full")}
    per_step = seconds_per_step(every)
    steps = round(setup.training.num_steps * per_step[best["full"].name] / per_step[best["lora"].name])
    longer = Setting(best["lora"].rank, best["lora"].learning_rate, steps)
    equal = run([best["full"], longer], SEEDS)
    trained = {(name, r.seed) for c in (first, every, equal) for name, runs in c.items() for r in runs}
    return {"profile": profile.name, "seeds": list(SEEDS), "steps": setup.training.num_steps,
            "batch_size": setup.training.batch_size, "held_out_per_difficulty": setup.budget.eval_per_difficulty,
            "grid": {"lora_ranks": list(LORA_RANKS), "lora_learning_rates": list(LORA_LEARNING_RATES),
                     "full_learning_rates": list(FULL_LEARNING_RATES), "finalists_per_kind": FINALISTS},
            "best": {"lora": best["lora"].name, "full": best["full"].name, "longer_lora": longer.name},
            "arm_facts": arm_facts(first) | arm_facts(equal),
            "forgetting": _forgetting(first, every, equal), "student_runs": len(trained),
            "comparisons": {"first seed": first, "every seed": every, "equal seconds": equal},
            "seconds": time.perf_counter() - start}


def load_sweep(path: Path = SWEEP_PATH) -> FineTuningSweep:
    """The stored sweep, typed."""
    return read(path, FineTuningSweep, measure_sweep, COMMAND)


def main(argv: list[str] | None = None) -> None:
    sweep_command(__doc__.splitlines()[0], measure_sweep, SWEEP_PATH, argv)


if __name__ == "__main__":
    from distillab.runtime import run_command

    sys.exit(run_command(main, "distillab.realmodel_fine_tuning"))
