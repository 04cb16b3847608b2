"""Rejection sampling on a budget (chapter 03, lab 03): how many traces a prompt yields when the
verifier accepts a share of its samples, the prompts, samples and FLOPs it takes to collect N
traces (arithmetic on acceptance rates), and carrying out a plan (`run_plan`, which draws the
samples with `sampling`)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from transformers import PreTrainedTokenizerFast

from distillab import knobs, world
from distillab.cost import generation_flops
from distillab.sampling import KEEP, check_k, sample_traces


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


def run_plan(model: torch.nn.Module, tokenizer: PreTrainedTokenizerFast, pool: dict[int, list[world.Problem]],
             plan: dict[int, tuple[float, int]], wanted: int, acceptance: dict[float, dict[int, float]],
             yield_per_prompt: Callable[[float, int], float] | None = None,
             keep_traces: Callable | None = None) -> tuple[dict[int, int], float]:
    """Carry out `plan` ({difficulty: (temperature, k)}): sample as many of the pool's prompts of each
    difficulty as the expected yield says `wanted` traces need (at most the whole pool), keep the
    verified first trace of each, and count. Returns (traces kept per difficulty, generation FLOPs).
    `yield_per_prompt(acceptance, k)` and `keep_traces(problems, samples, keep)` default to the
    course's own (lab 03 passes the learner's)."""
    knobs.whole_number("wanted", wanted, 1)
    kept, flops = {}, 0.0
    for difficulty, (temperature, k) in plan.items():
        per_prompt = (yield_per_prompt or kept_per_prompt)(acceptance[temperature][difficulty], k)
        if not per_prompt > 0:
            raise ValueError(f"the plan samples difficulty {difficulty} at T = {temperature:g}, k = {k}, where no "
                             "sample is expected to pass the verifier")
        needed = min(len(pool[difficulty]), math.ceil(wanted / per_prompt))
        drawn = sample_traces(model, tokenizer, pool[difficulty][:needed], k=k, temperature=temperature, seed=difficulty)
        traces = keep_traces(drawn.problems, drawn.texts, "first") if keep_traces else drawn.traces("first")
        kept[difficulty], flops = len(traces), flops + drawn.flops
    return kept, flops
