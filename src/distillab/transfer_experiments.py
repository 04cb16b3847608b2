"""Chapter 06's experiment: the course's teacher distilled by its traces into a student of another
architecture *and* another tokenizer (a byte-level BPE that splits numbers into digits, as Qwen2's
does), the case teams meet when teacher and student come from different families.

The prompts, the teacher's traces and the student's budget are chapter 03's (`trace_experiments`),
so the only change is the student: its architecture and the tokens it reads the same text in.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

from distillab import recipe_file, records, reuse, run_recipe, world
from distillab import trace_experiments
from distillab.claims import Claim
from distillab.ledger import Ledger
from distillab.profiles import Profile
from distillab.runtime import machine
from distillab.sampling import TraceSamples
from distillab.comparison import Comparison, PairedGain, Question, mean_accuracy_by_difficulty
from distillab.students import Arm, compare
from distillab.stored_sweeps import Stored, read, sweep_command
from distillab.tokenizer import build_bpe_tokenizer
from distillab.trace_experiments import TraceSetup, student_config
from distillab.workspace import REFERENCE_DIR, REFERENCE_TEACHER

ARCHITECTURE = "qwen2"  # the other family: Llama's layout with biases on q, k and v
# The arms: chapter 03's student (Llama, the teacher's tokenizer), and the other family's student
# (an architecture, a BPE tokenizer of its own), on the same traces.
SAME_FAMILY = "teacher traces, llama + teacher's tokenizer"


def other_family_name(architecture: str = ARCHITECTURE) -> str:
    """The other family's arm: its architecture and the BPE tokenizer."""
    return f"teacher traces, {architecture} + BPE"


OTHER_FAMILY = other_family_name()  # the chapter's default arm, which make bench reads back


def prepare(teacher_dir: Path, teacher_name: str, profile: Profile, num_prompts: int | None = None,
            refresh: bool = False) -> TraceSetup:
    """Chapter 03's setup (teacher, prompts, held-out problems, the student's budget, its traces), for chapter 06."""
    return replace(trace_experiments.prepare(teacher_dir, teacher_name, profile, num_prompts, refresh), chapter="06")


def same_family_arm(setup: TraceSetup, samples: TraceSamples) -> Arm:
    """Chapter 03's recipe as it was: the teacher's filtered traces, the course's own student."""
    return trace_experiments.traces_arm(setup, samples)


def other_family_arm(setup: TraceSetup, samples: TraceSamples, tokenizer=None, architecture: str = ARCHITECTURE) -> Arm:
    """The same filtered traces, as text, read by a student of `architecture` through `tokenizer`
    (default: the BPE tokenizer trained on the world)."""
    tokenizer = tokenizer or build_bpe_tokenizer()
    return Arm(records.TRACES, samples.training_set(tokenizer), training=student_config(setup.profile),
               teacher_data_flops=samples.flops, architecture=architecture, tokenizer=tokenizer,
               settings={"temperature": samples.temperature, "keep": "first", "architecture": architecture,
                         "tokenizer": f"BPE ({len(tokenizer)} tokens)"})


def other_family_longer_arm(setup: TraceSetup, samples: TraceSamples, tokenizer=None, architecture: str = ARCHITECTURE,
               factor: float = 2.0) -> Arm:
    """The other family's arm trained for `factor` times chapter 03's steps (the stored runs: 2)."""
    across = other_family_arm(setup, samples, tokenizer, architecture)
    return replace(across, training=replace(across.training, num_steps=round(factor * across.training.num_steps)))


def tokens_side_by_side(problem: world.Problem, tokenizers: dict) -> list[dict]:
    """How each tokenizer cuts `problem`'s trace: its vocabulary, the trace's tokens, the first few of them."""
    text = problem.trace
    rows = []
    for name, tokenizer in tokenizers.items():
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        shown = [t.replace("Ġ", "␣") for t in tokenizer.convert_ids_to_tokens(ids)[:14]]
        rows.append({"tokenizer": name, "vocabulary": len(tokenizer), "trace tokens": len(ids),
                     "first tokens of the trace": " · ".join(shown)})
    return rows


def _same_recipe(record: records.RunRecord, teacher_sha256: str, settings: dict, steps: int, data_size: int) -> bool:
    """Is `record` a finished run of the SAME_FAMILY arm (chapter 03's filtered traces, or this chapter's
    SAME_FAMILY) from this teacher, with these knobs, budget and number of traces?"""
    made_so = (record.chapter, record.arm) in (("03", trace_experiments.FILTERED), ("06", SAME_FAMILY))
    return made_so and not record.interrupted and record.teacher is not None and (
        record.teacher.weights_sha256, record.settings, record.steps, record.data_size) == (
        teacher_sha256, settings, steps, data_size)


