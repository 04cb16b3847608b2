"""Chapter 03's experiments: reasoning-trace distillation (black-box: only the teacher's text).

The teacher samples a trace for each new prompt, the verifier keeps the right ones, and a student
is fine-tuned on them (the R1-Distill / s1 / Sky-T1 recipe). Every arm trains the same student
(size, initialisation seed, optimizer steps, batch) on the same prompts and changes one thing:
what text it learns from.

    python -m distillab.trace_experiments     # every comparison at the standard profile (~20 min on 2 cores)

writes `reference/trace_sweeps.json`, which chapter 03 reads and plots.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from distillab import curation, world
from distillab.evaluation import vote_at_k
from distillab.ledger import Ledger
from distillab.models import STUDENT_SIZE, Provenance, count_parameters, load_model, matmul_parameters, save_model
from distillab.profiles import Profile, get_profile
from distillab.sampling import TraceSamples, by_difficulty, sample_traces
from distillab.students import PairedGain, StudentRun, paired_gain, run_arms, run_from_dict, run_to_dict
from distillab.training import History
from distillab.sweeps import load_stored, sweep_command
from distillab.teacher import teacher_problems
from distillab.training import TrainingSet, sft_objective
from distillab.workspace import REFERENCE_DIR, REFERENCE_TEACHER, workspace

TRACE_SEED = 3  # the trace prompts: training-split problems, never held-out ones, new to the teacher where the world allows
FRESH_FROM = 3  # from this many steps on, no trace prompt is a problem the teacher trained on (fewer: the world is too small)
RECIPE_TEMPERATURE = 1.0  # the recipe samples its traces (T = 1: the teacher's own distribution), it does not decode greedily
HOT_TEMPERATURE = 1.6  # a temperature at which the teacher is often wrong, so the filter has something to do
ANSWER_ONLY, FILTERED, UNFILTERED, GOLD = ("answer-only", "teacher traces, filtered", "teacher traces, unfiltered",
                                           "gold traces")
# Students here draw batches in proportion to completion tokens, not examples: a 5-step trace
# teaches the step operation five times, a 1-step trace once. Drawn by examples (the default of
# chapters 01-02), the same student on the same traces lands 38-84 % over three seeds at the
# standard budget; by tokens, far more reliably (the "mix" comparison in the stored sweeps).
TRACE_MIX = "tokens"
SWEEPS_PATH = REFERENCE_DIR / "trace_sweeps.json"


@dataclass
class TraceSetup:
    """A teacher, the new prompts it writes traces for, the held-out test set and the budget."""
    teacher_name: str
    teacher: object
    tokenizer: object
    prompts: dict[int, list[world.Problem]]  # difficulty -> prompts
    held_out: dict[int, list[world.Problem]]
    profile: Profile
    new_to_teacher: dict[int, int] = field(default_factory=dict)  # difficulty -> prompts the teacher never trained on
    samples: dict = field(default_factory=dict)  # (temperature, k) -> TraceSamples

    @property
    def num_prompts(self) -> int:
        return sum(len(level) for level in self.prompts.values())

    def traces(self, temperature: float = RECIPE_TEMPERATURE, k: int = 1) -> TraceSamples:
        """The teacher's k samples per prompt at `temperature`, drawn once (seeded) and kept."""
        if (temperature, k) not in self.samples:
            problems = [p for _, level in sorted(self.prompts.items()) for p in level]
            self.samples[temperature, k] = sample_traces(self.teacher, self.tokenizer, problems, k, temperature)
        return self.samples[temperature, k]

    def answer_only(self) -> TrainingSet:
        """prompt -> `answer 9`: what a team without a teacher (or without its reasoning) trains on."""
        return TrainingSet.from_problems(self.prompts, self.tokenizer, style="answer")

    def gold_traces(self) -> TrainingSet:
        """The program's own chain of thought for the same prompts: the ground truth, not a model's text."""
        return TrainingSet.from_problems(self.prompts, self.tokenizer, style="trace")


