"""Losses as pure functions of logits and masks. Chapter 01 uses cross-entropy; chapter 02 adds
the distillation losses (forward and reverse KL, generalized JSD, top-k KD, the α mix); chapter 04
reuses them on the student's own samples.

Shapes: B = batch, T = sequence positions, V = vocabulary, k = stored teacher entries per position.
A mask (B, T) marks with True the positions whose loss counts (the completion tokens).
Reductions: "mean" (default) averages over the masked positions, so a loss is in nats per
completion token; "sum" adds them up, for gradient accumulation over micro-batches of different
token counts (sum every micro-batch, then divide by the total number of masked positions);
"none" keeps one value per masked position, (M,) in row order, to see where a loss comes from.
"""

from __future__ import annotations

import math
import numbers

import torch
import torch.nn.functional as F

from distillab import knobs

REDUCTIONS = ("mean", "sum", "none")


def check_mask(mask: torch.Tensor) -> torch.Tensor:
    if mask.dtype != torch.bool:
        raise ValueError(f"mask must be a bool tensor, got dtype {mask.dtype}")
    if not mask.any():
        raise ValueError("mask selects no position: at least one completion token must count")
    return mask


def check_temperature(temperature: float, greedy_allowed: bool = False) -> float:
    """The one validator of a temperature knob: a finite number > 0 (softening a distribution, or
    sampling from it), or >= 0 where `greedy_allowed` (decoding: 0 means greedy). Any real number
    type is accepted (a NumPy float too); a bool or a string is not."""
    if isinstance(temperature, bool) or not isinstance(temperature, numbers.Real) \
            or not math.isfinite(temperature) or temperature < 0:
        allowed = ("a number >= 0 (0 means greedy)" if greedy_allowed
                   else "a number > 0 (1 leaves the distributions as they are)")
        raise ValueError(f"temperature must be {allowed}, got {temperature!r}")
    if temperature == 0 and not greedy_allowed:
        raise ValueError("temperature must be > 0 to sample or to soften a distribution, got 0 (0 means "
                         "greedy decoding: every sample would be the same)")
    return float(temperature)


def check_top_k(k: int, vocab_size: int) -> int:
    """How many of a distribution's V entries to keep: 1 to the vocabulary size."""
    return knobs.whole_number(f"k (entries kept of the {vocab_size}-token vocabulary)", k, 1, vocab_size)


def _check_pair(student_logits: torch.Tensor, teacher_logits: torch.Tensor, mask: torch.Tensor) -> None:
    check_mask(mask)
    if student_logits.shape[-1] != teacher_logits.shape[-1]:
        raise ValueError(
            f"the student's logits cover {student_logits.shape[-1]} tokens but the teacher's cover "
            f"{teacher_logits.shape[-1]}: logit distillation needs one shared vocabulary (same tokenizer). "
            "Distil from the teacher's text instead (chapter 03), which works across tokenizers."
        )
    if student_logits.shape[:-1] != teacher_logits.shape[:-1] or student_logits.shape[:-1] != mask.shape:
        raise ValueError(f"shapes do not line up: student {tuple(student_logits.shape)}, teacher "
                         f"{tuple(teacher_logits.shape)}, mask {tuple(mask.shape)}; expected (B, T, V), (B, T, V), (B, T)")


def _full_precision(tensor: torch.Tensor) -> torch.Tensor:
    """float16/bfloat16 (e.g. a half-precision logit cache) computed in float32; float64 kept."""
    return tensor if tensor.dtype in (torch.float32, torch.float64) else tensor.float()


def _reduce(per_position: torch.Tensor, reduction: str) -> torch.Tensor:
    """per_position: (M,) one value per masked position."""
    if reduction == "mean":
        return per_position.mean()
    if reduction == "sum":
        return per_position.sum()
    if reduction == "none":
        return per_position
    raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")


