"""One road through a student's run: `students.train_student` reads as a few named steps (the run
key, the starting model, the training, the evaluation and what was lost, the record), each in the
module that owns it. Followed through a real run of each kind of arm, its steps enter at most seven
modules, and the code below them calls back up the layers at most twice (the FLOP counter into the
training step, the training loop into a KD objective)."""

import inspect
import sys
from pathlib import Path

import pytest
from test_layers import imported, modules

import distillab
from distillab import records, students, world
from distillab.architectures import LoraSettings, save_checkpoint
from distillab.distillation import DistillationConfig, cache_teacher, kd_objective
from distillab.models import build_model
from distillab.onpolicy import OnPolicyConfig
from distillab.profiles import get_profile
from distillab.records import TeacherRef
from distillab.training import TrainingConfig, TrainingSet
from distillab.workspace import HALF_BUDGET_TEACHER

PACKAGE = Path(distillab.__file__).parent
TEACHER = HALF_BUDGET_TEACHER


def _module(frame) -> str | None:
    path = Path(frame.f_code.co_filename)
    return path.stem if path.parent == PACKAGE else None


def _below(module: str, graph: dict[str, set[str]]) -> set[str]:
    """Every module `module` imports, directly or through others."""
    seen, todo = set(), [module]
    while todo:
        for other in graph.get(todo.pop(), ()):
            if other not in seen:
                seen.add(other)
                todo.append(other)
    return seen


def parts(arm: students.Arm) -> set[int]:
    """The arm and every piece of its recipe (its data, objective, budget, warm start, LoRA, ...),
    by identity. Its tokenizer is left out: every step reads the student's tokenizer, as every step
    of a course run reads the setup's."""
    return {id(arm)} | {id(value) for name, value in vars(arm).items()
                        if name != "tokenizer" and value is not None and not isinstance(value, (str, int, float, bool))}


def follow(setup, arm) -> tuple[list[str], set[str]]:
    """Train one student with `arm`, and follow the arm: the modules (in the order entered) whose
    functions are handed a piece of its recipe, and every call that climbs back up, from a module
    to one that imports it (a callback: the lower module was handed the higher one's function)."""
    graph = {name: imported(path) for name, path in modules().items()}
    followed, entered, climbs = parts(arm), [], set()

    def watch(frame, event, arg):
        if event != "call" or (callee := _module(frame)) is None:
            return
        if callee not in entered and any(id(value) in followed for value in frame.f_locals.values()):
            entered.append(callee)
        caller = frame.f_back
        while caller is not None and _module(caller) is None:
            caller = caller.f_back
        if caller is not None and _module(caller) in _below(callee, graph) - {callee}:
            climbs.add(f"{_module(caller)}.{caller.f_code.co_name} -> {callee}.{frame.f_code.co_name}")

    sys.setprofile(watch)
    try:
        students.train_student(setup, "followed", arm, 0)
    finally:
        sys.setprofile(None)
    return entered, climbs


@pytest.fixture(scope="module")
def setup(tokenizer, teacher):
    return students.Setup(chapter="02", profile=get_profile("fast"), teacher=teacher.model, tokenizer=tokenizer,
                          teacher_ref=TeacherRef.of(TEACHER, "half-budget"), held_out={1: world.sample_problems(2, 1, seed=9)},
                          training=TrainingConfig(2, 4, warmup_steps=0))


def arms(tokenizer, teacher, folder: Path) -> dict[str, students.Arm]:
    data = TrainingSet.from_problems({1: world.sample_problems(8, 1, seed=0)}, tokenizer)
    return {"SFT": students.Arm(records.TRACES, data),
            "logit KD": students.Arm(records.LOGITS, cache_teacher(teacher, data).data, kd_objective(DistillationConfig())),
            "on-policy": students.Arm(records.ON_POLICY, data, on_policy=OnPolicyConfig()),
            "pretrained, LoRA": students.Arm(records.ANSWERS_ONLY, data, tokenizer=tokenizer, start_from=folder,
                                             lora=LoraSettings(rank=2, alpha=4.0))}


def test_every_kind_of_run_takes_the_one_short_road(setup, tokenizer, teacher, tmp_path):
    folder = save_checkpoint(build_model("tiny", tokenizer, 1), tokenizer, tmp_path / "pretrained")
    for name, arm in arms(tokenizer, teacher.model, folder).items():
        entered, climbs = follow(setup, arm)
        assert len(entered) <= 7 and len(climbs) <= 2, (name, entered, climbs)
        assert "models" not in entered or "architectures" not in entered or name == "pretrained, LoRA", (name, entered)
    assert len(inspect.getsource(students.train_student).splitlines()) <= 30  # one screen


def test_following_sees_a_climb_back():
    """The watch must be able to see a call up the layers: training's loop calling a KD objective."""
    graph = {name: imported(path) for name, path in modules().items()}
    assert "training" in _below("distillation", graph) and "distillation" not in _below("training", graph)
