import pytest

from distillab import world
from distillab.tokenizer import build_tokenizer, fingerprint, load_tokenizer


def test_every_word_and_number_is_one_token(tokenizer):
    for word in world.vocabulary():
        assert len(tokenizer(word, add_special_tokens=False)["input_ids"]) == 1, word
    assert tokenizer.unk_token_id not in tokenizer(" ".join(world.vocabulary()))["input_ids"]


def test_encoding_starts_with_bos_and_decodes_back(tokenizer):
    p = world.sample_problems(1, 3, seed=0)[0]
    ids = tokenizer(p.prompt)["input_ids"]
    assert ids[0] == tokenizer.bos_token_id
    assert tokenizer.decode(ids, skip_special_tokens=True) == p.prompt


def test_padding_is_on_the_left(tokenizer):
    batch = tokenizer(["answer 3", "ana has 6 eggs . how many ?"], padding=True)
    assert batch["input_ids"][0][0] == tokenizer.pad_token_id
    assert batch["attention_mask"][0][0] == 0 and batch["attention_mask"][0][-1] == 1


def test_save_and_load_round_trip(tokenizer, tmp_path):
    tokenizer.save_pretrained(tmp_path)
    loaded = load_tokenizer(tmp_path)
    assert loaded.get_vocab() == tokenizer.get_vocab()
    assert fingerprint(loaded) == fingerprint(tokenizer)
    assert loaded.padding_side == "left"
    text = world.sample_problems(1, 5, seed=2)[0].trace
    assert loaded(text)["input_ids"] == tokenizer(text)["input_ids"]


def test_missing_tokenizer_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no tokenizer saved"):
        load_tokenizer(tmp_path / "nowhere")


def test_fingerprint_tells_vocabularies_apart(tokenizer):
    other = build_tokenizer(list(reversed(world.vocabulary())))
    assert fingerprint(other) != fingerprint(tokenizer)


def test_the_bpe_tokenizer_splits_numbers_into_digits_and_round_trips_text():
    from distillab import world
    from distillab.tokenizer import build_bpe_tokenizer, fingerprint

    bpe = build_bpe_tokenizer()
    problem = world.widest_example(3)
    text = f"{problem.prompt} {problem.trace}"
    ids = bpe(text)["input_ids"]
    assert ids[0] == bpe.bos_token_id
    assert bpe.decode(ids, skip_special_tokens=True) == text  # byte-level: nothing lost
    assert "17" not in bpe.get_vocab() and "Ġ17" not in bpe.get_vocab()  # no number is one token
    assert len(ids) > len(text.split()) + 1  # more tokens than the world's tokenizer needs
    assert bpe(problem.question)["input_ids"]  # plain English encodes too
    assert fingerprint(bpe) == fingerprint(build_bpe_tokenizer())  # trained the same way: the same ids
