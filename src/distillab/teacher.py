"""The teacher recipe: train our "frontier model" on the world, measure it, record it, save it.

Chapter 01 calls `train_teacher` step by step; `python -m distillab.teacher` runs the same recipe
from the shell (`--reference` rewrites the reference teacher shipped with the package).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from transformers import LlamaForCausalLM, PreTrainedTokenizerFast

from distillab import world
from distillab.evaluation import Evaluation, evaluate
from distillab.ledger import Ledger
from distillab.models import TEACHER_SIZE, Provenance, build_model, count_parameters, save_model, weights_sha256
from distillab.records import RunRecord, teacher_record
from distillab.profiles import Profile, get_profile
from distillab.tokenizer import build_tokenizer
from distillab.training import History, TrainingSet, train
from distillab.workspace import REFERENCE_TEACHER, teacher_path


@dataclass
class TeacherRun:
    profile: Profile  # the budget it was trained at: its workspace and ledger are that profile's
    model: LlamaForCausalLM
    tokenizer: PreTrainedTokenizerFast
    history: History
    evaluation: Evaluation
    provenance: Provenance


def teacher_problems(profile: Profile, seed: int) -> dict[int, list[world.Problem]]:
    """The problems a teacher trained at `profile` with `seed` learned from, none held out."""
    held_out = world.held_out_problems(profile.eval_per_difficulty)
    return world.training_problems(profile.teacher_train_per_difficulty, seed, held_out)


def teacher_data(profile: Profile, tokenizer: PreTrainedTokenizerFast, seed: int) -> TrainingSet:
    """The teacher's training set: program-made traces, none sharing a held-out problem's arithmetic."""
    return TrainingSet.from_problems(teacher_problems(profile, seed), tokenizer, style="trace")


def train_teacher(
    profile: Profile | str,
    size: str = TEACHER_SIZE,
    seed: int = 0,
    num_steps: int | None = None,
    progress: bool = True,
) -> TeacherRun:
    """Build, train and evaluate a teacher of `size` at `profile`'s budget (steps overridable)."""
    budget = get_profile(profile)
    tokenizer = build_tokenizer()
    model = build_model(size, tokenizer, seed=seed)
    data = teacher_data(budget, tokenizer, seed)
    config = budget.training_config(num_steps, seed)
    history = train(model, data, config, progress=progress, description=f"teacher ({size})")
    evaluation = evaluate(model, tokenizer, world.held_out_problems(budget.eval_per_difficulty))
    provenance = Provenance(
        size=size, seed=seed, profile=budget.name, steps=config.num_steps,
        parameters=count_parameters(model), accuracy=evaluation.accuracy,
        flops=history.total_flops, seconds=history.total_seconds,
        extra={"kind": "teacher", "data_size": len(data), "tokens": history.total_tokens,
               "eval_problems": evaluation.num_problems},
    )
    return TeacherRun(budget, model, tokenizer, history, evaluation, provenance)


def record_teacher(run: TeacherRun, saved_at: Path | None = None, ledger: Ledger | None = None) -> RunRecord:
    """Write the teacher's run into the ledger of the profile it was trained at; `saved_at` (where
    `save_model` put it) lets chapter 05 know it again as the teacher its students learnt from."""
    sha = weights_sha256(saved_at) if saved_at is not None else None
    record = teacher_record(run.provenance, run.provenance.extra["data_size"], run.evaluation.flops, sha)
    return (ledger or Ledger(run.profile)).record(record)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Train the distillab teacher and save it.")
    parser.add_argument("--profile", default=None, help="fast or standard (default: $DISTILLAB_PROFILE or standard)")
    parser.add_argument("--size", default=TEACHER_SIZE, help="model size name (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=None, help="optimizer steps (default: the profile's)")
    parser.add_argument("--out", type=Path, default=None, help="folder to save into (default: your workspace)")
    parser.add_argument("--reference", action="store_true", help="save as the package's reference teacher")
    args = parser.parse_args(argv)
    run = train_teacher(get_profile(args.profile), args.size, args.seed, num_steps=args.steps)
    out = REFERENCE_TEACHER if args.reference else args.out or teacher_path(run.profile)
    save_model(run.model, run.tokenizer, out, run.provenance)
    if not args.reference:
        record_teacher(run, out)
    p = run.provenance
    print(f"teacher {p.size} ({p.parameters:,} parameters), profile {p.profile}, seed {p.seed}: "
          f"{p.steps} steps in {p.seconds:.0f} s, {p.flops / 1e12:.2f} TFLOP")
    print("accuracy by difficulty:", {d: round(a, 3) for d, a in p.accuracy.items()})
    print(f"saved to {out}")


if __name__ == "__main__":
    main()