def paired_from_ledger(ledger: Ledger) -> dict:
    """The headline read back from a ledger chapter 06 wrote: the other family's student minus the
    course's student on the same traces (points of mean accuracy, seed by seed: mean, min, max)."""
    entries = ledger.entries()
    across = {r.seed: r for r in entries if (r.chapter, r.arm, r.interrupted) == ("06", OTHER_FAMILY, False)}
    seeds, gains = [], []
    for seed, run in sorted(across.items()):
        # chapter 03's recipe: what same_family_arm records
        settings = trace_experiments.traces_settings(run.settings["temperature"])
        same = [r for r in entries if r.seed == seed
                and _same_recipe(r, run.teacher.weights_sha256, settings, run.steps, run.data_size)]
        if same:
            seeds.append(seed)
            gains.append(100 * (run.mean_accuracy - same[-1].mean_accuracy))
    if not gains:
        raise ValueError(f"the ledger {ledger.path} holds no chapter 06 runs paired by seed: run chapter 06 first")
    return PairedGain(tuple(seeds), tuple(gains)).summary()


def headline(setup: TraceSetup, samples: TraceSamples, ledger: Ledger, seeds=None,
             architecture: str = ARCHITECTURE, tokenizer=None, retrain: bool = False,
             workers: int | None = None) -> Comparison:
    """The same traces into chapter 03's student and into a student of `architecture` reading
    them through `tokenizer` (default: the BPE tokenizer), paired by seed. Chapter 03's student is
    chapter 03's very run (same key), so where chapter 03 trained it, it is read back from the
    ledger (`students.compare`); `retrain` trains both arms again."""
    arms = {SAME_FAMILY: same_family_arm(setup, samples), other_family_name(architecture): other_family_arm(setup, samples, tokenizer, architecture)}
    return compare(setup, arms, seeds, ledger, retrain=retrain, workers=workers)


# Points: the 95 % lower bound of chapter 03's student's lead must reach it (standard, default knobs):
# the largest margin, in tens of points, that three seeds clear in 9 runs of the chapter out of 10
# (`claims.largest_margin`) from every seed of the lead measured so far (the stored sweeps, and a
# live run on another CPU whose bound, +29.6, missed the 30 points asserted before).
MEASURED_LEAD = (72.2, 61.9, 59.1, 40.0, 60.1, 73.1)
LEAD_MARGIN = 20.0
# The other family's 1-step minus 5-step accuracy, measured the same way. Three seeds clear a 95 %
# bound of 0 in only about 84 runs out of 100 at this spread, so the claim keeps the rule that every
# seed is above 0, which the same measurements put at about 99 in 100.
MEASURED_FALL = (63.0, 28.5, 59.0, 23.5, 48.0, 39.0)


def headline_claim(headline: Comparison, architecture: str = ARCHITECTURE) -> Claim:
    """Chapter 06's claim: chapter 03's student leads the other family's, reading the same traces,
    by a 95 % lower bound of `LEAD_MARGIN` points over the seeds."""
    lead = headline.gain(other_family_name(architecture), SAME_FAMILY)
    return Claim.of_gain(f"chapter 03's student leads {other_family_name(architecture)!r}", lead, margin=LEAD_MARGIN)


def falls_with_length_claim(headline: Comparison, architecture: str = ARCHITECTURE) -> Claim:
    """Chapter 06's second claim: the other family's student does worse on the longest problems
    than on 1-step ones (its 1-step minus its 5-step accuracy, in points) on every seed
    (`MEASURED_FALL` says why this rule): each added step is one more sum it can get wrong."""
    name = other_family_name(architecture)
    runs = headline[name]
    shortest, longest = min(world.DIFFICULTIES), max(world.DIFFICULTIES)
    return Claim(f"{name!r} falls from {shortest}-step to {longest}-step problems", tuple(run.seed for run in runs),
                 tuple(100 * (run.accuracy[shortest] - run.accuracy[longest]) for run in runs), rule="every seed")


DEMO_STEPS = {"fast": 40, "standard": 120}  # the command cell's student: seconds, not minutes


def write_demo_recipe(profile: Profile, folder: Path, architecture: str = ARCHITECTURE) -> Path:
    """A small recipe file for the chapter's command cell: the reference teacher's traces into a
    student of `architecture` with the BPE tokenizer, at a budget that runs in seconds. Returns its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"06-demo-{architecture}.toml"
    path.write_text(f"""name = "06 demo, the command cell's small recipe"  # a label: the report and ledger record the kind and student
output = "06-demo-{architecture}"
profile = "{profile.name}"

[teacher]
path = "package:reference/teacher"

[student]
architecture = "{architecture}"
size = "small"
tokenizer = "bpe"

[recipe]
kind = "traces"
temperature = 1.0
verifier_filter = true

[data]
prompts_per_difficulty = 100

