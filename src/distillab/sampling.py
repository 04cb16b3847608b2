"""Batched generation with the KV cache (transformers `generate`). Chapter 01 evaluates with it;
chapters 03-04 sample teacher traces (`sample_traces`: k samples per prompt at a temperature, each
verified, the input of rejection sampling) and student rollouts with it."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch
from transformers import PreTrainedTokenizerFast

from distillab import world
from distillab.cost import generation_flops
from distillab.models import check_compatible, matmul_parameters
from distillab.runtime import pick_device, seed_everything
from distillab.training import TrainingSet


@dataclass
class Generations:
    texts: list[str]  # the completions only, special tokens removed
    prompt_tokens: int  # prompt tokens processed, padding excluded
    generated_tokens: int  # new tokens written, up to and including [EOS]
    seconds: float


@torch.no_grad()
def generate(
    model: torch.nn.Module,
    tokenizer: PreTrainedTokenizerFast,
    prompts: list[str],
    max_new_tokens: int,
    batch_size: int = 512,
    temperature: float = 0.0,
    use_cache: bool = True,
) -> Generations:
    """Complete each prompt. `temperature` 0 is greedy decoding; above 0 samples at that temperature."""
    check_temperature(temperature)
    if max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be at least 1, got {max_new_tokens}")
    check_compatible(model, tokenizer)
    device = pick_device()
    model.to(device).eval()
    texts, prompt_tokens, generated_tokens = [], 0, 0
    start = time.perf_counter()
    for first in range(0, len(prompts), batch_size):
        encoded = tokenizer(prompts[first:first + batch_size], return_tensors="pt", padding=True)
        encoded = encoded.to(device)
        if temperature > 0:  # sample from the full distribution at this temperature (no top-k cut)
            sampling = {"do_sample": True, "temperature": temperature, "top_k": 0}
        else:
            sampling = {"do_sample": False}
        output = model.generate(
            **encoded,
            max_new_tokens=max_new_tokens,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
            use_cache=use_cache,
            **sampling,
        )
        new_tokens = output[:, encoded["input_ids"].shape[1]:]  # (B, new): prompt sliced off
        prompt_tokens += int(encoded["attention_mask"].sum())
        generated_tokens += int((new_tokens != tokenizer.pad_token_id).sum())
        texts += tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
    return Generations(texts, prompt_tokens, generated_tokens, time.perf_counter() - start)


def check_temperature(temperature: float, sampling: bool = False) -> float:
    """A sampling temperature: a finite number >= 0, where 0 means greedy; > 0 when `sampling` is required."""
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not 0 <= temperature < math.inf:
        allowed = "a number > 0 (1 samples the model's own distribution)" if sampling else "a number >= 0 (0 means greedy)"
        raise ValueError(f"temperature must be {allowed}, got {temperature!r}")
    if sampling and temperature == 0:
        raise ValueError("temperature must be > 0 to sample (0 is greedy decoding: every sample would be the same)")
    return float(temperature)


def check_k(k: int) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k (samples per prompt) must be a whole number >= 1, got {k!r}")
    return k


KEEP = ("first", "all", "unfiltered")  # first correct sample per prompt, every correct one, or no verifier


@dataclass
class TraceSamples:
    """k sampled completions per problem, each checked by the verifier (rejection sampling's input)."""
    problems: list[world.Problem]  # one per prompt
    texts: list[list[str]]  # texts[i][j]: sample j of problem i
    correct: list[list[bool]]  # the verifier's verdict on each sample
    temperature: float
    generated_tokens: int
    prompt_tokens: int
    flops: float  # generation FLOPs, estimated as 2·N per token processed
    seconds: float

    @property
    def k(self) -> int:
        return len(self.texts[0]) if self.texts else 0

    @property
    def acceptance(self) -> float:
        """Share of all samples the verifier accepts."""
        total = sum(len(verdicts) for verdicts in self.correct)
        return sum(map(sum, self.correct)) / total if total else 0.0

    def acceptance_by_difficulty(self) -> dict[int, float]:
        """Share of all samples the verifier accepts, per difficulty."""
        counts: dict[int, list[int]] = {}
        for problem, verdicts in zip(self.problems, self.correct):
            right, total = counts.setdefault(problem.difficulty, [0, 0])
            counts[problem.difficulty] = [right + sum(verdicts), total + len(verdicts)]
        return {d: right / total for d, (right, total) in sorted(counts.items())}

    def traces(self, keep: str = "first") -> list[tuple[world.Problem, str]]:
        """(problem, text) pairs to train on: the first correct sample of each problem
        (`keep="first"`), every correct sample (`"all"`), or, with no verifier at all, the first
        sample of each problem whatever it says (`"unfiltered"`)."""
        if keep not in KEEP:
            raise ValueError(f"keep must be one of {KEEP}, got {keep!r}")
        out = []
        for problem, texts, verdicts in zip(self.problems, self.texts, self.correct):
            if keep == "unfiltered":
                out += [(problem, texts[0])]
                continue
            right = [text for text, ok in zip(texts, verdicts) if ok]
            out += [(problem, text) for text in (right[:1] if keep == "first" else right)]
        return out

    def flops_per_trace(self, keep: str = "first") -> float:
        """Generation FLOPs spent per trace kept (every sample is paid for, kept or not)."""
        kept = len(self.traces(keep))
        return self.flops / kept if kept else float("inf")

    def training_set(self, tokenizer: PreTrainedTokenizerFast, keep: str = "first") -> TrainingSet:
        """The kept traces as SFT data, tokenized with `tokenizer` (the student's: text carries over)."""
        kept = self.traces(keep)
        if not kept:
            total = len(self.problems) * self.k
            raise ValueError(
                f"the verifier accepted none of the {total} samples (temperature {self.temperature:g}, "
                f"k = {self.k}): nothing to train on. Sample more per prompt (k), at a lower temperature, "
                "or from a stronger teacher")
        return TrainingSet.from_texts(by_difficulty(kept), tokenizer)


def by_difficulty(traces: list[tuple[world.Problem, str]]) -> dict[int, list[tuple[str, str]]]:
    """(problem, text) pairs -> {difficulty: [(prompt, text), ...]}, the shape TrainingSet.from_texts takes."""
    out: dict[int, list[tuple[str, str]]] = {}
    for problem, text in traces:
        out.setdefault(problem.difficulty, []).append((problem.prompt, text))
    return dict(sorted(out.items()))


def sample_traces(model: torch.nn.Module, tokenizer: PreTrainedTokenizerFast, problems: list[world.Problem],
                  k: int = 1, temperature: float = 1.0, batch_size: int = 512, seed: int = 0) -> TraceSamples:
    """Sample `k` completions per problem at `temperature` (0 is greedy, so k > 1 would repeat
    itself) and verify each one. Problems of one difficulty are generated together. The random
    generators are seeded with `seed` first, so the same call draws the same samples."""
    from distillab.evaluation import max_new_tokens  # here, not at the top: evaluation imports this module

    check_k(k)
    check_temperature(temperature, sampling=k > 1)
    seed_everything(seed)
    texts: list[list[str]] = [[] for _ in problems]
    by_difficulty: dict[int, list[int]] = {}
    for index, problem in enumerate(problems):
        by_difficulty.setdefault(problem.difficulty, []).append(index)
    generated = prompt_tokens = 0
    seconds = 0.0
    for difficulty, indices in sorted(by_difficulty.items()):
        prompts = [problems[i].prompt for i in indices for _ in range(k)]  # each prompt k times in a row
        out = generate(model, tokenizer, prompts, max_new_tokens(difficulty), batch_size, temperature)
        for position, text in enumerate(out.texts):
            texts[indices[position // k]].append(text)
        generated, prompt_tokens, seconds = generated + out.generated_tokens, prompt_tokens + out.prompt_tokens, seconds + out.seconds
    correct = [[world.is_correct(text, problem) for text in samples] for problem, samples in zip(problems, texts)]
    flops = generation_flops(matmul_parameters(model), prompt_tokens + generated)
    return TraceSamples(list(problems), texts, correct, temperature, generated, prompt_tokens, flops, seconds)


def kept_per_prompt(acceptance: float, k: int, keep: str = "first") -> float:
    """Traces one prompt is expected to yield when each of its `k` samples is right with
    probability `acceptance`: at least one right (keep="first": 1 - (1 - a)^k), every right one
    (keep="all": k·a), or one, right or wrong (keep="unfiltered")."""
    if keep not in KEEP:
        raise ValueError(f"keep must be one of {KEEP}, got {keep!r}")
    if not 0 <= acceptance <= 1:
        raise ValueError(f"acceptance must be a fraction from 0 to 1, got {acceptance}")
    check_k(k)
    if keep == "first":
        return 1 - (1 - acceptance) ** k
    return k * acceptance if keep == "all" else 1.0


def sample_tokens(difficulty: int) -> int:
    """Tokens processed to write one sample of a `difficulty`-step problem: [BOS], the prompt,
    the trace and [EOS] (every problem of one difficulty has the same length)."""
    example = world.Problem("ana", "eggs", 0, (world.Step("finds", 1),) * world.check_difficulty(difficulty))
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
    if isinstance(num_traces, bool) or not isinstance(num_traces, int) or num_traces < 1:
        raise ValueError(f"num_traces must be a whole number >= 1, got {num_traces!r}")
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
