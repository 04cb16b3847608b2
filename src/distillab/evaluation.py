"""Accuracy by difficulty on held-out problems, with greedy decoding and the world's verifier.
Every chapter that trains a model measures it with `evaluate`."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers import PreTrainedTokenizerFast

from distillab import world
from distillab.cost import generation_flops
from distillab.models import matmul_parameters
from distillab.sampling import generate

EXTRA_TOKENS = 4  # generation may run this far past the correct completion's length


def max_new_tokens(difficulty: int) -> int:
    """Room for the full trace of a `difficulty`-step problem, [EOS] and a small margin."""
    longest = world.Problem("ana", "eggs", 0, (world.Step("finds", 1),) * difficulty)
    return len(longest.trace.split()) + 1 + EXTRA_TOKENS


@dataclass
class Evaluation:
    accuracy: dict[int, float]  # difficulty -> fraction of problems answered exactly right
    seconds: float  # wall time of generation
    generated_tokens: int
    flops: float  # generation FLOPs, estimated as 2 * N per token processed
    num_problems: int

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
) -> Evaluation:
    """Greedy-decode every problem and verify its answer; accuracy per difficulty."""
    accuracy, seconds, tokens, flops, count = {}, 0.0, 0, 0.0, 0
    for difficulty, problems in sorted(problems_by_difficulty.items()):
        if not problems:
            continue
        out = generate(model, tokenizer, [p.prompt for p in problems],
                       max_new_tokens(difficulty), batch_size=batch_size)
        correct = sum(world.is_correct(text, p) for text, p in zip(out.texts, problems))
        accuracy[difficulty] = correct / len(problems)
        seconds += out.seconds
        tokens += out.generated_tokens
        flops += generation_flops(matmul_parameters(model), out.prompt_tokens + out.generated_tokens)
        count += len(problems)
    if not accuracy:
        raise ValueError("no problems to evaluate: give at least one difficulty with problems")
    return Evaluation(accuracy, seconds, tokens, flops, count)
