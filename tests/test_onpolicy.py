"""Chapter 04's machinery: the student's rollouts and their mask, the λ mix of batches, the
on-policy objective, its bill (sampling + teacher scoring + training), and the refusals."""

import math

import pytest
import torch

from distillab import world
from distillab.cost import generation_flops
from distillab.sampling import max_new_tokens_for
from distillab.losses import reverse_kl
from distillab.models import build_model, matmul_parameters
from distillab.onpolicy import (OnPolicyBatches, OnPolicyConfig, distill_on_policy, onpolicy_objective,
                                step_flops_ratio, student_rollouts, token_disagreement)
from distillab.tokenizer import build_tokenizer
from distillab.training import BatchSampler, TrainingConfig, TrainingSet, train


@pytest.fixture(scope="module")
def data(teacher):
    _, tokenizer = teacher
    problems = world.training_problems(16, seed=5, held_out=world.held_out_problems(5))
    return TrainingSet.from_problems({d: problems[d] for d in (2, 4)}, tokenizer)


@pytest.mark.parametrize("knobs, message", [
    ({"lmbda": 1.5}, "λ"), ({"lmbda": -0.1}, "λ"), ({"beta": 2}, "β"), ({"beta": float("nan")}, "β"),
    ({"temperature": 0}, "temperature"), ({"temperature": -1.0}, "temperature"),
    ({"temperature": float("nan")}, "temperature"), ({"temperature": "hot"}, "temperature"),
])
def test_config_names_the_bad_knob(knobs, message):
    with pytest.raises(ValueError, match=message):
        OnPolicyConfig(**knobs)


def test_describe_names_the_loss():
    assert "reverse KL" in OnPolicyConfig().describe()
    assert "forward KL" in OnPolicyConfig(beta=0).describe()
    assert "JSD β=0.5" in OnPolicyConfig(lmbda=0.5, beta=0.5).describe()
    assert OnPolicyConfig(lmbda=0).describe() == "off-policy KD (λ=0), reverse KL"  # as the stored table names it


def test_rollouts_mask_the_completion_up_to_its_first_eos():
    tokenizer = build_tokenizer()
    student = build_model("tiny", tokenizer, seed=0)  # untrained: it rambles, and may stop anywhere
    problems = world.sample_problems(8, 3, seed=1)
    prompt_ids = tokenizer([p.prompt for p in problems], return_tensors="pt")["input_ids"]
    torch.manual_seed(0)
    ids, mask, tokens = student_rollouts(student, tokenizer, prompt_ids, 12, temperature=1.0)
    prompt_length = prompt_ids.shape[1]
    assert torch.equal(ids[:, :prompt_length], prompt_ids)
    assert not mask[:, :prompt_length].any() and mask[:, prompt_length].all()
    for row, row_mask in zip(ids, mask):
        completion = row[prompt_length:].tolist()
        eos = completion.index(tokenizer.eos_token_id) + 1 if tokenizer.eos_token_id in completion else len(completion)
        assert row_mask[prompt_length:].tolist() == [True] * eos + [False] * (len(completion) - eos)
    assert tokens == prompt_ids.numel() + int(mask.sum())


def test_lambda_decides_who_writes_the_batch(teacher, data):
    model, tokenizer = teacher
    sampler = lambda: BatchSampler(data, 8, seed=0)  # noqa: E731
    off = OnPolicyBatches(sampler(), model, tokenizer, OnPolicyConfig(lmbda=0.0))
    reference = sampler()
    for _ in range(3):
        batch, expected = off.next_batch(), reference.next_batch()
        assert torch.equal(batch["input_ids"], expected["input_ids"]) and "student_sampling_flops" not in batch
    assert (off.on_policy_batches, off.off_policy_batches) == (0, 3)

    on = OnPolicyBatches(sampler(), model, tokenizer, OnPolicyConfig(lmbda=1.0))
    batch, source = on.next_batch(), sampler().next_batch()
    prompt_length = int(source["completion_mask"][0].int().argmax())
    assert torch.equal(batch["input_ids"][:, :prompt_length], source["input_ids"][:, :prompt_length])
    written = batch["input_ids"].shape[1] - prompt_length
    assert written <= max_new_tokens_for(source["difficulty"])
    tokens = prompt_length * 8 + int(batch["completion_mask"].sum())
    assert batch["student_sampling_flops"] == pytest.approx(generation_flops(matmul_parameters(model), tokens))
    # the teacher writes its own traces when it samples: nearly all of them right
    texts = tokenizer.batch_decode(batch["input_ids"][:, prompt_length:], skip_special_tokens=True)
    assert on.on_policy_batches == 1 and on.generated_tokens == int(batch["completion_mask"].sum())
    assert all(len(text.split()) > 2 for text in texts)

    half = OnPolicyBatches(sampler(), model, tokenizer, OnPolicyConfig(lmbda=0.5))
    for _ in range(40):
        half.next_batch()
    assert 10 <= half.on_policy_batches <= 30  # λ = 0.5 over 40 draws (binomial: ±3 sd)


