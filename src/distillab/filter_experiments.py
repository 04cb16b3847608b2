"""Chapter 03's second study: when the verifier's filter pays. The reference teacher is right on
almost every sample, so its filter has nothing to remove; here the half-budget teacher (wrong on
many samples) writes the traces, and every arm trains the same student on the same prompts:

- its first sample per prompt, unfiltered (right or wrong);
- the filter at k = 1: only the right ones (fewer traces, and the easier problems survive more);
- the same number of unfiltered traces per difficulty (so only their correctness differs);
- the filter at best of k: k samples per prompt, the first right one kept (R1-Distill / Sky-T1).

    python -m distillab.filter_experiments    # at the standard profile (~10 min on 2 cores)

writes `reference/filter_sweeps.json`, which chapter 03 reads.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass

from distillab import curation, records, world
from distillab import trace_experiments
from distillab.profiles import Profile
from distillab.sampling import training_set
from distillab.comparison import Comparison, PairedGain, Question, mean_over_seeds
from distillab.students import Arm, compare
from distillab.stored_sweeps import Stored, read, sweep_command
from distillab.workspace import HALF_BUDGET_TEACHER, REFERENCE_DIR

BEST_OF = 4  # samples per prompt for the best-of-k arm
# the first sample per prompt; only the right ones (k = 1)
UNFILTERED, FILTERED = trace_experiments.UNFILTERED, trace_experiments.FILTERED
MATCHED = "teacher traces, unfiltered, as many as filtered"  # per difficulty: only correctness differs
BEST_OF_K = f"teacher traces, filtered, best of {BEST_OF}"
SWEEPS_PATH = REFERENCE_DIR / "filter_sweeps.json"
COMMAND = "python -m distillab.filter_experiments"


def matched_arm(setup: trace_experiments.TraceSetup, samples, traces: list[curation.Trace]) -> Arm:
    """SFT on `traces`, unfiltered ones drawn to match the filter's numbers per difficulty."""
    return Arm(records.TRACES, training_set(traces, setup.tokenizer),
               training=trace_experiments.student_config(setup.profile), teacher_data_flops=samples.flops,
               settings={"temperature": samples.temperature, "k": 1, "keep": "unfiltered, matched"})


def wrong_share(traces: list[curation.Trace]) -> float:
    """The share of `traces` whose answer the verifier rejects."""
    return sum(not world.is_correct(text, problem) for problem, text in traces) / len(traces)


def measure_sweeps(profile: Profile, temperature: float = trace_experiments.RECIPE_TEMPERATURE,
                   k: int = BEST_OF) -> dict:
    """The four arms on the profile's seeds, with the half-budget teacher."""
    start = time.perf_counter()
    setup = trace_experiments.prepare(HALF_BUDGET_TEACHER, "half-budget", profile)
    one, several = setup.traces(temperature, 1), setup.traces(temperature, k)
    traces = {UNFILTERED: one.traces("unfiltered"), FILTERED: one.traces("first"),
              MATCHED: curation.matched(one.traces("unfiltered"), one.traces("first")),
              BEST_OF_K: several.traces("first")}
    arms = {UNFILTERED: trace_experiments.traces_arm(setup, one, "unfiltered"),
            FILTERED: trace_experiments.traces_arm(setup, one),
            MATCHED: matched_arm(setup, one, traces[MATCHED]),
            BEST_OF_K: trace_experiments.traces_arm(setup, several)}
    return {"profile": profile.name, "seeds": list(profile.seeds), "teacher": "half-budget",
            "temperature": temperature, "k": k, "prompts": setup.num_prompts,
            "student_steps": profile.trace_student_steps, "batch_size": profile.batch_size,
            "acceptance": {1: one.acceptance_by_difficulty(), k: several.acceptance_by_difficulty()},
            "traces": {name: len(pairs) for name, pairs in traces.items()},
            "wrong_share": {name: wrong_share(pairs) for name, pairs in traces.items()},
            "hard_share": {name: sum(p.difficulty >= 4 for p, _ in pairs) / len(pairs) for name, pairs in traces.items()},
            "teacher_data_flops": {name: arm.teacher_data_flops for name, arm in arms.items()},
            "comparisons": {"filter": compare(setup, arms)}, "seconds": time.perf_counter() - start}


