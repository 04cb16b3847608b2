"""Batched generation with the KV cache (transformers `generate`). Chapter 01 evaluates with it;
chapters 03-04 sample teacher traces (`sample_traces`: k samples per prompt at a temperature, each
verified, the input of rejection sampling) and student rollouts with it."""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from transformers import PreTrainedTokenizerFast

from distillab import world
from distillab.cost import generation_flops
from distillab.models import check_compatible, matmul_parameters
from distillab.runtime import pick_device


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
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0 (0 means greedy), got {temperature}")
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

    def acceptance_by_difficulty(self) -> dict[int, float]:
        """Share of all samples the verifier accepts, per difficulty."""
        counts: dict[int, list[int]] = {}
        for problem, verdicts in zip(self.problems, self.correct):
            right, total = counts.setdefault(problem.difficulty, [0, 0])
            counts[problem.difficulty] = [right + sum(verdicts), total + len(verdicts)]
        return {d: right / total for d, (right, total) in sorted(counts.items())}

    def accepted(self, keep: str = "first") -> list[tuple]:
        """(problem, text) pairs the verifier accepts: the first correct sample per problem
        (`keep="first"`) or every correct sample (`keep="all"`)."""
        if keep not in ("first", "all"):
            raise ValueError(f"keep must be 'first' or 'all', got {keep!r}")
        out = []
        for problem, texts, verdicts in zip(self.problems, self.texts, self.correct):
            right = [text for text, ok in zip(texts, verdicts) if ok]
            out += [(problem, text) for text in (right[:1] if keep == "first" else right)]
        return out

    def flops_per_accepted_trace(self, keep: str = "first") -> float:
        accepted = len(self.accepted(keep))
        return self.flops / accepted if accepted else float("inf")


def sample_traces(model: torch.nn.Module, tokenizer: PreTrainedTokenizerFast, problems: list[world.Problem],
                  k: int = 1, temperature: float = 1.0, batch_size: int = 512) -> TraceSamples:
    """Sample `k` completions per problem at `temperature` (0 is greedy, so k > 1 would repeat
    itself) and verify each one. Problems of one difficulty are generated together."""
    from distillab.evaluation import max_new_tokens  # here, not at the top: evaluation imports this module

    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k (samples per prompt) must be a whole number >= 1, got {k!r}")
    if not temperature > 0 and k > 1:
        raise ValueError(f"temperature must be > 0 to draw k = {k} different samples (0 is greedy), got {temperature}")
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
