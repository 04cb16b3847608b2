"""The world's tokenizer: one token per word and per number, as a `PreTrainedTokenizerFast`.

Used by every chapter. Being a regular Hugging Face tokenizer, it works with `generate`,
`save_pretrained` and `from_pretrained` as learners know them.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from tokenizers import Tokenizer, models, pre_tokenizers, processors
from transformers import PreTrainedTokenizerFast

from distillab import world

PAD, BOS, EOS, UNK = "[PAD]", "[BOS]", "[EOS]", "[UNK]"
SPECIAL_TOKENS = (PAD, BOS, EOS, UNK)


def build_tokenizer(words: list[str] | None = None) -> PreTrainedTokenizerFast:
    """A word-level tokenizer over `words` (default: the world's vocabulary).

    Text is split on whitespace only, so `<think>` and `29` are single tokens. Encoding adds
    `[BOS]` in front; padding goes on the left, as batched generation needs.
    """
    words = world.vocabulary() if words is None else list(words)
    vocab = {token: i for i, token in enumerate([*SPECIAL_TOKENS, *words])}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    core.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", special_tokens=[(BOS, vocab[BOS])]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        pad_token=PAD,
        bos_token=BOS,
        eos_token=EOS,
        unk_token=UNK,
        padding_side="left",
        clean_up_tokenization_spaces=False,
    )


def load_tokenizer(path: str | Path) -> PreTrainedTokenizerFast:
    """Load a tokenizer saved with `save_pretrained`, with a clear error when it is missing."""
    path = Path(path)
    if not (path / "tokenizer.json").is_file():
        raise FileNotFoundError(f"no tokenizer saved at {path} (expected {path / 'tokenizer.json'})")
    tokenizer = PreTrainedTokenizerFast.from_pretrained(str(path))
    tokenizer.padding_side = "left"
    return tokenizer


def fingerprint(tokenizer: PreTrainedTokenizerFast) -> str:
    """A short hash of the vocabulary: two tokenizers that map words to ids alike share it."""
    items = sorted(tokenizer.get_vocab().items(), key=lambda item: item[1])
    return hashlib.sha256(repr(items).encode()).hexdigest()[:16]
