import math

import pytest
import torch
import torch.nn.functional as F

from distillab.losses import check_temperature, masked_cross_entropy


def test_masked_cross_entropy_matches_torch_with_ignore_index():
    torch.manual_seed(0)
    logits, targets = torch.randn(3, 5, 11), torch.randint(0, 11, (3, 5))
    mask = torch.rand(3, 5) > 0.4
    reference = F.cross_entropy(logits.reshape(-1, 11), targets.masked_fill(~mask, -100).reshape(-1),
                                ignore_index=-100)
    assert torch.allclose(masked_cross_entropy(logits, targets, mask), reference)


def test_masked_positions_do_not_matter():
    torch.manual_seed(1)
    logits, targets = torch.randn(2, 4, 7), torch.randint(0, 7, (2, 4))
    mask = torch.tensor([[False, True, True, True], [False, False, True, True]])
    changed = logits.clone()
    changed[~mask] = 100.0
    assert torch.allclose(masked_cross_entropy(logits, targets, mask),
                          masked_cross_entropy(changed, targets, mask))


def test_empty_mask_is_a_clear_error():
    with pytest.raises(ValueError, match="mask selects no position"):
        masked_cross_entropy(torch.randn(1, 2, 3), torch.zeros(1, 2, dtype=torch.long),
                             torch.zeros(1, 2, dtype=torch.bool))


def test_mask_must_be_bool():
    with pytest.raises(ValueError, match="bool"):
        masked_cross_entropy(torch.randn(1, 2, 3), torch.zeros(1, 2, dtype=torch.long),
                             torch.ones(1, 2))


# ---- distillation losses: reference formulas, properties, gradients, bad input ----------------

from distillab.losses import (forward_kl, generalized_jsd, mix_soft_and_hard, reverse_kl, top_k_kd,
                              top_k_teacher)


def random_pair(seed=0, shape=(2, 5, 7)):
    generator = torch.Generator().manual_seed(seed)
    student = torch.randn(*shape, generator=generator, dtype=torch.float64)
    teacher = 2 * torch.randn(*shape, generator=generator, dtype=torch.float64)
    mask = torch.rand(shape[:-1], generator=generator) > 0.3
    mask[0, 0] = True
    return student, teacher, mask


def reference_kl(p_logits, q_logits, temperature=1.0):
    """KL(p ‖ q) per position, written out with probabilities: Σ p (log p − log q)."""
    p = torch.softmax(p_logits / temperature, -1)
    q = torch.softmax(q_logits / temperature, -1)
    return (p * (p.log() - q.log())).sum(-1)


@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.0, 4.0])
def test_forward_kl_matches_the_formula_and_torch(temperature):
    student, teacher, mask = random_pair()
    expected = reference_kl(teacher, student, temperature)[mask].mean() * temperature**2
    assert torch.allclose(forward_kl(student, teacher, mask, temperature), expected)
    # torch's kl_div(input=log q, target=log p, log_target=True) is KL(p ‖ q): the argument order trap
    torch_value = F.kl_div(F.log_softmax(student[mask] / temperature, -1), F.log_softmax(teacher[mask] / temperature, -1),
                           reduction="batchmean", log_target=True) * temperature**2
    assert torch.allclose(forward_kl(student, teacher, mask, temperature), torch_value)
    unscaled = forward_kl(student, teacher, mask, temperature, scale_by_t_squared=False)
    assert torch.allclose(unscaled * temperature**2, forward_kl(student, teacher, mask, temperature))


def test_reverse_kl_is_forward_kl_with_roles_swapped():
    student, teacher, mask = random_pair(1)
    assert torch.allclose(reverse_kl(student, teacher, mask), forward_kl(teacher, student, mask))
    expected = reference_kl(student, teacher)[mask].mean()
    assert torch.allclose(reverse_kl(student, teacher, mask), expected)


