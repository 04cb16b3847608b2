"""Run budgets: the one module that knows how much compute each chapter spends.

`fast` is a smoke test of every chapter (CI); `standard` is what a learner gets. A chapter chooses
one with its `PROFILE` knob (None: the environment variable `DISTILLAB_PROFILE`, default standard)
and passes it to everything it calls: the budget, the workspace and the ledger follow from it.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass

from distillab import knobs

PROFILE_ENV = "DISTILLAB_PROFILE"
DEFAULT_PROFILE = "standard"


@dataclass(frozen=True)
class RealModelBudget:
    """Chapter 07's budget: a real pretrained model (135M parameters) costs seconds per step and
    per answer where the course's students cost milliseconds, so it has its own."""
    eval_per_difficulty: int  # held-out problems per difficulty, asked in plain English
    prompts_per_difficulty: int  # training problems per difficulty the course teacher writes traces for
    steps: int  # optimizer steps of every fine-tuning arm
    batch_size: int  # sequences per step
    as_it_comes_max_new_tokens: int  # room for the model's own long-winded answers before fine-tuning
    sample_prompts_per_difficulty: int  # problems the real model samples answers for, as a teacher
    samples_per_prompt: int  # k answers per problem
    seeds: tuple[int, ...]  # every fine-tuning arm runs on these, paired

    def __post_init__(self) -> None:
        for field in ("eval_per_difficulty", "prompts_per_difficulty", "steps", "batch_size",
                      "as_it_comes_max_new_tokens", "sample_prompts_per_difficulty", "samples_per_prompt"):
            knobs.whole_number(f"real_model.{field}", getattr(self, field), 1)
        object.__setattr__(self, "seeds", knobs.seeds("real_model.seeds", self.seeds))


@dataclass(frozen=True)
class Profile:
    name: str
    teacher_steps: int  # optimizer steps to train the teacher
    batch_size: int  # sequences per optimizer step (all of one difficulty)
    teacher_train_per_difficulty: int  # distinct training problems per difficulty for the teacher
    eval_per_difficulty: int  # held-out problems per difficulty used to measure accuracy
    learning_rate: float  # peak learning rate of the warmup + cosine schedule
    warmup_steps: int  # linear warmup before the cosine decay
    student_steps: int  # optimizer steps of every student in chapters 02+ (same for every arm)
    transfer_prompts: int  # prompts the teacher answers for a distillation transfer set (chapter 02)
    trace_prompts: int  # prompts the teacher writes sampled traces for (chapter 03), an equal share per difficulty
    trace_student_steps: int  # optimizer steps of chapter 03's students: multi-step reasoning needs more than fast's 150
    onpolicy_added_steps: int  # chapter 04's added compute on a trace-SFT student, in SFT steps of this batch
    seeds: tuple[int, ...]  # every comparison runs each arm on these seeds, paired
    real_model: RealModelBudget  # chapter 07
    caveat: str = ""  # what a chapter run at this profile can and cannot show, printed in its first cell

    def __post_init__(self) -> None:
        for field in ("teacher_steps", "batch_size", "teacher_train_per_difficulty",
                      "eval_per_difficulty", "student_steps", "transfer_prompts", "trace_prompts",
                      "trace_student_steps", "onpolicy_added_steps"):
            knobs.whole_number(field, getattr(self, field), 1)
        knobs.whole_number(f"warmup_steps (smaller than teacher_steps = {self.teacher_steps})", self.warmup_steps, 0,
                           self.teacher_steps - 1)
        knobs.number("learning_rate", self.learning_rate, above=0)
        object.__setattr__(self, "seeds", knobs.seeds("seeds", self.seeds))

    def to_dict(self) -> dict:
        return asdict(self)

    def training_config(self, num_steps: int | None = None, seed: int = 0):
        """This profile's TrainingConfig; `num_steps` overrides the step budget, and the warmup
        shrinks with it (at most a quarter of the run) so any budget of 1 step or more works."""
        from distillab.training import TrainingConfig

        steps = self.teacher_steps if num_steps is None else num_steps
        warmup = min(self.warmup_steps, knobs.whole_number("num_steps", steps, 1) // 4)
        return TrainingConfig(num_steps=steps, batch_size=self.batch_size,
                              learning_rate=self.learning_rate, warmup_steps=warmup, seed=seed)

    def student_config(self, seed: int = 0, num_steps: int | None = None):
        """The TrainingConfig of a student: `student_steps` unless overridden, this profile's batch."""
        return self.training_config(self.student_steps if num_steps is None else num_steps, seed)


PROFILES = {
    "fast": Profile("fast", teacher_steps=200, batch_size=32, teacher_train_per_difficulty=2000,
                    eval_per_difficulty=40, learning_rate=3e-3, warmup_steps=20,
                    student_steps=150, transfer_prompts=500, trace_prompts=1000, trace_student_steps=400,
                    onpolicy_added_steps=60, seeds=(0, 1),
                    real_model=RealModelBudget(eval_per_difficulty=4, prompts_per_difficulty=16, steps=6, batch_size=8,
                                               as_it_comes_max_new_tokens=96, sample_prompts_per_difficulty=2,
                                               samples_per_prompt=2, seeds=(0, 1)),
                    caveat="The fast profile is a smoke test: the models barely start to learn, so most students sit "
                           "near the floor and most differences between arms are noise. Only the largest effect, "
                           "traces against answers (chapter 03), already shows on every seed. The chapters assert "
                           "their claims at the standard profile: set PROFILE = \"standard\" in the knobs, or start "
                           "the course with `DISTILLAB_PROFILE=standard make lab`."),
    "standard": Profile("standard", teacher_steps=900, batch_size=64,
                        teacher_train_per_difficulty=12000, eval_per_difficulty=200,
                        learning_rate=3e-3, warmup_steps=50,
                        student_steps=570, transfer_prompts=500, trace_prompts=4000, trace_student_steps=570,
                        onpolicy_added_steps=100, seeds=(0, 1, 2),
                        real_model=RealModelBudget(eval_per_difficulty=40, prompts_per_difficulty=80, steps=40,
                                                   batch_size=8, as_it_comes_max_new_tokens=96,
                                                   sample_prompts_per_difficulty=4, samples_per_prompt=4,
                                                   seeds=(0, 1, 2))),
}


def get_profile(name: Profile | str | None = None) -> Profile:
    """The profile called `name` (a Profile is returned as it is), or with None the one
    `DISTILLAB_PROFILE` names (default: standard). A chapter calls this once, in its first cell, and
    passes the Profile on: nothing else reads the environment variable."""
    if isinstance(name, Profile):
        return name
    name = name if name is not None else os.environ.get(PROFILE_ENV, DEFAULT_PROFILE)
    if name not in PROFILES:
        raise ValueError(
            f"unknown profile {name!r} (from {PROFILE_ENV} or the argument); "
            f"choose one of {sorted(PROFILES)}"
        )
    return PROFILES[name]