def masked_cross_entropy(
    logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor, reduction: str = "mean"
) -> torch.Tensor:
    """Cross-entropy of the targets over the masked positions: the SFT loss on hard labels.

    Args:
        logits: (B, T, V) scores for the next token at each position.
        targets: (B, T) the token that really came next.
        mask: (B, T) True where the position is a completion token whose loss counts.
        reduction: "mean" (nats per masked token) or "sum".
    Returns:
        A scalar: the negative log-probability of the targets.
    """
    check_mask(mask)
    chosen = targets[mask]  # (M,)
    if len(chosen) and (int(chosen.min()) < 0 or int(chosen.max()) >= logits.shape[-1]):
        raise ValueError(f"a target token id ({int(chosen.min())} to {int(chosen.max())}) lies outside the "
                         f"vocabulary of {logits.shape[-1]} tokens the logits cover: tokenize the targets with "
                         "the model's own tokenizer")
    log_probs = F.log_softmax(_full_precision(logits[mask]), dim=-1)  # (M, V), M = masked positions
    return _reduce(-log_probs.gather(-1, targets[mask].unsqueeze(-1)).squeeze(-1), reduction)


def _log_probs(logits: torch.Tensor, mask: torch.Tensor, temperature: float) -> torch.Tensor:
    return F.log_softmax(_full_precision(logits[mask]) / temperature, dim=-1)  # (M, V)


def forward_kl(
    student_logits: torch.Tensor, teacher_logits: torch.Tensor, mask: torch.Tensor,
    temperature: float = 1.0, scale_by_t_squared: bool = True, reduction: str = "mean",
) -> torch.Tensor:
    """KL(teacher ‖ student) = Σ_v p_T(v) (log p_T(v) − log p_S(v)), both softened by `temperature`.

    This is Hinton et al.'s soft-target loss. It is "mean-seeking": the student is pushed to put
    mass wherever the teacher does. Multiplying by T² keeps the gradient's size the same as T
    changes (the softened gradients shrink like 1/T²), so α and the learning rate keep their meaning.

    Args:
        student_logits, teacher_logits: (B, T, V) next-token scores (teacher log-probs work too).
        mask: (B, T) True on the positions whose loss counts.
        temperature: T > 0; T > 1 flattens both distributions and shows the teacher's "dark knowledge".
        scale_by_t_squared: multiply by T² (Hinton's convention).
        reduction: "mean" (nats per masked token) or "sum".
    Returns:
        A scalar ≥ 0, and 0 exactly when the two distributions agree at every masked position.
    """
    temperature = check_temperature(temperature)
    _check_pair(student_logits, teacher_logits, mask)
    student, teacher = _log_probs(student_logits, mask, temperature), _log_probs(teacher_logits, mask, temperature)
    per_position = (teacher.exp() * (teacher - student)).sum(-1)  # (M,)
    scale = temperature**2 if scale_by_t_squared else 1.0
    return scale * _reduce(per_position, reduction)


def reverse_kl(
    student_logits: torch.Tensor, teacher_logits: torch.Tensor, mask: torch.Tensor,
    temperature: float = 1.0, reduction: str = "mean",
) -> torch.Tensor:
    """KL(student ‖ teacher) = Σ_v p_S(v) (log p_S(v) − log p_T(v)): "mode-seeking", the student is
    punished for putting mass where the teacher puts little, and may ignore some of the teacher's modes.
    Same arguments as `forward_kl` (no T² factor, as in TRL and GKD)."""
    temperature = check_temperature(temperature)
    _check_pair(student_logits, teacher_logits, mask)
    student, teacher = _log_probs(student_logits, mask, temperature), _log_probs(teacher_logits, mask, temperature)
    return _reduce((student.exp() * (student - teacher)).sum(-1), reduction)


def generalized_jsd(
    student_logits: torch.Tensor, teacher_logits: torch.Tensor, mask: torch.Tensor,
    beta: float = 0.5, temperature: float = 1.0, reduction: str = "mean",
) -> torch.Tensor:
    """The generalized Jensen-Shannon divergence of GKD (Agarwal et al. 2024), in TRL's convention
    (`GKDTrainer.generalized_jsd_loss`):

        M = β·p_T + (1 − β)·p_S,   JSD_β = β·KL(p_T ‖ M) + (1 − β)·KL(p_S ‖ M),

    with the end points defined as the two KLs: β = 0 is forward KL(p_T ‖ p_S) and β = 1 is reverse
    KL(p_S ‖ p_T). Between them the value is bounded (by log 2 at β = 0.5, where it is symmetric in
    student and teacher) and tends to 0 as β approaches 0 or 1; only the end points jump to the KLs.
    Temperature softens both distributions, with no T² factor (as in TRL).

    Args:
        student_logits, teacher_logits: (B, T, V) next-token scores.
        mask: (B, T) True on the positions whose loss counts.
        beta: β in [0, 1], the teacher's weight in the mixture.
        temperature: T > 0.
        reduction: "mean" (nats per masked token) or "sum".
    Returns:
        A scalar ≥ 0, 0 when the distributions agree.
    """
    beta = knobs.fraction("beta", beta)
    temperature = check_temperature(temperature)
    if beta == 0.0:
        return forward_kl(student_logits, teacher_logits, mask, temperature, scale_by_t_squared=False,
                          reduction=reduction)
    if beta == 1.0:
        return reverse_kl(student_logits, teacher_logits, mask, temperature, reduction)
    _check_pair(student_logits, teacher_logits, mask)
    student, teacher = _log_probs(student_logits, mask, temperature), _log_probs(teacher_logits, mask, temperature)
    mixture = torch.logaddexp(teacher + math.log(beta), student + math.log(1 - beta))  # (M, V) log M
    kl_teacher = (teacher.exp() * (teacher - mixture)).sum(-1)
    kl_student = (student.exp() * (student - mixture)).sum(-1)
    return _reduce(beta * kl_teacher + (1 - beta) * kl_student, reduction)


