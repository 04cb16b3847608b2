"""Decoding: batched generation with the KV cache (transformers `generate`), and k verified samples
per prompt (`sample_traces`, the input of rejection sampling). Chapter 01 evaluates with it,
chapter 03 samples the teacher's traces, chapter 04 the student's own text. Planning how many
samples to draw is `rejection`'s job."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from transformers import PreTrainedTokenizerBase, PreTrainedTokenizerFast

from distillab import answers, knobs, world
from distillab.architectures import PROMPT_FORMATS, completion_text, prompt_text
from distillab.cost import generation_flops
from distillab.losses import check_temperature
from distillab.models import check_compatible, matmul_parameters
from distillab.runtime import pick_device, seed_everything
from distillab.training import TrainingSet


EXTRA_TOKENS = 4  # generation may run this far past the correct completion's length


def max_new_tokens_for(difficulty: int, tokenizer: PreTrainedTokenizerBase | None = None,
                   prompt_format: str = "world") -> int:
    """Room for the full trace of a `difficulty`-step problem, [EOS] and a small margin: in words
    (one token each in the world's tokenizer), or in `tokenizer`'s tokens with every number at its
    widest (a BPE tokenizer splits numbers into digits), written as a model asked in
    `prompt_format` writes it (plain English: `world.in_plain_english`)."""
    if tokenizer is None:
        return len(world.example_problem(difficulty).trace.split()) + 1 + EXTRA_TOKENS
    trace = completion_text(world.widest_example(difficulty).trace, "world", prompt_format)
    return len(tokenizer(trace, add_special_tokens=False)["input_ids"]) + 1 + EXTRA_TOKENS


def verifier_for(prompt_format: str) -> Callable[[str, world.Problem], bool]:
    """The course's strict verifier for its own format; the free-text one for plain English."""
    return world.is_correct if knobs.choice("prompt_format", prompt_format, PROMPT_FORMATS) == "world" \
        else answers.is_correct


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
    check_temperature(temperature, greedy_allowed=True)
    knobs.whole_number("max_new_tokens", max_new_tokens, 1)
    knobs.whole_number("batch_size (prompts generated at once)", batch_size, 1)
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


def check_k(k: int) -> int:
    """Samples per prompt: 1 or more."""
    return knobs.whole_number("k (samples per prompt)", k, 1)


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
    prompt_format: str = "world"  # how the prompts were written: architectures.PROMPT_FORMATS

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

    def examples(self, count: int = 4) -> list[str]:
        """`count` prompts spread evenly over the samples (so the difficulties show), each with its
        first sample and the verifier's verdict: "prompt\n  -> text   [right]"."""
        step = max(1, len(self.problems) // count)
        return [f"{problem.prompt}\n  -> {texts[0]}   [{'right' if verdicts[0] else 'wrong'}]"
                for problem, texts, verdicts in list(zip(self.problems, self.texts, self.correct))[::step][:count]]

    def mistakes(self) -> list[tuple[world.Problem, str]]:
        """(problem, text) for every sample the verifier rejected, in sampling order."""
        return [(problem, text) for problem, texts, verdicts in zip(self.problems, self.texts, self.correct)
                for text, ok in zip(texts, verdicts) if not ok]

    def flops_per_trace(self, keep: str = "first") -> float:
        """Generation FLOPs spent per trace kept (every sample is paid for, kept or not)."""
        kept = len(self.traces(keep))
        return self.flops / kept if kept else float("inf")

    def training_set(self, tokenizer: PreTrainedTokenizerBase, keep: str = "first",
                     prompt_format: str | None = None) -> TrainingSet:
        """The kept traces as SFT data, tokenized with `tokenizer` (the student's: text carries over).
        A student asked in another `prompt_format` than the teacher (default: the same) gets its
        prompts in its own format and the teacher's texts rendered for it (`completion_text`)."""
        kept = self.traces(keep)
        if prompt_format is not None and prompt_format != self.prompt_format:
            kept = [(problem, completion_text(text, self.prompt_format, prompt_format)) for problem, text in kept]
        if not kept:
            total = len(self.problems) * self.k
            raise ValueError(
                f"the verifier accepted none of the {total} samples (temperature {self.temperature:g}, "
                f"k = {self.k}): nothing to train on. Sample more per prompt (k), at a lower temperature, "
                "or from a stronger teacher")
        return training_set(kept, tokenizer, prompt_format or self.prompt_format)


def training_set(traces: list[tuple[world.Problem, str]], tokenizer: PreTrainedTokenizerBase,
                 prompt_format: str = "world") -> TrainingSet:
    """(problem, text) pairs as SFT data for a student that reads `tokenizer`'s ids and is asked in
    `prompt_format`: the one way a list of texts becomes a training set."""
    return TrainingSet.from_texts(by_difficulty(traces, tokenizer, prompt_format), tokenizer)


def by_difficulty(traces: list[tuple[world.Problem, str]], tokenizer: PreTrainedTokenizerBase | None = None,
                  prompt_format: str = "world") -> dict[int, list[tuple[str, str]]]:
    """(problem, text) pairs -> {difficulty: [(prompt, text), ...]}, the shape TrainingSet.from_texts
    takes; each prompt written in `prompt_format` for `tokenizer` (the student's)."""
    out: dict[int, list[tuple[str, str]]] = {}
    for problem, text in traces:
        out.setdefault(problem.difficulty, []).append((prompt_text(problem, tokenizer, prompt_format), text))
    return dict(sorted(out.items()))


def sample_traces(model: torch.nn.Module, tokenizer: PreTrainedTokenizerFast, problems: list[world.Problem],
                  k: int = 1, temperature: float = 1.0, batch_size: int = 512, seed: int = 0,
                  prompt_format: str = "world", max_new_tokens: int | None = None) -> TraceSamples:
    """Sample `k` completions per problem at `temperature` (0 is greedy, so k > 1 would repeat
    itself) and verify each one (`verifier_for(prompt_format)`). Problems of one difficulty are
    generated together, with room for `max_new_tokens` new tokens (default: `max_new_tokens_for`). The random
    generators are seeded with `seed` first, so the same call draws the same samples."""
    verifier = verifier_for(prompt_format)
    check_k(k)
    check_temperature(temperature, greedy_allowed=k == 1)
    seed_everything(seed)
    texts: list[list[str]] = [[] for _ in problems]
    by_difficulty: dict[int, list[int]] = {}
    for index, problem in enumerate(problems):
        by_difficulty.setdefault(problem.difficulty, []).append(index)
    generated = prompt_tokens = 0
    seconds = 0.0
    for difficulty, indices in sorted(by_difficulty.items()):
        prompts = [prompt_text(problems[i], tokenizer, prompt_format) for i in indices for _ in range(k)]  # k in a row
        room = max_new_tokens or max_new_tokens_for(difficulty, tokenizer, prompt_format)
        out = generate(model, tokenizer, prompts, room, batch_size, temperature)
        for position, text in enumerate(out.texts):
            texts[indices[position // k]].append(text)
        generated, prompt_tokens, seconds = generated + out.generated_tokens, prompt_tokens + out.prompt_tokens, seconds + out.seconds
    correct = [[verifier(text, problem) for text in samples] for problem, samples in zip(problems, texts)]
    flops = generation_flops(matmul_parameters(model), prompt_tokens + generated)
    return TraceSamples(list(problems), texts, correct, temperature, generated, prompt_tokens, flops, seconds,
                        prompt_format)
