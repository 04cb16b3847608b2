"""Batched generation with the KV cache (transformers `generate`). Chapter 01 evaluates with it;
chapters 03-04 sample teacher traces and student rollouts with it."""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from transformers import PreTrainedTokenizerFast

from distillab.models import check_compatible
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
