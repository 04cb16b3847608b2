"""Checks for lab 04 · Grade every token: the per-token reverse KL of on-policy distillation,
exact (summed over the vocabulary) and as the one-sample estimate at the token the student
actually wrote. The cases are built so that the common slips give recognisably wrong values and
are named: forward KL instead of reverse, the mask ignored, cross-entropy instead of KL, raw
logits where log-probabilities belong, the sign flipped, the sampled token read off by one."""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F

from distillab import world
from distillab.checks import Case, CheckResult, WrongKind, run_cases
from distillab.losses import reverse_kl

VOCAB = 5
SHAPE = (2, 4)
TOLERANCE = (1e-4, 1e-5)  # relative, absolute: float32 arithmetic done in another order


def _logits(seed: int, scale: float = 2.0) -> torch.Tensor:
    return scale * torch.randn(*SHAPE, VOCAB, generator=torch.Generator().manual_seed(seed))


def _grid(values: torch.Tensor) -> dict[tuple[int, int], float]:
    return {(i, j): float(values[i, j]) for i in range(values.shape[0]) for j in range(values.shape[1])}


def _per_token(shape: tuple[int, ...]):
    def convert(value: object) -> dict:
        if not torch.is_tensor(value):
            raise WrongKind(f"returned a {type(value).__name__}; return a torch tensor of shape {shape}.")
        if tuple(value.shape) != shape:
            raise WrongKind(f"returned shape {tuple(value.shape)}; return one value per position, shape {shape} "
                            "(B, T), with 0 where the mask is False. Do not average: the loss does that later.")
        if not torch.isfinite(value).all():
            raise WrongKind("returned nan or inf: take log_softmax of the logits rather than the log of a softmax, "
                            "and keep masked positions at 0.")
        return _grid(value.detach())
    return convert


