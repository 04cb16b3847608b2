import json

import pytest
import torch

from distillab import models
from distillab.models import Provenance, build_model, load_model, save_model
from distillab.tokenizer import build_tokenizer


@pytest.mark.parametrize("size, expected", [("large", 1.8e6), ("small", 0.34e6), ("tiny", 0.1e6)])
def test_named_sizes_have_the_advertised_parameter_counts(tokenizer, size, expected):
    n = models.count_parameters(build_model(size, tokenizer))
    assert abs(n - expected) / expected < 0.05, n


def test_teacher_is_llama_and_bigger_than_students(tokenizer):
    teacher = build_model(models.TEACHER_SIZE, tokenizer)
    student = build_model(models.STUDENT_SIZE, tokenizer)
    assert teacher.config.model_type == "llama"
    assert models.count_parameters(teacher) > 4 * models.count_parameters(student)


def test_unknown_size_is_named(tokenizer):
    with pytest.raises(ValueError, match="unknown model size 'huge'; choose one of"):
        build_model("huge", tokenizer)


def test_same_seed_same_weights(tokenizer):
    a, b = build_model("tiny", tokenizer, seed=3), build_model("tiny", tokenizer, seed=3)
    assert all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters()))


def _provenance(model, size="tiny"):
    return Provenance(size=size, seed=0, profile="fast", steps=1,
                      parameters=models.count_parameters(model), accuracy={1: 0.5})


def test_save_and_load_round_trip(tokenizer, tmp_path):
    model = build_model("tiny", tokenizer, seed=1)
    path = save_model(model, tokenizer, tmp_path / "m", _provenance(model))
    assert (path / "model.safetensors").is_file() and not list(path.glob("*.bin"))
    loaded, loaded_tokenizer, provenance = load_model(path)
    ids = torch.tensor([tokenizer("ana has 3 eggs . how many ?")["input_ids"]])
    assert torch.allclose(model(ids).logits, loaded(ids).logits)
    assert loaded_tokenizer.get_vocab() == tokenizer.get_vocab()
    assert provenance.accuracy == {1: 0.5} and provenance.package_version


def test_saving_again_replaces_cleanly(tokenizer, tmp_path):
    model = build_model("tiny", tokenizer)
    save_model(model, tokenizer, tmp_path / "m", _provenance(model))
    save_model(model, tokenizer, tmp_path / "m", _provenance(model))
    assert [p.name for p in tmp_path.iterdir()] == ["m"]  # no staging folder left behind


def test_failed_save_keeps_the_old_model(tokenizer, tmp_path):
    model = build_model("tiny", tokenizer)
    save_model(model, tokenizer, tmp_path / "m", _provenance(model))
    wrong = build_tokenizer(["only", "three", "words"])
    with pytest.raises(ValueError, match="tokenizer maps words to different ids"):
        save_model(model, wrong, tmp_path / "m", _provenance(model))
    load_model(tmp_path / "m")  # still there and readable


def test_missing_model_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no saved model at"):
        load_model(tmp_path / "nothing")


def test_incomplete_model_is_a_clear_error(tokenizer, tmp_path):
    model = build_model("tiny", tokenizer)
    path = save_model(model, tokenizer, tmp_path / "m", _provenance(model))
    (path / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="model.safetensors is missing"):
        load_model(path)


def test_corrupted_model_is_a_clear_error(tokenizer, tmp_path):
    model = build_model("tiny", tokenizer)
    path = save_model(model, tokenizer, tmp_path / "m", _provenance(model))
    (path / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ValueError, match="model.safetensors of the model at .* changed after it was saved"):
        load_model(path)
    provenance = json.loads((path / "provenance.json").read_text())
    (path / "provenance.json").write_text(json.dumps({**provenance, "weights_sha256": ""}))  # a model saved without hashes
    with pytest.raises(ValueError, match="could not be read .* corrupted"):
        load_model(path)


