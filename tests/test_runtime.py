"""The one device choice and the one seeding function; importing changes nothing, the entry point keeps the process offline."""

import json
import os
import random
import subprocess
import sys

import numpy as np
import pytest
import torch

from distillab import runtime


def test_seed_everything_repeats_every_generator():
    draws = []
    for _ in range(2):
        runtime.seed_everything(7)
        draws.append((random.random(), float(np.random.rand()), float(torch.rand(1))))
    assert draws[0] == draws[1]
    runtime.seed_everything(8)
    assert (random.random(), float(np.random.rand()), float(torch.rand(1))) != draws[0]
    big = []
    for _ in range(2):  # larger than NumPy's 32-bit seeds: wrapped, not refused, and still repeatable
        runtime.seed_everything(2**40 + 3)
        big.append((random.random(), float(np.random.rand()), float(torch.rand(1))))
    assert big[0] == big[1] != draws[0]


@pytest.mark.parametrize("seed", [1.5, "0", None, True])
def test_a_seed_that_is_not_a_whole_number_is_refused(seed):
    with pytest.raises(ValueError, match="seed must be a whole number"):
        runtime.seed_everything(seed)


@pytest.mark.parametrize("cuda, mps, local_rank, expected", [
    (True, True, None, torch.device("cuda", 0)),  # CUDA first, even where MPS is there too
    (True, False, "3", torch.device("cuda", 3)),  # one GPU per process under a data-parallel launch
    (False, True, None, torch.device("mps")),
    (False, False, None, torch.device("cpu")),
])
def test_the_device_is_picked_in_one_place(monkeypatch, cuda, mps, local_rank, expected):
    monkeypatch.delenv("DISTILLAB_DEVICE", raising=False)
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    if local_rank is not None:
        monkeypatch.setenv("LOCAL_RANK", local_rank)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    assert runtime.pick_device() == expected
    monkeypatch.setenv("DISTILLAB_DEVICE", "cpu")  # the override wins over any accelerator
    assert runtime.pick_device() == torch.device("cpu")


def test_importing_the_package_changes_nothing_in_the_process():
    """Every distillab module imported in a fresh process, with HF_HUB_OFFLINE unset: the environment
    is as it was and transformers' progress bars are still on; loading a model turns them off only
    while it loads."""
    script = (
        "import os, pkgutil, importlib, json\n"
        "before = dict(os.environ)\n"
        "import distillab\n"
        "for module in pkgutil.walk_packages(distillab.__path__, 'distillab.'):\n"
        "    importlib.import_module(module.name)\n"
        "from transformers.utils import logging\n"
        "import huggingface_hub.constants as hub\n"
        "print(json.dumps({'env_changed': sorted(k for k in set(before) | set(os.environ)\n"
        "                                         if before.get(k) != os.environ.get(k)),\n"
        "                  'bars': logging.is_progress_bar_enabled(), 'hub_offline': hub.HF_HUB_OFFLINE}))\n"
    )
    env = {key: value for key, value in os.environ.items() if key != "HF_HUB_OFFLINE"}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    facts = json.loads(done.stdout.strip().splitlines()[-1])
    facts["env_changed"] = [key for key in facts["env_changed"]  # torch's compiler, loaded by a library, names its cache
                            if key != "TORCHINDUCTOR_CACHE_DIR"]
    assert facts == {"env_changed": [], "bars": True, "hub_offline": False}


def test_a_model_load_silences_transformers_bars_only_while_it_loads(tokenizer, tmp_path):
    from transformers.utils import logging

    from distillab.models import Provenance, build_model, count_parameters, load_model, save_model

    model = build_model("tiny", tokenizer)
    save_model(model, tokenizer, tmp_path / "m", Provenance("tiny", 0, "fast", 1, count_parameters(model)))
    assert logging.is_progress_bar_enabled()
    load_model(tmp_path / "m")
    assert logging.is_progress_bar_enabled()


ENTRY_POINT = (
    "import json, os, sys\n"
    "import distillab.realmodel\n"  # the Hugging Face libraries load first: stay_offline works after them too
    "from distillab import hub\n"
    "allowed_before = hub.downloads_allowed()\n"
    "hub.stay_offline()\n"
    "import huggingface_hub, huggingface_hub.constants as constants\n"
    "refused = None\n"
    "if not hub.downloads_allowed():  # a request is made only where it must be refused\n"
    "    try:\n"
    "        huggingface_hub.get_session().get('https://huggingface.co/api/models/HuggingFaceTB/SmolLM2-135M-Instruct')\n"
    "    except Exception as error:\n"
    "        refused = type(error).__name__\n"
    "print(json.dumps({'before': allowed_before, 'after': hub.downloads_allowed(), 'constant': constants.HF_HUB_OFFLINE,\n"
    "                  'env': os.environ.get('HF_HUB_OFFLINE'), 'refused': refused}))\n"
)


@pytest.mark.parametrize("setting", [None, "0"])
def test_the_entry_point_keeps_the_process_and_its_children_offline_unless_told_otherwise(setting):
    env = {key: value for key, value in os.environ.items() if key not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    if setting is not None:
        env["HF_HUB_OFFLINE"] = setting
    done = subprocess.run([sys.executable, "-c", ENTRY_POINT], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    facts = json.loads(done.stdout.strip().splitlines()[-1])
    assert facts["before"] is True  # unset or 0: the hub may be reached, as Hugging Face reads the variable
    if setting is None:
        assert facts == {"before": True, "after": False, "constant": True, "env": "1", "refused": "OfflineModeIsEnabled"}
    else:  # the learner's HF_HUB_OFFLINE=0 is kept: downloads stay allowed (no request is made here)
        assert (facts["after"], facts["constant"], facts["env"]) == (True, False, "0")
