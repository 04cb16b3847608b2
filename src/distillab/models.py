"""Named model sizes built from a transformers Llama config, and safe save/load with provenance.

Chapter 01 builds the teacher; chapters 02-05 build students and load teachers.
Artifacts are written with `save_pretrained` (safetensors), never pickled.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from distillab import tokenizer as tok
from distillab.runtime import seed_everything

MAX_SEQUENCE_LENGTH = 128  # the longest problem + trace is 63 tokens


@dataclass(frozen=True)
class ModelSize:
    hidden_size: int  # width of the residual stream
    num_layers: int  # transformer blocks
    num_heads: int  # attention heads (hidden_size / num_heads = head dimension)
    intermediate_size: int  # width of the SwiGLU feed-forward layer

    def __post_init__(self) -> None:
        if self.hidden_size % self.num_heads:
            raise ValueError(f"hidden_size {self.hidden_size} is not divisible by {self.num_heads} heads")


SIZES = {
    "tiny": ModelSize(hidden_size=64, num_layers=2, num_heads=4, intermediate_size=160),  # ~0.1M
    "small": ModelSize(hidden_size=96, num_layers=3, num_heads=4, intermediate_size=256),  # ~0.34M
    "medium": ModelSize(hidden_size=160, num_layers=3, num_heads=5, intermediate_size=432),  # ~0.93M
    "large": ModelSize(hidden_size=192, num_layers=4, num_heads=6, intermediate_size=512),  # ~1.8M
}
TEACHER_SIZE = "large"  # our "frontier model"
STUDENT_SIZE = "small"  # the default student, ~5x smaller


def get_size(name: str) -> ModelSize:
    if name not in SIZES:
        raise ValueError(f"unknown model size {name!r}; choose one of {list(SIZES)}")
    return SIZES[name]


def build_model(size: str, tokenizer: PreTrainedTokenizerFast, seed: int = 0) -> LlamaForCausalLM:
    """A freshly initialised Llama-family causal LM of the named size for `tokenizer`'s vocabulary."""
    shape = get_size(size)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=shape.hidden_size,
        intermediate_size=shape.intermediate_size,
        num_hidden_layers=shape.num_layers,
        num_attention_heads=shape.num_heads,
        num_key_value_heads=shape.num_heads,
        max_position_embeddings=MAX_SEQUENCE_LENGTH,
        tie_word_embeddings=True,  # input and output embeddings share weights, as in small Llamas
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        attn_implementation="sdpa",
    )
    seed_everything(seed)
    model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.config.tokenizer_fingerprint = tok.fingerprint(tokenizer)  # which ids it reads (checked by train)
    return model


def count_parameters(model: torch.nn.Module) -> int:
    """Distinct trainable parameters (tied embeddings counted once)."""
    return sum(p.numel() for p in model.parameters())


def matmul_parameters(model: LlamaForCausalLM) -> int:
    """Parameters that take part in a matrix multiply per token: all but the embedding lookup,
    plus the output projection (tied to the embedding, but multiplied at every position).
    This is the N in the 6·N·D rule of thumb."""
    norms = sum(p.numel() for n, p in model.named_parameters() if "norm" in n)
    return count_parameters(model) - norms  # embedding counted once: as the output projection


def check_compatible(model: LlamaForCausalLM, tokenizer: PreTrainedTokenizerFast) -> None:
    """Raise a clear ValueError when `tokenizer` does not belong with `model`."""
    if model.config.vocab_size != len(tokenizer):
        raise ValueError(
            f"tokenizer has {len(tokenizer)} tokens but the model expects {model.config.vocab_size}: "
            "use the tokenizer saved with this model (load_model returns it)"
        )
    saved = getattr(model.config, "tokenizer_fingerprint", None)
    if saved is not None and saved != tok.fingerprint(tokenizer):
        raise ValueError(
            "tokenizer maps words to different ids than the one this model was trained with: "
            "use the tokenizer saved with this model (load_model returns it)"
        )


@dataclass
class Provenance:
    """Where a saved model came from; written next to the weights as provenance.json."""

    size: str
    seed: int
    profile: str
    steps: int
    parameters: int
    accuracy: dict[int, float] = field(default_factory=dict)  # difficulty -> fraction correct
    flops: float = 0.0  # training FLOPs, counted
    seconds: float = 0.0  # training wall time
    extra: dict = field(default_factory=dict)  # anything else worth keeping (kind, data size, ...)
    package_version: str = ""

    def __post_init__(self) -> None:
        if not self.package_version:
            from distillab import __version__

            self.package_version = __version__
        self.accuracy = {int(k): float(v) for k, v in self.accuracy.items()}


PROVENANCE_FILE = "provenance.json"
WEIGHTS_FILE = "model.safetensors"


def weights_sha256(path: str | Path) -> str:
    """The SHA-256 of a saved model's weights file: the same weights, the same hash; retrained, another."""
    digest = hashlib.sha256()
    with (Path(path) / WEIGHTS_FILE).open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_model(
    model: LlamaForCausalLM,
    tokenizer: PreTrainedTokenizerFast,
    path: str | Path,
    provenance: Provenance,
) -> Path:
    """Save weights (safetensors), config, tokenizer and provenance into the folder `path`.

    Everything is written to a temporary folder first and moved into place at the end, so a
    failure half-way never damages a model already saved at `path`.
    """
    check_compatible(model, tokenizer)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model.config.tokenizer_fingerprint = tok.fingerprint(tokenizer)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}-", dir=path.parent))
    try:
        model.save_pretrained(staging, safe_serialization=True)
        tokenizer.save_pretrained(staging)
        (staging / PROVENANCE_FILE).write_text(json.dumps(asdict(provenance), indent=2) + "\n")
        if path.exists():
            shutil.rmtree(path)
        staging.rename(path)
        path.chmod(0o755)  # mkdtemp made it private; a saved model is an ordinary folder
        for file in path.iterdir():
            file.chmod(0o644)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return path


def load_model(
    path: str | Path, device: torch.device | str = "cpu"
) -> tuple[LlamaForCausalLM, PreTrainedTokenizerFast, Provenance]:
    """Load a model saved by `save_model`: (model, tokenizer, provenance), with clear errors."""
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"no saved model at {path}: train one first, or check the path")
    for name in ("config.json", WEIGHTS_FILE, PROVENANCE_FILE):
        if not (path / name).is_file():
            raise FileNotFoundError(f"the saved model at {path} is incomplete: {name} is missing")
    tokenizer = tok.load_tokenizer(path)
    try:
        provenance = Provenance(**json.loads((path / PROVENANCE_FILE).read_text()))
        model = LlamaForCausalLM.from_pretrained(path, use_safetensors=True)
    except Exception as error:  # corrupted or hand-edited files: say which folder and why
        raise ValueError(
            f"the saved model at {path} could not be read ({type(error).__name__}: {error}); "
            "it may be corrupted: train it again or restore it"
        ) from None
    check_compatible(model, tokenizer)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model.to(device).eval(), tokenizer, provenance
