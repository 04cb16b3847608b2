"""What fine-tuning costs a pretrained model away from the task: perplexity on the standard library's
docstrings and the drift of its next-token distributions on chat prompts, before and after."""

import torch

from distillab import forgetting
from distillab.architectures import load_causal_lm


def test_the_passages_are_prose_of_this_python_and_named_by_their_hash():
    shown = forgetting.passages()
    assert len(shown.texts) == len(forgetting.PASSAGE_OBJECTS)
    assert all(len(text.split()) >= forgetting.PASSAGE_TOKENS for text in shown.texts)
    assert shown.sha256 == forgetting.passages().sha256 and len(shown.sha256) == 64
    assert not any("Eva has" in text or "<think>" in text for text in shown.texts)  # not the world's problems


def test_an_unchanged_model_forgot_nothing_and_a_moved_one_drifted(real_model_folder):
    model, tokenizer = load_causal_lm(real_model_folder)
    before = forgetting.reference(model, tokenizer)
    rows = len(forgetting.CHAT_PROMPTS)
    assert before.input_ids.shape[0] == rows and all(0 < n <= forgetting.REPLY_TOKENS for n in before.reply_mask.sum(1))
    assert before.reply_mask.sum() > rows * forgetting.REPLY_TOKENS // 2  # most replies run to the limit
    assert 1 < before.perplexity < 200  # a pretrained model reads English far better than chance (49,152 tokens)
    same = forgetting.measure(model, tokenizer, before)
    assert same.drift < 1e-6 and same.perplexity_after == before.perplexity
    with torch.no_grad():  # a small push on one layer: the distributions move, a little
        model.model.layers[10].mlp.down_proj.weight.mul_(1.5)
    moved = forgetting.measure(model, tokenizer, before)
    assert moved.drift > 1e-3 and moved.perplexity_after != moved.perplexity_before
    assert moved.as_dict()["passages_sha256"] == forgetting.passages().sha256


def test_a_model_without_a_chat_template_is_asked_in_plain_text(tokenizer):
    from distillab.models import build_model

    model = build_model("tiny", tokenizer, seed=0).eval()
    before = forgetting.reference(model, tokenizer)
    assert forgetting.measure(model, tokenizer, before).drift < 1e-6
