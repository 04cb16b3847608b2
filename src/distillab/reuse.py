"""A finished run is reused, never repeated (chapters 02-04, 06 and 07, through `students.compare`).

Every student run gets a key: the hash of everything that decides its result (the recipe, the
training data's content, the budget and seed, the warm start's weights, the student's architecture
and tokenizer, the teacher's weights, the held-out set, and what the code that trains and measures it
does: its syntax, not its comments or docstrings). A run whose key is already in the profile's
ledger, finished and not interrupted, is read back from there (its weights too, where the chapter needs the model) instead of trained again.
Change any ingredient and the key changes, so a run is never reused for a recipe it did not follow.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from functools import cache
from pathlib import Path

import torch
import transformers
from safetensors import safe_open
from safetensors.torch import save_file

from distillab import cost
from distillab import tokenizer as tok
from distillab import world
from distillab.architectures import load_causal_lm, save_checkpoint, weights_file
from distillab.models import STUDENT_SIZE, file_sha256, state_sha256, update_with_tensor
from distillab.profiles import Profile
from distillab.records import RunRecord
from distillab.runtime import machine, numerics, run_threads
from distillab.training import TrainingSet, sft_objective
from distillab.workspace import home, workspace

# The modules whose code decides what a run learns and how it is measured: a change to what any of
# them does changes every key, so no run made by other code is reused. A comment or a docstring is not
# what the code does, so editing one keeps every key (`code_behaviour`).
TRAINING_CODE = ("world", "tokenizer", "models", "architectures", "training", "losses", "distillation", "onpolicy",
                 "sampling", "evaluation", "cost", "runtime", "records", "students", "reuse")


def sha256_of(ingredients: dict) -> str:
    """The SHA-256 of plain-JSON `ingredients` (keys sorted): every key in the course is made this way."""
    return hashlib.sha256(json.dumps(ingredients, sort_keys=True, default=str).encode()).hexdigest()


def code_behaviour(source: str) -> str:
    """What Python source does, as text: its syntax tree, without the comments (the parser drops them),
    the docstrings of the module, its classes and functions, and the line numbers. Two sources that
    differ only there give the same text; any other change (an operator, a constant, a message) does not."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                node.body = node.body[1:] or [ast.Pass()]
    return ast.dump(tree, include_attributes=False)


def code_version(sources: dict[str, str]) -> str:
    """The SHA-256 of what the modules' `sources` (name: source text) do, and of the torch and
    transformers versions they run on."""
    digest = hashlib.sha256(f"torch {torch.__version__}, transformers {transformers.__version__}".encode())
    for name, source in sources.items():
        digest.update(name.encode())
        digest.update(code_behaviour(source).encode())
    return digest.hexdigest()


def training_code_sources() -> dict[str, str]:
    """The source text of every TRAINING_CODE module, by name."""
    return {name: Path(importlib.import_module(f"distillab.{name}").__file__).read_text(encoding="utf-8")
            for name in TRAINING_CODE}


@cache
def training_code_version() -> str:
    """The version of the training code every key holds: `code_version` of TRAINING_CODE."""
    return code_version(training_code_sources())


def data_sha256(data: TrainingSet) -> str:
    """The SHA-256 of a training set's content: its token ids, masks and extras (the teacher's
    cached log-probs) for every difficulty, and the tokenizer that made the ids."""
    digest = hashlib.sha256(str(data.tokenizer_fingerprint).encode())
    tables = {"input_ids": data.input_ids, "completion_mask": data.completion_mask,
              **{f"extra {name}": rows for name, rows in sorted(data.extras.items())}}
    for name, by_difficulty in tables.items():
        for difficulty, tensor in sorted(by_difficulty.items()):
            digest.update(f"{name} {difficulty}".encode())
            update_with_tensor(digest, tensor)
    return digest.hexdigest()


def problems_sha256(problems: dict[int, list[world.Problem]]) -> str:
    """The SHA-256 of a set of problems by difficulty (the held-out set, a teacher's prompts): their
    wording and their arithmetic, in order."""
    rows = {str(d): [[p.prompt, repr(p.signature)] for p in level] for d, level in sorted(problems.items())}
    return hashlib.sha256(json.dumps(rows).encode()).hexdigest()


