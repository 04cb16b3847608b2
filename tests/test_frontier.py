"""Chapter 05's frontier: ledger entries become points with the teacher's share counted, the
Pareto frontier keeps only unbeaten runs, the headline is computed from provenance, and a
damaged ledger or an unknown teacher is reported without losing the other runs."""

import json
import warnings
from dataclasses import replace

import pytest

from distillab import frontier
from distillab.ledger import Ledger, LedgerEntry
from distillab.profiles import get_profile
from distillab.workspace import HALF_BUDGET_TEACHER, REFERENCE_TEACHER

REFERENCE_FLOPS = json.loads((REFERENCE_TEACHER / "provenance.json").read_text())["flops"]
HALF_FLOPS = json.loads((HALF_BUDGET_TEACHER / "provenance.json").read_text())["flops"]


def entry(kind, mean, flops, seed=0, parameters=340_000, **extra):
    return LedgerEntry(kind=kind, model_size="small", parameters=parameters, data_size=100, steps=10, flops=flops,
                       seconds=1.0, accuracy={d: mean for d in range(1, 6)}, seed=seed, extra=extra)


LEDGER = [
    entry("teacher", 1.0, REFERENCE_FLOPS, parameters=1_784_064),
    entry("answer-only", 0.04, 1e11, chapter="03", teacher="the reference"),
    entry("answer-only", 0.52, 4e11, seed=1, chapter="03", teacher="the reference"),
    entry("teacher traces, filtered", 0.92, 1e12, chapter="03", teacher="the reference", teacher_generation_flops=6e11),
    entry("SFT", 0.30, 2e11, teacher="half-budget", teacher_generation_flops=1e10, teacher_cache_flops=2e10),
    entry("KD", 0.40, 2e11, teacher="half-budget", teacher_generation_flops=1e10, teacher_cache_flops=2e10),
    entry("on-policy λ=1, reverse KL, T=1", 0.88, 1e12, chapter="04", teacher="the reference",
          warm_start_flops=2e12, teacher_generation_flops=6e11, on_policy_batches=30),
    entry("more SFT", 0.95, 1e12, chapter="04", teacher="the reference", warm_start_flops=2e12,
          teacher_generation_flops=6e11, on_policy_batches=0),
]


def test_each_entry_gets_its_family_and_its_full_bill():
    points = frontier.points(LEDGER)
    assert [p.family for p in points] == [frontier.FROM_SCRATCH, frontier.ANSWER_ONLY_FAMILY, frontier.ANSWER_ONLY_FAMILY,
                                          frontier.TRACES, frontier.TRACES, frontier.LOGITS, frontier.ON_POLICY,
                                          frontier.TRACES]  # chapter 02's SFT arm learns the teacher's text only
    teacher, answers, _, traces, sft, kd, on_policy, more = points
    assert teacher.total_flops() == REFERENCE_FLOPS and answers.total_flops() == 1e11  # from scratch: own training only
    assert traces.total_flops() == pytest.approx(1e12 + 6e11 + REFERENCE_FLOPS)
    assert traces.total_flops(teacher_training=False) == pytest.approx(1e12 + 6e11)
    assert sft.total_flops() == pytest.approx(2e11 + 3e10 + HALF_FLOPS)  # ch02: traces written and logits cached
    assert kd.total_flops() == sft.total_flops()
    assert on_policy.total_flops(False) == pytest.approx(1e12 + 2e12 + 6e11)  # the warm start it continued counts
    assert more.total_flops(False) == on_policy.total_flops(False)


def test_the_pareto_front_keeps_only_unbeaten_runs():
    points = frontier.points(LEDGER)
    with_teacher = frontier.pareto_front(points)
    assert [p.label for p in with_teacher] == ["answer-only", "answer-only", "teacher"]  # nothing beats the teacher's 100 %
    given = frontier.pareto_front(points, teacher_training=False)
    assert [p.label for p in given] == ["answer-only", "KD", "answer-only", "teacher traces, filtered", "more SFT",
                                        "teacher"]
    costs = [p.total_flops(False) for p in given]
    scores = [p.mean_accuracy for p in given]
    assert costs == sorted(costs) and scores == sorted(scores) and len(set(scores)) == len(scores)