def trace_prompts(num_prompts: int, held_out: dict[int, list[world.Problem]],
                  teacher_seen: dict[int, set] | None = None) -> dict[int, list[world.Problem]]:
    """`num_prompts` training problems, an equal share per difficulty, none held out. From
    FRESH_FROM steps on, none is a problem the teacher trained on either (`teacher_seen`: the
    signatures of its training problems); below, the world has only a few hundred (1 step) or a
    few thousand (2 steps) distinct problems and the teacher saw almost all of them."""
    if isinstance(num_prompts, bool) or not isinstance(num_prompts, int) or num_prompts < len(world.DIFFICULTIES):
        raise ValueError(f"num_prompts must be a whole number >= {len(world.DIFFICULTIES)} (one per difficulty), "
                         f"got {num_prompts!r}")
    held = {p.signature for level in held_out.values() for p in level}
    seen = teacher_seen or {}
    return {d: world.sample_problems(num_prompts // len(world.DIFFICULTIES), d, TRACE_SEED,
                                     exclude=held | (seen.get(d, set()) if d >= FRESH_FROM else set()))
            for d in world.DIFFICULTIES}


def prepare(teacher_dir: Path, teacher_name: str, profile: Profile | None = None,
            num_prompts: int | None = None) -> TraceSetup:
    """Load the teacher and draw `num_prompts` new prompts (default: the profile's trace_prompts),
    counting per difficulty how many are new to the teacher (from its provenance: profile and seed)."""
    profile = profile or get_profile()
    num_prompts = profile.trace_prompts if num_prompts is None else num_prompts
    teacher, tokenizer, provenance = load_model(teacher_dir)
    held_out = world.held_out_problems(profile.eval_per_difficulty)
    trained_on = teacher_problems(get_profile(provenance.profile) if provenance.profile else profile, provenance.seed)
    seen = {d: {p.signature for p in level} for d, level in trained_on.items()}
    prompts = trace_prompts(num_prompts, held_out, seen)
    new = {d: sum(p.signature not in seen.get(d, set()) for p in level) for d, level in prompts.items()}
    return TraceSetup(teacher_name, teacher, tokenizer, prompts, held_out, profile, new)


def student_config(profile: Profile, mix: str = TRACE_MIX):
    """The TrainingConfig of this chapter's students: the profile's trace_student_steps, batches by `mix`."""
    return replace(profile.student_config(num_steps=profile.trace_student_steps), mix=mix)


def compare(setup: TraceSetup, arms: dict[str, TrainingSet], teacher_flops: dict[str, float] | None = None,
            seeds: tuple[int, ...] | None = None, ledger: Ledger | None = None,
            mix: str = TRACE_MIX) -> dict[str, list[StudentRun]]:
    """SFT on each arm's data, every arm on every seed, same student and steps, batches drawn by
    `mix`. `teacher_flops[arm]` (the generation FLOPs its traces cost) goes into the ledger with the run."""
    seeds = setup.profile.seeds if seeds is None else seeds
    arm_extra = {arm: {"teacher_generation_flops": flops} for arm, flops in (teacher_flops or {}).items()}
    return run_arms({arm: (data, sft_objective) for arm, data in arms.items()}, list(seeds), setup.tokenizer,
                    setup.held_out, student_config(setup.profile, mix), ledger=ledger,
                    profile=setup.profile.name, arm_extra=arm_extra,
                    extra={"teacher": setup.teacher_name, "chapter": "03", "prompts": setup.num_prompts, "mix": mix})


def recipe(setup: TraceSetup, temperature: float = RECIPE_TEMPERATURE, k: int = 1, keep: str = "first",
           mix: str = TRACE_MIX) -> dict:
    """What a filtered-trace student was trained on and how: chapter 04 continues a saved one only
    if it was made exactly by its own recipe."""
    return {"chapter": "03", "arm": FILTERED, "teacher": setup.teacher_name, "prompts": setup.num_prompts,
            "temperature": float(temperature), "k": k, "keep": keep, "mix": mix,
            "steps": setup.profile.trace_student_steps, "batch_size": setup.profile.batch_size}


def student_dir(profile: Profile, seed: int) -> Path:
    """Where the filtered-trace student of `seed` is saved, in the learner's workspace."""
    return workspace(profile.name) / "students" / f"03-trace-sft-seed{seed}"


def save_students(runs: list[StudentRun], setup: TraceSetup, made_by: dict) -> list[Path]:
    """Save each run's student (safetensors, with its provenance and recipe `made_by`) for chapter 04."""
    return [save_model(run.model, setup.tokenizer, student_dir(setup.profile, run.seed),
                       Provenance(size=STUDENT_SIZE, seed=run.seed, profile=setup.profile.name, steps=run.steps,
                                  parameters=count_parameters(run.model), accuracy=run.accuracy, flops=run.flops,
                                  seconds=run.seconds, extra={"recipe": made_by, "data_size": run.data_size}))
            for run in runs]


