"""The world's tokenizer: one token per word and per number, as a `PreTrainedTokenizerFast`; and a
byte-level BPE tokenizer trained here on the world's text, the kind real models use (chapter 06).

Used by every chapter. Being a regular Hugging Face tokenizer, it works with `generate`,
`save_pretrained` and `from_pretrained` as learners know them.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
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


BPE_VOCAB_SIZE = 384  # 256 bytes, 3 special tokens and 125 merges: every world word is one token
BPE_CORPUS_SEED = 7  # the problems the BPE tokenizer learns its merges from


def world_corpus(per_difficulty: int = 200, seed: int = BPE_CORPUS_SEED) -> list[str]:
    """Text of the world to learn BPE merges from: prompts, traces and plain-English questions."""
    texts = []
    for difficulty in world.DIFFICULTIES:
        for problem in world.sample_problems(per_difficulty, difficulty, seed):
            texts += [f"{problem.prompt} {problem.trace}", problem.question]
    return texts


def build_bpe_tokenizer(vocab_size: int = BPE_VOCAB_SIZE, texts: list[str] | None = None) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer (as in GPT-2, Llama 3 and Qwen2) trained on `texts` (default: the
    world's corpus). Like Qwen2 it splits every number into single digits (Llama 3 cuts them into
    groups of up to three), so `17` is
    two tokens (three with its space) where the world's tokenizer has one. Any text can be
    encoded: unknown words fall back to bytes. Special tokens and padding are as in
    `build_tokenizer`."""
    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                                  pre_tokenizers.ByteLevel(add_prefix_space=False)])
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[PAD, BOS, EOS],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    core.train_from_iterator(world_corpus() if texts is None else texts, trainer)
    core.post_processor = processors.TemplateProcessing(single=f"{BOS} $A",
                                                        special_tokens=[(BOS, core.token_to_id(BOS))])
    return PreTrainedTokenizerFast(tokenizer_object=core, pad_token=PAD, bos_token=BOS, eos_token=EOS,
                                   padding_side="left", clean_up_tokenization_spaces=False)


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
