"""Any Hugging Face causal LM as a checkpoint: saved and loaded (`AutoModelForCausalLM`,
safetensors only, nothing fetched), adapted with LoRA, and prompted in the course's format or as a
chat. Chapters 06 and 07 and the recipe command (`distillab.run_recipe`) use it; `models.build_model`
builds every architecture from a config."""

from __future__ import annotations

import contextlib
import copy
import json
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase, PreTrainedTokenizerFast

from distillab import hub, knobs
from distillab import tokenizer as tok
from distillab import world
from distillab.models import WEIGHTS_FILE
from distillab.runtime import no_loading_bars, seed_everything

PROMPT_FORMATS = ("world", "natural")  # the course's terse prompt, or a plain-English question (chat template if any)


ADAPTER_FILE, ADAPTER_CONFIG = "adapter_model.safetensors", "adapter_config.json"  # what peft saves of LoRA


def save_checkpoint(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, folder: str | Path,
                    merged: bool = False) -> Path:
    """Save `model` and `tokenizer` as a Hugging Face checkpoint (safetensors), as the hub holds them.
    A model with LoRA adapters saves its adapters alone (their own weights only, which the rank
    decides; they name the checkpoint they adapt), or, `merged=True`, a copy of the model with the adapters added into its weights: a
    plain checkpoint of the full size that loads without peft (`model` itself is not changed)."""
    folder = Path(folder)
    if merged and has_adapters(model):
        with no_loading_bars():
            model = copy.deepcopy(model).merge_and_unload()
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return folder


def has_adapters(model: torch.nn.Module) -> bool:
    """Is `model` a base model wrapped with LoRA adapters (`with_lora`)?"""
    return hasattr(model, "peft_config")


def weights_file(folder: Path) -> Path:
    """A checkpoint's weights: the whole model's, or a LoRA checkpoint's adapters."""
    return folder / (ADAPTER_FILE if (folder / ADAPTER_CONFIG).is_file() else WEIGHTS_FILE)


GENERIC_TOKENIZERS = ("TokenizersBackend", "PreTrainedTokenizerFast")  # saved from a tokenizer.json, as ours


def load_checkpoint_tokenizer(folder: Path) -> PreTrainedTokenizerBase:
    """The checkpoint's tokenizer exactly as saved. A generic one (like the BPE tokenizer trained
    here) is read as it is: AutoTokenizer would pick the architecture's own class instead (a Qwen2
    checkpoint gets Qwen2's tokenizer, with tokens ours never had)."""
    settings = folder / "tokenizer_config.json"
    saved_as = json.loads(settings.read_text()).get("tokenizer_class") if settings.is_file() else None
    if saved_as in GENERIC_TOKENIZERS:
        return PreTrainedTokenizerFast.from_pretrained(folder, local_files_only=True)
    return AutoTokenizer.from_pretrained(folder, local_files_only=True)


HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")  # "org/name": the only shape a Hugging Face hub model has


def load_causal_lm(folder: str | Path) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """(model, tokenizer) of any Hugging Face causal LM checkpoint in `folder`: safetensors only
    (a pickled `pytorch_model.bin` is refused: loading one can run code), read locally."""
    folder = Path(folder)
    if not folder.exists() and HUB_ID.fullmatch(str(folder)) and hub.downloads_allowed():
        return _from_the_hub(str(folder))
    if (folder / ADAPTER_CONFIG).is_file():
        return _with_saved_adapters(folder)
    if not (folder / "config.json").is_file():
        if HUB_ID.fullmatch(str(folder)) and not folder.exists():
            raise FileNotFoundError(f"{folder} is not a folder here. If it is a model on the Hugging Face hub, "
                                    "download it by running with HF_HUB_OFFLINE=0 (the course itself never does)")
        raise FileNotFoundError(f"no Hugging Face checkpoint at {folder}: expected a folder with config.json, "
                                "*.safetensors weights and the tokenizer's files (as save_pretrained writes them)")
    if not any(folder.glob("*.safetensors")):
        pickled = [p.name for p in folder.glob("*.bin")]
        why = f" (it has {', '.join(pickled)}: pickled weights are never loaded)" if pickled else ""
        raise ValueError(f"the checkpoint at {folder} has no .safetensors weights{why}; save it with "
                         "save_pretrained(..., safe_serialization=True)")
    try:
        tokenizer = load_checkpoint_tokenizer(folder)
        with no_loading_bars():
            model = AutoModelForCausalLM.from_pretrained(folder, use_safetensors=True, local_files_only=True)
    except (OSError, ValueError, KeyError) as error:
        raise ValueError(f"the checkpoint at {folder} could not be loaded as a causal LM "
                         f"({type(error).__name__}: {error})") from None
    tokenizer = ready_for_generation(tokenizer)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model.eval(), tokenizer


def _with_saved_adapters(folder: Path) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """A LoRA checkpoint (`save_checkpoint` of a model with adapters): the checkpoint its
    adapters name, loaded as `load_causal_lm` loads any, with the saved adapters on it."""
    from peft import PeftModel

    if not (folder / ADAPTER_FILE).is_file():
        raise ValueError(f"the LoRA checkpoint at {folder} has no {ADAPTER_FILE}: adapters are loaded from "
                         "safetensors only (save them with save_pretrained)")
    base = json.loads((folder / ADAPTER_CONFIG).read_text()).get("base_model_name_or_path")
    if not base or not Path(base).is_dir():
        raise FileNotFoundError(f"the LoRA adapters at {folder} adapt the checkpoint {base!r}, which is not a folder "
                                "here: save a merged copy (save_checkpoint(..., merged=True)) to carry the model alone")
    model, _ = load_causal_lm(base)
    with quiet_lora(), no_loading_bars():
        model = PeftModel.from_pretrained(model, folder, is_trainable=False)
    tokenizer = ready_for_generation(load_checkpoint_tokenizer(folder))
    return model.eval(), tokenizer