@cache
def _checkpoint_sha256(folder: str, stamp: tuple) -> str:
    digest = hashlib.sha256()
    for file in sorted(Path(folder).glob("*.safetensors")):
        digest.update(file.name.encode())
        digest.update(file_sha256(file).encode())
    return digest.hexdigest()


def checkpoint_sha256(folder: str | Path) -> str:
    """The SHA-256 of a checkpoint's weight files (hashed once per folder and modification time)."""
    files = sorted(Path(folder).glob("*.safetensors"))
    return _checkpoint_sha256(str(Path(folder).resolve()), tuple((f.name, f.stat().st_mtime_ns, f.stat().st_size)
                                                                for f in files))


def objective_recipe(objective) -> dict | None:
    """What decides an objective's gradients, or None when it cannot say (a hand-written function:
    its runs are never reused, since nothing tells two such functions apart)."""
    if objective is sft_objective:
        return {"objective": "next-token cross-entropy on the completion"}
    recipe = getattr(objective, "recipe", None)
    return recipe() if callable(recipe) else None


def run_key(setup, arm, seed: int, data_digest: str | None = None) -> str | None:
    """The key of `arm` (a `students.Arm`) trained with `seed` in `setup` (a `students.Setup`):
    the SHA-256 of everything that decides its result, or None when its objective cannot be named.
    `data_digest` is `data_sha256(arm.data)` when the caller has it already."""
    objective = objective_recipe(arm.objective)
    if objective is None:
        return None
    training = replace(arm.training or setup.training, seed=seed)
    warm = arm.warm_start[seed] if arm.warm_start is not None else None
    tokenizer = arm.tokenizer or setup.tokenizer
    ingredients = {
        "training code": training_code_version(),
        "numerics": numerics(run_threads(pretrained=arm.start_from is not None)),  # threads, CPU instruction set, device
        "family": arm.family,
        "objective": objective,
        "on-policy": asdict(arm.on_policy) if arm.on_policy is not None else None,
        "data": data_digest or data_sha256(arm.data),
        "budget and seed": asdict(training),
        "warm start": state_sha256(warm.model) if warm is not None else None,
        "student": {"architecture": arm.architecture, "size": STUDENT_SIZE, "tokenizer": tok.fingerprint(tokenizer),
                    "starts from": checkpoint_sha256(arm.start_from) if arm.start_from is not None else None,
                    "lora": asdict(arm.lora) if arm.lora is not None else None, "prompt format": arm.prompt_format},
        "teacher": setup.teacher_ref.weights_sha256,
        "held-out set": problems_sha256(setup.held_out),
        "teacher data FLOPs": arm.teacher_data_flops,  # the record's cost: an arm priced otherwise is another run
        "settings": arm.settings,  # what the record says of it
    }
    return sha256_of(ingredients)


def finished_runs(records: list[RunRecord]) -> dict[str, RunRecord]:
    """key -> the latest finished (not interrupted) record of that key."""
    return {record.key: record for record in records if record.key is not None and not record.interrupted}


def student_folder(profile: Profile, key: str) -> Path:
    """Where the weights of the run with `key` are kept for reuse, in the learner's workspace."""
    return workspace(profile) / "runs" / key[:24]