def load_student(setup: TraceSetup, seed: int, made_by: dict) -> StudentRun | None:
    """The saved filtered-trace student of `seed`, if one was made by exactly `made_by`; else None."""
    folder = student_dir(setup.profile, seed)
    if not (folder / "model.safetensors").is_file():
        return None
    model, _, provenance = load_model(folder)
    if provenance.extra.get("recipe") != made_by:
        return None
    return StudentRun(FILTERED, seed, provenance.accuracy, provenance.flops, provenance.seconds, provenance.steps,
                      provenance.extra["data_size"], History(), model)


def _rows(runs: dict[str, list[StudentRun]]) -> dict[str, list[dict]]:
    return {arm: [run_to_dict(r) for r in rs] for arm, rs in runs.items()}


def measure_sweeps(profile: Profile, n_values: tuple[int, ...] = (250, 1000), selection_n: int = 1000,
                   vote_ks: tuple[int, ...] = (1, 2, 4, 8, 16), vote_temperatures: tuple[float, ...] = (0.5, 1.0)) -> dict:
    """Every comparison of chapter 03 at `profile`, on its seeds, with the reference teacher."""
    start = time.perf_counter()
    setup = prepare(REFERENCE_TEACHER, "reference", profile)
    recipe, hot = setup.traces(RECIPE_TEMPERATURE), setup.traces(HOT_TEMPERATURE)
    tokenizer = setup.tokenizer
    results: dict = {"profile": profile.name, "seeds": list(profile.seeds), "student_steps": profile.trace_student_steps,
                     "batch_size": profile.batch_size, "prompts": setup.num_prompts, "mix": TRACE_MIX,
                     "teacher_matmul_parameters": matmul_parameters(setup.teacher), "sweeps": {}}
    results["sampling"] = {str(t): {"acceptance": s.acceptance_by_difficulty(), "kept": len(s.traces("first")),
                                    "flops": s.flops, "seconds": s.seconds}
                           for t, s in ((RECIPE_TEMPERATURE, recipe), (HOT_TEMPERATURE, hot))}
    arms = {ANSWER_ONLY: setup.answer_only(), FILTERED: recipe.training_set(tokenizer, "first"),
            UNFILTERED: recipe.training_set(tokenizer, "unfiltered"), GOLD: setup.gold_traces(),
            f"{FILTERED}, T={HOT_TEMPERATURE:g}": hot.training_set(tokenizer, "first"),
            f"{UNFILTERED}, T={HOT_TEMPERATURE:g}": hot.training_set(tokenizer, "unfiltered")}
    pool = recipe.traces("first")
    for n in n_values:
        arms[f"N={n}"] = TrainingSet.from_texts(by_difficulty(curation.select(pool, n, "random")), tokenizer)
    chosen = {rule: curation.select(pool, selection_n, rule) for rule in curation.RULES}
    # In this world every step adds the same number of tokens, so "longest" may pick exactly the
    # "hardest" traces, in the same order; then it is trained once and reported under both names.
    same = [id(t) for t in chosen["longest"]] == [id(t) for t in chosen["hardest"]]
    for rule in ("hardest", "diverse") if same else ("hardest", "longest", "diverse"):
        arms[f"{rule} {selection_n}"] = TrainingSet.from_texts(by_difficulty(chosen[rule]), tokenizer)
    results["selection"] = {rule: curation.describe(traces) for rule, traces in chosen.items()}
    results["selection"]["longest_equals_hardest"] = same
    results["selection"]["longest_and_hardest_share"] = len({id(t) for t in chosen["longest"]} & {id(t) for t in chosen["hardest"]})
    results["pool"] = curation.describe(pool)
    runs = compare(setup, arms)
    runs["batches by examples"] = compare(setup, {FILTERED: arms[FILTERED]}, mix="examples")[FILTERED]
    results["sweeps"]["arms"] = _rows({a: runs[a] for a in (ANSWER_ONLY, FILTERED, UNFILTERED, GOLD)})
    results["sweeps"]["filter"] = {
        str(RECIPE_TEMPERATURE): _rows({FILTERED: runs[FILTERED], UNFILTERED: runs[UNFILTERED]}),
        str(HOT_TEMPERATURE): _rows({FILTERED: runs[f"{FILTERED}, T={HOT_TEMPERATURE:g}"],
                                     UNFILTERED: runs[f"{UNFILTERED}, T={HOT_TEMPERATURE:g}"]})}
    results["sweeps"]["mix"] = _rows({"batches by tokens": runs[FILTERED], "batches by examples": runs["batches by examples"]})
    results["sweeps"]["N"] = {str(n): _rows({FILTERED: runs[f"N={n}"]}) for n in n_values}
    results["sweeps"]["N"][str(len(pool))] = _rows({FILTERED: runs[FILTERED]})
    results["teacher_flops_per_trace"] = recipe.flops_per_trace("first")
    results["sweeps"]["selection"] = _rows({"random": runs[f"N={selection_n}"],
                                            **{rule: runs[f"{'hardest' if same and rule == 'longest' else rule} {selection_n}"]
                                               for rule in ("hardest", "longest", "diverse")}})
    results["vote"] = {}
    for temperature in vote_temperatures:
        curves = [vote_at_k(run.model, tokenizer, setup.held_out, vote_ks, temperature) for run in runs[FILTERED]]
        results["vote"][str(temperature)] = [
            {"seed": run.seed, "greedy": run.accuracy, "accuracy": {str(k): c.accuracy[k] for k in c.ks},
             "flops": {str(k): c.flops[k] for k in c.ks}} for run, c in zip(runs[FILTERED], curves)]
    results["seconds"] = time.perf_counter() - start
    return results