def test_the_teacher_grading_itself_costs_nothing(teacher, data):
    model, _ = teacher
    batch = BatchSampler(data, 8, seed=0).next_batch()
    for beta in (0.0, 0.5, 1.0):
        with torch.no_grad():
            assert onpolicy_objective(model, beta)(model, batch).item() == pytest.approx(0.0, abs=1e-5)


def test_the_objective_is_the_jsd_against_the_teacher_and_bills_its_reading(teacher, data):
    model, tokenizer = teacher
    student = build_model("tiny", tokenizer, seed=0)
    batch = BatchSampler(data, 8, seed=0).next_batch()
    ids, mask = batch["input_ids"], batch["completion_mask"]
    scoring = onpolicy_objective(model, beta=1.0)
    with torch.no_grad():
        loss = scoring(student, batch)
        expected = reverse_kl(student(input_ids=ids[:, :-1]).logits, model(input_ids=ids[:, :-1]).logits, mask[:, 1:])
    assert torch.allclose(loss, expected)
    assert scoring.flops == pytest.approx(generation_flops(matmul_parameters(model), ids[:, :-1].numel()))
    assert scoring.seconds > 0


def test_on_policy_training_bills_sampling_scoring_and_training(teacher, data):
    model, tokenizer = teacher
    training = TrainingConfig(num_steps=4, batch_size=8, learning_rate=1e-3, warmup_steps=1)
    student = build_model("tiny", tokenizer, seed=0)
    run = distill_on_policy(student, model, data, tokenizer, OnPolicyConfig(lmbda=1.0), training, progress=False)
    assert run.on_policy_batches == 4 and run.off_policy_batches == 0
    assert run.student_sampling_flops > 0 and run.generated_tokens > 0
    assert run.teacher_scoring_seconds > 0 and run.teacher_scoring_flops > run.student_sampling_flops  # the teacher is 5x larger
    assert all(math.isfinite(loss) for loss in run.history.loss)
    sft = train(build_model("tiny", tokenizer, seed=0), data, training, progress=False)
    # sampling + the teacher's forward passes on top of the student's own training
    assert run.history.total_flops > sft.total_flops + run.student_sampling_flops

    off = distill_on_policy(build_model("tiny", tokenizer, seed=0), model, data, tokenizer,
                            OnPolicyConfig(lmbda=0.0), training, progress=False)
    assert off.on_policy_batches == 0 and off.student_sampling_flops == 0
    assert off.history.total_flops == pytest.approx(run.history.total_flops - run.student_sampling_flops, rel=0.35)


def test_a_student_with_another_vocabulary_is_refused(teacher, data):
    model, tokenizer = teacher
    other = build_model("tiny", tokenizer, seed=0)
    other.resize_token_embeddings(len(tokenizer) + 3)
    with pytest.raises(ValueError, match="one tokenizer"):
        distill_on_policy(other, model, data, tokenizer, OnPolicyConfig(),
                          TrainingConfig(num_steps=1, batch_size=4, warmup_steps=0), progress=False)


def test_step_flops_ratio_follows_the_rules_of_thumb(teacher):
    model, tokenizer = teacher
    student = build_model("small", tokenizer)
    s, t = matmul_parameters(student), matmul_parameters(model)
    assert step_flops_ratio(student, model, 1.0) == pytest.approx((8 * s + 2 * t) / (6 * s))
    assert step_flops_ratio(student, model, 0.0) == pytest.approx((6 * s + 2 * t) / (6 * s))
    assert 2.5 < step_flops_ratio(student, model, 1.0) < 4  # the prototype measured about 3x
    with pytest.raises(ValueError, match="λ"):
        step_flops_ratio(student, model, 1.2)


def test_token_disagreement_points_at_the_mistake(teacher):
    model, tokenizer = teacher
    problem = world.held_out_problems(3)[3][0]
    right = token_disagreement(model, model, tokenizer, problem.prompt, problem.trace)
    assert [token for token, _, _ in right] == problem.trace.split() + [tokenizer.eos_token]
    assert all(kl == pytest.approx(0.0, abs=1e-5) for _, kl, _ in right)
    assert [top for _, _, top in right] == [token for token, _, _ in right]  # the teacher agrees with the truth

    student = build_model("tiny", tokenizer, seed=0)
    words = problem.trace.split()
    first_result = words.index("=") + 1
    wrong = words[:first_result] + [str((int(words[first_result]) + 1) % 30)] + words[first_result + 1:]
    scored = token_disagreement(student, model, tokenizer, problem.prompt, " ".join(wrong))
    assert scored[first_result][2] == words[first_result]  # there the teacher would have written the right number
