"""Chapter 05's frontier: records become points with the teacher's share counted, every teacher a
student learnt from is a point, the Pareto frontier keeps only unbeaten runs, the headline comes
from the record's teacher, and a run of another profile or from a retrained teacher is reported."""

import warnings
from dataclasses import replace

import pytest
from helpers import HALF_BUDGET, REFERENCE, record

from distillab import frontier, records
from distillab.ledger import Ledger
from distillab.models import build_model, count_parameters, save_model, Provenance
from distillab.profiles import get_profile
from distillab.records import TeacherRef
from distillab.workspace import teacher_path

FAST = get_profile("fast")
LEDGER = [
    record(records.ANSWERS_ONLY, "answers only", 0.04, 1e11),
    record(records.ANSWERS_ONLY, "answers only", 0.52, 4e11, seed=1),
    record(records.TRACES, "teacher traces, filtered", 0.92, 1e12, teacher_data=6e11),
    record(records.TRACES, "SFT", 0.30, 2e11, chapter="02", teacher=HALF_BUDGET, teacher_data=1e10),
    record(records.LOGITS, "KD", 0.40, 2e11, chapter="02", teacher=HALF_BUDGET, teacher_data=3e10),
    record(records.ON_POLICY, "on-policy", 0.88, 1e12, chapter="04", warm_start=2e12, teacher_data=6e11),
    record(records.TRACES, "more SFT", 0.95, 1e12, chapter="04", warm_start=2e12, teacher_data=6e11),
]


def test_each_record_is_a_point_with_its_full_bill_and_each_teacher_a_point_too():
    points = frontier.points(LEDGER, FAST)
    assert [p.family for p in points] == [r.family for r in LEDGER] + [records.TEACHER, records.TEACHER]
    answers, _, traces, sft, kd, on_policy, more, reference, half = points
    assert (reference.label, half.label) == ("teacher (the reference)", "teacher (half-budget)")
    assert reference.total_flops() == REFERENCE.training_flops and reference.mean_accuracy == REFERENCE.mean_accuracy
    assert answers.total_flops() == 1e11  # from scratch: its own training only
    assert traces.total_flops() == pytest.approx(1e12 + 6e11 + REFERENCE.training_flops)
    assert traces.total_flops(teacher_training=False) == pytest.approx(1e12 + 6e11)
    assert sft.total_flops() == pytest.approx(2e11 + 1e10 + HALF_BUDGET.training_flops)
    assert kd.total_flops(False) == pytest.approx(2e11 + 3e10)  # the logits cached on top of the text
    assert on_policy.total_flops(False) == pytest.approx(1e12 + 2e12 + 6e11)  # the warm start it continued counts
    assert more.total_flops(False) == on_policy.total_flops(False)


def test_a_teacher_recorded_by_chapter_01_is_drawn_once(tokenizer):
    folder = teacher_path("fast")
    model = build_model("tiny", tokenizer)
    save_model(model, tokenizer, folder, Provenance("tiny", 0, "fast", 1, count_parameters(model), flops=5e9))
    own = TeacherRef.of(folder, "your own")
    chapter_01 = replace(record(records.TEACHER, "teacher", 0.1, 5e9, chapter="01"), weights_sha256=own.weights_sha256)
    student = record(records.TRACES, "teacher traces, filtered", 0.05, teacher=own)
    points = frontier.points([chapter_01, student], FAST)
    assert [p.label for p in points] == ["teacher", "teacher traces, filtered"]


def test_the_pareto_front_keeps_only_unbeaten_runs():
    points = frontier.points(LEDGER, FAST)
    with_teacher = frontier.pareto_front(points)
    assert [p.label for p in with_teacher] == ["answers only", "answers only", "teacher (half-budget)",
                                               "teacher (the reference)"]  # nothing beats the teachers' own bill
    given = frontier.pareto_front(points, teacher_training=False)
    assert [p.label for p in given] == ["answers only", "SFT", "KD", "answers only", "teacher traces, filtered",
                                        "more SFT", "teacher (the reference)"]
    costs = [p.total_flops(False) for p in given]
    scores = [p.mean_accuracy for p in given]
    assert costs == sorted(costs) and scores == sorted(scores) and len(set(scores)) == len(scores)


