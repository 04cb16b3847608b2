"""Rejection sampling on a budget (chapter 03, lab 03): how many traces a prompt yields when the
verifier accepts a share of its samples, and the prompts, samples and FLOPs it takes to collect
N traces. Pure arithmetic on acceptance rates; drawing the samples is `sampling`'s job."""

from __future__ import annotations

import math
from dataclasses import dataclass

from distillab import knobs, world
from distillab.cost import generation_flops
from distillab.sampling import KEEP, check_k


def kept_per_prompt(acceptance: float, k: int, keep: str = "first") -> float:
    """Traces one prompt is expected to yield when each of its `k` samples is right with
    probability `acceptance`: at least one right (keep="first": 1 - (1 - a)^k), every right one
    (keep="all": k·a), or one, right or wrong (keep="unfiltered")."""
    knobs.choice("keep", keep, KEEP)
    knobs.fraction("acceptance", acceptance)
    check_k(k)
    if keep == "first":
        return 1 - (1 - acceptance) ** k
    return k * acceptance if keep == "all" else 1.0


def sample_tokens(difficulty: int) -> int:
    """Tokens processed to write one sample of a `difficulty`-step problem: [BOS], the prompt,
    the trace and [EOS] (every problem of one difficulty has the same length)."""
    example = world.example_problem(difficulty)
    return 1 + len(example.prompt.split()) + len(example.trace.split()) + 1


@dataclass(frozen=True)
class RejectionPlan:
    """What it takes to collect `num_traces` traces, an equal share per difficulty."""
    prompts: dict[int, int]  # difficulty -> prompts to sample
    samples: dict[int, int]  # difficulty -> samples written (prompts × k)
    flops: float  # generation FLOPs for all samples, 2·N per token

    @property
    def total_prompts(self) -> int:
        return sum(self.prompts.values())

    @property
    def total_samples(self) -> int:
        return sum(self.samples.values())


def plan_rejection_sampling(acceptance_by_difficulty: dict[int, float], num_traces: int, k: int, keep: str,
                            num_parameters: float) -> RejectionPlan:
    """Prompts, samples and FLOPs expected to yield `num_traces` kept traces from a teacher of
    `num_parameters` (matmul) parameters whose samples the verifier accepts at the given rates."""
    knobs.whole_number("num_traces", num_traces, 1)
    if not isinstance(acceptance_by_difficulty, dict) or not acceptance_by_difficulty:
        raise ValueError("acceptance_by_difficulty must map at least one difficulty to the share of its samples "
                         f"the verifier accepts, e.g. {{1: 0.99, 5: 0.8}}; got {acceptance_by_difficulty!r}")
    for difficulty, acceptance in acceptance_by_difficulty.items():
        world.check_difficulty(difficulty)
        knobs.fraction(f"the acceptance at difficulty {difficulty}", acceptance)
    check_k(k)
    knobs.choice("keep", keep, KEEP)
    knobs.number("num_parameters", num_parameters, above=0)
    share, extra = divmod(num_traces, len(acceptance_by_difficulty))
    prompts, samples, flops = {}, {}, 0.0
    for index, (difficulty, acceptance) in enumerate(sorted(acceptance_by_difficulty.items())):
        wanted = share + (index < extra)
        per_prompt = kept_per_prompt(acceptance, k, keep)
        if per_prompt == 0 and wanted:
            raise ValueError(f"the verifier accepts no sample at difficulty {difficulty}: no number of prompts "
                             "yields a trace there; lower the temperature or use a stronger teacher")
        prompts[difficulty] = math.ceil(wanted / per_prompt - 1e-9) if wanted else 0
        samples[difficulty] = prompts[difficulty] * k
        flops += generation_flops(num_parameters, samples[difficulty] * sample_tokens(difficulty))
    return RejectionPlan(prompts, samples, flops)
