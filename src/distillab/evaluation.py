"""Accuracy by difficulty on held-out problems, with greedy decoding and the world's verifier.
Every chapter that trains a model measures it with `evaluate`; chapter 03 also spends test-time
compute with `vote_at_k` (majority vote over k samples)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import torch
from transformers import PreTrainedTokenizerFast

from distillab import world
from distillab.cost import generation_flops
from distillab.models import matmul_parameters
from distillab.architectures import prompt_text
from distillab.sampling import check_k, generate, max_new_tokens_for, sample_traces, verifier_for

@dataclass
class Evaluation:
    accuracy: dict[int, float]  # difficulty -> fraction of problems answered exactly right
    seconds: float  # wall time of generation
    generated_tokens: int
    flops: float  # generation FLOPs, estimated as 2 * N per token processed
    num_problems: int
    texts: dict[int, list[str]] = field(default_factory=dict, repr=False)  # difficulty -> each problem's completion

    @property
    def mean_accuracy(self) -> float:
        return world.mean_accuracy(self.accuracy)

    @property
    def problems_per_second(self) -> float:
        return self.num_problems / self.seconds if self.seconds else float("inf")


def evaluate(
    model: torch.nn.Module,
    tokenizer: PreTrainedTokenizerFast,
    problems_by_difficulty: dict[int, list[world.Problem]],
    batch_size: int = 512,
    prompt_format: str = "world",
    max_new_tokens: int | None = None,
) -> Evaluation:
    """Greedy-decode every problem, put in `prompt_format`, with room for `max_new_tokens` new tokens
    (default: `sampling.max_new_tokens`), and verify its answer; accuracy per difficulty."""
    verifier = verifier_for(prompt_format)
    accuracy, seconds, tokens, flops, count, texts = {}, 0.0, 0, 0.0, 0, {}
    for difficulty, problems in sorted(problems_by_difficulty.items()):
        if not problems:
            continue
        out = generate(model, tokenizer, [prompt_text(p, tokenizer, prompt_format) for p in problems],
                       max_new_tokens or max_new_tokens_for(difficulty, tokenizer, prompt_format),
                       batch_size=batch_size)
        correct = sum(verifier(text, p) for text, p in zip(out.texts, problems))
        texts[difficulty] = out.texts
        accuracy[difficulty] = correct / len(problems)
        seconds += out.seconds
        tokens += out.generated_tokens
        flops += generation_flops(matmul_parameters(model), out.prompt_tokens + out.generated_tokens)
        count += len(problems)
    if not accuracy:
        raise ValueError("no problems to evaluate: give at least one difficulty with problems")
    return Evaluation(accuracy, seconds, tokens, flops, count, texts)


def majority_answer(texts: list[str]) -> int | None:
    """The answer most samples give (a sample with no clear answer has no vote); a tie goes to
    the answer that appeared first. None when no sample gives an answer."""
    answers = [a for a in (world.parse_answer(text) for text in texts) if a is not None]
    if not answers:
        return None
    counts = Counter(answers)
    best = max(counts.values())
    return next(a for a in answers if counts[a] == best)


@dataclass
class VoteCurve:
    """Majority vote over the first k samples of each problem, for each k in `ks`."""
    ks: list[int]
    accuracy: dict[int, dict[int, float]]  # k -> difficulty -> fraction right
    flops: dict[int, float]  # k -> generation FLOPs of k samples for every problem
    temperature: float

    def mean_accuracy(self, k: int) -> float:
        return world.mean_accuracy(self.accuracy[k])


def vote_at_k(model: torch.nn.Module, tokenizer: PreTrainedTokenizerFast,
              problems_by_difficulty: dict[int, list[world.Problem]], ks: tuple[int, ...] = (1, 2, 4, 8),
              temperature: float = 1.0, seed: int = 0) -> VoteCurve:
    """Sample max(ks) completions per problem at `temperature` once; score a majority vote over
    the first k of them for each k (so the curve is nested, as if you had stopped sampling at k).
    `seed` seeds the sampling."""
    if not ks:
        raise ValueError("ks must name at least one number of samples, e.g. (1, 2, 4, 8)")
    ks = sorted({check_k(k) for k in ks})
    problems = [p for _, level in sorted(problems_by_difficulty.items()) for p in level]
    samples = sample_traces(model, tokenizer, problems, k=ks[-1], temperature=temperature, seed=seed)
    accuracy: dict[int, dict[int, float]] = {}
    for k in ks:
        right: dict[int, list[bool]] = {}
        for problem, texts in zip(samples.problems, samples.texts):
            right.setdefault(problem.difficulty, []).append(majority_answer(texts[:k]) == problem.answer)
        accuracy[k] = {d: sum(v) / len(v) for d, v in sorted(right.items())}
    flops = {k: samples.flops * k / ks[-1] for k in ks}
    return VoteCurve(ks, accuracy, flops, temperature)
