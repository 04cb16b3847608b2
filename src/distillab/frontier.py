"""The cost/accuracy frontier (chapter 05): every record in a profile's ledger as one point,
accuracy against total compute, with the teacher's share counted, and the Pareto frontier through them.

A distilled student's total compute is its own training (on-policy sampling and teacher scoring
included, chapter 04), the student it continued from, what its data cost the teacher (writing
traces, caching logits) and, when `teacher_training` is counted, the teacher's whole training run:
from nothing, you would have to train the teacher first. A model trained from scratch (a teacher,
an answers-only student) costs its own training only. Every teacher a student learnt from is a
point too, whether the learner trained it (chapter 01's record) or it came with the course.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

from distillab import trace_experiments
from distillab import knobs, world
from distillab.ledger import Ledger
from distillab.profiles import Profile, get_profile
from distillab.records import DISTILLED, FAMILIES, PRETRAINED, TEACHER, Compute, RunRecord, TeacherRef


@dataclass(frozen=True)
class Point:
    """One trained model on the frontier plot."""
    label: str  # its arm, e.g. "teacher traces, filtered"
    family: str  # one of records.FAMILIES
    parameters: int
    seed: int | None  # None for a teacher known only by reference
    accuracy: dict[int, float]  # difficulty -> fraction right on held-out problems
    compute: Compute
    teacher: TeacherRef | None  # the teacher it learnt from, as it was then
    chapter: str | None = None  # the chapter that trained it (arm names repeat across chapters: "SFT")

    @property
    def where(self) -> str:
        """'chapter 03, seed 0': which run it is ("" for a teacher known only by reference)."""
        return ", ".join(([f"chapter {self.chapter}"] if self.chapter else []) +
                         ([f"seed {self.seed}"] if self.seed is not None else []))

    @property
    def name(self) -> str:
        """'teacher traces, filtered (chapter 03, seed 0)', or a teacher's label alone."""
        return f"{self.label} ({self.where})" if self.where else self.label

    @property
    def mean_accuracy(self) -> float:
        return world.mean_accuracy(self.accuracy)

    @property
    def hardest_accuracy(self) -> float:
        return self.accuracy[max(self.accuracy)]

    def total_flops(self, teacher_training: bool = True) -> float:
        knobs.flag("teacher_training (COUNT_TEACHER_TRAINING)", teacher_training)
        teacher_flops = self.teacher.training_flops if teacher_training and self.teacher is not None else 0.0
        return self.compute.total(teacher_training=teacher_flops)


def to_point(record: RunRecord) -> Point:
    label = f"{record.arm} (interrupted at step {record.steps})" if record.interrupted else record.arm
    return Point(label, record.family, record.parameters, record.seed, record.accuracy, record.compute,
                 record.teacher, record.chapter)


def teacher_point(teacher: TeacherRef) -> Point:
    """A teacher students learnt from, as a model trained from scratch (its training is its cost)."""
    return Point(f"teacher ({teacher.name})", TEACHER, teacher.parameters, None, teacher.accuracy,
                 Compute(training=teacher.training_flops), None)


def points(records: list[RunRecord], profile: Profile) -> list[Point]:
    """Every record of `profile` as a point, and every teacher a distilled record learnt from that no
    teacher record of the ledger already shows. A record of another profile is reported and left
    out; one whose teacher has since been retrained or removed is reported and kept, with the cost
    of the teacher it did learn from; an interrupted run that was resumed since is left out (the
    finished run stands for it)."""
    out, teachers, checked = [], {}, {}
    finished = {record.continues for record in records if record.continues}  # interrupted runs resumed since
    for record in records:
        if record.weights_sha256 is not None and record.weights_sha256 in finished:
            continue
        if record.profile != profile.name:
            warnings.warn(f"left out the {record.arm!r} run (seed {record.seed}): it ran at the {record.profile!r} "
                          f"profile, this frontier is {profile.name!r}'s", stacklevel=2)
            continue
        if record.teacher is not None:
            key = (record.teacher.location, record.teacher.weights_sha256)
            if key not in checked:  # hash each teacher's weights once, not once per student
                checked[key] = record.teacher.changed_since()
            change = checked[key]
            if change is not None:
                warnings.warn(f"the {record.arm!r} run (seed {record.seed}) learnt from an earlier teacher: {change}. "
                              "It is kept, with the cost of the teacher it learnt from.", stacklevel=2)
            teachers.setdefault(record.teacher.weights_sha256, record.teacher)
        out.append(to_point(record))
    own = {record.weights_sha256 for record in records if record.family == TEACHER and record.weights_sha256}
    for sha, teacher in teachers.items():
        if sha in own:
            continue
        if not teacher.accuracy:
            warnings.warn(f"the teacher {teacher.name!r} has no measured accuracy in its provenance: it is not drawn",
                          stacklevel=2)
            continue
        out.append(teacher_point(teacher))
    return out


def pareto_front(candidates: list[Point], teacher_training: bool = True, hardest: bool = False) -> list[Point]:
    """The points no other point beats: none cheaper (total FLOPs) is as accurate or more, cheapest first.
    A model pretrained elsewhere (chapter 07, as it comes) has no place on it: its cost is not counted."""
    score = (lambda p: p.hardest_accuracy) if hardest else (lambda p: p.mean_accuracy)  # noqa: E731
    front, best_score = [], -1.0
    counted = [p for p in candidates if p.family != PRETRAINED]
    for point in sorted(counted, key=lambda p: (p.total_flops(teacher_training), -score(p))):
        if score(point) > best_score:
            front.append(point)
            best_score = score(point)
    return front