def test_mismatched_tokenizer_is_a_clear_error(tokenizer, tmp_path):
    model = build_model("tiny", tokenizer)
    path = save_model(model, tokenizer, tmp_path / "m", _provenance(model))
    words = json.loads((path / "tokenizer.json").read_text())
    vocab = words["model"]["vocab"]
    vocab["ana"], vocab["ben"] = vocab["ben"], vocab["ana"]  # same size, different ids
    (path / "tokenizer.json").write_text(json.dumps(words))
    with pytest.raises(ValueError, match="maps words to different ids"):
        load_model(path)


def test_a_hand_edited_config_is_caught_by_its_hash_and_by_the_parameter_count(tokenizer, tmp_path):
    model = build_model("small", tokenizer)
    path = save_model(model, tokenizer, tmp_path / "m", _provenance(model, size="small"))
    config = json.loads((path / "config.json").read_text())
    (path / "config.json").write_text(json.dumps({**config, "num_hidden_layers": 2}))
    with pytest.raises(ValueError, match="config.json of the model .* changed after it was saved.*train it again"):
        load_model(path)
    provenance = json.loads((path / "provenance.json").read_text())
    (path / "provenance.json").write_text(json.dumps({**provenance, "config_sha256": ""}))  # an older save
    with pytest.raises(ValueError, match="parameters but its provenance says"):
        load_model(path)
    (path / "config.json").write_text(json.dumps({**config, "num_attention_heads": 2, "num_key_value_heads": 2,
                                                  "head_dim": 48}))
    with pytest.raises(ValueError, match="not as a 'small' model"):  # the same parameters, another shape
        load_model(path)


def test_a_corrupt_tokenizer_file_is_a_clear_error(tokenizer, tmp_path):
    model = build_model("tiny", tokenizer)
    path = save_model(model, tokenizer, tmp_path / "m", _provenance(model))
    (path / "tokenizer.json").write_text('{"version": "1.0", "model": ')
    with pytest.raises(ValueError, match=r"m/tokenizer\.json could not be read .*corrupted"):
        load_model(path)


@pytest.mark.parametrize("cut_at", [1, 2, 3])
def test_an_interrupted_replace_always_leaves_a_whole_model(tokenizer, tmp_path, cut_at):
    """Replacing a saved model moves the old aside (1), renames the new in (2) and removes the old
    (3); a Ctrl-C at any of them leaves the old or the new model loadable at the path."""
    import shutil
    from pathlib import Path

    old, new = build_model("tiny", tokenizer, seed=0), build_model("tiny", tokenizer, seed=1)
    path = save_model(old, tokenizer, tmp_path / "m", _provenance(old))
    calls = {"n": 0}
    real_rename, real_rmtree = Path.rename, shutil.rmtree

    def cut(real):
        def step(*args, **kwargs):
            first = Path(args[0]).name
            if (real is real_rename and (first == "m" or first.startswith(".m-"))) or \
                    (real is real_rmtree and first == ".m.previous"):
                calls["n"] += 1
                if calls["n"] == cut_at:
                    raise KeyboardInterrupt
            return real(*args, **kwargs)
        return step

    with pytest.MonkeyPatch.context() as patch, pytest.raises(KeyboardInterrupt):
        patch.setattr(Path, "rename", cut(real_rename))
        patch.setattr(shutil, "rmtree", cut(real_rmtree))
        save_model(new, tokenizer, path, _provenance(new))
    loaded, _, _ = load_model(path)
    weights = {n: p for n, p in loaded.named_parameters()}
    versions = [all(torch.equal(weights[n], p) for n, p in m.named_parameters()) for m in (old, new)]
    assert versions == [cut_at < 3, cut_at == 3]
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".m-")) == ["m"]


def test_a_full_disk_is_said_in_words_and_keeps_the_old_model(tokenizer, tmp_path):
    import errno

    model = build_model("tiny", tokenizer)
    path = save_model(model, tokenizer, tmp_path / "m", _provenance(model))

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.MonkeyPatch.context() as patch, \
            pytest.raises(OSError, match="the disk is full.*DISTILLAB_HOME.*still in memory"):
        patch.setattr(type(model), "save_pretrained", full)
        save_model(model, tokenizer, path, _provenance(model))
    load_model(path)