def comparisons(sweeps: dict) -> list[dict]:
    """Every question chapter 03 asks of the stored runs, as table rows: the arm against its
    baseline seed by seed (points of mean accuracy) and the verdict that holds on every seed."""
    arms, hot, n, selection = (sweeps["sweeps"][key] for key in ("arms", "filter", "N", "selection"))
    hot = hot[str(HOT_TEMPERATURE)]
    sizes = sorted(n, key=int)
    pairs = [("traces vs answers", arms[ANSWER_ONLY], arms[FILTERED], ANSWER_ONLY, FILTERED),
             ("the filter at T=1", arms[UNFILTERED], arms[FILTERED], UNFILTERED, FILTERED),
             (f"the filter at T={HOT_TEMPERATURE:g}", hot[UNFILTERED], hot[FILTERED], UNFILTERED, FILTERED),
             ("the teacher's text vs the truth", arms[GOLD], arms[FILTERED], GOLD, FILTERED)]
    mix = sweeps["sweeps"]["mix"]
    pairs.append(("batches by tokens vs by examples", mix["batches by examples"], mix["batches by tokens"],
                  "by examples", "by tokens"))
    pairs += [("more traces", n[small][FILTERED], n[large][FILTERED], f"N={small}", f"N={large}")
              for small, large in zip(sizes, sizes[1:])]
    pairs += [("selection", selection["random"], selection[rule], "random", rule)
              for rule in ("hardest", "longest", "diverse")]
    rows = []
    for question, baseline, arm, baseline_name, arm_name in pairs:
        gain = paired_gain([run_from_dict(r) for r in baseline], [run_from_dict(r) for r in arm])
        rows.append(_row(question, baseline_name, arm_name, gain))
    for temperature, per_seed in sweeps["vote"].items():
        largest = max(int(k) for k in per_seed[0]["accuracy"])
        gains = tuple(100 * (world.mean_accuracy({int(d): v for d, v in seed["accuracy"][str(largest)].items()})
                             - world.mean_accuracy({int(d): v for d, v in seed["greedy"].items()}))
                      for seed in per_seed)
        rows.append(_row(f"majority vote (T={float(temperature):g})", "greedy", f"vote@{largest}",
                         PairedGain(tuple(seed["seed"] for seed in per_seed), gains)))
    return rows


def _row(question: str, baseline: str, arm: str, gain: PairedGain) -> dict:
    return {"question": question, "baseline": baseline, "arm": arm, "gain (points)": gain.mean,
            "gain min": gain.low, "gain max": gain.high, "seeds ahead": f"{gain.wins}/{len(gain.gains)}",
            "verdict": gain.verdict}


def load_sweeps(path: Path = SWEEPS_PATH) -> dict:
    return load_stored(path, "python -m distillab.trace_experiments")


def main(argv: list[str] | None = None) -> None:
    sweep_command("Measure chapter 03's comparisons and store them.", measure_sweeps, SWEEPS_PATH, argv)


if __name__ == "__main__":
    main()
