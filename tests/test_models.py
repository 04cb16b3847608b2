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


def _provenance(model):
    return Provenance(size="tiny", seed=0, profile="fast", steps=1,
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
    with pytest.raises(ValueError, match="tokenizer has 7 tokens but the model expects"):
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