def test_best_within_a_budget():
    points = frontier.points(LEDGER, FAST)
    assert frontier.best(points, records.DISTILLED).label == "more SFT"
    assert frontier.best(points, (records.ANSWERS_ONLY,), 2e11).mean_accuracy == 0.04
    assert frontier.best(points, (records.ANSWERS_ONLY,), 1e10) is None


def test_headline_is_computed_from_the_students_own_teacher():
    headline = frontier.headline(frontier.points(LEDGER, FAST))
    assert headline.teacher == REFERENCE and headline.student.label == "more SFT"
    assert headline.times_smaller == pytest.approx(REFERENCE.parameters / 340_000)
    assert headline.share_of_accuracy == pytest.approx(0.95 / REFERENCE.mean_accuracy)
    assert headline.share_of_cost == pytest.approx((1e12 + 2e12 + 6e11) / REFERENCE.training_flops)
    text = headline.describe(lambda flops: 1.0)
    assert f"{REFERENCE.parameters / 340_000:.1f}× smaller" in text and "(more SFT, chapter 04, seed 0)" in text
    with pytest.raises(ValueError, match="no distilled student"):
        frontier.headline(frontier.points(LEDGER[:2], FAST))


def test_family_table_counts_runs():
    rows = {row["family"]: row for row in frontier.family_table(frontier.points(LEDGER, FAST))}
    assert rows[records.ANSWERS_ONLY]["runs"] == 2 and rows[records.ANSWERS_ONLY]["best mean (%)"] == 52.0
    assert set(rows) == set(records.FAMILIES) - {records.PRETRAINED}  # one row per family present (no real model here)


def test_family_table_shows_the_range_of_sizes_in_a_family():
    points = frontier.points(LEDGER, FAST)
    bigger = replace(next(p for p in points if p.family == records.ANSWERS_ONLY), parameters=369_504)
    rows = {row["family"]: row for row in frontier.family_table(points + [bigger])}
    smallest = min(p.parameters for p in points if p.family == records.ANSWERS_ONLY)
    assert rows[records.ANSWERS_ONLY]["parameters"] == f"{smallest:,}–369,504"


def test_a_run_of_another_profile_is_reported_and_left_out():
    stray = replace(LEDGER[2], profile="standard")
    with pytest.warns(UserWarning, match="'standard' profile, this frontier is 'fast'"):
        points = frontier.points(LEDGER[:2] + [stray], FAST)
    assert [p.label for p in points] == ["answers only", "answers only"]


def test_a_student_of_a_since_retrained_teacher_is_reported_and_keeps_its_teachers_cost(tokenizer):
    folder = teacher_path("standard")
    model = build_model("tiny", tokenizer, seed=0)
    save_model(model, tokenizer, folder, Provenance("tiny", 0, "standard", 1, count_parameters(model), {1: 0.2}, flops=7e9))
    then = TeacherRef.of(folder, "your own")
    save_model(build_model("tiny", tokenizer, seed=1), tokenizer, folder,
               Provenance("tiny", 1, "standard", 1, count_parameters(model), flops=9e9))
    student = record(records.TRACES, "teacher traces, filtered", 0.5, 1e9, teacher=then)
    with pytest.warns(UserWarning, match="learnt from an earlier teacher.*retrained since"):
        point, teacher = frontier.points([student], FAST)
    assert point.total_flops() == pytest.approx(1e9 + 7e9) and teacher.total_flops() == 7e9


def test_chapter_points_builds_a_small_ledger_once_when_none_holds_a_distilled_student(monkeypatch):
    tiny = replace(FAST, trace_prompts=50, trace_student_steps=3, eval_per_difficulty=4, batch_size=4)
    monkeypatch.setattr(frontier, "get_profile", lambda name: tiny)
    ledger, points, note = frontier.chapter_points(get_profile("standard"))
    assert "built a small one at the fast profile" in note and ledger.profile == tiny
    by_family = {p.family: p for p in points}  # the ledger holds runs in the order they finished
    assert len(points) == 3 and set(by_family) == {records.ANSWERS_ONLY, records.TRACES, records.TEACHER}
    assert by_family[records.TRACES].compute.teacher_data > 0 and by_family[records.TRACES].teacher.name == "the reference"
    again = frontier.chapter_points(get_profile("standard"))
    assert "drawing the small one" in again[2] and len(again[1]) == len(points)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert frontier.points(Ledger(tiny, ledger.path.with_name("empty.jsonl")).entries(), tiny) == []


