"""The teacher recipe: train our "frontier model" on the world, measure it, record it, save it.

Chapter 01 calls `train_teacher` step by step; `python -m distillab.teacher` runs the same recipe
from the shell (`--reference` rewrites the reference teacher shipped with the package).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from transformers import LlamaForCausalLM, PreTrainedTokenizerFast

from distillab import knobs, reuse, runtime, world
from distillab.evaluation import Evaluation, evaluate
from distillab.ledger import Ledger
from distillab.models import (PROVENANCE_FILE, SIZES, TEACHER_SIZE, TRAINING_STATE_FILE, Provenance, build_model, count_parameters, load_model,
                              get_size, load_training_state, replace_folder, save_model, weights_sha256)
from distillab.records import TEACHER_ARM, RunRecord, teacher_record
from distillab.profiles import Profile, get_profile
from distillab.tokenizer import build_tokenizer
from distillab.training import History, TrainingConfig, TrainingSet, train
from distillab.workspace import (HALF_BUDGET_TEACHER, REFERENCE_TEACHER, kept_teacher_path, read_provenance,
                                 teacher_path)


@dataclass
class TeacherRun:
    profile: Profile  # the budget it was trained at: its workspace and ledger are that profile's
    model: LlamaForCausalLM
    tokenizer: PreTrainedTokenizerFast
    history: History  # `history.interrupted` when the learner stopped it; `history.resume` then goes on
    evaluation: Evaluation
    provenance: Provenance
    continues: str | None = None  # the weights hash of the interrupted run this one resumed
    reused: bool = False  # the finished teacher of the same key, read back instead of trained again
    read_from: Path | None = None  # where a reused teacher was read back from


def teacher_problems(profile: Profile, seed: int) -> dict[int, list[world.Problem]]:
    """The problems a teacher trained at `profile` with `seed` learned from, none held out."""
    held_out = world.held_out_problems(profile.eval_per_difficulty)
    return world.training_problems(profile.teacher_train_per_difficulty, seed, held_out)


def training_data(profile: Profile, tokenizer: PreTrainedTokenizerFast, seed: int) -> TrainingSet:
    """The teacher's training set: program-made traces, none sharing a held-out problem's arithmetic."""
    return TrainingSet.from_problems(teacher_problems(profile, seed), tokenizer, style="trace")


def teacher_key(size: str, profile: Profile, seed: int, config: TrainingConfig) -> str:
    """What decides a teacher's result, hashed: its size, its budget and seed, the problems it
    learns from and is tested on (made from the profile's counts and the seed by the world's code),
    and the training code."""
    ingredients = {"training code": reuse.training_code_version(), "size": asdict(get_size(size)),
                   "budget and seed": asdict(config), "training problems per difficulty": profile.teacher_train_per_difficulty,
                   "held-out problems per difficulty": profile.eval_per_difficulty}
    return reuse.sha256_of(ingredients)


def finished_run(folder: Path, key: str, profile: Profile) -> TeacherRun | None:
    """The finished teacher saved in `folder` if it was made by exactly the recipe of `key` (its
    model, history and evaluation, read back), else None."""
    if not (folder / PROVENANCE_FILE).is_file():
        return None
    try:
        extra = json.loads((folder / PROVENANCE_FILE).read_text()).get("extra", {})
    except ValueError:
        return None
    if extra.get("key") != key or "history" not in extra or "evaluation" not in extra:
        return None
    model, tokenizer, provenance = load_model(folder)  # checks the weights against their hash
    if provenance.interrupted:
        return None
    evaluation = Evaluation(**{**extra["evaluation"], "accuracy": provenance.accuracy})
    print(f"the teacher in {folder} was trained by exactly this recipe (same key): read back, not trained again "
          "(RETRAIN = True trains it again)")
    return TeacherRun(profile, model, tokenizer, History(**extra["history"]), evaluation, provenance, reused=True,
                      read_from=folder)


def interrupted_run(folder: Path, size: str, profile: Profile, seed: int, config: TrainingConfig,
                    start_over: bool = False):
    """The teacher saved in `folder` if its training was interrupted and it was started with exactly
    this recipe (size, profile, seed, budget): (model, tokenizer, training state, weights hash); None
    when there is no interrupted teacher there, or `start_over` says to replace it. An interrupted
    teacher of another recipe cannot be continued by this one: a ValueError names the difference
    and the three ways on, and the stopped teacher stays as it is."""
    if not (folder / TRAINING_STATE_FILE).is_file() or start_over:
        return None
    model, tokenizer, provenance = load_model(folder)
    if not provenance.interrupted:
        return None
    saved = {"size": provenance.size, "profile": provenance.profile, "seed": provenance.seed,
             "steps": provenance.planned_steps}
    asked = {"size": size, "profile": profile.name, "seed": seed, "steps": config.num_steps}
    differences = [f"{name} {saved[name]!r} there, {asked[name]!r} now" for name in saved if saved[name] != asked[name]]
    if differences:
        raise ValueError(
            f"the teacher in {folder} was stopped at step {provenance.steps} of {provenance.planned_steps}, and this "
            f"run cannot continue it: {'; '.join(differences)}. Continue it: run again with the knobs it started "
            f"with (size {saved['size']!r}, seed {saved['seed']}, {saved['steps']} steps). Start over: set "
            "START_OVER = True (chapter 01; --start-over for python -m distillab.teacher), which replaces it. "
            "Keep both: save the new teacher in another folder (--out)")
    return model, tokenizer, load_training_state(folder), provenance.weights_sha256


def train_teacher(
    profile: Profile | str,
    size: str = TEACHER_SIZE,
    seed: int = 0,
    num_steps: int | None = None,
    progress: bool = True,
    resume_from: Path | None = None,
    start_over: bool = False,
    retrain: bool = False,
) -> TeacherRun:
    """Build, train and evaluate a teacher of `size` at `profile`'s budget (steps overridable).
    If `resume_from` holds a teacher of this very recipe whose training was interrupted, it is
    trained on from where it stopped instead (the same result as a run that never stopped); an
    interrupted teacher of another recipe there is an error, unless `start_over` replaces it.
    Ctrl-C (the stop button) ends training after the current step: the run comes back with
    `history.interrupted` set, ready to be saved and resumed. A finished teacher of the same key
    (`teacher_key`) in `resume_from` is read back instead of trained again, unless `retrain`."""
    budget = get_profile(profile)
    config = budget.training_config(num_steps, seed)
    key = teacher_key(size, budget, seed, config)
    if resume_from is not None and not knobs.flag("RETRAIN", retrain):
        for folder in (Path(resume_from), kept_teacher_path(budget, key)):  # the last teacher, then every one kept
            done = finished_run(folder, key, budget)
            if done is not None:
                return done
    found = interrupted_run(Path(resume_from), size, budget, seed, config, knobs.flag("START_OVER", start_over)) \
        if resume_from is not None else None
    if found is not None:
        model, tokenizer, resume, continues = found
        print(f"resuming the interrupted teacher in {resume_from} at step {resume.history.completed_steps} "
              f"of {config.num_steps}")
    else:
        tokenizer = build_tokenizer()
        model, resume, continues = build_model(size, tokenizer, seed=seed), None, None
    data = training_data(budget, tokenizer, seed)
    history = train(model, data, config, progress=progress, description=f"teacher ({size})", resume=resume)
    evaluation = evaluate(model, tokenizer, world.held_out_problems(budget.eval_per_difficulty))
    provenance = Provenance(
        size=size, seed=seed, profile=budget.name, steps=history.completed_steps,
        parameters=count_parameters(model), accuracy=evaluation.accuracy,
        flops=history.total_flops, seconds=history.total_seconds,
        extra={"kind": "teacher", "data_size": len(data), "tokens": history.total_tokens,
               "eval_problems": evaluation.num_problems, "key": key,
               "numerics": runtime.numerics(torch.get_num_threads()),  # all of torch's threads, named in its record
               "evaluation": {"seconds": evaluation.seconds, "generated_tokens": evaluation.generated_tokens,
                              "flops": evaluation.flops, "num_problems": evaluation.num_problems},
               "history": {name: getattr(history, name) for name in ("step", "loss", "lr", "tokens", "flops", "seconds")}},
        interrupted=history.interrupted, planned_steps=config.num_steps,
    )
    if history.interrupted:
        print(f"stopped at step {history.completed_steps} of {config.num_steps}: once saved (save_teacher), the same "
              "recipe with resume_from= its folder finishes it (chapter 01 does both: run it again, same knobs)")
    return TeacherRun(budget, model, tokenizer, history, evaluation, provenance, continues)


def save_teacher(run: TeacherRun, folder: Path) -> Path:
    """Save the teacher (and, if it was interrupted, what resuming it needs) into `folder`; a teacher
    read back from `folder` is there already. In the learner's workspace (`teacher_path`), every
    finished teacher is also kept by its key (`workspace.kept_teacher_path`), the one it replaces
    included, so that knobs trained before are read back, not trained again."""
    folder = Path(folder)
    if run.reused and (folder / PROVENANCE_FILE).is_file() and weights_sha256(folder) == run.provenance.weights_sha256:
        return folder
    in_workspace = folder.resolve() == teacher_path(run.profile, create=False).resolve()
    if in_workspace:
        keep(folder, run.profile)  # the teacher about to be replaced
    if run.reused and run.read_from is not None:  # the very files read back, so its weights hash stays the same
        _copy_folder(run.read_from, folder)
    else:
        save_model(run.model, run.tokenizer, folder, run.provenance, training_state=run.history.resume)
    if in_workspace:
        keep(folder, run.profile)
    return folder


def _copy_folder(source: Path, folder: Path) -> None:
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = folder.parent / f".{folder.name}-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(source, staging)
    replace_folder(staging, folder)


def keep(folder: Path, profile: Profile) -> Path | None:
    """Copy the finished teacher saved in `folder` to where teachers are kept by key (nothing for an
    interrupted or keyless one, or one kept already); returns where it is kept."""
    saved = read_provenance(folder)
    key = saved.get("extra", {}).get("key")
    if key is None or saved.get("interrupted") or (folder / TRAINING_STATE_FILE).is_file():
        return None
    kept = kept_teacher_path(profile, key)
    if not ((kept / PROVENANCE_FILE).is_file() and weights_sha256(kept) == weights_sha256(folder)):
        _copy_folder(folder, kept)
    return kept


def record_teacher(run: TeacherRun, saved_at: Path | None = None, ledger: Ledger | None = None) -> RunRecord:
    """Write the teacher's run into the ledger of the profile it was trained at; `saved_at` (where
    it was saved) lets chapter 05 know it again as the teacher its students learnt from."""
    sha = weights_sha256(saved_at) if saved_at is not None else None
    ledger = ledger or Ledger(run.profile)
    if run.reused:  # recorded when it was trained
        known = [r for r in ledger.entries() if r.arm == TEACHER_ARM and r.weights_sha256 == sha and sha is not None]
        if known:
            return known[-1]
    record = teacher_record(run.provenance, run.provenance.extra["data_size"], run.evaluation.flops, sha, run.continues)
    return ledger.record(record)


# Chapter 01's tables: each function gives a table's rows, its *_FORMATS how they are shown.

def example_rows(problems: list[world.Problem]) -> list[dict]:
    """One row per problem: its number of steps, its prompt and the completion the teacher learns."""
    return [{"steps": p.difficulty, "prompt": p.prompt, "completion": p.trace} for p in problems]


def verdict_rows(problem: world.Problem, texts: list[str]) -> list[dict]:
    """What the strict verifier makes of each of `texts` written for `problem`: the answer it
    parses (None: no answer it can read) and whether that is right."""
    return [{"generated text": text, "parsed answer": world.parse_answer(text), "correct": world.is_correct(text, problem)}
            for text in texts]


def token_rows(problems: list[world.Problem], tokenizer: PreTrainedTokenizerFast) -> list[dict]:
    """How many tokens each problem's prompt takes, and its completion with the end token."""
    return [{"steps": p.difficulty, "prompt tokens": len(tokenizer(p.prompt)["input_ids"]),
             "completion tokens (with [EOS])": len(tokenizer(p.trace, add_special_tokens=False)["input_ids"]) + 1}
            for p in problems]


