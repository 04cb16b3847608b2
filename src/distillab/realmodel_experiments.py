"""Chapter 07's set-up and arms: a real pretrained model, SmolLM2-135M-Instruct (`realmodel`),
asked the world's problems in plain English through its chat template and graded by the free-text
verifier (`answers`). As it comes; as the student of the course teacher's verified traces,
rendered as its replies, against the answers alone (LoRA or every weight, paired by seed); as a
teacher whose samples the verifier must filter; and the distilled student the learner keeps,
reloads and asks. `realmodel_results` turns the runs into the chapter's numbers and tables;
`realmodel_sweeps` stores the runs the chapter's budget cannot afford.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NamedTuple

import torch
from transformers import PreTrainedTokenizerBase

from distillab import knobs, realmodel, records, reuse, world
from distillab.architectures import (LoraSettings, chat_prompt, chat_renderings, load_causal_lm, load_checkpoint_tokenizer, natural_question,
                                     ready_for_generation, save_checkpoint)
from distillab.evaluation import Evaluation, evaluate
from distillab.ledger import Ledger
from distillab.models import count_parameters
from distillab.profiles import Profile, RealModelBudget
from distillab.records import Compute, RunRecord
from distillab.sampling import TraceSamples, generate, sample_traces, training_set
from distillab.comparison import Comparison, StudentRun
from distillab.students import Arm, Setup, compare, load_teacher
from distillab.training import TrainingConfig, TrainingSet
from distillab.workspace import workspace

CHAPTER = "07"
FORMAT = "natural"  # the real model is asked in plain English, through its chat template
DATA_SEED = 7  # the training problems (never held-out ones)
# The arms, one name each. Every one starts from the real model as it comes and trains the same steps and batch.
AS_IT_COMES = "as it comes"
TRACES_FULL = "course teacher's traces, full fine-tuning"
ANSWERS_FULL = "answers only, full fine-tuning"
TRACES_LORA = "course teacher's traces, LoRA"
ANSWERS_LORA = "answers only, LoRA"
OWN_FILTERED = "its own samples, verified"
OWN_UNFILTERED = "its own samples, unfiltered"
ARMS = (AS_IT_COMES, TRACES_FULL, ANSWERS_FULL, TRACES_LORA, ANSWERS_LORA, OWN_FILTERED, OWN_UNFILTERED)
FINE_TUNINGS = ("lora", "full")
# The live headline's way to fine-tune, and each way's setting: the best of the stored sweep
# (`realmodel_fine_tuning`: LoRA at ranks 8, 16, 64 x learning rates 3e-4, 1e-3, 3e-3, every weight at
# 3e-5, 1e-4, 3e-4; the best two of each kind on three seeds). At its best LoRA is not told apart from
# every weight at its best in the same steps, is ahead on every seed in the same seconds (a step took
# 4.45 s against 5.22 s), and trains no gradients or moments for the frozen weights: the live default.
FINE_TUNING = "lora"
LEARNING_RATE = 1e-4  # every weight trains: a small step keeps what pretraining taught
LORA = LoraSettings(rank=64, alpha=128.0)  # alpha / rank = 2 at every rank of the sweep
LORA_LEARNING_RATE = 1e-3  # only the adapters train, from zero: they take larger steps
SAMPLING_TEMPERATURE = 0.7  # the real model as a teacher
# A step's sequences go through the model this many at a time, their gradients summed: the same step.
# Measured on 2 cores at the standard profile (one LoRA run, 40 steps of 8): peak memory 4,051 MB whole,
# 2,817 MB in fours at the same seconds (160 s), 2,395 MB in twos at 25 % more; gradient checkpointing
# instead: 3,719 MB at 34 % more.
MICRO_BATCH_SIZE = 4


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
                              warmup_steps=_warmup(steps), weight_decay=0.0,
                              micro_batch_size=min(MICRO_BATCH_SIZE, budget.batch_size))
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


def teacher_traces(setup: RealSetup) -> TraceSamples:
    """The course teacher's greedy traces for the training problems, in its own terse format,
    each checked by the world's verifier."""
    problems = [p for _, level in sorted(setup.prompts.items()) for p in level]
    return sample_traces(setup.teacher, setup.tokenizer, problems, k=1, temperature=0.0)