def test_a_point_is_named_by_its_chapter_too_as_arm_names_repeat():
    """Chapter 02's and chapter 04's "SFT"-like arms must not read as one run in chapter 05's lists."""
    sft_02 = frontier.to_point(record(records.TRACES, "SFT", 0.5, chapter="02"))
    sft_04 = frontier.to_point(record(records.TRACES, "SFT", 0.5, chapter="04", seed=1))
    assert (sft_02.name, sft_04.name) == ("SFT (chapter 02, seed 0)", "SFT (chapter 04, seed 1)")
    assert frontier.teacher_point(REFERENCE).name == "teacher (the reference)"


def test_a_model_pretrained_elsewhere_is_a_level_not_a_point_of_the_frontier():
    """Chapter 07's real model as it comes has no counted cost: it stays off the Pareto frontier,
    is drawn as a level, and a student larger than its teacher does not make the headline."""
    import matplotlib

    matplotlib.use("Agg")
    from distillab import plots

    as_it_comes = record(records.PRETRAINED, "as it comes", 0.05, training=0.0, chapter="07",
                                 parameters=134_515_008)
    big_student = record(records.TRACES, "course teacher's traces, full fine-tuning", 0.9, training=1e14,
                                 chapter="07", parameters=134_515_008)
    small = record(records.TRACES, "teacher traces, filtered", 0.5, training=1e11)
    found = frontier.points([as_it_comes, big_student, small], get_profile("fast"))
    assert all(p.family != records.PRETRAINED for p in frontier.pareto_front(found))
    assert frontier.headline(found).student.label == "teacher traces, filtered"
    figure = plots.plot_frontier(found, True, "test")
    labels = figure.axes[0].get_legend_handles_labels()[1]
    assert f"{records.PRETRAINED} (pretraining not counted)" in labels


def test_the_frontier_of_a_hand_made_ledger_file_worked_out_by_hand():
    """Four runs written to a ledger file and read back as chapter 05 reads it: the front, the
    best and the headline follow from the numbers below alone."""
    ledger = Ledger(FAST)
    for entry in (record(records.ANSWERS_ONLY, "answers only", 0.10, 1e11),  # cheapest: on the front
                  record(records.ANSWERS_ONLY, "answers only", 0.05, 3e11, seed=1),  # dearer and worse: off
                  record(records.TRACES, "teacher traces, filtered", 0.60, 2e11, teacher_data=1e11),  # 3e11 in all
                  record(records.LOGITS, "KD", 0.50, 1e11, chapter="02", teacher_data=5e10)):  # 1.5e11, beats 0.10
        ledger.record(entry)
    ledger, found, note = frontier.chapter_points(FAST)
    assert note is None and len(found) == 5  # four runs and the teacher they learnt from
    given = frontier.pareto_front(found, teacher_training=False)
    assert [(p.label, p.total_flops(False)) for p in given] == [
        ("answers only", 1e11), ("KD", 1.5e11), ("teacher traces, filtered", 3e11), ("teacher (the reference)",
                                                                                 REFERENCE.training_flops)]
    assert frontier.best(found, records.DISTILLED, max_flops=2e11, teacher_training=False).label == "KD"
    headline = frontier.headline(found)
    assert headline.student.label == "teacher traces, filtered"
    assert headline.share_of_cost == pytest.approx(3e11 / REFERENCE.training_flops)


def test_family_lines_name_each_familys_best_run():
    points = frontier.points(LEDGER, FAST)
    lines = frontier.family_lines(points)
    families = [line.split(":")[0] for line in lines]
    assert families == [name for name in frontier.FAMILIES if any(p.family == name for p in points)]
    for line in lines:
        top = frontier.best(points, (line.split(":")[0],))
        assert f"best {100 * top.mean_accuracy:.1f} % mean" in line and f"{top.total_flops(True):.3g} FLOPs" in line
