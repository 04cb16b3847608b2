"""Chapter 02's machinery: the transfer set, the teacher cache (full and top-k), the KD objective
(cached = on the fly; top-1 = SFT), and the refusals that protect a learner's run."""

import pytest
import torch

from distillab import world
from distillab.distillation import (FULL, TOP_INDICES, TOP_LOG_PROBS, DistillationConfig, answer_prefix,
                                    answer_logits, cache_teacher, distill, kd_objective, soften,
                                    transfer_set)
from distillab.models import build_model
from distillab.tokenizer import build_tokenizer
from distillab.training import TrainingConfig, sft_objective


@pytest.fixture(scope="module")
def transfer(teacher):
    model, tokenizer = teacher
    problems = world.training_problems(4, seed=3, held_out=world.held_out_problems(5))
    return transfer_set(model, tokenizer, {d: problems[d] for d in (1, 3)})


def test_the_transfer_set_is_the_teachers_own_text(teacher, transfer):
    assert transfer.num_prompts == 8 and len(transfer.data) == 8
    assert transfer.num_correct == 8  # the reference teacher is right on these
    assert transfer.teacher_data_flops > 0 and transfer.seconds > 0


def test_full_cache_holds_a_distribution_per_completion_position(teacher, transfer):
    model, tokenizer = teacher
    cache = cache_teacher(model, transfer.data)
    for difficulty, ids in transfer.data.input_ids.items():
        cached = cache.data.extras[FULL][difficulty]
        completion_targets = int(transfer.data.completion_mask[difficulty][0, 1:].sum())
        assert cached.shape == (len(ids), completion_targets, len(tokenizer)) and cached.dtype == torch.float16
        assert torch.allclose(cached.float().exp().sum(-1), torch.ones(cached.shape[:2]), atol=1e-2)
        # the teacher's most likely next token is the token its own greedy text wrote
        assert torch.equal(cached.argmax(-1), ids[:, -completion_targets:])
    assert cache.bytes_per_token == 2 * len(tokenizer) and cache.flops > 0


def test_top_k_cache_is_k_values_and_ids_per_position(teacher, transfer):
    model, _ = teacher
    cache = cache_teacher(model, transfer.data, top_k=5)
    assert cache.bytes_per_token == 5 * (2 + 2)
    values = cache.data.extras[TOP_LOG_PROBS][1]
    assert values.shape[-1] == 5 and cache.data.extras[TOP_INDICES][1].dtype == torch.int16
    assert torch.all(values[..., :-1] >= values[..., 1:])  # most likely first
    with pytest.raises(ValueError, match="k \\(entries kept of the 67-token vocabulary\\) must be a whole number >= 1 and <= 67"):
        cache_teacher(model, transfer.data, top_k=68)


def batch_of(data, difficulty=3):
    """Every example of one difficulty as one batch, with whatever the set carries."""
    return {"input_ids": data.input_ids[difficulty], "completion_mask": data.completion_mask[difficulty],
            **{name: rows[difficulty] for name, rows in data.extras.items()}}


def test_cached_and_on_the_fly_teacher_give_the_same_loss(teacher, transfer):
    model, tokenizer = teacher
    student = build_model("tiny", tokenizer, seed=0)
    config = DistillationConfig(temperature=2.0, alpha=0.7)
    cached = kd_objective(config)(student, batch_of(cache_teacher(model, transfer.data).data))
    on_the_fly = kd_objective(config, teacher=model)(student, batch_of(transfer.data))
    assert torch.allclose(cached, on_the_fly, rtol=1e-3)


def test_top_1_kd_is_sft_on_the_teachers_text(teacher, transfer):
    model, tokenizer = teacher
    student = build_model("tiny", tokenizer, seed=0)
    top_1 = kd_objective(DistillationConfig(loss="top_k", top_k=1))(student, batch_of(cache_teacher(model, transfer.data, top_k=1).data))
    assert torch.allclose(top_1, sft_objective(student, batch_of(transfer.data)), atol=1e-6)


def test_alpha_zero_is_sft(teacher, transfer):
    model, tokenizer = teacher
    student = build_model("tiny", tokenizer, seed=0)
    loss = kd_objective(DistillationConfig(alpha=0.0))(student, batch_of(cache_teacher(model, transfer.data).data))
    assert torch.allclose(loss, sft_objective(student, batch_of(transfer.data)))


def test_a_student_with_another_tokenizer_is_refused_before_training(teacher, transfer):
    model, _ = teacher
    other_tokenizer = build_tokenizer(world.vocabulary() + ["dozen", "half"])
    student = build_model("tiny", other_tokenizer, seed=0)
    before = [p.clone() for p in student.parameters()]
    with pytest.raises(ValueError, match="student's vocabulary has 69 tokens but the teacher's distributions cover 67"):
        distill(student, cache_teacher(model, transfer.data), DistillationConfig(), TrainingConfig(2, 4, warmup_steps=0))
    assert all(torch.equal(a, b) for a, b in zip(before, student.parameters()))


def test_loss_and_cache_must_fit(teacher, transfer):
    model, tokenizer = teacher
    student = build_model("tiny", tokenizer, seed=0)
    with pytest.raises(ValueError, match="does not fit a cache with top_k=3"):
        distill(student, cache_teacher(model, transfer.data, top_k=3), DistillationConfig("forward_kl"),
                TrainingConfig(2, 4, warmup_steps=0))
    with pytest.raises(ValueError, match="no teacher distribution"):
        kd_objective(DistillationConfig())(student, batch_of(transfer.data))


def test_distill_trains_and_lowers_the_loss(teacher, transfer):
    model, tokenizer = teacher
    student = build_model("tiny", tokenizer, seed=0)
    history = distill(student, cache_teacher(model, transfer.data), DistillationConfig(temperature=2.0),
                      TrainingConfig(30, 4, learning_rate=3e-3, warmup_steps=3), progress=False)
    assert history.loss[-1] < history.loss[0] and history.total_flops > 0


@pytest.mark.parametrize("knobs, message", [
    (dict(loss="kl"), "loss must be one of"), (dict(temperature=0.0), "temperature must be > 0"),
    (dict(alpha=1.2), "alpha must be a number from 0 to 1"), (dict(beta=-1), "beta must be a number from 0 to 1"),
    (dict(loss="top_k"), "loss='top_k' needs top_k: how many of the teacher's most likely tokens.*TOP_K knob"),
    (dict(top_k=5), "top_k=5 goes only with loss='top_k'"),
    (dict(loss="top_k", top_k=0), "top_k must be a whole number >= 1"),
])
def test_config_names_the_bad_knob(knobs, message):
    with pytest.raises(ValueError, match=message):
        DistillationConfig(**knobs)


def test_dark_knowledge_helpers(teacher):
    model, tokenizer = teacher
    problem = world.sample_problems(1, 2, seed=0)[0]
    assert answer_prefix(problem).endswith(" answer") and answer_prefix(problem).startswith(problem.prompt)
    logits = answer_logits(model, tokenizer, [problem])[0]
    assert logits.shape == (len(tokenizer),)
    assert tokenizer.convert_ids_to_tokens(int(logits.argmax())) == str(problem.answer)
    cold, hot = soften(logits, 1.0), soften(logits, 4.0)
    assert torch.allclose(hot.sum(), torch.tensor(1.0)) and hot.max() < cold.max()
    with pytest.raises(ValueError, match="temperature"):
        soften(logits, 0)
