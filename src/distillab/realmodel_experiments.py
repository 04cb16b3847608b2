"""Chapter 07's experiments: a real pretrained model, SmolLM2-135M-Instruct (`realmodel`), asked the
world's problems in plain English through its chat template and graded by the free-text verifier
(`answers`). As it comes; as the student of the course teacher's verified traces, rendered as its
replies (full fine-tuning and LoRA, against the answers alone, paired by seed); and as a teacher
whose samples the verifier must filter.

    python -m distillab.realmodel_experiments     # the stored runs (standard profile, ~25 min on 2 cores)

writes `reference/realmodel_sweeps.json`: LoRA against full fine-tuning, and the real model's own
samples (filtered or not) as its training data, which chapter 07 reads.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

from transformers import PreTrainedTokenizerBase

from distillab import knobs, realmodel, records, world
from distillab.answers import parse_final_answer
from distillab.architectures import (LoraSettings, chat_renderings, load_causal_lm, natural_question, load_checkpoint_tokenizer, prompt_text,
                                     trainable_parameters, with_lora,
                                     ready_for_generation)
from distillab.evaluation import Evaluation, evaluate
from distillab.ledger import Ledger
from distillab.models import count_parameters
from distillab.profiles import Profile, RealModelBudget, get_profile
from distillab.records import Compute, RunRecord
from distillab.runtime import peak_memory_mb
from distillab.cost import H100, GpuAssumptions, dollars
from distillab.sampling import TraceSamples, generate, sample_traces, training_set
from distillab.comparison import Comparison, PairedGain, StudentRun, mean_of
from distillab.students import Arm, Setup, compare, load_teacher
from distillab.sweeps import load, sweep_command
from distillab.training import TrainingConfig, TrainingSet, train
from distillab.workspace import REFERENCE_DIR, REFERENCE_TEACHER

CHAPTER = "07"
FORMAT = "natural"  # the real model is asked in plain English, through its chat template
DATA_SEED = 7  # the training problems (never held-out ones)
# The arms. Every one starts from the real model as it comes and trains the same steps and batch.
AS_IT_COMES = "as it comes"
TRACES = "course teacher's traces, full fine-tuning"
ANSWERS = "answers only, full fine-tuning"
TRACES_LORA = "course teacher's traces, LoRA"
ANSWERS_LORA = "answers only, LoRA"
OWN_FILTERED = "its own samples, verified"
OWN_UNFILTERED = "its own samples, unfiltered"
FINE_TUNINGS = ("lora", "full")
FINE_TUNING = "lora"  # the live headline: LoRA costs less time and memory a step; at the stored settings it learns less (stored runs)
LEARNING_RATE = 1e-4  # every weight trains: a small step keeps what pretraining taught
LORA = LoraSettings(rank=16, alpha=32.0)
LORA_LEARNING_RATE = 1e-3  # only the small adapters train, from zero: they take larger steps
SAMPLING_TEMPERATURE = 0.7  # the real model as a teacher
OWN_PROMPTS_PER_DIFFICULTY, OWN_SAMPLES_PER_PROMPT = 20, 4  # the stored study of the real model as a teacher
SWEEPS_PATH = REFERENCE_DIR / "realmodel_sweeps.json"
COMMAND = "python -m distillab.realmodel_experiments"


@dataclass(kw_only=True)
class RealSetup(Setup):
    """Chapter 07's setup: the course teacher (`teacher`, `tokenizer`), the real model's checkpoint
    and tokenizer, the training problems and the chapter's budget."""
    student_folder: Path
    student_tokenizer: PreTrainedTokenizerBase
    prompts: dict[int, list[world.Problem]]  # difficulty -> training problems
    budget: RealModelBudget