def top_k_teacher(teacher_logits: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """What a top-k logit cache stores: the teacher's k most likely tokens at each position and
    their log-probabilities (at T = 1).

    Args:
        teacher_logits: (..., V).
        k: 1 <= k <= V.
    Returns:
        (log_probs, indices), each (..., k), most likely first.
    """
    check_top_k(k, teacher_logits.shape[-1])
    return F.log_softmax(_full_precision(teacher_logits), dim=-1).topk(k, dim=-1)


def top_k_kd(
    student_logits: torch.Tensor, teacher_top_log_probs: torch.Tensor, teacher_top_indices: torch.Tensor,
    mask: torch.Tensor, temperature: float = 1.0, scale_by_t_squared: bool = True, reduction: str = "mean",
) -> torch.Tensor:
    """Forward KL from a top-k cache: the teacher's distribution is its k stored tokens,
    renormalised (softened by `temperature` first), and the student pays −log p_S on each of them:

        Σ_{j ≤ k} q_j (log q_j − log p_S(v_j)),  q = softmax(teacher_top_log_probs / T) over the k entries.

    k = 1 puts all the weight on the teacher's top token, which is SFT on the teacher's greedy text;
    k = V is the full forward KL.

    Args:
        student_logits: (B, T, V).
        teacher_top_log_probs: (B, T, k) from `top_k_teacher`.
        teacher_top_indices: (B, T, k) the token ids they belong to.
        mask: (B, T) True on the positions whose loss counts.
        temperature, scale_by_t_squared, reduction: as in `forward_kl`.
    Returns:
        A scalar ≥ 0.
    """
    temperature = check_temperature(temperature)
    check_mask(mask)
    if teacher_top_log_probs.shape != teacher_top_indices.shape:
        raise ValueError(f"top-k log-probs {tuple(teacher_top_log_probs.shape)} and indices "
                         f"{tuple(teacher_top_indices.shape)} must have the same shape")
    if int(teacher_top_indices.max()) >= student_logits.shape[-1]:
        raise ValueError(f"the teacher's top-k cache holds token id {int(teacher_top_indices.max())} but the "
                         f"student's vocabulary has {student_logits.shape[-1]} tokens: they need the same tokenizer")
    if int(teacher_top_indices.min()) < 0:
        raise ValueError(f"the teacher's top-k cache holds a negative token id ({int(teacher_top_indices.min())}): "
                         "ids were stored in too small an integer type for the vocabulary (see distillation.id_dtype)")
    student = _log_probs(student_logits, mask, temperature)  # (M, V)
    teacher = F.log_softmax(_full_precision(teacher_top_log_probs[mask]) / temperature, dim=-1)  # (M, k) renormalised
    student_at_teacher_tokens = student.gather(-1, teacher_top_indices[mask].long())  # (M, k)
    per_position = (teacher.exp() * (teacher - student_at_teacher_tokens)).sum(-1)
    scale = temperature**2 if scale_by_t_squared else 1.0
    return scale * _reduce(per_position, reduction)


def mix_soft_and_hard(soft: torch.Tensor, hard: torch.Tensor, alpha: float) -> torch.Tensor:
    """α·soft + (1 − α)·hard: α = 1 is pure distillation, α = 0 is plain SFT on the hard labels."""
    alpha = knobs.fraction("alpha", alpha)
    return alpha * soft + (1 - alpha) * hard
