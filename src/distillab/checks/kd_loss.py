"""Checks for lab 02 · Write the distillation loss: forward KL with temperature, T² and a
completion mask. The cases are built so that the bugs practitioners actually ship give
recognisably wrong values, and each one is named: kl_div's arguments swapped, T² missing or T
instead of T², the wrong reduction (over the vocabulary, the sum, per batch, per sequence, over
padding), probabilities or raw logits where log-probabilities belong, the temperature applied to
one side only, ignored (with or without its T²) or multiplied in, cross-entropy instead of KL, the
sign flipped."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from distillab.checks import FAILED, Case, CheckResult, WrongKind, report, run_cases
from distillab.losses import forward_kl

VOCAB = 6
TOLERANCE = (1e-4, 1e-5)  # relative, absolute: float32 arithmetic done in another order


def _logits(seed: int, shape=(2, 4, VOCAB), scale: float = 2.0) -> torch.Tensor:
    return scale * torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def _bugs(student: torch.Tensor, teacher: torch.Tensor, mask: torch.Tensor, t: float) -> list[tuple[float, str]]:
    """The value each common bug gives on this case, with its diagnosis."""
    s_log, t_log = F.log_softmax(student[mask] / t, -1), F.log_softmax(teacher[mask] / t, -1)  # (M, V)
    per_position = (t_log.exp() * (t_log - s_log)).sum(-1)
    right = float(per_position.mean() * t * t)
    all_s, all_t = F.log_softmax(student / t, -1), F.log_softmax(teacher / t, -1)
    positions, batch = int(mask.sum()), student.shape[0]
    out = [
        (float((s_log.exp() * (s_log - t_log)).sum(-1).mean() * t * t),
         "This is KL(student ‖ teacher), the reverse KL: the arguments are swapped. torch's "
         "F.kl_div(input, target) computes KL(target ‖ input), so the *student's* log-probs go first."),
        (right / (t * t), "You left out the T² factor: softened targets give gradients about 1/T² as "
                          "large, and Hinton multiplies by T² to keep the loss on the same scale as T changes."),
        (right / VOCAB, "You averaged over the vocabulary too (F.kl_div's reduction='mean'): sum over the "
                        "vocabulary, then average over the masked positions."),
        (right * positions, "You summed over the positions: average over the masked positions instead "
                            "(nats per completion token)."),
        (right * positions / batch, "You divided by the batch size (reduction='batchmean' on a (B, T) "
                                    "batch): average over the masked positions, not the sequences."),
        (float((all_t.exp() * (all_t - all_s)).sum(-1).mean() * t * t),
         "Your loss counts the padded positions: average only where the mask is True."),
        (float(-(t_log.exp() * s_log).sum(-1).mean() * t * t),
         "This is the cross-entropy −Σ p_T log p_S, which is the KL *plus the teacher's entropy*: "
         "subtract Σ p_T log p_T so that identical distributions give 0."),
        (float((t_log.exp() * (t_log - F.log_softmax(student[mask], -1))).sum(-1).mean() * t * t),
         "You softened the teacher but not the student: divide both logits by T."),
    ]
    probs_as_log = F.kl_div(s_log.exp(), t_log.exp(), reduction="none").sum(-1).mean() * t * t
    out.append((float(probs_as_log), "You passed probabilities where F.kl_div expects the student's "
                                     "*log*-probabilities as its first argument."))
    hard_teacher = F.log_softmax(teacher[mask], -1)
    sequence_means = [per_position[mask[:b].sum():mask[:b + 1].sum()].mean() for b in range(batch) if mask[b].any()]
    out += [
        (right * positions / mask.numel(), "You zeroed the padded positions but divided by all of them: divide "
                                           "by the number of masked positions (mask.sum()), not by B·T."),
        (float((hard_teacher.exp() * (hard_teacher - s_log)).sum(-1).mean() * t * t),
         "You softened the student but not the teacher: divide both logits by T."),
        (right / t, "You multiplied by T, not T²: softening shrinks the gradients by about 1/T², so the "
                    "factor that restores their scale is T²."),
        (float(torch.stack(sequence_means).mean() * t * t),
         "You averaged each sequence, then averaged the sequences: a short completion then weighs as much "
         "as a long one. Average over all masked positions at once."),
        (float((F.softmax(teacher[mask], -1) * (F.log_softmax(teacher[mask], -1)
                                                 - F.log_softmax(student[mask], -1))).sum(-1).mean()),
         "Your loss ignores the temperature: soften both logits by T (divide by it), and multiply by T²."),
        (float((F.softmax(teacher[mask], -1) * (F.log_softmax(teacher[mask], -1)
                                                 - F.log_softmax(student[mask], -1))).sum(-1).mean() * t * t),
         "You multiplied by T² but left the temperature out of the softmax: T² only restores the scale that "
         "softening takes away, so divide both logits by T before log_softmax."),
        (float((F.softmax(teacher[mask] * t, -1) * (F.log_softmax(teacher[mask] * t, -1)
                                                     - F.log_softmax(student[mask] * t, -1))).sum(-1).mean() * t * t),
         "You multiplied the logits by T: softening *divides* them by T (a higher T flattens the distribution)."),
        (-right, "The sign is flipped: a KL is never negative. Return Σ p_T (log p_T − log p_S), averaged."),
        (float((t_log.exp() * (t_log - student[mask] / t)).sum(-1).mean() * t * t), "The student's raw logits went in where its log-probabilities belong: "
                                        "apply log_softmax to the softened student logits first."),
        (float((F.softmax(teacher[mask] / t, -1) * (teacher[mask] / t - student[mask] / t)).sum(-1).mean() * t * t),
         "You used raw logits as log-probabilities on both sides: apply log_softmax to each (logits are not "
         "normalised, so their difference is not log p_T − log p_S)."),
    ]
    return [(value, why) for value, why in out if abs(value - right) > 1e-3 * max(1.0, abs(right))]


def _case(label: str, student: torch.Tensor, teacher: torch.Tensor, mask: torch.Tensor, t: float) -> Case:
    expected = float(forward_kl(student, teacher, mask, t))
    shown = f"student {tuple(student.shape)}, teacher {tuple(teacher.shape)}, mask with {int(mask.sum())} of {mask.numel()} True, T={t:g}"
    return Case(label, (student.clone(), teacher.clone(), mask.clone(), t), expected,
                mistakes=_bugs(student, teacher, mask, t), shown=shown)


def _scalar(value: object) -> float:
    if not torch.is_tensor(value):
        raise WrongKind(f"returned a {type(value).__name__}; return a torch tensor (a scalar), so that "
                        "training can call .backward() on it.")
    if value.numel() != 1:
        raise WrongKind(f"returned a tensor of shape {tuple(value.shape)}; reduce it to one number "
                        "(the mean over the masked positions).")
    if torch.isnan(value).item():
        raise WrongKind("returned nan. Here that usually means the teacher's log-probabilities went into "
                        "F.kl_div as its target without log_target=True (the log of a negative "
                        "'probability'), or a log of 0 somewhere.")
    return float(value)


def check_distillation_loss(distillation_loss) -> CheckResult:
    """`distillation_loss(student_logits, teacher_logits, mask, temperature)`: forward
    KL(teacher ‖ student) at temperature T, times T², averaged over the masked positions."""
    student, teacher = _logits(0), _logits(1)
    everywhere = torch.ones(2, 4, dtype=torch.bool)
    padded = torch.tensor([[False, True, True, True], [False, False, True, True]])  # prompt/padding first
    uneven = torch.tensor([[False, False, False, True], [True, True, True, True]])
    same = _logits(2)
    shown = "student = teacher logits, mask all True, T={:g}"
    cases = [
        _case("T = 1, every position counts", student, teacher, everywhere, 1.0),
        _case("T = 2, padding masked out", student, teacher, padded, 2.0),
        _case("T = 4, uneven masks", student, teacher, uneven, 4.0),
        _case("T = 0.5, a sharper teacher", _logits(3), _logits(4, scale=4.0), padded, 0.5),
        Case("identical distributions", (same.clone(), same.clone(), everywhere, 1.0), 0.0, shown=shown.format(1),
             mistakes=[(float(-(F.softmax(same, -1) * F.log_softmax(same, -1)).sum(-1).mean()),
                        "Your loss is not 0 on identical distributions. KL of a distribution with itself "
                        "must be 0: you computed the cross-entropy, which adds the teacher's entropy.")]),
        Case("the same distribution, logits shifted by 5", (same.clone(), same + 5.0, everywhere, 2.0), 0.0,
             shown="teacher = student logits + 5, mask all True, T=2"),
    ]
    result = run_cases("distillation_loss", distillation_loss, cases, convert=_scalar, tolerance=TOLERANCE,
                       quiet=True)
    if result.passed:
        gradient_problem = _gradient_problem(distillation_loss, student, teacher, padded)
        if gradient_problem:
            result = CheckResult("distillation_loss", FAILED, gradient_problem)
        else:
            result = CheckResult("distillation_loss", result.status,
                                 f"all {len(cases)} cases right, and the gradient reaches only the masked positions.")
    return report(result)


def _gradient_problem(distillation_loss, student, teacher, mask) -> str | None:
    """The loss must be differentiable in the student and not in the teacher."""
    student = student.clone().requires_grad_(True)
    teacher = teacher.clone().requires_grad_(True)
    try:
        loss = distillation_loss(student, teacher, mask, 2.0)
        loss.backward()
    except Exception as error:  # reported in words
        return f"calling .backward() on your loss failed ({type(error).__name__}: {error}); do not use .item(), .detach() or numpy inside it."
    if student.grad is None or not torch.isfinite(student.grad).all():
        return "no gradient reaches the student's logits: keep the computation in torch, without .detach()."
    if student.grad[~mask].abs().max() > 0:
        return "masked positions get a gradient: select the masked positions before reducing."
    return None