def _warmup(steps: int) -> int:
    """Linear warm-up over the first tenth of a run (at least one step when it has two or more)."""
    return max(1, steps // 10) if steps > 1 else 0


def learning_rate_text(learning_rate: float) -> str:
    """'lr 1e-3', 'lr 3e-5': a learning rate as the chapter's tables name it."""
    return f"lr {learning_rate:.0e}".replace("e-0", "e-")


def fine_tuning_name(lora: LoraSettings | None, learning_rate: float, steps: int | None = None) -> str:
    """A fine-tuning setting's name: 'LoRA rank 16, lr 1e-3', 'every weight, lr 1e-4', and ', 57 steps'
    when it trains other steps than the chapter's."""
    kind = "every weight" if lora is None else f"LoRA rank {lora.rank}"
    return f"{kind}, {learning_rate_text(learning_rate)}" + ("" if steps is None else f", {steps} steps")


def _arm(setup: RealSetup, family: str, data: TrainingSet, settings: dict, lora: LoraSettings | None = None,
         teacher_data_flops: float = 0.0, learning_rate: float | None = None, steps: int | None = None) -> Arm:
    if learning_rate is None:
        learning_rate = LEARNING_RATE if lora is None else LORA_LEARNING_RATE
    training = replace(setup.training, learning_rate=knobs.number("learning_rate", learning_rate, above=0))
    if steps is not None:
        steps = knobs.whole_number("steps", steps, 1)
        training = replace(training, num_steps=steps, warmup_steps=_warmup(steps))
    return Arm(family, data, training=training, teacher_data_flops=teacher_data_flops,
               tokenizer=setup.student_tokenizer, start_from=setup.student_folder, lora=lora, prompt_format=FORMAT,
               settings={**settings, "fine-tuning": "full" if lora is None else f"LoRA rank {lora.rank}",
                         "learning_rate": training.learning_rate})


def traces_arm(setup: RealSetup, samples: TraceSamples, lora: LoraSettings | None = None,
               learning_rate: float | None = None, steps: int | None = None) -> Arm:
    """The teacher's verified traces, rendered as the real model's plain-English replies (trained at
    the chapter's learning rate for `lora` or every weight and its steps, unless given)."""
    return _arm(setup, records.TRACES, samples.training_set(setup.student_tokenizer, "first", FORMAT),
                {"data": "the course teacher's verified traces, in plain English"}, lora, samples.flops,
                learning_rate, steps)


def answers_arm(setup: RealSetup, lora: LoraSettings | None = None) -> Arm:
    """The same problems with the answer alone as the reply ("The answer is 9.")."""
    answers = [(p, world.in_plain_english(p.completion("answer"))) for level in setup.prompts.values() for p in level]
    return _arm(setup, records.ANSWERS_ONLY, training_set(answers, setup.student_tokenizer, FORMAT),
                {"data": "the answers alone, in plain English"}, lora)


class HeadlineArms(NamedTuple):
    """The headline's two arms by name: the answers alone (the baseline) and the teacher's traces."""
    answers: str
    traces: str


def headline_arms(fine_tuning: str = FINE_TUNING) -> HeadlineArms:
    """The headline's arms, fine-tuned the `fine_tuning` way ("lora" or "full")."""
    knobs.choice("FINE_TUNING", fine_tuning, FINE_TUNINGS)
    return HeadlineArms(ANSWERS_LORA, TRACES_LORA) if fine_tuning == "lora" else HeadlineArms(ANSWERS_FULL, TRACES_FULL)


def headline(setup: RealSetup, samples: TraceSamples, ledger: Ledger | None = None,
             seeds: tuple[int, ...] | None = None, fine_tuning: str = FINE_TUNING, retrain: bool = False) -> Comparison:
    """The answers alone against the teacher's traces, paired by seed, both fine-tuned the
    `fine_tuning` way: through LoRA adapters ("lora") or every weight ("full"). A run of the same
    key already in `ledger` is read back (its accuracy and cost: the 135M-parameter students are
    let go, a LoRA student's adapters are kept on disk); `retrain` trains them again."""
    adapters = LORA if fine_tuning == "lora" else None
    names = headline_arms(fine_tuning)
    arms = {names.answers: answers_arm(setup, adapters), names.traces: traces_arm(setup, samples, adapters)}
    return compare(setup, arms, setup.budget.seeds if seeds is None else seeds, ledger, keep_models=False,
                   retrain=retrain)


def own_samples(setup: RealSetup, temperature: float = SAMPLING_TEMPERATURE, per_difficulty: int | None = None,
                k: int | None = None, seed: int = 0) -> TraceSamples:
    """The real model as a teacher: k answers per training problem at `temperature`, in its own
    words, each checked by the free-text verifier."""
    per_difficulty = setup.budget.sample_prompts_per_difficulty if per_difficulty is None else per_difficulty
    problems = [p for _, level in sorted(setup.prompts.items()) for p in level[:per_difficulty]]
    return sample_traces(load_student(setup), setup.student_tokenizer, problems, setup.budget.samples_per_prompt
                         if k is None else k, temperature, seed=seed, prompt_format=FORMAT,
                         max_new_tokens=setup.budget.as_it_comes_max_new_tokens)


def system_prompt_tokens(tokenizer: PreTrainedTokenizerBase, problem: world.Problem) -> dict[str, int]:
    """Tokens of `problem`'s plain-English prompt through the chat template as it comes and as the
    course writes it (`architectures.chat_renderings`): what leaving the default system prompt out
    saves on every example."""
    lengths = [len(tokenizer(text)["input_ids"]) for text in chat_renderings(natural_question(problem), tokenizer)]
    return {"as the template comes": lengths[0], "as the course asks": min(lengths)}


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


# The student the learner keeps: the best seed of the traces arm, saved with save_pretrained.

def best_run(runs: list[StudentRun]) -> StudentRun:
    """The run whose student scored best on the held-out problems (of a tie, the lowest seed)."""
    return max(sorted(runs, key=lambda run: run.seed), key=lambda run: run.mean_accuracy)


def kept_folder(profile: Profile, run: StudentRun, merged: bool = False) -> Path:
    """Where `keep_student` saves `run`'s student, in the learner's workspace."""
    name = f"{realmodel.NAME}-{run.arm}-seed-{run.seed}{'-merged' if merged else ''}"
    return workspace(profile) / "kept" / "".join(c if c.isalnum() or c in "-." else "-" for c in name)


def keep_student(setup: RealSetup, run: StudentRun, merged: bool = False) -> Path:
    """Save `run`'s student for the learner (`save_pretrained`, safetensors) in `kept_folder`: its
    LoRA adapters (tens of MB) that name the checkpoint they adapt, or with `merged` a plain
    checkpoint of the whole model with the adapters added into its weights, which loads anywhere
    without peft. The run's adapters come from where `compare` kept them; a student that trained
    every weight was let go after its test (135M parameters a run), so it cannot be kept."""
    saved = reuse.saved_student(run.record, setup.profile) if run.record is not None else None
    if saved is None:
        why = ("it trained every weight, and such students are let go after their test (540 MB each): "
               "FINE_TUNING = \"lora\" keeps its adapters") if run.arm in (TRACES_FULL, ANSWERS_FULL) \
            else "its adapters are no longer on disk: RETRAIN = True trains it again and keeps them"
        raise ValueError(f"the student {run.arm!r} of seed {run.seed} cannot be kept: {why}")
    model, tokenizer = load_causal_lm(saved)
    folder = kept_folder(setup.profile, run, merged)
    shutil.rmtree(folder, ignore_errors=True)  # a copy of a run the workspace keeps: nothing is lost
    save_checkpoint(model, tokenizer, folder, merged=merged)
    return folder


def ask(model: torch.nn.Module, tokenizer: PreTrainedTokenizerBase, question: str, max_new_tokens: int = 200) -> str:
    """`model`'s greedy reply to `question`, asked as the chapter asks (the chat template, an empty
    system message): a question of the learner's own."""
    prompt = chat_prompt(knobs.text("QUESTION", question), tokenizer)
    return generate(model, tokenizer, [prompt], max_new_tokens, batch_size=1).texts[0]


def kept_answers(setup: RealSetup, model: torch.nn.Module, tokenizer: PreTrainedTokenizerBase,
                 per_difficulty: int = 1) -> Evaluation:
    """`model`'s greedy answers to the first `per_difficulty` held-out problems of each difficulty,
    graded as every student is (`realmodel_results.side_by_side` sets them beside the model as it
    comes)."""
    per_difficulty = knobs.whole_number("per_difficulty", per_difficulty, 1)
    return evaluate(model, tokenizer, {d: level[:per_difficulty] for d, level in setup.held_out.items()},
                    prompt_format=FORMAT)