[training]
steps = {DEMO_STEPS[profile.name]}
batch_size = 32
warmup_steps = 10
seeds = [0]

[evaluation]
per_difficulty = 40
""")
    return path


def timed_recipe_runs(path: Path, processes: tuple[int, ...], profile: Profile, refresh: bool = False) -> dict[int, float]:
    """The recipe file at `path` run by the recipe command on each number of `processes`, one after
    the other (`run_recipe.launch`), with each run's wall time in seconds. Run once per recipe text,
    recipe code and machine, then read back while the last run's report is in the recipe's output
    folder (`refresh`, or a missing report, runs them again)."""
    output = recipe_file.load_recipe(path).output
    refresh = refresh or not (Path(output) / "report.json").is_file()

    def measure() -> dict:
        return {str(n): run_recipe.launch(path, n) for n in processes}

    ingredients = {"recipe": Path(path).read_text(encoding="utf-8"), "processes": list(processes),
                   "recipe code": reuse.code_version({module.__name__: Path(module.__file__).read_text(encoding="utf-8")
                                                       for module in (run_recipe, recipe_file)}),
                   "machine": machine()}
    kept = reuse.remembered(profile, "the recipe command's runs", ingredients, measure, refresh)
    return {n: kept[str(n)] for n in processes}


# The stored runs (`make transfer-sweeps`): what the other family's student learns from answers
# alone, and from the same traces with twice the steps.
OTHER_FAMILY_ANSWERS = f"answers only, {ARCHITECTURE} + BPE"
OTHER_FAMILY_LONGER = f"{OTHER_FAMILY}, 2x steps"
SWEEPS_PATH = REFERENCE_DIR / "transfer_sweeps.json"
COMMAND = "python -m distillab.transfer_experiments"


def other_family_answers_arm(setup: TraceSetup, tokenizer=None, architecture: str = ARCHITECTURE) -> Arm:
    """The other family's student on the answers alone (`answer 12`), same prompts and budget."""
    tokenizer = tokenizer or build_bpe_tokenizer()
    return Arm(records.ANSWERS_ONLY, setup.answers_only(tokenizer), training=student_config(setup.profile),
               architecture=architecture, tokenizer=tokenizer,
               settings={"architecture": architecture, "tokenizer": f"BPE ({len(tokenizer)} tokens)"})


def measure_sweeps(profile: Profile) -> dict:
    """The other family's student on answers alone, on the traces, and on the traces with twice
    the steps, on the profile's seeds, with the reference teacher."""
    start = time.perf_counter()
    setup = prepare(REFERENCE_TEACHER, "the reference", profile)
    samples, bpe = setup.traces(), build_bpe_tokenizer()
    runs = compare(setup, {OTHER_FAMILY_ANSWERS: other_family_answers_arm(setup, bpe), OTHER_FAMILY: other_family_arm(setup, samples, bpe),
                           OTHER_FAMILY_LONGER: other_family_longer_arm(setup, samples, bpe)})
    return {"profile": profile.name, "seeds": list(profile.seeds), "architecture": ARCHITECTURE,
            "student_steps": profile.trace_student_steps, "batch_size": profile.batch_size,
            "prompts": setup.num_prompts, "comparisons": {"across": runs}, "seconds": time.perf_counter() - start}


QUESTIONS = {  # name -> the question: its label, its baseline arm, the arm compared with it
    "traces vs answers": Question("traces vs answers, across tokenizers", OTHER_FAMILY_ANSWERS, OTHER_FAMILY),
    "twice the steps": Question("twice the steps", OTHER_FAMILY, OTHER_FAMILY_LONGER),
    "vs chapter 03": Question("twice the steps vs chapter 03's student", SAME_FAMILY, OTHER_FAMILY_LONGER),
}


@dataclass(frozen=True)
class TransferComparisons:
    across: Comparison  # the other family's student: answers, traces, traces with twice the steps


@dataclass(frozen=True)
class TransferSweeps(Stored):
    """`reference/transfer_sweeps.json`, read (`load_sweeps`)."""
    architecture: str
    student_steps: int
    batch_size: int
    prompts: int
    comparisons: TransferComparisons

    def describe(self) -> str:
        return self.measured_with(f"{self.student_steps} steps x {self.batch_size}, {self.prompts} prompts, "
                                  f"the other family's student {self.architecture} + BPE")


def with_chapter_03(stored: TransferSweeps, chapter_03: trace_experiments.TraceSweeps | None = None) -> Comparison:
    """The stored runs, with chapter 03's own stored student (`trace_experiments.load_sweeps()`: the same traces,
    budget and seeds) first, under the live comparison's name, when it is given."""
    runs = stored.comparisons.across
    if chapter_03 is None:
        return runs
    return Comparison({SAME_FAMILY: chapter_03.comparisons.arms[trace_experiments.FILTERED], **runs})


