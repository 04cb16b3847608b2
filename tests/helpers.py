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
