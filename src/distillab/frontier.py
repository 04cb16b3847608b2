"""The cost/accuracy frontier (chapter 05): every run in the ledger as one point, accuracy against
total compute, with the teacher's share counted, and the Pareto frontier through them.

A distilled student's total compute is its own training (on-policy sampling and teacher scoring
included, chapter 04), plus what its data cost the teacher (writing traces, caching logits), plus,
when `teacher_training` is counted, the teacher's whole training run: from nothing, you would have
to train the teacher first. A model trained from scratch (the teacher itself, an answer-only
student) costs its own training only.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path

from distillab import world
from distillab.kd_experiments import SFT
from distillab.ledger import Ledger, LedgerEntry
from distillab.models import PROVENANCE_FILE, Provenance
from distillab.profiles import Profile, get_profile
from distillab.workspace import HALF_BUDGET_TEACHER, REFERENCE_TEACHER, teacher_path

FROM_SCRATCH, ANSWER_ONLY_FAMILY = "from scratch (teacher recipe)", "from scratch, answers only"
LOGITS, TRACES, ON_POLICY = "logit distillation", "trace distillation", "on-policy distillation"
FAMILIES = (FROM_SCRATCH, ANSWER_ONLY_FAMILY, LOGITS, TRACES, ON_POLICY)
DISTILLED = (LOGITS, TRACES, ON_POLICY)
# The names chapters 02-04 give the teacher they distilled from, and where it is saved.
TEACHER_NAMES = {"half-budget": HALF_BUDGET_TEACHER, "reference": REFERENCE_TEACHER, "the reference": REFERENCE_TEACHER,
                 "fully trained": REFERENCE_TEACHER}


def teacher_provenance(name: str) -> Provenance:
    """The saved provenance (steps, parameters, accuracy, training FLOPs) of the teacher a ledger
    entry names: "your own" (chapter 01 at the standard profile) or one of TEACHER_NAMES."""
    folder = teacher_path("standard") if name == "your own" else TEACHER_NAMES.get(name)
    if folder is None:
        raise ValueError(f"unknown teacher {name!r}: expected 'your own' or one of {sorted(TEACHER_NAMES)}")
    path = Path(folder) / PROVENANCE_FILE
    if not path.is_file():
        raise FileNotFoundError(f"the teacher {name!r} is not saved at {folder}: its training cost is unknown")
    return Provenance(**json.loads(path.read_text()))


def family(entry: LedgerEntry) -> str:
    """Which kind of model a ledger entry is, from what its chapter wrote."""
    chapter = entry.extra.get("chapter")
    if entry.kind == "teacher":
        return FROM_SCRATCH
    if entry.kind == "answer-only":
        return ANSWER_ONLY_FAMILY
    if chapter == "04" and entry.extra.get("on_policy_batches", 0) > 0:
        return ON_POLICY
    if chapter in ("03", "04") or entry.kind == SFT:  # chapter 02's SFT arm learns the teacher's text only
        return TRACES
    return LOGITS  # chapter 02's KD arms: the teacher's distributions on its greedy text


@dataclass(frozen=True)
class Point:
    """One trained model on the frontier plot."""
    label: str  # the run's kind, e.g. "teacher traces, filtered"
    family: str  # one of FAMILIES
    parameters: int
    seed: int
    accuracy: dict[int, float]  # difficulty -> fraction right on held-out problems
    own_flops: float  # its own training (plus any warm start it continued from)
    data_flops: float  # what its training data cost the teacher: traces written, logits cached
    teacher_flops: float  # the teacher's training run (0 for a model trained from scratch)
    teacher: str | None  # the teacher it learnt from

    @property
    def mean_accuracy(self) -> float:
        return world.mean_accuracy(self.accuracy)

    @property
    def hardest_accuracy(self) -> float:
        return self.accuracy[max(self.accuracy)]

    def total_flops(self, teacher_training: bool = True) -> float:
        return self.own_flops + self.data_flops + (self.teacher_flops if teacher_training else 0.0)


def to_point(entry: LedgerEntry) -> Point:
    kind = family(entry)
    teacher = entry.extra.get("teacher") if kind in DISTILLED else None
    data = entry.extra.get("teacher_generation_flops", 0.0) + entry.extra.get("teacher_cache_flops", 0.0)
    teacher_flops = teacher_provenance(teacher).flops if teacher else 0.0
    return Point(entry.kind, kind, entry.parameters, entry.seed, entry.accuracy,
                 entry.flops + entry.extra.get("warm_start_flops", 0.0), data if teacher else 0.0, teacher_flops, teacher)


def points(entries: list[LedgerEntry]) -> list[Point]:
    """Every ledger entry as a point (a damaged line was already skipped by the ledger). A run whose
    teacher is no longer saved (its training cost unknown) is reported with a warning and left out."""
    out = []
    for entry in entries:
        try:
            out.append(to_point(entry))
        except (FileNotFoundError, ValueError) as error:
            warnings.warn(f"left out the {entry.kind!r} run (seed {entry.seed}): {error}", stacklevel=2)
    return out


def pareto_front(candidates: list[Point], teacher_training: bool = True, hardest: bool = False) -> list[Point]:
    """The points no other point beats: none cheaper (total FLOPs) is as accurate or more, cheapest first."""
    score = (lambda p: p.hardest_accuracy) if hardest else (lambda p: p.mean_accuracy)  # noqa: E731
    front, best = [], -1.0
    for point in sorted(candidates, key=lambda p: (p.total_flops(teacher_training), -score(p))):
        if score(point) > best:
            front.append(point)
            best = score(point)
    return front


def best(candidates: list[Point], families: tuple[str, ...], max_flops: float | None = None,
         teacher_training: bool = True) -> Point | None:
    """The most accurate point of `families` whose total compute is at most `max_flops`."""
    fits = [p for p in candidates if p.family in families
            and (max_flops is None or p.total_flops(teacher_training) <= max_flops)]
    return max(fits, key=lambda p: p.mean_accuracy, default=None)


def family_table(candidates: list[Point], teacher_training: bool = True) -> list[dict]:
    """One row per family present: how many runs, the best mean and hardest-level accuracy, the
    cheapest and dearest total compute."""
    rows = []
    for name in FAMILIES:
        group = [p for p in candidates if p.family == name]
        if group:
            flops = [p.total_flops(teacher_training) for p in group]
            rows.append({"family": name, "runs": len(group), "parameters": max(p.parameters for p in group),
                         "best mean (%)": 100 * max(p.mean_accuracy for p in group),
                         "best hardest (%)": 100 * max(p.hardest_accuracy for p in group),
                         "cheapest (FLOPs)": min(flops), "dearest (FLOPs)": max(flops)})
    return rows


@dataclass(frozen=True)
class Headline:
    """"The teacher cost X FLOPs; a student N× smaller reached Y % of its accuracy for Z % of that cost"."""
    teacher: str
    teacher_flops: float
    teacher_seconds: float  # its training's wall time, where it was trained
    teacher_accuracy: float  # mean over difficulties
    student: Point
    times_smaller: float  # teacher parameters / student parameters
    share_of_accuracy: float  # student mean accuracy / teacher's
    share_of_cost: float  # the student's own compute and its data, over the teacher's training

    def describe(self, dollars) -> str:
        price = dollars(self.teacher_flops)
        price = f"${price:.2g}" if price >= 0.01 else f"${price:.6f}"  # a tiny run: $0.000077, not $7.7e-05
        return (f"The teacher ({self.teacher}) cost {self.teacher_flops:.3g} FLOPs to train ({self.teacher_seconds:.0f} s on "
                f"the CPU that trained it; ≈ {price} "
                f"on an H100 at the stated assumptions) and reaches {100 * self.teacher_accuracy:.1f} %. "
                f"A student {self.times_smaller:.1f}× smaller ({self.student.label}, seed {self.student.seed}) reached "
                f"{100 * self.share_of_accuracy:.0f} % of its accuracy ({100 * self.student.mean_accuracy:.1f} %) for "
                f"{100 * self.share_of_cost:.0f} % of that cost ({self.student.total_flops(False):.3g} FLOPs: its training "
                f"and the teacher's work on its data).")


def headline(candidates: list[Point]) -> Headline:
    """The story in our numbers, for the most accurate distilled student in `candidates`."""
    student = best(candidates, DISTILLED)
    if student is None:
        raise ValueError("no distilled student in the ledger: run chapter 02, 03 or 04 first")
    provenance = teacher_provenance(student.teacher)
    teacher_accuracy = world.mean_accuracy(provenance.accuracy)
    return Headline(student.teacher, provenance.flops, provenance.seconds, teacher_accuracy, student,
                    provenance.parameters / student.parameters, student.mean_accuracy / teacher_accuracy,
                    student.total_flops(False) / provenance.flops)


def build_small_ledger(ledger: Ledger, profile: Profile | None = None, seeds: tuple[int, ...] = (0,)) -> list[LedgerEntry]:
    """For a learner who comes straight to chapter 05: a small ledger at `profile` (default fast):
    the reference teacher's training run (from its provenance) and chapter 03's two students
    (answers only, the teacher's filtered traces), trained here on `seeds`."""
    from distillab import trace_experiments as te

    profile = profile or get_profile("fast")
    p = teacher_provenance("the reference")
    ledger.record(LedgerEntry(kind="teacher", model_size=p.size, parameters=p.parameters,
                              data_size=p.extra["data_size"], steps=p.steps, flops=p.flops, seconds=p.seconds,
                              accuracy=p.accuracy, seed=p.seed, profile=p.profile,
                              extra={"teacher": "the reference", "chapter": "01"}))
    setup = te.prepare(REFERENCE_TEACHER, "the reference", profile)
    samples = setup.traces()
    te.compare(setup, {te.ANSWER_ONLY: setup.answer_only(), te.FILTERED: samples.training_set(setup.tokenizer)},
               teacher_flops={te.FILTERED: samples.flops}, seeds=seeds, ledger=ledger)
    return ledger.entries()
