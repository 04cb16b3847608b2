"""Records to test with: a run of any family, priced and with a teacher where it needs one."""

from distillab.records import DISTILLED, Compute, RunRecord, TeacherRef
from distillab.workspace import HALF_BUDGET_TEACHER, REFERENCE_TEACHER

REFERENCE = TeacherRef.of(REFERENCE_TEACHER, "the reference")
HALF_BUDGET = TeacherRef.of(HALF_BUDGET_TEACHER, "half-budget")


def record(family, arm, mean, training=1e11, seed=0, chapter="03", profile="fast", parameters=340_000,
           teacher=REFERENCE, **compute):
    return RunRecord(chapter=chapter, family=family, arm=arm, profile=profile, seed=seed, model_size="small",
                     parameters=parameters, data_size=100, steps=10, seconds=1.0,
                     accuracy={d: mean for d in range(1, 6)}, compute=Compute(training=training, **compute),
                     teacher=teacher if family in DISTILLED else None)


def row_by_hand(comparisons, row: dict) -> dict | None:
    """What a table row of a question (its "baseline" and "arm") must say, worked out here from the
    runs themselves, paired by seed number: the gains in points and what holds on every seed. None
    when no comparison in `comparisons` (name -> Comparison) holds both arms."""
    runs = next((c for c in comparisons.values() if row["baseline"] in c and row["arm"] in c), None)
    if runs is None:
        return None
    accuracy = {arm: {r.seed: r.mean_accuracy for r in runs[arm]} for arm in (row["baseline"], row["arm"])}
    a, b = accuracy[row["baseline"]], accuracy[row["arm"]]
    gains = [100 * (b[seed] - a[seed]) for seed in sorted(a.keys() & b.keys())]
    if all(g == 0 for g in gains):
        verdict = "the same on every seed"
    elif all(g > 0 for g in gains):
        verdict = "better on every seed"
    elif all(g < 0 for g in gains):
        verdict = "worse on every seed"
    else:
        verdict = "not settled"
    return {"gain min": min(gains), "gain max": max(gains), "verdict": verdict}


def assert_rows_match_their_runs(comparisons, rows: list[dict]) -> int:
    """Every row whose two arms are in `comparisons` says what its runs say; returns how many were checked."""
    checked = 0
    for row in rows:
        expected = row_by_hand(comparisons, row)
        if expected is not None:
            assert row["verdict"] == expected["verdict"], (row, expected)
            assert abs(row["gain min"] - expected["gain min"]) < 1e-9, (row, expected)
            assert abs(row["gain max"] - expected["gain max"]) < 1e-9, (row, expected)
            checked += 1
    return checked