def save_student(model: torch.nn.Module, tokenizer, profile: Profile, key: str) -> str:
    """Keep a trained student for reuse (save_pretrained, safetensors; a LoRA student's adapters
    alone), written whole or not at all; returns the SHA-256 of its weights, which its record keeps."""
    folder = student_folder(profile, key)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        save_checkpoint(model, tokenizer, staging)
        sha256 = file_sha256(weights_file(staging))
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(staging, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return sha256


def load_student(record: RunRecord, profile: Profile) -> torch.nn.Module | None:
    """The saved weights of `record`'s run, or None when they are missing or are not the ones its
    record names (then the run is trained again)."""
    folder = saved_student(record, profile)
    return None if folder is None else load_causal_lm(folder)[0]


def saved_student(record: RunRecord, profile: Profile) -> Path | None:
    """The folder that keeps `record`'s trained student, or None when it is missing or its weights
    are not the ones the record names."""
    if record.key is None or record.weights_sha256 is None:
        return None
    folder = student_folder(profile, record.key)
    weights = weights_file(folder)
    if not weights.is_file() or file_sha256(weights) != record.weights_sha256:
        return None
    return folder


def _measurement_path(profile: Profile, what: str, ingredients: dict, suffix: str) -> Path:
    key = sha256_of({"what": what, "training code": training_code_version(), **ingredients})
    return workspace(profile) / "measurements" / f"{key[:24]}{suffix}"


def _read_back(what: str, when: float) -> None:
    print(f"{what}: read back from {time.strftime('%Y-%m-%d %H:%M', time.localtime(when))}, when nothing that "
          "decides it was different (RETRAIN = True measures it again)")


def remembered(profile: Profile, what: str, ingredients: dict, measure: Callable[[], dict],
               refresh: bool = False) -> dict:
    """A measurement that is not a training run (a timing, a table over the test set), kept in the
    workspace under the hash of what decides it (`ingredients`, and the training code), and taken
    again only when that changes or with `refresh`. `measure()` returns plain JSON (a dict of
    numbers keyed by strings); a kept result that cannot be read is measured again."""
    path = _measurement_path(profile, what, ingredients, ".json")
    if not refresh and path.is_file():
        try:
            kept = json.loads(path.read_text(encoding="utf-8"))
            _read_back(what, kept["when"])
            return kept["result"]
        except (ValueError, KeyError, TypeError):
            pass
    result = measure()
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.{os.getpid()}")
    staging.write_text(json.dumps({"what": what, "when": time.time(), "result": result}), encoding="utf-8")
    os.replace(staging, path)
    return result


def remembered_tensors(profile: Profile, what: str, ingredients: dict,
                       measure: Callable[[], tuple[dict[str, torch.Tensor], dict]],
                       refresh: bool = False) -> tuple[dict[str, torch.Tensor], dict]:
    """`remembered` for a result made of tensors (and plain JSON beside them): kept as a
    safetensors file, never pickled."""
    path = _measurement_path(profile, what, ingredients, ".safetensors")
    if not refresh and path.is_file():
        try:
            with safe_open(path, framework="pt") as kept:
                tensors = {name: kept.get_tensor(name) for name in kept.keys()}
                saved = json.loads(kept.metadata()["distillab"])
            _read_back(what, saved["when"])
            return tensors, saved["result"]
        except Exception:  # a damaged file is measured again
            pass
    tensors, result = measure()
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.{os.getpid()}")
    save_file({name: t.contiguous() for name, t in tensors.items()}, staging,
              metadata={"distillab": json.dumps({"what": what, "when": time.time(), "result": result})})
    os.replace(staging, path)
    return tensors, result


def matmul_peak_gflops(refresh: bool = False) -> float:
    """This machine's fp32 matmul peak in GFLOP/s (`cost.measure_matmul_peak_gflops`, for 2 s, as the
    bench measures it), measured the first time the course needs it on this machine and read back
    ever after, by every chapter and lab and at either profile, so that their figures agree. One
    measurement moves from the next (the clock follows temperature and power limits, other programs
    take cycles): `refresh` measures it again and keeps the new figure (chapter 00's knob)."""
    path = home() / "machines" / f"{sha256_of(machine())[:24]}.json"
    if not refresh and path.is_file():
        try:
            return float(json.loads(path.read_text(encoding="utf-8"))["matmul_peak_gflops"])
        except (ValueError, KeyError, TypeError):
            pass  # a damaged file is measured again
    gflops = cost.measure_matmul_peak_gflops(seconds=2.0)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.{os.getpid()}")
    staging.write_text(json.dumps({"machine": machine(), "when": time.time(), "matmul_peak_gflops": gflops}),
                       encoding="utf-8")
    os.replace(staging, path)
    return gflops