def reference_jsd(student, teacher, beta):
    p_s, p_t = torch.softmax(student, -1), torch.softmax(teacher, -1)
    m = beta * p_t + (1 - beta) * p_s
    kl = lambda a, b: (a * (a.log() - b.log())).sum(-1)  # noqa: E731
    return beta * kl(p_t, m) + (1 - beta) * kl(p_s, m)


@pytest.mark.parametrize("beta", [0.1, 0.5, 0.9])
def test_jsd_matches_the_gkd_formula(beta):
    student, teacher, mask = random_pair(2)
    expected = reference_jsd(student, teacher, beta)[mask].mean()
    assert torch.allclose(generalized_jsd(student, teacher, mask, beta), expected)


def test_jsd_end_points_are_the_two_kls_as_in_trl():
    student, teacher, mask = random_pair(3)
    assert torch.allclose(generalized_jsd(student, teacher, mask, beta=0.0), forward_kl(student, teacher, mask))
    assert torch.allclose(generalized_jsd(student, teacher, mask, beta=1.0), reverse_kl(student, teacher, mask))


def test_jsd_is_symmetric_at_one_half_and_bounded_by_log_2():
    student, teacher, mask = random_pair(4)
    a, b = generalized_jsd(student, teacher, mask, 0.5), generalized_jsd(teacher, student, mask, 0.5)
    assert torch.allclose(a, b) and 0 < a <= math.log(2)


@pytest.mark.parametrize("loss", [
    lambda s, t, m: forward_kl(s, t, m, 2.0), lambda s, t, m: reverse_kl(s, t, m, 0.7),
    lambda s, t, m: generalized_jsd(s, t, m, 0.3), lambda s, t, m: generalized_jsd(s, t, m, 0.0),
])
def test_divergences_are_positive_and_zero_only_for_identical_inputs(loss):
    for seed in range(5):
        student, teacher, mask = random_pair(seed)
        assert loss(student, teacher, mask) > 0
        assert abs(float(loss(teacher, teacher, mask))) < 1e-6
        assert abs(float(loss(teacher, teacher + 3.0, mask))) < 1e-6  # a constant shift changes no probability


@pytest.mark.parametrize("loss", [
    lambda s, t, m: forward_kl(s, t, m, 2.0), lambda s, t, m: reverse_kl(s, t, m),
    lambda s, t, m: generalized_jsd(s, t, m, 0.5),
    lambda s, t, m: top_k_kd(s, *top_k_teacher(t, 3), m, 1.5),
])
def test_gradients_match_finite_differences(loss):
    student, teacher, mask = random_pair(5, shape=(1, 3, 5))
    student.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda s: loss(s, teacher, mask).double(), (student,), eps=1e-6, atol=1e-4)


def test_masked_positions_never_matter_for_any_loss():
    student, teacher, mask = random_pair(6)
    changed = student.clone()
    changed[~mask] = 50.0
    for loss in (forward_kl, reverse_kl, generalized_jsd):
        assert torch.allclose(loss(student, teacher, mask), loss(changed, teacher, mask))


def test_sum_reduction_supports_gradient_accumulation_over_uneven_micro_batches():
    student, teacher, mask = random_pair(7, shape=(4, 6, 7))
    full = forward_kl(student, teacher, mask, 2.0)
    halves = [(slice(0, 1), ), (slice(1, 4), )]  # 1 sequence and 3 sequences: different token counts
    summed = sum(forward_kl(student[h], teacher[h], mask[h], 2.0, reduction="sum") for (h,) in halves)
    assert torch.allclose(summed / mask.sum(), full)
    naive = sum(forward_kl(student[h], teacher[h], mask[h], 2.0) for (h,) in halves) / 2
    assert not torch.allclose(naive, full)  # averaging micro-batch means weighs tokens unevenly


