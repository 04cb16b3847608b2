"""Named model sizes built from a transformers Llama config, and safe save/load with provenance.

Chapter 01 builds the teacher; chapters 02-05 build students and load teachers.
Artifacts are written with `save_pretrained` (safetensors), never pickled.
"""

from __future__ import annotations

import errno
import hashlib
import json
import shutil
import tempfile
from dataclasses import asdict, astuple, dataclass, field, replace
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from transformers import AutoModelForCausalLM, GPT2Config, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast, Qwen2Config

from distillab import knobs
from distillab import tokenizer as tok
from distillab.runtime import no_loading_bars, seed_everything
from distillab.training import TrainingState

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


ARCHITECTURES = ("llama", "qwen2", "gpt2")  # what `build_model` builds: the course's own is the Llama


def llama_config(size: str, tokenizer, family: type[LlamaConfig] = LlamaConfig) -> LlamaConfig:
    """The course's decoder at the named size for `tokenizer`'s vocabulary: a Llama, or another
    config class with the same fields (Qwen2's: a Llama with q/k/v biases)."""
    shape = get_size(size)
    return family(
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
    )


def model_config(architecture: str, size: str, tokenizer):
    """The config of `architecture` at the named size for `tokenizer`'s vocabulary: a Llama or a
    Qwen2 (a Llama with q/k/v biases) from `llama_config`, or a GPT-2 of the same shape."""
    knobs.choice("architecture", architecture, ARCHITECTURES)
    if architecture != "gpt2":
        return llama_config(size, tokenizer, LlamaConfig if architecture == "llama" else Qwen2Config)
    shape = get_size(size)  # GPT-2: learned absolute positions, LayerNorm, GELU MLP, biases
    return GPT2Config(n_embd=shape.hidden_size, n_layer=shape.num_layers, n_head=shape.num_heads,
                      n_inner=shape.intermediate_size, n_positions=MAX_SEQUENCE_LENGTH,
                      resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,  # no dropout, like the Llamas
                      vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id,
                      bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id)


def build_model(size: str, tokenizer: PreTrainedTokenizerFast, seed: int = 0, architecture: str = "llama"):
    """A freshly initialised causal LM of the named size for `tokenizer`'s vocabulary, seeded: the
    course's Llama, or another architecture of `ARCHITECTURES`. It knows the tokenizer it reads: its
    padding id for generation, and its fingerprint (checked by `training.train`)."""
    config = model_config(architecture, size, tokenizer)
    config._attn_implementation = "sdpa"
    seed_everything(seed)
    model = AutoModelForCausalLM.from_config(config)
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
    # Vectors (norm weights, biases) scale or shift instead; learned positions (GPT-2's wpe) are a lookup.
    not_multiplied = sum(p.numel() for n, p in model.named_parameters() if p.dim() < 2 or "wpe" in n)
    return count_parameters(model) - not_multiplied  # embedding counted once: as the output projection


USE_THE_SAVED = "use the tokenizer saved with this model (load_model returns it)"
SAVE_WITH_ITS_OWN = ("save the model with the tokenizer it was built and trained with (the one build_model or "
                     "load_model gave you with it), or its saved copy will not read text the way it learnt to")


def check_compatible(model: LlamaForCausalLM, tokenizer: PreTrainedTokenizerFast, fix: str = USE_THE_SAVED) -> None:
    """Raise a clear ValueError when `tokenizer` does not belong with `model`; `fix` says what to do."""
    if len(tokenizer) > model.config.vocab_size:  # real models may pad their embedding beyond the tokenizer
        raise ValueError(f"tokenizer has {len(tokenizer)} tokens but the model has embeddings for "
                         f"{model.config.vocab_size}: {fix}")
    saved = getattr(model.config, "tokenizer_fingerprint", None)
    if saved is not None and saved != tok.fingerprint(tokenizer):
        raise ValueError(f"tokenizer maps words to different ids than the one this model was trained with: {fix}")


@dataclass
class Provenance:
    """Where a saved model came from; written next to the weights as provenance.json."""

    size: str
    seed: int
    profile: str
    steps: int  # optimizer steps it trained (fewer than planned when it was interrupted)
    parameters: int
    accuracy: dict[int, float] = field(default_factory=dict)  # difficulty -> fraction correct
    flops: float = 0.0  # training FLOPs, counted
    seconds: float = 0.0  # training wall time
    extra: dict = field(default_factory=dict)  # anything else worth keeping (kind, data size, ...)
    package_version: str = ""
    weights_sha256: str = ""  # of model.safetensors, written by save_model; load_model checks it
    config_sha256: str = ""  # of config.json (the architecture), likewise
    interrupted: bool = False  # training was stopped early: `steps` of `planned_steps`, resumable
    planned_steps: int | None = None  # the budget it was started with

    def __post_init__(self) -> None:
        if not self.package_version:
            from distillab import __version__

            self.package_version = __version__
        self.accuracy = {int(k): float(v) for k, v in self.accuracy.items()}