def _masked(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return torch.where(mask, values, torch.zeros_like(values))


def exact_reverse_kl(student_logits: torch.Tensor, teacher_logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The right answer: KL(student ‖ teacher) at each masked position, 0 elsewhere, (B, T)."""
    out = torch.zeros(mask.shape)
    out[mask] = reverse_kl(student_logits, teacher_logits, mask, reduction="none")
    return out


def check_per_token_reverse_kl(per_token_reverse_kl) -> CheckResult:
    """`per_token_reverse_kl(student_logits, teacher_logits, mask)` -> (B, T): Σ_v p_S (log p_S − log p_T)
    at each position where mask is True, 0 elsewhere."""
    def case(label, student, teacher, mask):
        s_log, t_log = F.log_softmax(student, -1), F.log_softmax(teacher, -1)
        mistakes = [
            (_masked((t_log.exp() * (t_log - s_log)).sum(-1), mask),
             "This is KL(teacher ‖ student), the forward KL of chapter 02. On-policy distillation weighs by "
             "the *student's* probabilities: Σ p_S (log p_S − log p_T)."),
            ((s_log.exp() * (s_log - t_log)).sum(-1),
             "The masked positions (prompt, padding) must be 0: they are not the student's text."),
            (_masked(-(s_log.exp() * t_log).sum(-1), mask),
             "This is the cross-entropy −Σ p_S log p_T: subtract the student's entropy (add Σ p_S log p_S) so "
             "that a student equal to the teacher scores 0."),
            (_masked((student.softmax(-1) * (student - teacher)).sum(-1), mask),
             "You used raw logits where log-probabilities belong: apply log_softmax to both first."),
            (_masked((s_log.exp() * (s_log - t_log)).mean(-1), mask),
             "You averaged over the vocabulary: sum over it (an expectation under p_S)."),
        ]
        expected = _grid(exact_reverse_kl(student, teacher, mask))
        return Case(label, (student.clone(), teacher.clone(), mask.clone()), expected,
                    [(_grid(value), why) for value, why in mistakes],
                    shown=f"student, teacher {SHAPE + (VOCAB,)}, mask with {int(mask.sum())} of {mask.numel()} True")

    everywhere = torch.ones(SHAPE, dtype=torch.bool)
    completion = torch.tensor([[False, True, True, True], [False, False, True, False]])
    same = _logits(2)
    return run_cases("per_token_reverse_kl", per_token_reverse_kl, [
        case("every position counts", _logits(0), _logits(1), everywhere),
        case("prompt and padding masked out", _logits(0), _logits(1), completion),
        case("a sharp teacher", _logits(3), _logits(4, scale=6.0), completion),
        Case("a student equal to the teacher", (same.clone(), same + 3.0, everywhere), _grid(torch.zeros(SHAPE)),
             shown="teacher = student logits + 3, mask all True"),
    ], convert=_per_token(SHAPE), tolerance=TOLERANCE)


def exact_sampled_estimate(student_logits, teacher_logits, tokens, mask) -> torch.Tensor:
    """log p_S(x) − log p_T(x) at the token x the student wrote at each masked position, 0 elsewhere."""
    s_log, t_log = F.log_softmax(student_logits, -1), F.log_softmax(teacher_logits, -1)
    at_token = (s_log - t_log).gather(-1, tokens.unsqueeze(-1)).squeeze(-1)
    return _masked(at_token, mask)


def check_sampled_reverse_kl(sampled_reverse_kl) -> CheckResult:
    """`sampled_reverse_kl(student_logits, teacher_logits, tokens, mask)` -> (B, T): log p_S(x_t) − log p_T(x_t)
    at the token x_t the student wrote at each position (tokens[b, t]), 0 where mask is False."""
    def case(label, student, teacher, tokens, mask):
        t_log = F.log_softmax(teacher, -1)
        shifted = torch.roll(tokens, shifts=-1, dims=1)
        mistakes = [
            (-exact_sampled_estimate(student, teacher, tokens, mask),
             "The sign is flipped: reverse KL is log p_S − log p_T (the student's log-probability first)."),
            (exact_sampled_estimate(student, teacher, tokens, torch.ones_like(mask)),
             "The masked positions must be 0."),
            (_masked((student - teacher).gather(-1, tokens.unsqueeze(-1)).squeeze(-1), mask),
             "You used raw logits: take log_softmax of both first (logits are not log-probabilities)."),
            (exact_sampled_estimate(student, teacher, shifted, mask),
             "You read the token one position too far: tokens[b, t] is the token written at position t, "
             "the one whose probability logits[b, t] gives."),
            (_masked(-t_log.gather(-1, tokens.unsqueeze(-1)).squeeze(-1), mask),
             "This is only −log p_T(x): add log p_S(x), so that a student equal to the teacher scores 0."),
        ]
        return Case(label, (student.clone(), teacher.clone(), tokens.clone(), mask.clone()),
                    _grid(exact_sampled_estimate(student, teacher, tokens, mask)),
                    [(_grid(value), why) for value, why in mistakes],
                    shown=f"student, teacher {SHAPE + (VOCAB,)}, tokens {SHAPE}, mask with {int(mask.sum())} True")

    tokens = torch.tensor([[0, 3, 1, 4], [2, 2, 0, 1]])
    everywhere = torch.ones(SHAPE, dtype=torch.bool)
    completion = torch.tensor([[False, True, True, True], [False, False, True, False]])
    same = _logits(2)
    return run_cases("sampled_reverse_kl", sampled_reverse_kl, [
        case("every position counts", _logits(0), _logits(1), tokens, everywhere),
        case("prompt and padding masked out", _logits(0), _logits(1), tokens, completion),
        case("a sharp teacher", _logits(3), _logits(4, scale=6.0), tokens.flip(1), completion),
        Case("a student equal to the teacher", (same.clone(), same - 2.0, tokens.clone(), everywhere),
             _grid(torch.zeros(SHAPE)), shown="teacher = student logits − 2, mask all True"),
    ], convert=_per_token(SHAPE), tolerance=TOLERANCE)


class GradedRollout(NamedTuple):
    """One completion the student wrote, graded token by token against the teacher."""
    problem: world.Problem
    text: str
    exact: torch.Tensor  # (T,) the exact reverse KL at each written token, in nats
    sampled: torch.Tensor  # (T,) the one-sample estimate there
    tokens: torch.Tensor  # (T,) the written token ids

    @property
    def right(self) -> bool:
        return world.is_correct(self.text, self.problem)


def mean_exact_kl(rollouts: list[GradedRollout]) -> float:
    """The exact reverse KL per written token, averaged over each rollout and then over the rollouts."""
    return sum(float(rollout.exact.mean()) for rollout in rollouts) / len(rollouts)


def grade_rollouts(student, teacher, tokenizer, per_token_reverse_kl, sampled_reverse_kl,
                   difficulties: tuple[int, ...] = (4, 5), per_difficulty: int = 60,
                   temperature: float = 1.3) -> list[GradedRollout]:
    """The lab's last experiment: `student` writes completions for new problems at `temperature`,
    and the learner's two functions grade every token against `teacher`."""
    from distillab import onpolicy

    rows = []
    for difficulty in difficulties:
        problems = world.sample_problems(per_difficulty, difficulty, seed=11)
        prompt_ids = tokenizer([p.prompt for p in problems], return_tensors="pt")["input_ids"]  # (B, P)
        ids, mask, _ = onpolicy.student_rollouts(student, tokenizer, prompt_ids, 40, temperature=temperature)
        with torch.no_grad():
            student_logits, teacher_logits = student(input_ids=ids[:, :-1]).logits, teacher(input_ids=ids[:, :-1]).logits
        tokens, written = ids[:, 1:], mask[:, 1:]  # the logits at position t score the token at t + 1
        exact = per_token_reverse_kl(student_logits, teacher_logits, written)
        sampled = sampled_reverse_kl(student_logits, teacher_logits, tokens, written)
        texts = tokenizer.batch_decode(ids[:, prompt_ids.shape[1]:], skip_special_tokens=True)
        rows += [GradedRollout(p, text, exact[i][written[i]], sampled[i][written[i]], tokens[i][written[i]])
                 for i, (p, text) in enumerate(zip(problems, texts))]
    return rows