def gains(stored: TransferSweeps, chapter_03: trace_experiments.TraceSweeps | None = None) -> dict[str, PairedGain]:
    """Does trace distillation survive the tokenizer change (traces against answers, both through
    the BPE tokenizer), and how much do twice the steps add? With chapter 03's stored comparisons,
    also: do twice the steps catch up with chapter 03's own student?"""
    runs = with_chapter_03(stored, chapter_03)
    return {name: question.gain(runs) for name, question in QUESTIONS.items() if question.baseline in runs}


def stored_table(stored: TransferSweeps, chapter_03: trace_experiments.TraceSweeps) -> list[dict]:
    """The stored runs, each against the answers alone through the BPE tokenizer, with chapter 03's
    own stored student first, under the live comparison's name."""
    return with_chapter_03(stored, chapter_03).table(baseline=OTHER_FAMILY_ANSWERS)


def live_and_stored(headline: Comparison, chapter_03: trace_experiments.TraceSweeps) -> str:
    """Chapter 03's student in this run's headline beside the stored one (`trace_experiments.load_sweeps()`), seed by seed."""
    live = {run.seed: 100 * run.mean_accuracy for run in headline[SAME_FAMILY]}
    stored = {run.seed: 100 * run.mean_accuracy
              for run in chapter_03.comparisons.arms[trace_experiments.FILTERED]}
    seeds = sorted(live.keys() & stored.keys())
    return ("chapter 03's student, your run against the stored one: "
            + ", ".join(f"seed {seed} {live[seed]:.1f} % against {stored[seed]:.1f} %" for seed in seeds)
            + (" (no seed in common)" if not seeds else ""))


def question_rows(stored: TransferSweeps, chapter_03: trace_experiments.TraceSweeps | None = None) -> list[dict]:
    """The questions as the rows of a table, with their verdicts."""
    runs = with_chapter_03(stored, chapter_03)
    return [question.row(runs) for question in QUESTIONS.values() if question.baseline in runs]


STEP_BUDGETS = {"1x steps": OTHER_FAMILY, "2x steps": OTHER_FAMILY_LONGER}  # the stored trace arms, by their budget


def compounding(stored: TransferSweeps, arms: dict[str, str] = STEP_BUDGETS) -> dict[str, dict[int, tuple[float, float]]]:
    """Why twice the steps jump so far: a k-step problem is right only when all k of its steps are.
    If one step is right with probability p (the student's accuracy on 1-step problems), k steps are
    right with about p**k. For each stored trace arm (label -> arm): difficulty -> (measured
    accuracy, p**k), both means over the seeds."""
    runs = stored.comparisons.across
    out = {}
    for label, arm in arms.items():
        by_level = mean_accuracy_by_difficulty(runs[arm])
        out[label] = {d: (accuracy, by_level[1] ** d) for d, accuracy in by_level.items()}
    return out


def compounding_table(compounded: dict[str, dict[int, tuple[float, float]]]) -> list[dict]:
    """`compounding` as rows, one per difficulty: each arm's measured accuracy beside p**k, in %."""
    rows = []
    for d in next(iter(compounded.values())):
        row = {"steps in the problem": d}
        for label, by_level in compounded.items():
            measured, predicted = by_level[d]
            row |= {f"{label}: measured (%)": round(100 * measured, 1), f"{label}: p^k (%)": round(100 * predicted, 1)}
        rows.append(row)
    return rows


def compounding_gap(compounded: dict[str, dict[int, tuple[float, float]]]) -> float:
    """The largest distance, in points, between a measured accuracy and its p**k."""
    return max(100 * abs(measured - predicted) for levels in compounded.values() for measured, predicted in levels.values())


def describe_compounding(compounded: dict[str, dict[int, tuple[float, float]]]) -> list[str]:
    """One line per arm: its p, what p**k makes of the longest problems, and the mean over difficulties."""
    lines = []
    for label, levels in compounded.items():
        p, longest = levels[1][1], max(levels)
        measured, predicted = (100 * world.mean_accuracy({d: pair[i] for d, pair in levels.items()}) for i in (0, 1))
        lines.append(f"{label}: one step right {100 * p:.1f} % of the time, so {longest} steps {100 * p ** longest:.1f} %; "
                     f"mean over difficulties {predicted:.1f} % by p^k, {measured:.1f} % measured")
    return lines


def load_sweeps(path: Path = SWEEPS_PATH) -> TransferSweeps:
    return read(path, TransferSweeps, measure_sweeps, COMMAND)


def main(argv: list[str] | None = None) -> None:
    sweep_command("Measure chapter 06's stored comparisons and store them.", measure_sweeps, SWEEPS_PATH, argv)


if __name__ == "__main__":
    from distillab.runtime import run_command

    sys.exit(run_command(main, "distillab.transfer_experiments"))
