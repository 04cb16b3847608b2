"""A run as one typed record: what the ledger keeps of every model a chapter trains (chapters
01-04, 06 and 07), and all that chapter 05 and the benchmark read back.

A record says what kind of model it is (its `family`), which recipe of its chapter made it (its
`arm`, a constant that chapter's module owns), the teacher it learnt from (by the content of its
weights, not by a nickname) and what it cost, in named FLOP fields.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from distillab import knobs, world
from distillab.models import PROVENANCE_FILE, Provenance, weights_sha256
from distillab.workspace import portable, resolve

SCHEMA = 2  # the ledger line format; 1 was the free-form `kind` + `extra` entry (before typed records)

# The families a model belongs to: how it learnt, whatever its chapter called the recipe.
TEACHER = "from scratch (teacher recipe)"  # the program's own traces: the teacher, or gold-trace students
ANSWERS_ONLY = "answers only"  # no reasoning shown: prompt -> answer (from scratch, or a real model fine-tuned)
LOGITS = "logit distillation"  # the teacher's distributions (white-box, chapter 02)
TRACES = "trace distillation"  # the teacher's text (black-box, chapters 02-04)
ON_POLICY = "on-policy distillation"  # the student's own text, graded by the teacher (chapter 04)
PRETRAINED = "pretrained elsewhere, as it comes"  # a real model as downloaded (chapter 07): its pretraining is not counted
FAMILIES = (TEACHER, ANSWERS_ONLY, LOGITS, TRACES, ON_POLICY, PRETRAINED)
DISTILLED = (LOGITS, TRACES, ON_POLICY)

TEACHER_ARM = "teacher"  # chapter 01's one recipe

# Arm names an earlier version wrote, and the one spelling each has now: a ledger line (and a stored
# sweep file) that still carries an old name is read under the new one.
RENAMED_ARMS = {"answer-only": "answers only", "answer-only, qwen2 + BPE": "answers only, qwen2 + BPE"}
RENAMED_FAMILIES = {"from scratch, answers only": ANSWERS_ONLY}  # chapter 07 fine-tunes a pretrained model on them


class RecordError(ValueError):
    """A ledger line that is not a record this version can read."""


class OtherVersionError(RecordError):
    """A ledger line written by another version of distillab (another SCHEMA)."""


def check_accuracy(accuracy: dict) -> dict[int, float]:
    """Accuracy by difficulty: at least one difficulty, each a fraction from 0 to 1."""
    if not isinstance(accuracy, dict) or not accuracy:
        raise RecordError(f"accuracy must map at least one difficulty to the fraction right, got {accuracy!r}")
    try:
        return {world.check_difficulty(int(d)): knobs.fraction(f"the accuracy at difficulty {d}", a)
                for d, a in accuracy.items()}
    except ValueError as error:
        raise RecordError(str(error)) from None


@dataclass(frozen=True)
class TeacherRef:
    """The teacher a student learnt from, as it was then: where it lives, the hash of its weights
    (a teacher retrained in the same folder has another), and what its training cost."""
    name: str  # what the chapter called it ("your own", "the reference", "half-budget"): for people only
    location: str  # its folder, as `workspace.portable` writes it
    weights_sha256: str
    parameters: int
    training_flops: float
    training_seconds: float
    accuracy: dict[int, float]  # difficulty -> fraction right, from its provenance

    def __post_init__(self) -> None:
        object.__setattr__(self, "accuracy", {int(d): float(a) for d, a in self.accuracy.items()})

    @classmethod
    def of(cls, folder: str | Path, name: str) -> TeacherRef:
        """The reference to the teacher saved in `folder` (by `models.save_model`)."""
        path = Path(folder) / PROVENANCE_FILE
        if not path.is_file():
            raise FileNotFoundError(f"no saved teacher at {folder} ({PROVENANCE_FILE} is missing): give the folder a "
                                    "teacher was saved in, e.g. workspace.find_teacher()[0] or "
                                    "workspace.REFERENCE_TEACHER; a name such as 'gpt-4' is not a folder")
        try:
            provenance = Provenance(**json.loads(path.read_text()))
        except (ValueError, TypeError) as error:
            raise ValueError(f"{path} could not be read as a model's provenance ({type(error).__name__}: {error}): it "
                             "was edited or written by another program; restore the folder or train the teacher "
                             "again") from None
        return cls(name, portable(folder), weights_sha256(folder), provenance.parameters, provenance.flops,
                   provenance.seconds, provenance.accuracy)

    @property
    def mean_accuracy(self) -> float:
        return world.mean_accuracy(self.accuracy)

    def changed_since(self) -> str | None:
        """Why the teacher at `location` is no longer this one (retrained, removed), or None."""
        folder = resolve(self.location)
        try:
            now = weights_sha256(folder)
        except FileNotFoundError:
            return f"the teacher {self.name!r} is no longer saved at {folder}"
        if now != self.weights_sha256:
            return f"the teacher {self.name!r} at {folder} has been retrained since (its weights changed)"
        return None


@dataclass(frozen=True)
class Compute:
    """What a run cost, in FLOPs, each part named. `training` holds everything its own optimizer
    steps needed, so for on-policy distillation also the student's sampling and the teacher's
    scoring, shown again apart in the last two fields."""
    training: float  # its own optimizer steps, counted with torch.utils.flop_counter
    warm_start: float = 0.0  # the training of the student it continued from (chapter 04)
    teacher_data: float = 0.0  # what its data cost the teacher: traces written, logits cached
    evaluation: float = 0.0  # greedy decoding of the held-out problems (not part of the total)
    student_sampling: float = 0.0  # on-policy: the student writing its own completions (inside `training`)
    teacher_scoring: float = 0.0  # on-policy: the teacher reading them (inside `training`)

    def total(self, teacher_training: float = 0.0) -> float:
        """All it took to make this model; add the teacher's own training to count "from nothing"."""
        return self.training + self.warm_start + self.teacher_data + teacher_training


