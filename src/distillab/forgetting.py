"""What fine-tuning cost a pretrained model away from the task: its perplexity on ordinary English
that is not the world's problems, and how far its next-token distributions moved on general chat
prompts, each measured before and after training (Biderman et al. 2024: "LoRA learns less and
forgets less").

- **Perplexity** on `PASSAGES`: the docstrings of objects of Python's standard library, as this
  Python has them, each cut to its first `PASSAGE_TOKENS` tokens. They ship with every Python, need
  no download and read as ordinary technical English. Their text can differ a little between Python
  versions, so a measurement carries the passages' SHA-256 (`Passages.sha256`): two figures compare
  only where it matches.
- **Drift** on `CHAT_PROMPTS`: everyday questions asked through the model's chat template. The
  model as it comes answers each greedily (`REPLY_TOKENS` tokens); before and after training the
  model reads those same replies, and the drift is the mean over their positions of
  KL(before || after), in nats: 0 for a model that did not move, larger the more its next-token
  distributions changed on text that has nothing to do with the task.

`reference(model, tokenizer)` measures the model before training and keeps what the drift compares
against; `measure(model, tokenizer, reference)` after training gives both figures, before and after.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from transformers import PreTrainedModel, PreTrainedTokenizerBase

# Objects of the standard library whose docstrings are mostly prose (module.attribute or module).
PASSAGE_OBJECTS = ("heapq", "difflib", "textwrap.TextWrapper", "shutil.copytree", "json", "csv", "tempfile", "sched")
PASSAGE_TOKENS = 64  # the first tokens of each passage that count
CHAT_PROMPTS = (
    "How do I keep basil alive on a windowsill?",
    "Write a short, friendly note inviting my neighbours to a picnic.",
    "What is the difference between weather and climate?",
    "Give me three tips for a first job interview.",
    "Why is the sky blue?",
    "How should I start learning to play the guitar?",
    "What can I cook with rice, eggs and spinach?",
    "Describe a quiet morning by the sea in two sentences.",
)
REPLY_TOKENS = 16  # at most, the greedy reply of the model as it comes: the positions the drift is measured on


@dataclass(frozen=True)
class Passages:
    """The general-English passages as this Python has them."""
    texts: tuple[str, ...]

    @property
    def sha256(self) -> str:
        return hashlib.sha256("\n\n".join(self.texts).encode("utf-8")).hexdigest()


def passages() -> Passages:
    """The docstrings of `PASSAGE_OBJECTS`, whitespace made single spaces."""
    texts = []
    for name in PASSAGE_OBJECTS:
        module, _, attribute = name.partition(".")
        found = importlib.import_module(module)
        texts.append(" ".join((inspect.getdoc(getattr(found, attribute) if attribute else found) or "").split()))
    return Passages(tuple(texts))


@dataclass(frozen=True)
class Reference:
    """The model before training, as the drift compares against it: the chat prompts with its own
    greedy replies (token ids, right-padded, and which positions are reply), its log-probabilities
    there, and its perplexity on the passages."""
    input_ids: torch.Tensor  # (P, T)
    reply_mask: torch.Tensor  # (P, T - 1): True where position t predicts a reply token
    log_probs: torch.Tensor  # (R, V): the model's next-token log-probabilities at the reply positions
    perplexity: float
    passages_sha256: str


@dataclass(frozen=True)
class Forgetting:
    """What training moved away from the task: perplexity on the passages before and after, and
    the mean KL(before || after) of next-token distributions on the chat replies, in nats."""
    perplexity_before: float
    perplexity_after: float
    drift: float
    passages_sha256: str

    def as_dict(self) -> dict:
        return {"perplexity_before": self.perplexity_before, "perplexity_after": self.perplexity_after,
                "drift": self.drift, "passages_sha256": self.passages_sha256}


def _device(model: PreTrainedModel) -> torch.device:
    return next(model.parameters()).device


@torch.no_grad()
def perplexity(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, texts: tuple[str, ...],
               tokens: int = PASSAGE_TOKENS) -> float:
    """exp of the mean next-token cross-entropy over the first `tokens` tokens of every text
    (token-weighted), one text at a time."""
    total, count = 0.0, 0
    for text in texts:
        ids = tokenizer(text, add_special_tokens=False)["input_ids"][:tokens]
        batch = torch.tensor([ids], device=_device(model))
        logits = model(input_ids=batch[:, :-1]).logits.float()
        total += F.cross_entropy(logits[0], batch[0, 1:], reduction="sum").item()
        count += len(ids) - 1
    return float(torch.exp(torch.tensor(total / count)))


def _chat_prompts(tokenizer: PreTrainedTokenizerBase) -> list[list[int]]:
    """`CHAT_PROMPTS` through the chat template (an empty system message, as the course asks), or
    as plain text for a tokenizer without one."""
    if not getattr(tokenizer, "chat_template", None):
        return [tokenizer(prompt)["input_ids"] for prompt in CHAT_PROMPTS]
    return [tokenizer(tokenizer.apply_chat_template([{"role": "system", "content": ""},
                                                     {"role": "user", "content": prompt}],
                                                    tokenize=False, add_generation_prompt=True),
                      add_special_tokens=False)["input_ids"] for prompt in CHAT_PROMPTS]


@torch.no_grad()
def _reply_log_probs(model: PreTrainedModel, input_ids: torch.Tensor, reply_mask: torch.Tensor) -> torch.Tensor:
    logits = model(input_ids=input_ids[:, :-1].to(_device(model))).logits.float()
    return F.log_softmax(logits[reply_mask.to(logits.device)], dim=-1).cpu()


@torch.no_grad()
def reference(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> Reference:
    """The model as it is now (before training): its greedy replies to `CHAT_PROMPTS`, its
    distributions along them, and its perplexity on the passages."""
    prompts = _chat_prompts(tokenizer)
    pad, end, width = tokenizer.pad_token_id, tokenizer.eos_token_id, max(map(len, prompts))
    ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts], device=_device(model))  # all at once, left-padded
    attention = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts], device=_device(model))
    out = model.generate(input_ids=ids, attention_mask=attention, max_new_tokens=REPLY_TOKENS, do_sample=False,
                         pad_token_id=pad)
    rows, starts = [], []
    for prompt, reply in zip(prompts, out[:, width:].tolist()):
        rows.append(prompt + (reply[:reply.index(end) + 1] if end in reply else reply))  # up to its end of turn
        starts.append(len(prompt))
    width = max(map(len, rows))
    input_ids = torch.tensor([row + [tokenizer.pad_token_id] * (width - len(row)) for row in rows])
    reply_mask = torch.zeros(len(rows), width - 1, dtype=torch.bool)
    for i, (row, start) in enumerate(zip(rows, starts)):
        reply_mask[i, start - 1:len(row) - 1] = True  # position t predicts token t + 1
    shown = passages()
    return Reference(input_ids, reply_mask, _reply_log_probs(model, input_ids, reply_mask),
                     perplexity(model, tokenizer, shown.texts), shown.sha256)


_REMEMBERED: dict[tuple[str, str], Reference] = {}


def remembered_reference(key: tuple[str, str], model: PreTrainedModel,
                         tokenizer: PreTrainedTokenizerBase) -> Reference:
    """`reference(model, tokenizer)`, measured once per `key` (a checkpoint's hash and the
    tokenizer's fingerprint) in this process: every run that starts from the same model as it comes
    compares against the same reference."""
    if key not in _REMEMBERED:
        _REMEMBERED[key] = reference(model, tokenizer)
    return _REMEMBERED[key]


@torch.no_grad()
def measure(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, before: Reference) -> Forgetting:
    """The model after training against `before` (`reference` of the same model before it)."""
    was_training = model.training
    model.eval()
    try:
        after = _reply_log_probs(model, before.input_ids, before.reply_mask)
        drift = F.kl_div(after, before.log_probs, log_target=True, reduction="none").sum(-1).mean().item()
        shown = passages()
        return Forgetting(before.perplexity, perplexity(model, tokenizer, shown.texts), drift, before.passages_sha256)
    finally:
        model.train(was_training)