PROVENANCE_FILE = "provenance.json"
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
TRAINING_STATE_FILE = "training_state.safetensors"  # only beside an interrupted model: what resuming needs


def file_sha256(path: str | Path) -> str:
    """The SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def weights_sha256(path: str | Path) -> str:
    """The SHA-256 of a saved model's weights file: the same weights, the same hash; retrained, another."""
    return file_sha256(Path(path) / WEIGHTS_FILE)


def update_with_tensor(digest, tensor: torch.Tensor) -> None:
    """Feed `tensor` (its dtype, shape and bytes) into a hashlib `digest`."""
    tensor = tensor.detach().to("cpu").contiguous()
    digest.update(f"{tensor.dtype}{tuple(tensor.shape)}".encode())
    digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())


def state_sha256(model: torch.nn.Module) -> str:
    """The SHA-256 of a model's weights in memory (every tensor of its state, by name): equal for
    equal weights, whether trained now, loaded or copied."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        update_with_tensor(digest, tensor)
    return digest.hexdigest()


def _aside(path: Path) -> Path:
    """Where `replace_folder` keeps the previous folder while the new one moves in."""
    return path.with_name(f".{path.name}.previous")


def _recover(path: Path) -> None:
    """Finish a replace that was cut short: put the previous model back if the new one never
    arrived, or drop it if the new one did."""
    aside = _aside(path)
    if aside.is_dir():
        if path.exists():
            shutil.rmtree(aside, ignore_errors=True)
        else:
            aside.rename(path)


def replace_folder(staging: Path, path: Path) -> None:
    """Put the finished folder `staging` at `path` in three renames: the old folder (if any) steps
    aside, the new one moves in, the old one goes. An interrupt at any point leaves a whole folder
    at `path` or beside it, which the next replace (or `load_model`) puts right."""
    _recover(path)
    if path.exists():
        path.rename(_aside(path))  # 1. the old folder steps aside
    staging.rename(path)  # 2. the new one moves in
    shutil.rmtree(_aside(path), ignore_errors=True)  # 3. the old one goes


def save_model(
    model: LlamaForCausalLM,
    tokenizer: PreTrainedTokenizerFast,
    path: str | Path,
    provenance: Provenance,
    training_state=None,
) -> Path:
    """Save weights (safetensors), config, tokenizer and provenance (with the hashes of the weights
    and the config) into the folder `path`; with `training_state` (an interrupted run's
    `history.resume`), also what resuming it needs. Returns `path`.

    Everything is written to a temporary folder first. Then the old model (if any) is moved aside,
    the new one renamed in, and the old one removed last: an interrupt at any point leaves a whole
    model at `path` (the next save or load finishes the replace).
    """
    check_compatible(model, tokenizer, SAVE_WITH_ITS_OWN)
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _recover(path)
        model.config.tokenizer_fingerprint = tok.fingerprint(tokenizer)
        staging = Path(tempfile.mkdtemp(prefix=f".{path.name}-", dir=path.parent))
    except OSError as error:
        raise _explain(error, path) from None
    try:
        model.save_pretrained(staging, safe_serialization=True)
        tokenizer.save_pretrained(staging)
        if training_state is not None:
            save_file(training_state.tensors(), staging / TRAINING_STATE_FILE,
                      metadata={"distillab": json.dumps(training_state.metadata())})
        provenance = replace(provenance, weights_sha256=weights_sha256(staging),
                             config_sha256=file_sha256(staging / CONFIG_FILE))
        (staging / PROVENANCE_FILE).write_text(json.dumps(asdict(provenance), indent=2) + "\n")
        staging.chmod(0o755)  # mkdtemp made it private; a saved model is an ordinary folder
        for file in staging.iterdir():
            file.chmod(0o644)
        replace_folder(staging, path)
    except OSError as error:
        _recover(path)
        raise _explain(error, path) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return path


def _explain(error: OSError, path: Path) -> OSError:
    """An OSError on saving, said in words: what failed, where, and what to do; nothing is lost."""
    if error.errno == errno.ENOSPC:
        why = "the disk is full: free some space (or set DISTILLAB_HOME to a folder on a disk with room)"
    elif isinstance(error, (PermissionError, NotADirectoryError, FileExistsError)) or error.errno == errno.EROFS:
        why = ("that folder cannot be written to: set DISTILLAB_HOME to a folder you can write to "
               "(or unset it to use ~/.distillab)")
    else:
        why = f"{error.strerror or error}"
    return type(error)(error.errno, f"could not save the model to {path}: {why}. The model is still in memory: "
                                    "save it again once that is fixed; a model saved there before is untouched")


def _unreadable(file: Path, error: Exception, retrain: str) -> str:
    return f"{file} could not be read ({type(error).__name__}: {error}); the saved model may be corrupted: {retrain}"


def load_model(
    path: str | Path, device: torch.device | str = "cpu"
) -> tuple[LlamaForCausalLM, PreTrainedTokenizerFast, Provenance]:
    """Load a model saved by `save_model`: (model, tokenizer, provenance). Its files are checked
    against its provenance first (the hashes of weights and config, the parameter count), so a
    damaged or hand-edited model is a clear error, not a model that quietly scores 0 %."""
    path = Path(path)
    _recover(path)
    if not path.is_dir():
        raise FileNotFoundError(f"no saved model at {path}: train one first, or check the path")
    for name in (CONFIG_FILE, WEIGHTS_FILE, PROVENANCE_FILE, "tokenizer.json"):
        if not (path / name).is_file():
            raise FileNotFoundError(f"the saved model at {path} is incomplete: {name} is missing")
    retrain = "train it again (chapter 01, or `python -m distillab.teacher` for a teacher) or restore the folder"
    try:
        tokenizer = tok.load_tokenizer(path)
    except Exception as error:  # corrupted or hand-edited files: say which file and why
        raise ValueError(_unreadable(path / "tokenizer.json", error, retrain)) from None
    try:
        provenance = Provenance(**json.loads((path / PROVENANCE_FILE).read_text()))
    except Exception as error:
        raise ValueError(_unreadable(path / PROVENANCE_FILE, error, retrain)) from None
    for name, saved in ((WEIGHTS_FILE, provenance.weights_sha256), (CONFIG_FILE, provenance.config_sha256)):
        if saved and file_sha256(path / name) != saved:
            raise ValueError(f"{name} of the model at {path} changed after it was saved (its hash differs from the "
                             f"one in {PROVENANCE_FILE}): weights and architecture may no longer match. {retrain}")
    try:
        with no_loading_bars():
            model = AutoModelForCausalLM.from_pretrained(path, use_safetensors=True, local_files_only=True)
    except Exception as error:
        raise ValueError(f"the saved model at {path} could not be read ({type(error).__name__}: {error}); "
                         f"it may be corrupted: {retrain}") from None
    if count_parameters(model) != provenance.parameters:
        raise ValueError(f"the model at {path} has {count_parameters(model):,} parameters but its provenance says "
                         f"{provenance.parameters:,}: its config.json was edited or belongs to another model. {retrain}")
    expected = SIZES.get(provenance.size)
    built = tuple(getattr(model.config, name, None) for name in
                  ("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size"))
    if expected is not None and model.config.model_type == "llama" and built != (expected.hidden_size, expected.num_layers, expected.num_heads,
                                          expected.intermediate_size):
        raise ValueError(f"the model at {path} is built as (hidden, layers, heads, feed-forward) = {built}, "
                         f"not as a {provenance.size!r} model {astuple(expected)}: {retrain}")
    check_compatible(model, tokenizer)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model.to(device).eval(), tokenizer, provenance


def load_training_state(path: str | Path) -> TrainingState | None:
    """What an interrupted model saved for resuming (a `training.TrainingState`), or None."""
    file = Path(path) / TRAINING_STATE_FILE
    if not file.is_file():
        return None
    try:
        with safe_open(file, framework="pt") as saved:
            tensors = {name: saved.get_tensor(name) for name in saved.keys()}
            metadata = json.loads(saved.metadata()["distillab"])
        return TrainingState.from_saved(tensors, metadata)
    except Exception as error:  # a damaged file: say so, and how to go on
        raise ValueError(f"{file} could not be read ({type(error).__name__}: {error}): the interrupted run cannot "
                         "be resumed; delete the file to keep the model as it is, or train it again") from None