SIZE_FORMATS = {"parameters": ","}


def size_rows(tokenizer: PreTrainedTokenizerFast) -> list[dict]:
    """Every named model size: its width, depth, heads and parameters with `tokenizer`'s vocabulary."""
    return [{"size": name, "hidden": size.hidden_size, "layers": size.num_layers, "heads": size.num_heads,
             "parameters": count_parameters(build_model(name, tokenizer))} for name, size in SIZES.items()]


LEDGER_FORMATS = {"parameters": ",", "FLOPs": ".2e", "seconds": ".0f", "mean accuracy": ".1%"}


def ledger_rows(ledger: Ledger) -> list[dict]:
    """Every run the profile's ledger holds, one row each: what it was, its cost and its accuracy."""
    return [{"chapter": r.chapter, "arm": r.arm, "family": r.family, "size": r.model_size, "parameters": r.parameters,
             "steps": r.steps, "FLOPs": r.compute.training, "seconds": r.seconds, "mean accuracy": r.mean_accuracy}
            for r in ledger.entries()]


# The reference teachers' accuracy table: accuracies in % to the unit.
REFERENCE_FORMATS = {f"{d}-step (%)": ".0f" for d in world.DIFFICULTIES}


def reference_rows() -> list[dict]:
    """The two reference teachers shipped with the course (chapter 01's recipe at the standard
    profile, seed 0, stopped at the full budget and at half of it): their steps and held-out
    accuracy by difficulty, in %, as stored in their provenance."""
    rows = []
    for name, folder in (("full budget", REFERENCE_TEACHER), ("half budget", HALF_BUDGET_TEACHER)):
        provenance = Provenance(**read_provenance(folder))  # its accuracy keyed by difficulty, as numbers
        rows.append({"reference teacher": name, "steps": provenance.steps,
                     **{f"{d}-step (%)": 100 * provenance.accuracy[d] for d in world.DIFFICULTIES}})
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Train the distillab teacher and save it.")
    parser.add_argument("--profile", default=None, help="fast or standard (default: $DISTILLAB_PROFILE or standard)")
    parser.add_argument("--size", default=TEACHER_SIZE, help="model size name (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=None, help="optimizer steps (default: the profile's)")
    parser.add_argument("--out", type=Path, default=None, help="folder to save into (default: your workspace)")
    parser.add_argument("--reference", action="store_true", help="save as the package's reference teacher")
    parser.add_argument("--start-over", action="store_true",
                        help="replace an interrupted teacher of another recipe in the folder instead of refusing")
    parser.add_argument("--retrain", action="store_true",
                        help="train again even if the folder holds a finished teacher of this very recipe")
    args = parser.parse_args(argv)
    profile = get_profile(args.profile)
    out = REFERENCE_TEACHER if args.reference else args.out or teacher_path(profile)
    run = train_teacher(profile, args.size, args.seed, num_steps=args.steps, resume_from=out, start_over=args.start_over,
                        retrain=args.retrain)
    save_teacher(run, out)
    if not args.reference:
        record_teacher(run, out)
    p = run.provenance
    print(f"teacher {p.size} ({p.parameters:,} parameters), profile {p.profile}, seed {p.seed}: "
          f"{p.steps} steps in {p.seconds:.0f} s, {p.flops / 1e12:.2f} TFLOP")
    print("accuracy by difficulty:", {d: round(a, 3) for d, a in p.accuracy.items()})
    print(f"saved to {out}")


if __name__ == "__main__":
    from distillab.runtime import run_command

    sys.exit(run_command(main, "distillab.teacher"))