def best(candidates: list[Point], families: tuple[str, ...], max_flops: float | None = None,
         teacher_training: bool = True) -> Point | None:
    """The most accurate point of `families` whose total compute is at most `max_flops`."""
    fits = [p for p in candidates if p.family in families
            and (max_flops is None or p.total_flops(teacher_training) <= max_flops)]
    return max(fits, key=lambda p: p.mean_accuracy, default=None)


FAMILY_TABLE_FORMATS = {"best mean (%)": ".1f", "best hardest (%)": ".1f", "cheapest (FLOPs)": ".3g", "dearest (FLOPs)": ".3g"}


def family_table(candidates: list[Point], teacher_training: bool = True) -> list[dict]:
    """One row per family present: how many runs, the best mean and hardest-level accuracy, the
    cheapest and dearest total compute (shown in `FAMILY_TABLE_FORMATS`)."""
    rows = []
    for name in FAMILIES:
        group = [p for p in candidates if p.family == name]
        if group:
            flops = [p.total_flops(teacher_training) for p in group]
            sizes = sorted({p.parameters for p in group})  # a family may hold several sizes (chapter 06's students)
            rows.append({"family": name, "runs": len(group),
                         "parameters": f"{sizes[0]:,}" if len(sizes) == 1 else f"{sizes[0]:,}–{sizes[-1]:,}",
                         "best mean (%)": 100 * max(p.mean_accuracy for p in group),
                         "best hardest (%)": 100 * max(p.hardest_accuracy for p in group),
                         "cheapest (FLOPs)": min(flops), "dearest (FLOPs)": max(flops)})
    return rows


def family_lines(candidates: list[Point], teacher_training: bool = True) -> list[str]:
    """Per family present, one line: its runs, and its best run's mean and hardest-level accuracy
    with the total compute that run took."""
    lines = []
    for name in FAMILIES:
        group = [p for p in candidates if p.family == name]
        if group:
            top = best(candidates, (name,), teacher_training=teacher_training)
            lines.append(f"{name}: {len(group)} runs; best {100 * top.mean_accuracy:.1f} % mean, "
                         f"{100 * top.hardest_accuracy:.1f} % on the hardest level, "
                         f"{top.total_flops(teacher_training):.3g} FLOPs")
    return lines


@dataclass(frozen=True)
class Headline:
    """"The teacher cost X FLOPs; a student N× smaller reached Y % of its accuracy for Z % of that cost"."""
    teacher: TeacherRef
    student: Point
    times_smaller: float  # teacher parameters / student parameters
    share_of_accuracy: float  # student mean accuracy / teacher's
    share_of_cost: float  # the student's own compute and its data, over the teacher's training

    def describe(self, dollars) -> str:
        price = dollars(self.teacher.training_flops)
        price = f"${price:.2g}" if price >= 0.01 else f"${price:.6f}"  # a tiny run: $0.000077, not $7.7e-05
        which = f"{self.student.label}, {self.student.where}" if self.student.where else self.student.label
        return (f"The teacher ({self.teacher.name}) cost {self.teacher.training_flops:.3g} FLOPs to train "
                f"({self.teacher.training_seconds:.0f} s on the CPU that trained it; ≈ {price} on an H100 at the "
                f"stated assumptions) and reaches {100 * self.teacher.mean_accuracy:.1f} %. "
                f"A student {self.times_smaller:.1f}× smaller ({which}) reached "
                f"{100 * self.share_of_accuracy:.0f} % of its accuracy ({100 * self.student.mean_accuracy:.1f} %) for "
                f"{100 * self.share_of_cost:.0f} % of that cost ({self.student.total_flops(False):.3g} FLOPs: its training "
                f"and the teacher's work on its data).")


def headline(candidates: list[Point]) -> Headline:
    """The story in our numbers, for the most accurate distilled student in `candidates` that is
    smaller than its teacher (chapter 07's real model is 75 times larger than the course teacher)."""
    student = best([p for p in candidates if p.teacher is not None and p.parameters < p.teacher.parameters], DISTILLED)
    if student is None:
        raise ValueError("no distilled student in the ledger: run chapter 02, 03 or 04 first")
    teacher = student.teacher
    return Headline(teacher, student, teacher.parameters / student.parameters,
                    student.mean_accuracy / teacher.mean_accuracy, student.total_flops(False) / teacher.training_flops)


def chapter_points(profile: Profile) -> tuple[Ledger, list[Point], str | None]:
    """What chapter 05 draws: the points of the learner's ledger at `profile`; if it holds no
    distilled student, those of a small ledger at the fast profile, built once (then a note says so)."""
    ledger = Ledger(profile)
    found = points(ledger.entries(), profile)
    if best(found, DISTILLED) is not None:
        return ledger, found, None
    small = Ledger(get_profile("fast"))
    found = points(small.entries(), small.profile)
    if best(found, DISTILLED) is not None:
        return small, found, f"The {profile.name} ledger holds no distilled student yet: drawing the small one in {small.path}."
    note = (f"The {profile.name} ledger holds no distilled student yet: built a small one at the fast profile in "
            f"{small.path} (chapter 03's two students on seed 0, and the reference teacher they learnt from).")
    return small, points(build_small_ledger(small), small.profile), note


def build_small_ledger(ledger: Ledger, seeds: tuple[int, ...] = (0,)) -> list[RunRecord]:
    """For a learner who comes straight to chapter 05: chapter 03's two students (answers only, the
    reference teacher's filtered traces), trained on `seeds` at the ledger's profile and recorded there."""
    setup = trace_experiments.prepare(trace_experiments.REFERENCE_TEACHER, "the reference", ledger.profile)
    trace_experiments.compare(setup, trace_experiments.headline_arms(setup, setup.traces()), seeds=seeds, ledger=ledger)
    return ledger.entries()