def test_none_reduction_keeps_one_value_per_masked_position():
    student, teacher, mask = random_pair(8, shape=(3, 5, 7))
    mask[0, :2], mask[0, 2] = False, True
    for loss in (forward_kl, reverse_kl, generalized_jsd, masked_cross_entropy):
        args = (student, teacher.argmax(-1), mask) if loss is masked_cross_entropy else (student, teacher, mask)
        per_position = loss(*args, reduction="none")
        assert per_position.shape == (int(mask.sum()),)
        assert torch.allclose(per_position.mean(), loss(*args)) and torch.allclose(per_position.sum(), loss(*args, reduction="sum"))
    # row order: the first masked position of the first sequence comes first
    first = reverse_kl(student[:1, 2:3], teacher[:1, 2:3], mask[:1, 2:3])
    assert torch.allclose(reverse_kl(student, teacher, mask, reduction="none")[0], first)


def test_top_k_with_all_tokens_is_the_full_forward_kl():
    student, teacher, mask = random_pair(8)
    values, indices = top_k_teacher(teacher, k=7)
    assert torch.allclose(top_k_kd(student, values, indices, mask, 2.0), forward_kl(student, teacher, mask, 2.0), atol=1e-6)


def test_top_1_is_cross_entropy_on_the_teachers_top_token():
    student, teacher, mask = random_pair(9)
    values, indices = top_k_teacher(teacher, k=1)
    assert torch.allclose(top_k_kd(student, values, indices, mask, temperature=3.0),
                          9.0 * masked_cross_entropy(student / 3.0, teacher.argmax(-1), mask), atol=1e-6)


def test_alpha_mixes_soft_and_hard():
    soft, hard = torch.tensor(2.0), torch.tensor(4.0)
    assert mix_soft_and_hard(soft, hard, 1.0) == 2.0 and mix_soft_and_hard(soft, hard, 0.0) == 4.0
    assert mix_soft_and_hard(soft, hard, 0.25) == 3.5


@pytest.mark.parametrize("call, message", [
    (lambda s, t, m: forward_kl(s, t, m, temperature=0), "temperature must be > 0"),
    (lambda s, t, m: forward_kl(s, t, m, temperature=-1.0), "temperature must be a number > 0"),
    (lambda s, t, m: reverse_kl(s, t, m, temperature=float("nan")), "temperature must be a number > 0"),
    (lambda s, t, m: generalized_jsd(s, t, m, beta=1.5), "beta must be a number from 0 to 1"),
    (lambda s, t, m: generalized_jsd(s, t, m, beta=-0.1), "beta must be a number from 0 to 1"),
    (lambda s, t, m: mix_soft_and_hard(torch.tensor(1.0), torch.tensor(1.0), 2.0), "alpha must be a number from 0 to 1"),
    (lambda s, t, m: top_k_teacher(t, 0), "k \\(entries kept of the 7-token vocabulary\\) must be a whole number >= 1 and <= 7"),
    (lambda s, t, m: top_k_teacher(t, 8), "k \\(entries kept of the 7-token vocabulary\\) must be a whole number >= 1 and <= 7"),
    (lambda s, t, m: forward_kl(s, t[..., :5], m), "logit distillation needs one shared vocabulary"),
    (lambda s, t, m: forward_kl(s, t, torch.zeros_like(m)), "mask selects no position"),
    (lambda s, t, m: forward_kl(s, t, m, reduction="batchmean"), "reduction must be one of"),
    (lambda s, t, m: forward_kl(s, t, m.float()), "mask must be a bool tensor"),
])
def test_bad_input_names_the_knob(call, message):
    student, teacher, mask = random_pair(10)
    with pytest.raises(ValueError, match=message):
        call(student, teacher, mask)


def test_one_temperature_validator_takes_any_real_number_type():
    import numpy as np

    assert check_temperature(np.float32(2.0)) == 2.0 and check_temperature(np.float64(0.5)) == 0.5
    assert check_temperature(0, greedy_allowed=True) == 0.0
    for bad in (True, "2", float("inf"), -1.0):
        with pytest.raises(ValueError, match="temperature must be"):
            check_temperature(bad)