def prepare(teacher_dir: Path, teacher_name: str, profile: Profile, steps: int | None = None) -> RealSetup:
    """The course teacher, the real model (fetched at set-up: `realmodel.checkpoint`), held-out
    and training problems, and a fine-tuning budget, all at `profile` (`steps` overrides its
    fine-tuning steps)."""
    folder = realmodel.checkpoint()
    budget = profile.real_model
    steps = budget.steps if steps is None else knobs.whole_number("STEPS (fine-tuning steps)", steps, 1)
    teacher, tokenizer, _, teacher_ref = load_teacher(teacher_dir, teacher_name)
    held_out = world.held_out_problems(budget.eval_per_difficulty)
    training = TrainingConfig(num_steps=steps, batch_size=budget.batch_size, learning_rate=LEARNING_RATE,
                              warmup_steps=max(1, steps // 10) if steps > 1 else 0, weight_decay=0.0)
    return RealSetup(chapter=CHAPTER, profile=profile, teacher=teacher, tokenizer=tokenizer, teacher_ref=teacher_ref,
                     held_out=held_out, training=training, student_folder=folder,
                     student_tokenizer=ready_for_generation(load_checkpoint_tokenizer(folder)),
                     prompts=world.training_problems(budget.prompts_per_difficulty, DATA_SEED, held_out),
                     budget=budget)


def caveat(setup: RealSetup) -> str:
    """What this run's budget can show, printed under the profile: the chapter's own words at the
    fast profile, where a few steps and a few problems decide nothing (the profile's own caveat
    speaks of the small students of chapters 01-06)."""
    if setup.profile.name == "standard":
        return setup.profile.caveat
    problems = sum(len(level) for level in setup.held_out.values())
    return (f"The {setup.profile.name} profile is a smoke test here: each arm fine-tunes {setup.training.num_steps} steps "
            f"and is graded on {problems} problems ({len(next(iter(setup.held_out.values())))} per difficulty), so one "
            f"problem moves the mean accuracy by {100 / problems:.0f} points. That is too little for the traces to show what "
            "they teach: their gain over the answers alone may come out negative. The chapter asserts its claims at "
            "the standard profile.")


def load_student(setup: RealSetup):
    """The real model as it comes (a fresh copy from disk)."""
    return load_causal_lm(setup.student_folder)[0]


def as_it_comes(setup: RealSetup, ledger: Ledger | None = None) -> tuple[Evaluation, RunRecord]:
    """The real model before any training: greedy answers to the held-out problems in plain
    English, with room for its own long-winded style; recorded in `ledger` (its pretraining, done
    elsewhere, is not counted)."""
    model = load_student(setup)
    evaluation = evaluate(model, setup.student_tokenizer, setup.held_out, prompt_format=FORMAT,
                          max_new_tokens=setup.budget.as_it_comes_max_new_tokens)
    source = realmodel.source(setup.student_folder)
    record = RunRecord(chapter=CHAPTER, family=records.PRETRAINED, arm=AS_IT_COMES, profile=setup.profile.name,
                       seed=0, model_size=setup.student_folder.name, parameters=count_parameters(model), data_size=0,
                       steps=0, seconds=0.0, accuracy=evaluation.accuracy, compute=Compute(0.0, evaluation=evaluation.flops),
                       settings={"source": source["origin"]}, weights_sha256=source["weights_sha256"])
    if ledger is not None and not any(_same_model_and_result(record, entry) for entry in ledger.entries()):
        ledger.record(record)  # once: a run of the chapter again finds the same model with the same result
    return evaluation, record


def _same_model_and_result(record: RunRecord, entry: RunRecord) -> bool:
    return replace(entry, timestamp=record.timestamp, numerics=record.numerics, key=record.key) == record


def answers_shown(setup: RealSetup, evaluation: Evaluation, per_verdict: int = 2, width: int = 160) -> list[dict]:
    """A few of the model's answers, right ones and wrong ones, with what the verifier read in them."""
    rows = {True: [], False: []}
    for difficulty, problems in sorted(setup.held_out.items()):
        for problem, text in zip(problems, evaluation.texts[difficulty]):
            read = parse_final_answer(text)
            right = read == problem.answer
            if len(rows[right]) < per_verdict:
                shown = " ".join(text.split())
                rows[right].append({"steps": difficulty, "question": problem.question, "right answer": problem.answer,
                                    "the model wrote": shown[:width] + (" …" if len(shown) > width else ""),
                                    "verifier read": read, "verdict": "right" if right else "wrong"})
    return rows[True] + rows[False]


def teacher_traces(setup: RealSetup) -> TraceSamples:
    """The course teacher's greedy traces for the training problems, in its own terse format,
    each checked by the world's verifier."""
    problems = [p for _, level in sorted(setup.prompts.items()) for p in level]
    return sample_traces(setup.teacher, setup.tokenizer, problems, k=1, temperature=0.0)


def _arm(setup: RealSetup, family: str, data: TrainingSet, settings: dict, lora: LoraSettings | None = None,
         teacher_data_flops: float = 0.0) -> Arm:
    training = setup.training if lora is None else replace(setup.training, learning_rate=LORA_LEARNING_RATE)
    return Arm(family, data, training=training, teacher_data_flops=teacher_data_flops,
               tokenizer=setup.student_tokenizer, start_from=setup.student_folder, lora=lora, prompt_format=FORMAT,
               settings={**settings, "fine-tuning": "full" if lora is None else f"LoRA rank {lora.rank}",
                         "learning_rate": training.learning_rate})


def traces_arm(setup: RealSetup, samples: TraceSamples, lora: LoraSettings | None = None) -> Arm:
    """The teacher's verified traces, rendered as the real model's plain-English replies."""
    return _arm(setup, records.TRACES, samples.training_set(setup.student_tokenizer, "first", FORMAT),
                {"data": "the course teacher's verified traces, in plain English"}, lora, samples.flops)


def answers_arm(setup: RealSetup, lora: LoraSettings | None = None) -> Arm:
    """The same problems with the answer alone as the reply ("The answer is 9.")."""
    answers = [(p, world.in_plain_english(p.completion("answer"))) for level in setup.prompts.values() for p in level]
    return _arm(setup, records.ANSWERS_ONLY, training_set(answers, setup.student_tokenizer, FORMAT),
                {"data": "the answers alone, in plain English"}, lora)


def arm_names(fine_tuning: str = FINE_TUNING) -> tuple[str, str]:
    """The headline's (baseline, arm): answers alone and the teacher's traces, fine-tuned the
    `fine_tuning` way ("lora" or "full")."""
    knobs.choice("FINE_TUNING", fine_tuning, FINE_TUNINGS)
    return (ANSWERS_LORA, TRACES_LORA) if fine_tuning == "lora" else (ANSWERS, TRACES)


def headline(setup: RealSetup, samples: TraceSamples, ledger: Ledger | None = None,
             seeds: tuple[int, ...] | None = None, fine_tuning: str = FINE_TUNING, retrain: bool = False) -> Comparison:
    """The answers alone against the teacher's traces, paired by seed, both fine-tuned the
    `fine_tuning` way: through LoRA adapters ("lora") or every weight ("full"). A run of the same
    key already in `ledger` is read back (its accuracy and cost: the 135M-parameter students are
    not kept); `retrain` trains them again."""
    lora = LORA if fine_tuning == "lora" else None
    baseline, arm = arm_names(fine_tuning)
    arms = {baseline: answers_arm(setup, lora), arm: traces_arm(setup, samples, lora)}
    return compare(setup, arms, setup.budget.seeds if seeds is None else seeds, ledger, keep_models=False,
                   retrain=retrain)


def gain_over(runs: list[StudentRun], before: Evaluation) -> PairedGain:
    """Each seed's run minus the model as it comes (one greedy evaluation, the same for every
    seed), in points of mean accuracy."""
    ordered = sorted(runs, key=lambda run: run.seed)
    return PairedGain(tuple(run.seed for run in ordered), tuple(_learned(run, before) for run in ordered))


def multi_step(accuracy: dict[int, float], fewest_steps: int = 3) -> float:
    """The mean accuracy over the problems of `fewest_steps` steps or more."""
    levels = [a for d, a in accuracy.items() if d >= fewest_steps]
    return sum(levels) / len(levels)


def arm_facts(comparison: Comparison) -> dict[str, dict]:
    """Per arm, what its records say beside accuracy: trainable parameters and the teacher's data FLOPs."""
    return {name: {"trainable parameters": runs[0].record.settings["trainable parameters"],
                   "teacher data FLOPs": runs[0].record.compute.teacher_data} for name, runs in comparison.items()}


COST_FORMATS = {"seconds per step": ".2f", "GFLOP/s": ".0f", "share of the matmul peak (%)": ".0f",
                "training FLOPs": ".3g", "teacher data FLOPs": ".3g", "H100 dollars": ".2g"}  # for cost_rows' tables


def seconds_per_step(comparison: Comparison) -> dict[str, float]:
    """Each arm's seconds per optimizer step, averaged over its seeds."""
    return {name: mean_of(runs, lambda run: run.seconds / run.steps) for name, runs in comparison.items()}


def cost_rows(comparison: Comparison, facts: dict[str, dict], peak_gflops: float | None = None,
              gpu: GpuAssumptions = H100) -> list[dict]:
    """What each arm's fine-tuning cost (mean over its seeds): trainable parameters, seconds per
    step here and the speed they mean (against `peak_gflops`, this CPU's matmul peak, when given),
    the FLOPs counted, and what they and the teacher's data would cost on `gpu` at its stated use.
    `facts` is `arm_facts` of the comparison (stored with a sweep)."""
    rows, seconds = [], seconds_per_step(comparison)
    for name, runs in comparison.items():
        flops = mean_of(runs, lambda run: run.flops)
        speed = mean_of(runs, lambda run: run.flops / run.seconds) / 1e9
        teacher = facts[name]["teacher data FLOPs"]
        rows.append({"arm": name, "trainable parameters": f"{facts[name]['trainable parameters']:,}",
                     "seconds per step": seconds[name], "GFLOP/s": speed,
                     **({"share of the matmul peak (%)": 100 * speed / peak_gflops} if peak_gflops else {}),
                     "training FLOPs": flops, "teacher data FLOPs": teacher,
                     f"{gpu.name} dollars": dollars(flops + teacher, gpu)})
    return rows


FORGETTING_FORMATS = {"learned (points over as it comes)": "+.1f", "perplexity before": ".2f", "perplexity after": ".2f",
                      "perplexity change (%)": "+.1f", "drift (nats)": ".4f"}  # for forgetting_rows' table


def _forgetting(run: StudentRun) -> dict | None:
    return run.record.forgetting if run.record is not None else None  # a stored sweep's run has no record


def _learned(run: StudentRun, before: Evaluation) -> float:
    return 100 * (run.mean_accuracy - before.mean_accuracy)


def _perplexity_change(lost: dict) -> float:
    return 100 * (lost["perplexity_after"] / lost["perplexity_before"] - 1)


def measured_forgetting(comparison: Comparison) -> dict[str, list[StudentRun]]:
    """Per arm, its runs that measured what they forgot (`forgetting`), by seed: runs recorded
    before it was measured, and a stored sweep's runs, are left out."""
    measured = {name: sorted((run for run in runs if _forgetting(run)), key=lambda run: run.seed)
                for name, runs in comparison.items()}
    return {name: runs for name, runs in measured.items() if runs}


def learned_and_lost(comparison: Comparison, before: Evaluation) -> dict[str, list[tuple[float, float, float]]]:
    """Per arm, per seed that measured it: (points over the model as it comes, the perplexity's
    change on the English passages in %, the drift on chat prompts in nats)."""
    return {name: [(_learned(run, before), _perplexity_change(_forgetting(run)), _forgetting(run)["drift"])
                   for run in runs] for name, runs in measured_forgetting(comparison).items()}


def forgetting_rows(comparison: Comparison, before: Evaluation) -> list[dict]:
    """Per arm, the mean over its seeds of what it learned on the task beside what it lost away
    from it: perplexity on the passages before and after, and the drift (shown in
    `FORGETTING_FORMATS`)."""
    return [{"arm": name, "seeds": len(runs),
             "learned (points over as it comes)": mean_of(runs, lambda run: _learned(run, before)),
             "perplexity before": mean_of(runs, lambda run: _forgetting(run)["perplexity_before"]),
             "perplexity after": mean_of(runs, lambda run: _forgetting(run)["perplexity_after"]),
             "perplexity change (%)": mean_of(runs, lambda run: _perplexity_change(_forgetting(run))),
             "drift (nats)": mean_of(runs, lambda run: _forgetting(run)["drift"])}
            for name, runs in measured_forgetting(comparison).items()]


def own_samples(setup: RealSetup, temperature: float = SAMPLING_TEMPERATURE, per_difficulty: int | None = None,
                k: int | None = None, seed: int = 0) -> TraceSamples:
    """The real model as a teacher: k answers per training problem at `temperature`, in its own
    words, each checked by the free-text verifier."""
    per_difficulty = setup.budget.sample_prompts_per_difficulty if per_difficulty is None else per_difficulty
    problems = [p for _, level in sorted(setup.prompts.items()) for p in level[:per_difficulty]]
    return sample_traces(load_student(setup), setup.student_tokenizer, problems, setup.budget.samples_per_prompt
                         if k is None else k, temperature, seed=seed, prompt_format=FORMAT,
                         max_new_tokens=setup.budget.as_it_comes_max_new_tokens)


def stored_teacher_study(stored: dict, samples: TraceSamples) -> str:
    """The stored study of the real model as a teacher in one paragraph: what it drew, how often the
    verifier accepted, and what a kept answer cost against one of the course teacher's `samples`."""
    own = stored["own_samples"]
    per_kept = own["flops"] / own["kept"]
    levels = ", ".join(f"{d}: {100 * a:.0f} %" for d, a in own["acceptance"].items())
    return (f"stored: {own['problems']} problems x k = {own['k']} at T = {own['temperature']}; acceptance by "
            f"difficulty {levels}; {own['kept']} kept. A verified answer of its own cost {per_kept:.3g} FLOPs, a "
            f"verified trace of the course teacher {samples.flops_per_trace():.3g}: "
            f"{per_kept / samples.flops_per_trace():,.0f} times less")


def system_prompt_tokens(tokenizer: PreTrainedTokenizerBase, problem: world.Problem) -> dict[str, int]:
    """Tokens of `problem`'s plain-English prompt through the chat template as it comes and as the
    course writes it (`architectures.chat_renderings`): what leaving the default system prompt out
    saves on every example."""
    lengths = [len(tokenizer(text)["input_ids"]) for text in chat_renderings(natural_question(problem), tokenizer)]
    return {"as the template comes": lengths[0], "as the course asks": min(lengths)}


ACCEPTANCE_FORMATS = {"all (%)": ".1f", "GFLOPs per kept sample": ".3g"} | {f"{d} steps (%)": ".0f" for d in world.DIFFICULTIES}


def acceptance_rows(samples: dict[float, TraceSamples]) -> list[dict]:
    """Per temperature: the share of samples the verifier accepts, by difficulty, and the cost of
    one kept sample (shown in `ACCEPTANCE_FORMATS`)."""
    rows = []
    for temperature, drawn in sorted(samples.items()):
        by_level = drawn.acceptance_by_difficulty()
        kept = len(drawn.traces("all"))
        rows.append({"temperature": temperature, **{f"{d} steps (%)": 100 * a for d, a in by_level.items()},
                     "all (%)": 100 * drawn.acceptance, "kept": f"{kept} of {sum(map(len, drawn.texts))}",
                     "GFLOPs per kept sample": drawn.flops_per_trace("all") / 1e9 if kept else "none kept"})
    return rows


def own_arm(setup: RealSetup, samples: TraceSamples, keep: str) -> Arm:
    """The real model fine-tuned on its own samples: the verified ones (`keep="all"`), or as many
    drawn without the verifier (`"unfiltered"`, every sample kept: the same number of steps)."""
    if keep == "all":
        data = samples.training_set(setup.student_tokenizer, "all")
    else:
        every = [(p, text) for p, texts in zip(samples.problems, samples.texts) for text in texts]
        data = training_set(every, setup.student_tokenizer, FORMAT)
    return _arm(setup, records.TRACES, data, {"data": f"its own samples at T = {samples.temperature:g}, "
                                                      f"{'verified' if keep == 'all' else 'unfiltered'}"},
                teacher_data_flops=samples.flops)


def step_probe(lora: bool, steps: int = 6, profile: Profile | str = "standard", difficulty: int = 3) -> dict:
    """One arm's fine-tuning speed and memory, measured alone on batches of one shape (the
    traces of `difficulty`-step problems): seconds per step after the first (which also counts
    FLOPs), FLOPs per step, and this process's peak resident memory in MB; and the model's greedy
    generation speed as it comes, in tokens per second. Run it in a fresh process (the bench does)
    so that the peak is this arm's alone."""
    profile = get_profile(profile)
    setup = prepare(REFERENCE_TEACHER, "the reference", profile, steps=steps)
    arm = traces_arm(setup, teacher_traces(setup), LORA if lora else None)
    one_shape = TrainingSet({difficulty: arm.data.input_ids[difficulty]}, {difficulty: arm.data.completion_mask[difficulty]},
                            tokenizer_fingerprint=arm.data.tokenizer_fingerprint)
    model = load_student(setup)
    problems = [p for _, level in sorted(setup.held_out.items()) for p in level]
    out = generate(model, setup.student_tokenizer, [prompt_text(p, setup.student_tokenizer, FORMAT) for p in problems],
                   64, batch_size=len(problems))
    student = with_lora(model, LORA) if lora else model
    history = train(student, one_shape, arm.training, progress=False)
    later = [history.seconds[i] - history.seconds[i - 1] for i in range(1, len(history.seconds))]
    seconds = sum(later) / len(later)
    flops = history.total_flops / history.completed_steps
    return {"seconds_per_step": seconds, "flops_per_step": flops, "gflops_per_second": flops / seconds / 1e9,
            "peak_memory_mb": peak_memory_mb(), "trainable_parameters": trainable_parameters(student),
            "generation_tokens_per_second": out.generated_tokens / out.seconds}


def measure_sweeps(profile: Profile) -> dict:
    """The stored runs: LoRA against full fine-tuning on the course teacher's traces, and the real
    model fine-tuned on its own samples, verified or not (same steps), each on the budget's seeds."""
    start = time.perf_counter()
    setup = prepare(REFERENCE_TEACHER, "the reference", profile)
    samples = teacher_traces(setup)
    own = own_samples(setup, per_difficulty=OWN_PROMPTS_PER_DIFFICULTY, k=OWN_SAMPLES_PER_PROMPT)
    seeds = setup.budget.seeds
    lora = compare(setup, {TRACES: traces_arm(setup, samples), TRACES_LORA: traces_arm(setup, samples, LORA)}, seeds,
                   keep_models=False)
    teacher = compare(setup, {OWN_UNFILTERED: own_arm(setup, own, "unfiltered"),
                              OWN_FILTERED: own_arm(setup, own, "all")}, seeds, keep_models=False)
    return {"profile": profile.name, "seeds": list(seeds), "steps": setup.training.num_steps,
            "batch_size": setup.training.batch_size,
            "own_samples": {"temperature": own.temperature, "k": own.k, "problems": len(own.problems),
                            "acceptance": own.acceptance_by_difficulty(), "kept": len(own.traces("all")),
                            "flops": own.flops},
            "arm_facts": arm_facts(lora) | arm_facts(teacher),
            "comparisons": {"lora": lora, "own samples": teacher}, "seconds": time.perf_counter() - start}


def load_sweeps() -> dict:
    return load(SWEEPS_PATH, measure_sweeps, COMMAND)


def main(argv: list[str] | None = None) -> None:
    sweep_command(__doc__.splitlines()[0], measure_sweeps, SWEEPS_PATH, argv)


if __name__ == "__main__":
    from distillab.runtime import run_command

    sys.exit(run_command(main, "distillab.realmodel_experiments"))