def ready_for_generation(tokenizer: PreTrainedTokenizerBase) -> PreTrainedTokenizerBase:
    """`tokenizer` set up for batched generation: padded on the left, with end-of-text as its
    padding token when it has none (as many real tokenizers do)."""
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
    return tokenizer


def _from_the_hub(name: str) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """A model named on the hub, downloaded (safetensors only): only where `hub.downloads_allowed()`."""
    tokenizer = AutoTokenizer.from_pretrained(name)
    model = AutoModelForCausalLM.from_pretrained(name, use_safetensors=True)
    return model.eval(), ready_for_generation(tokenizer)


def prompt_text(problem: world.Problem, tokenizer: PreTrainedTokenizerBase, prompt_format: str = "world") -> str:
    """How `problem` is put to a model: the course's terse prompt (`"world"`), or its plain-English
    question (`"natural"`), wrapped in the tokenizer's chat template when it has one."""
    knobs.choice("prompt_format", prompt_format, PROMPT_FORMATS)
    if prompt_format == "world":
        return problem.prompt
    return chat_prompt(natural_question(problem), tokenizer)


def chat_prompt(question: str, tokenizer: PreTrainedTokenizerBase) -> str:
    """`question` as a chat model is asked it: through the tokenizer's chat template, the shorter
    of its renderings (`chat_renderings`); the question alone for a tokenizer with no template."""
    if not getattr(tokenizer, "chat_template", None):
        return question
    return min(chat_renderings(question, tokenizer), key=len)


def natural_question(problem: world.Problem) -> str:
    """The plain-English question a model is asked, with the course's instruction to reason."""
    return f"{problem.question} Think step by step, then give the final answer as a number."


def chat_renderings(question: str, tokenizer: PreTrainedTokenizerBase) -> list[str]:
    """`question` through the chat template as it comes (with the template's default system prompt,
    if it adds one when none is given) and with an empty system message; `prompt_text` takes the
    shorter (SmolLM2's default system prompt is 16 tokens the model does not need)."""
    asked = [{"role": "user", "content": question}]
    plain = tokenizer.apply_chat_template(asked, tokenize=False, add_generation_prompt=True)
    try:
        bare = tokenizer.apply_chat_template([{"role": "system", "content": ""}, *asked], tokenize=False,
                                             add_generation_prompt=True)
    except Exception:  # noqa: BLE001 (a template without a system role raises its own error types)
        return [plain]
    return [plain, bare]


@dataclass(frozen=True)
class LoraSettings:
    """LoRA (Hu et al. 2021): every chosen linear layer keeps its weight W frozen and learns a
    low-rank update, W + (alpha / rank) · B·A with A (rank × in) and B (out × rank), B starting at
    0, so training starts from the model exactly as it was. `peft` adds the adapters."""
    rank: int = 16
    alpha: float = 32.0
    targets: str = "all-linear"  # every linear layer but the output head

    def __post_init__(self) -> None:
        knobs.whole_number("LoRA rank", self.rank, 1)
        knobs.number("LoRA alpha", self.alpha, above=0)


@contextlib.contextmanager
def quiet_lora():
    """peft asks transformers a deprecated question (`is_gradient_checkpointing`) while it adds
    adapters; the FutureWarning is about their code, not the learner's, so it is not shown."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        yield


def with_lora(model: PreTrainedModel, settings: LoraSettings, seed: int = 0) -> PreTrainedModel:
    """`model` with LoRA adapters (only they train); `seed` draws their A matrices."""
    from peft import LoraConfig, get_peft_model

    seed_everything(seed)
    with quiet_lora():
        return get_peft_model(model, LoraConfig(r=settings.rank, lora_alpha=settings.alpha,
                                                target_modules=settings.targets, lora_dropout=0.0))


def trainable_parameters(model: torch.nn.Module) -> int:
    """Parameters that training updates (all of them, or only LoRA's adapters)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def completion_text(text: str, from_format: str, to_format: str) -> str:
    """A completion written for a model prompted in `from_format`, rewritten for one prompted in
    `to_format`: the world's terse trace rendered as a plain-English reply
    (`world.in_plain_english`); a plain-English reply cannot be put back into the world's strict
    format (ValueError)."""
    knobs.choice("from_format", from_format, PROMPT_FORMATS)
    knobs.choice("to_format", to_format, PROMPT_FORMATS)
    if from_format == to_format:
        return text
    if from_format == "world":
        return world.in_plain_english(text)
    raise ValueError("a plain-English completion cannot be rewritten in the world's strict format (<think> ... "
                     "</think> answer N): a teacher asked in plain English can teach only students asked in plain "
                     "English (prompt_format = \"natural\")")


def same_tokenizer(a: PreTrainedTokenizerBase, b: PreTrainedTokenizerBase) -> bool:
    """Do `a` and `b` map text to the same ids (what logit distillation needs)?"""
    return tok.fingerprint(a) == tok.fingerprint(b)