@dataclass(frozen=True)
class FilterComparisons:
    filter: Comparison  # the four arms, on the same seeds


@dataclass(frozen=True)
class FilterSweeps(Stored):
    """`reference/filter_sweeps.json`, read (`load_sweeps`); the per-arm facts are keyed by arm name."""
    teacher: str
    temperature: float
    k: int
    prompts: int
    student_steps: int
    batch_size: int
    acceptance: dict[int, dict[int, float]]  # samples per prompt (1, k) -> difficulty -> share right
    traces: dict[str, int]
    wrong_share: dict[str, float]
    hard_share: dict[str, float]  # share of 4-5-step problems
    teacher_data_flops: dict[str, float]
    comparisons: FilterComparisons

    def acceptance_line(self) -> str:
        """The half-budget teacher's share of right samples by difficulty, one sample per prompt."""
        return (f"{self.teacher} teacher, T = {self.temperature:g}: share of samples right by difficulty: "
                + ", ".join(f"{d} steps {100 * a:.0f} %" for d, a in self.acceptance[1].items()))


def questions(stored: FilterSweeps) -> dict[str, Question]:
    """The three questions of the filter study, by name."""
    return {"wrong traces": Question("wrong traces, same number per difficulty", MATCHED, FILTERED),
            "k = 1": Question("the filter at k = 1 (fewer traces)", UNFILTERED, FILTERED),
            "best of k": Question(f"the filter at best of {stored.k}", UNFILTERED, BEST_OF_K)}


def gains(stored: FilterSweeps) -> dict[str, PairedGain]:
    """The three questions, seed by seed: do wrong traces hurt (at equal numbers)? does the filter
    pay at k = 1, and at best of k?"""
    return {name: question.gain(stored.comparisons.filter) for name, question in questions(stored).items()}


def question_rows(stored: FilterSweeps) -> list[dict]:
    """The questions as the rows of a table, with their verdicts."""
    return [question.row(stored.comparisons.filter) for question in questions(stored).values()]


ARMS_TABLE_FORMATS = {"wrong (%)": ".1f", "4-5 steps (%)": ".0f", "teacher data FLOPs": ".3g", "student, mean (%)": ".1f"}


def arms_table(stored: FilterSweeps) -> list[dict]:
    """One row per arm: its traces, how many are wrong, how many are hard, what they cost the
    teacher, and the student's mean accuracy over the seeds (shown in `ARMS_TABLE_FORMATS`)."""
    return [{"arm": arm, "traces": stored.traces[arm], "wrong (%)": 100 * stored.wrong_share[arm],
             "4-5 steps (%)": 100 * stored.hard_share[arm], "teacher data FLOPs": stored.teacher_data_flops[arm],
             "student, mean (%)": mean_over_seeds(runs)}
            for arm, runs in stored.comparisons.filter.items()]


def dropped_by_filter(stored: FilterSweeps) -> tuple[float, float]:
    """What the filter at k = 1 threw away: its share of the unfiltered traces, and the share of
    those it threw away that were 4-5-step problems."""
    traces, hard = stored.traces, stored.hard_share
    dropped = traces[UNFILTERED] - traces[FILTERED]
    hard_dropped = hard[UNFILTERED] * traces[UNFILTERED] - hard[FILTERED] * traces[FILTERED]
    return dropped / traces[UNFILTERED], hard_dropped / dropped


def load_sweeps(path=SWEEPS_PATH) -> FilterSweeps:
    return read(path, FilterSweeps, measure_sweeps, COMMAND)


def main(argv: list[str] | None = None) -> None:
    sweep_command("Measure when chapter 03's verifier filter pays, and store it.", measure_sweeps, SWEEPS_PATH, argv)


if __name__ == "__main__":
    from distillab.runtime import run_command

    sys.exit(run_command(main, "distillab.filter_experiments"))