def test_best_within_a_budget():
    points = frontier.points(LEDGER)
    distilled = frontier.best(points, frontier.DISTILLED)
    assert distilled.label == "more SFT"
    assert frontier.best(points, (frontier.ANSWER_ONLY_FAMILY,), 2e11).mean_accuracy == 0.04
    assert frontier.best(points, (frontier.ANSWER_ONLY_FAMILY,), 1e10) is None


def test_headline_is_computed_from_the_teachers_provenance():
    headline = frontier.headline(frontier.points(LEDGER))
    assert headline.teacher_flops == REFERENCE_FLOPS and headline.teacher_accuracy == 1.0
    assert headline.teacher_seconds == json.loads((REFERENCE_TEACHER / "provenance.json").read_text())["seconds"]
    assert headline.student.label == "more SFT"
    assert headline.times_smaller == pytest.approx(1_784_064 / 340_000)
    assert headline.share_of_accuracy == pytest.approx(0.95)
    assert headline.share_of_cost == pytest.approx((1e12 + 2e12 + 6e11) / REFERENCE_FLOPS)
    text = headline.describe(lambda flops: 1.0)
    assert "5.2× smaller" in text and "95 % of its accuracy" in text
    with pytest.raises(ValueError, match="no distilled student"):
        frontier.headline(frontier.points(LEDGER[:3]))


def test_family_table_counts_runs():
    rows = {row["family"]: row for row in frontier.family_table(frontier.points(LEDGER))}
    assert rows[frontier.ANSWER_ONLY_FAMILY]["runs"] == 2 and rows[frontier.ANSWER_ONLY_FAMILY]["best mean (%)"] == 52.0
    assert set(rows) == set(frontier.FAMILIES)


def test_an_unknown_teacher_is_reported_and_left_out():
    stray = entry("teacher traces, filtered", 0.9, 1e12, chapter="03", teacher="someone else's")
    with pytest.warns(UserWarning, match="someone else's"):
        points = frontier.points(LEDGER + [stray])
    assert len(points) == len(LEDGER)
    with pytest.raises(ValueError, match="unknown teacher"):
        frontier.teacher_provenance("someone else's")


def test_own_teacher_missing_is_a_clear_error():
    with pytest.raises(FileNotFoundError, match="not saved"):
        frontier.teacher_provenance("your own")


def test_a_damaged_ledger_line_is_reported_and_the_rest_kept(tmp_path):
    ledger = Ledger(tmp_path / "ledger.jsonl")
    for e in LEDGER[:3]:
        ledger.record(e)
    lines = ledger.path.read_text().splitlines()
    ledger.path.write_text("\n".join([lines[0], lines[1][:40], "not json at all", lines[2]]) + "\n")
    with pytest.warns(UserWarning) as caught:
        entries = ledger.entries()
    assert ["line 2 is damaged" in str(w.message) for w in caught] == [True, False]
    assert "line 3 is damaged" in str(caught[1].message)
    assert [e.kind for e in entries] == ["teacher", "answer-only"]
    garbage = Ledger(tmp_path / "garbage.jsonl")
    garbage.path.write_bytes(b"\xff\xfe\x00binary\n" + ledger.path.read_bytes().splitlines()[0] + b"\n")
    with pytest.warns(UserWarning, match="line 1 is damaged"):
        assert [e.kind for e in garbage.entries()] == ["teacher"]
    empty = Ledger(tmp_path / "empty.jsonl")
    empty.path.write_text("")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert empty.entries() == [] and frontier.points(empty.entries()) == []


def test_build_small_ledger(tmp_path):
    tiny = replace(get_profile("fast"), trace_prompts=50, trace_student_steps=3, eval_per_difficulty=4, batch_size=4)
    entries = frontier.build_small_ledger(Ledger(tmp_path / "ledger.jsonl"), tiny)
    assert [e.kind for e in entries] == ["teacher", "answer-only", "teacher traces, filtered"]
    points = frontier.points(entries)
    assert [p.family for p in points] == [frontier.FROM_SCRATCH, frontier.ANSWER_ONLY_FAMILY, frontier.TRACES]
    assert points[2].data_flops > 0 and points[2].teacher_flops == REFERENCE_FLOPS
