"""Chapter 07's fine-tuning once more, through TRL's `SFTTrainer`: the library a practitioner
reaches for next. The same examples (a few of the course teacher's traces, rendered as the real
model's replies), the same LoRA adapters from the same seed, the loss on the reply alone
(`completion_only_loss`) and the same optimizer step size, for two steps; then the check that TRL
saw the same tokens, the same mask, and computed the course's first-step loss.

    course                                 TRL
    TrainingSet (prompt ids + reply ids    a dataset of {"prompt": text, "completion": reply};
      + end-of-turn, mask on the reply)      SFTTrainer tokenizes it, adds end-of-turn, masks
    training.sft_objective                 completion_only_loss=True (labels -100 on the prompt)
    training.train (AdamW, cosine, clip)   Trainer (AdamW, its schedule, clip 1.0)

TRL trains in bfloat16 where the hardware supports it, by default; the check turns it off (as
the course trains in fp32), or the two losses would differ in the third digit.
"""

from __future__ import annotations

import contextlib
import tempfile
import warnings
from dataclasses import dataclass

from distillab import knobs, world
from distillab.architectures import prompt_text, with_lora
from distillab.realmodel_experiments import FORMAT, LORA, LORA_LEARNING_RATE, RealSetup, load_student
from distillab.runtime import pick_device
from distillab.sampling import TraceSamples, training_set
from distillab.training import TrainingConfig, train

TOLERANCE = 1e-4  # relative: the two first-step losses are the same sums in another order
FORMATS = {"course loss": ".6f", "TRL loss": ".6f"}  # for TrlCheck.rows' table


@dataclass(frozen=True)
class TrlCheck:
    """The course's losses and TRL's, step by step, on the same examples, and whether TRL's
    tokens and mask are the course's."""
    course_losses: list[float]
    trl_losses: list[float]
    same_tokens: bool
    examples: int
    settings: dict  # the SFTConfig settings that make TRL's run the course's

    @property
    def first_step_difference(self) -> float:
        """|TRL's first loss − the course's| relative to the course's."""
        return abs(self.trl_losses[0] - self.course_losses[0]) / self.course_losses[0]

    @property
    def agrees(self) -> bool:
        return self.same_tokens and self.first_step_difference <= TOLERANCE

    def rows(self) -> list[dict]:
        return [{"step": step + 1, "course loss": course, "TRL loss": trl}
                for step, (course, trl) in enumerate(zip(self.course_losses, self.trl_losses))]

    def config(self) -> str:
        """The SFTConfig settings that made TRL's run the course's, as you would write them."""
        return "SFTConfig(" + ", ".join(f"{name}={value!r}" for name, value in self.settings.items()) + ")"

    def describe(self) -> str:
        tokens = "the same tokens and mask" if self.same_tokens else "OTHER tokens or mask than the course's"
        return (f"TRL's SFTTrainer on {self.examples} examples: {tokens}; first-step loss {self.trl_losses[0]:.6f} "
                f"against the course's {self.course_losses[0]:.6f} ({self.first_step_difference:.1e} apart, "
                f"tolerance {TOLERANCE:.0e}): {'they agree' if self.agrees else 'they DO NOT agree'}")


def examples(setup: RealSetup, samples: TraceSamples, count: int = 4, difficulty: int = 1) -> list[tuple[world.Problem, str]]:
    """The first `count` verified traces of `difficulty`-step problems, as the real model's replies:
    one batch of one difficulty, as the course's sampler draws them (the shortest, to keep it cheap)."""
    count = knobs.whole_number("count", count, 1)
    kept = [(p, world.in_plain_english(t)) for p, t in samples.traces("first") if p.difficulty == difficulty][:count]
    if len(kept) < count:
        raise ValueError(f"only {len(kept)} verified traces of {difficulty}-step problems, asked for {count}")
    return kept


def cross_check(setup: RealSetup, samples: TraceSamples, steps: int = 2, count: int = 4, difficulty: int = 1,
                seed: int = 0) -> TrlCheck:
    """`steps` LoRA steps of the real model on `count` traces (one batch), by the course's loop and
    by TRL's `SFTTrainer`, each from a fresh copy of the model as it comes with the adapters of
    `seed`; their losses side by side, and whether TRL tokenized and masked as the course does."""
    steps = knobs.whole_number("steps", steps, 1)
    pairs = examples(setup, samples, count, difficulty)
    tokenizer = setup.student_tokenizer
    data = training_set(pairs, tokenizer, FORMAT)
    config = TrainingConfig(num_steps=steps, batch_size=count, learning_rate=LORA_LEARNING_RATE, warmup_steps=0,
                            weight_decay=0.0, seed=seed)
    course = train(with_lora(load_student(setup), LORA, seed), data, config, progress=False).loss
    settings = {"completion_only_loss": True, "per_device_train_batch_size": count, "max_steps": steps,
                "learning_rate": LORA_LEARNING_RATE, "lr_scheduler_type": "constant", "weight_decay": 0.0,
                "max_grad_norm": config.grad_clip, "bf16": False, "fp16": False}
    trainer, losses = _trl_run(setup, pairs, settings, seed)
    rows, mask = data.input_ids[difficulty], data.completion_mask[difficulty]
    same = all(row["input_ids"] == ours[:len(row["input_ids"])].tolist()
               and [label != -100 for label in row["labels"]] == counted[:len(row["labels"])].tolist()
               and not counted[len(row["labels"]):].any()
               for row, ours, counted in zip(trainer.train_dataset, rows, mask))
    return TrlCheck(list(course), losses, same, count, settings)


def _trl_run(setup: RealSetup, pairs: list[tuple[world.Problem, str]], settings: dict, seed: int):
    """TRL's SFTTrainer on `pairs` (prompt text as the course renders it, the reply as completion),
    quietly: no progress bars, no printed logs; its loss at every step."""
    from datasets import Dataset
    from transformers import PrinterCallback
    from trl import SFTConfig, SFTTrainer

    tokenizer = setup.student_tokenizer
    dataset = Dataset.from_list([{"prompt": prompt_text(p, tokenizer, FORMAT), "completion": reply} for p, reply in pairs])
    with tempfile.TemporaryDirectory() as folder, _quiet():
        args = SFTConfig(output_dir=folder, logging_steps=1, report_to="none", save_strategy="no", disable_tqdm=True,
                         seed=seed, use_cpu=pick_device().type == "cpu", **settings)
        trainer = SFTTrainer(model=with_lora(load_student(setup), LORA, seed), args=args, train_dataset=dataset,
                             processing_class=tokenizer)
        trainer.remove_callback(PrinterCallback)
        trainer.train()
    return trainer, [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]


@contextlib.contextmanager
def _quiet():
    """TRL's dataset steps draw progress bars and transformers warns that TRL's default
    `gradient_checkpointing` is a deprecated name: neither is the learner's to act on."""
    import datasets

    shown = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*gradient_checkpointing.*", category=FutureWarning)
            yield
    finally:
        if shown:
            datasets.enable_progress_bars()
