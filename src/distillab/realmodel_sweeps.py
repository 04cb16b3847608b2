"""Chapter 07's stored runs, the ones its live budget cannot afford, and the bench's probe of one
fine-tuning step:

    python -m distillab.realmodel_sweeps     # the stored runs (standard profile, ~25 min on 2 cores)

writes `reference/realmodel_sweeps.json`: LoRA against full fine-tuning on the course teacher's
traces, and the real model fine-tuned on its own samples (filtered or not), which chapter 07 reads.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

from distillab import knobs
from distillab.architectures import prompt_text, trainable_parameters, with_lora
from distillab.profiles import Profile, get_profile
from distillab.realmodel_experiments import (FINE_TUNINGS, FORMAT, LORA, OWN_FILTERED, OWN_UNFILTERED, TRACES_FULL, TRACES_LORA,
                                             load_student, own_arm, own_samples, prepare, teacher_traces, traces_arm)
from distillab.comparison import Comparison
from distillab.realmodel_results import ArmFacts, arm_facts
from distillab.runtime import peak_memory_mb
from distillab.sampling import TraceSamples, generate
from distillab.students import compare
from distillab.stored_sweeps import Stored, read, sweep_command
from distillab.training import TrainingSet, train
from distillab.workspace import REFERENCE_DIR, REFERENCE_TEACHER

OWN_PROMPTS_PER_DIFFICULTY, OWN_SAMPLES_PER_PROMPT = 20, 4  # the stored study of the real model as a teacher
SWEEPS_PATH = REFERENCE_DIR / "realmodel_sweeps.json"
COMMAND = "python -m distillab.realmodel_sweeps"


def step_probe(fine_tuning: str, steps: int = 6, profile: Profile | str = "standard", difficulty: int = 3) -> dict:
    """One arm's fine-tuning speed and memory (`fine_tuning`: "lora" or "full"), measured alone on
    batches of one shape (the traces of `difficulty`-step problems): seconds per step after the first (which also counts
    FLOPs), FLOPs per step, and this process's peak resident memory in MB; and the model's greedy
    generation speed as it comes, in tokens per second. Run it in a fresh process (the bench does)
    so that the peak is this arm's alone."""
    adapters = LORA if knobs.choice("fine_tuning", fine_tuning, FINE_TUNINGS) == "lora" else None
    profile = get_profile(profile)
    setup = prepare(REFERENCE_TEACHER, "the reference", profile, steps=steps)
    arm = traces_arm(setup, teacher_traces(setup), adapters)
    one_shape = TrainingSet({difficulty: arm.data.input_ids[difficulty]}, {difficulty: arm.data.completion_mask[difficulty]},
                            tokenizer_fingerprint=arm.data.tokenizer_fingerprint)
    model = load_student(setup)
    problems = [p for _, level in sorted(setup.held_out.items()) for p in level]
    out = generate(model, setup.student_tokenizer, [prompt_text(p, setup.student_tokenizer, FORMAT) for p in problems],
                   64, batch_size=len(problems))
    student = with_lora(model, adapters) if adapters else model
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
    lora_or_full = compare(setup, {TRACES_FULL: traces_arm(setup, samples), TRACES_LORA: traces_arm(setup, samples, LORA)},
                           seeds, keep_models=False)
    teacher = compare(setup, {OWN_UNFILTERED: own_arm(setup, own, "unfiltered"),
                              OWN_FILTERED: own_arm(setup, own, "all")}, seeds, keep_models=False)
    return {"profile": profile.name, "seeds": list(seeds), "steps": setup.training.num_steps,
            "batch_size": setup.training.batch_size,
            "own_samples": {"temperature": own.temperature, "k": own.k, "problems": len(own.problems),
                            "acceptance": own.acceptance_by_difficulty(), "kept": len(own.traces("all")),
                            "flops": own.flops},
            "arm_facts": arm_facts(lora_or_full) | arm_facts(teacher),
            "comparisons": {"lora": lora_or_full, "own samples": teacher}, "seconds": time.perf_counter() - start}


@dataclass(frozen=True)
class OwnSamples:
    """The real model's own samples, drawn as a teacher's."""
    temperature: float
    k: int
    problems: int
    acceptance: dict[int, float]  # difficulty -> share the verifier accepted
    kept: int
    flops: float

    def study(self, samples: TraceSamples) -> str:
        """The study in one paragraph: what it drew, how often the verifier accepted, and what a kept
        answer cost against one of the course teacher's `samples`."""
        per_kept, per_trace = self.flops / self.kept, samples.flops_per_trace()
        levels = ", ".join(f"{d}: {100 * a:.0f} %" for d, a in self.acceptance.items())
        return (f"stored: {self.problems} problems x k = {self.k} at T = {self.temperature:g}; acceptance by "
                f"difficulty {levels}; {self.kept} kept. A verified answer of its own cost {per_kept:.3g} FLOPs, a "
                f"verified trace of the course teacher {per_trace:.3g}: the course teacher's is "
                f"{per_kept / per_trace:,.0f} times cheaper")


@dataclass(frozen=True)
class RealModelComparisons:
    lora: Comparison  # LoRA (rank 16) against every weight, both untuned: kept for the record, the chapter reads realmodel_fine_tuning
    own_samples: Comparison  # its own samples, verified or not


@dataclass(frozen=True)
class RealModelSweeps(Stored):
    """`reference/realmodel_sweeps.json`, read (`load_sweeps`)."""
    steps: int
    batch_size: int
    own_samples: OwnSamples
    arm_facts: dict[str, ArmFacts]
    comparisons: RealModelComparisons


def load_sweeps(path: Path = SWEEPS_PATH) -> RealModelSweeps:
    return read(path, RealModelSweeps, measure_sweeps, COMMAND)


def main(argv: list[str] | None = None) -> None:
    sweep_command(__doc__.splitlines()[0], measure_sweeps, SWEEPS_PATH, argv)


if __name__ == "__main__":
    from distillab.runtime import run_command

    sys.exit(run_command(main, "distillab.realmodel_sweeps"))