@dataclass(frozen=True)
class RunRecord:
    """One trained model: what it is, how it was made, what it cost and how well it does."""
    chapter: str  # "01" ... "07"
    family: str  # one of FAMILIES
    arm: str  # the recipe, a constant of its chapter's module (e.g. kd_experiments.KD)
    profile: str  # the profile it ran at: its ledger is that profile's
    seed: int
    model_size: str  # a name from models.SIZES, or a pretrained checkpoint's name (chapter 07)
    parameters: int
    data_size: int  # training examples it could draw from
    steps: int  # its own optimizer steps
    seconds: float  # its own training wall time
    accuracy: dict[int, float]  # difficulty -> fraction right on the held-out problems
    compute: Compute
    teacher: TeacherRef | None = None  # None for a model trained from scratch
    settings: dict = field(default_factory=dict)  # the arm's knobs (T, α, λ, ...), for people to read
    weights_sha256: str | None = None  # the hash of its saved weights, when the run saved its model (a teacher, a student kept for reuse)
    interrupted: bool = False  # stopped by the learner before its budget: `steps` is what it completed
    continues: str | None = None  # the weights hash of the interrupted run this one resumed and finished
    key: str | None = None  # everything that decides its result, hashed (reuse.run_key): a finished run of one key is reused, not repeated
    numerics: dict | None = None  # the threads it computed with, torch's CPU instruction set, the device (runtime.numerics)
    forgetting: dict | None = None  # a pretrained student: what training cost it away from the task (forgetting.Forgetting)
    schema: int = SCHEMA
    timestamp: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise RecordError(f"unknown family {self.family!r}: a record's family is one of {FAMILIES}")
        if (self.teacher is None) != (self.family not in DISTILLED):
            raise RecordError(f"a {self.family!r} record {'needs' if self.family in DISTILLED else 'has no'} "
                              "teacher it learnt from")
        object.__setattr__(self, "accuracy", check_accuracy(self.accuracy))

    @property
    def mean_accuracy(self) -> float:
        return world.mean_accuracy(self.accuracy)

    def to_json(self) -> str:
        """One line of the ledger."""
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, line: str) -> RunRecord:
        """A ledger line read back; anything but a record of this SCHEMA raises RecordError."""
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise RecordError(f"not JSON ({error})") from None
        if not isinstance(row, dict):
            raise RecordError("not a record")
        if row.get("schema") != SCHEMA:
            raise OtherVersionError(f"written by another version of distillab (schema {row.get('schema', 1)}, "
                              f"this one reads {SCHEMA})")
        if row.get("arm") in RENAMED_ARMS:
            row["arm"] = RENAMED_ARMS[row["arm"]]
        if row.get("family") in RENAMED_FAMILIES:
            row["family"] = RENAMED_FAMILIES[row["family"]]
        try:
            teacher = row.pop("teacher")
            compute = Compute(**row.pop("compute"))
            return cls(**row, compute=compute, teacher=TeacherRef(**teacher) if teacher is not None else None)
        except (KeyError, TypeError, AttributeError) as error:
            raise RecordError(f"a field is missing or unexpected ({error})") from None


def teacher_record(provenance: Provenance, data_size: int, evaluation_flops: float = 0.0,
                   weights_sha256: str | None = None, continues: str | None = None) -> RunRecord:
    """The record of a teacher's training run, from its provenance (and, once saved, its weights' hash)."""
    return RunRecord(chapter="01", family=TEACHER, arm=TEACHER_ARM, profile=provenance.profile,
                     seed=provenance.seed, model_size=provenance.size, parameters=provenance.parameters,
                     data_size=data_size, steps=provenance.steps, seconds=provenance.seconds,
                     accuracy=provenance.accuracy, compute=Compute(training=provenance.flops, evaluation=evaluation_flops),
                     weights_sha256=weights_sha256, interrupted=provenance.interrupted, continues=continues,
                     numerics=provenance.extra.get("numerics"))
