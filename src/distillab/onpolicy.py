"""On-policy distillation (chapter 04): the student writes, the teacher grades every token it wrote.

Trace SFT (chapter 03) only ever shows the student the teacher's own text. At test time the
student continues *its own* text, mistakes included, which it never saw in training (exposure
bias). On-policy distillation (GKD, Agarwal et al. 2024; Qwen3's small models) trains on the
student's own samples instead: the student writes a completion, the teacher reads it and gives its
next-token distribution at every position, and the student is pulled toward it there, with
chapter 02's generalized JSD (β = 1: reverse KL, the usual choice). GKD's λ is the share of
batches the student writes; the rest are the fixed teacher traces, scored the same way.

Each on-policy step costs more than an SFT step: the student samples (2·N_student per token, with
the KV cache), the teacher scores (2·N_teacher per token), then the student trains (6·N_student).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from transformers import PreTrainedTokenizerFast

from distillab.cost import generation_flops
from distillab import knobs
from distillab.losses import check_temperature, generalized_jsd, reverse_kl
from distillab.models import matmul_parameters
from distillab.data_parallel import DataParallel
from distillab.runtime import pick_device
from distillab.sampling import max_new_tokens_for
from distillab.training import BatchSampler, History, Objective, TrainingConfig, TrainingSet, train


@dataclass(frozen=True)
class OnPolicyConfig:
    lmbda: float = 1.0  # GKD's λ: share of batches the student writes itself (0: only the fixed teacher traces)
    beta: float = 1.0  # the generalized JSD's β: 1 = reverse KL (mode-seeking), 0 = forward KL, between = JSD
    temperature: float = 1.0  # the student's sampling temperature (> 0)

    def __post_init__(self) -> None:
        knobs.fraction("λ (lmbda, the share of on-policy batches)", self.lmbda)
        knobs.fraction("β (beta)", self.beta)
        check_temperature(self.temperature)  # the student samples its own completions

    def describe(self) -> str:
        loss = {1.0: "reverse KL", 0.0: "forward KL"}.get(self.beta, f"JSD β={self.beta:g}")
        if self.lmbda == 0:  # no batch is the student's: the teacher's traces only, nothing sampled
            return f"off-policy KD (λ=0), {loss}"
        return f"on-policy λ={self.lmbda:g}, {loss}, T={self.temperature:g}"


@torch.no_grad()
def student_rollouts(student: torch.nn.Module, tokenizer: PreTrainedTokenizerFast, prompt_ids: torch.Tensor,
                     max_new_tokens: int, temperature: float) -> tuple[torch.Tensor, torch.Tensor, int]:
    """The student completes each prompt by sampling at `temperature`, with the KV cache.

    Args:
        prompt_ids: (B, P) `[BOS] prompt` ids, all of one length (one difficulty: no padding).
        max_new_tokens: the most tokens a completion may have.
    Returns:
        input_ids: (B, P + G) prompt and completion, [PAD] after a completion's [EOS];
        completion_mask: (B, P + G) True on the completion up to and including its first [EOS];
        tokens: tokens processed (prompts and completions, padding excluded).
    """
    was_training = student.training
    student.eval()
    output = student.generate(
        input_ids=prompt_ids, attention_mask=torch.ones_like(prompt_ids), do_sample=True,
        temperature=temperature, top_k=0, max_new_tokens=max_new_tokens,
        pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)  # (B, P + G)
    student.train(was_training)
    new = output[:, prompt_ids.shape[1]:]  # (B, G)
    is_eos = new == tokenizer.eos_token_id
    after_eos = (is_eos.long().cumsum(dim=1) - is_eos.long()) > 0  # strictly after the first [EOS]
    mask = torch.zeros_like(output, dtype=torch.bool)
    mask[:, prompt_ids.shape[1]:] = ~after_eos
    return output, mask, int(prompt_ids.numel() + mask.sum())


class OnPolicyBatches:
    """Training batches for on-policy distillation. Each step draws a batch of prompts and teacher
    traces from `sampler`; with probability λ the student rewrites the completions itself (the
    batch then carries its generation FLOPs, which `train` adds to the bill)."""

    def __init__(self, sampler: BatchSampler, student: torch.nn.Module, tokenizer: PreTrainedTokenizerFast,
                 config: OnPolicyConfig, seed: int = 0) -> None:
        self.sampler, self.student, self.tokenizer, self.config = sampler, student, tokenizer, config
        self.generator = torch.Generator().manual_seed(seed)  # which batches are on-policy
        self.num_parameters = matmul_parameters(student)
        self.on_policy_batches = self.off_policy_batches = self.generated_tokens = 0
        self.student_sampling_flops = self.student_sampling_seconds = 0.0

    def next_batch(self) -> dict:
        batch = self.sampler.next_batch()
        if torch.rand(1, generator=self.generator).item() >= self.config.lmbda:
            self.off_policy_batches += 1
            return batch
        start = time.perf_counter()
        starts = batch["completion_mask"].int().argmax(dim=1)  # (B,) each row's first completion position
        if bool((starts != starts[0]).any()):
            raise ValueError("on-policy batches need prompts of one length (the world's tokenizer and format); "
                             "these differ, e.g. numbers split into digits: distil such a student by traces")
        prompt_length = int(starts[0])
        device = next(self.student.parameters()).device
        prompt_ids = batch["input_ids"][:, :prompt_length].to(device)
        input_ids, mask, tokens = student_rollouts(self.student, self.tokenizer, prompt_ids,
                                                   max_new_tokens_for(batch["difficulty"]), self.config.temperature)
        flops = generation_flops(self.num_parameters, tokens)
        self.on_policy_batches += 1
        self.generated_tokens += tokens - prompt_ids.numel()
        self.student_sampling_flops += flops
        self.student_sampling_seconds += time.perf_counter() - start
        return {"difficulty": batch["difficulty"], "input_ids": input_ids, "completion_mask": mask,
                "student_sampling_flops": flops}


class TeacherScoring:
    """The on-policy objective. The teacher reads whatever the batch holds (the student's samples,
    or its own traces when λ < 1) and gives its distribution at every position; the student is
    pulled toward it there with chapter 02's generalized JSD (β = 1: reverse KL), at T = 1.
    It keeps the bill of the teacher's work: FLOPs (2·N_teacher per token read) and seconds."""

    def __init__(self, teacher: torch.nn.Module, beta: float = 1.0) -> None:
        self.teacher, self.beta = teacher, knobs.fraction("β (beta)", beta)
        self.num_parameters = matmul_parameters(teacher)
        self.flops = self.seconds = 0.0

    def __call__(self, model: torch.nn.Module, batch: dict) -> torch.Tensor:
        input_ids = batch["input_ids"][:, :-1]  # (B, T-1): every position predicts the next token
        mask = batch["completion_mask"][:, 1:]  # (B, T-1): the positions that predict a completion token
        start = time.perf_counter()
        with torch.no_grad():
            teacher_logits = self.teacher(input_ids=input_ids).logits  # (B, T-1, V)
        self.seconds += time.perf_counter() - start
        self.flops += generation_flops(self.num_parameters, input_ids.numel())
        student_logits = model(input_ids=input_ids).logits  # (B, T-1, V)
        return generalized_jsd(student_logits, teacher_logits, mask, beta=self.beta)


def onpolicy_objective(teacher: torch.nn.Module, beta: float = 1.0) -> Objective:
    """The training objective of on-policy distillation (see `TeacherScoring`)."""
    return TeacherScoring(teacher, beta)


@dataclass
class OnPolicyRun:
    history: History
    on_policy_batches: int
    off_policy_batches: int
    generated_tokens: int  # tokens the student wrote
    student_sampling_flops: float  # the student's sampling (part of history.total_flops), 2·N per token
    student_sampling_seconds: float
    teacher_scoring_flops: float  # the teacher's forward passes (counted in history.total_flops), 2·N per token
    teacher_scoring_seconds: float


def distill_on_policy(student: torch.nn.Module, teacher: torch.nn.Module, data: TrainingSet,
                      tokenizer: PreTrainedTokenizerFast, config: OnPolicyConfig, training: TrainingConfig,
                      progress: bool = True, description: str = "on-policy",
                      data_parallel: DataParallel | None = None,
                      on_step: Callable[[int, float], None] | None = None) -> OnPolicyRun:
    """Train `student` in place for `training.num_steps` steps: each step a batch of `data`'s
    prompts, rewritten by the student with probability λ, scored by the teacher token by token.
    The history's FLOPs hold all of it: sampling, teacher scoring, student training. With
    `data_parallel` (several processes), each process rewrites and scores its rows of each batch;
    `on_step` is `training.train`'s."""
    if student.get_input_embeddings().num_embeddings != teacher.get_input_embeddings().num_embeddings:
        raise ValueError("on-policy distillation reads the teacher's distribution over the student's own tokens: "
                         "student and teacher need one tokenizer")
    teacher.to(pick_device()).eval()
    student.to(pick_device())
    sampler = BatchSampler(data, training.batch_size, training.seed, training.mix)
    if data_parallel is not None:
        sampler = data_parallel.batches(sampler)
    batches = OnPolicyBatches(sampler, student, tokenizer, config, training.seed)
    scoring = TeacherScoring(teacher, config.beta)
    objective = scoring if data_parallel is None else data_parallel.objective(scoring)
    history = train(student, data, training, objective, progress, description, batches=batches, on_step=on_step)
    return OnPolicyRun(history, batches.on_policy_batches, batches.off_policy_batches, batches.generated_tokens,
                       batches.student_sampling_flops, batches.student_sampling_seconds, scoring.flops, scoring.seconds)


def step_flops_ratio(student: torch.nn.Module, teacher: torch.nn.Module, lmbda: float) -> float:
    """FLOPs of an on-policy step with share λ of student-written batches, over an SFT step's, by the
    rules of thumb per token: SFT 6·N_s; teacher scoring adds 2·N_t; the student's sampling 2·N_s more."""
    knobs.fraction("λ (lmbda)", lmbda)
    student_n, teacher_n = matmul_parameters(student), matmul_parameters(teacher)
    return (6 * student_n + 2 * teacher_n + lmbda * 2 * student_n) / (6 * student_n)


@torch.no_grad()
def token_disagreement(student: torch.nn.Module, teacher: torch.nn.Module, tokenizer: PreTrainedTokenizerFast,
                       prompt: str, completion: str) -> list[tuple[str, float, str]]:
    """What the teacher says, token by token, about a completion: for each completion token, the
    reverse KL(student ‖ teacher) at the position that wrote it (nats) and the teacher's own top
    choice there. The student's mistakes are where the number jumps."""
    device = pick_device()
    prompt_ids = tokenizer(prompt)["input_ids"]
    completion_ids = tokenizer(completion, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    ids = torch.tensor([prompt_ids + completion_ids], device=device)  # (1, T)
    mask = torch.zeros(1, ids.shape[1] - 1, dtype=torch.bool, device=device)
    mask[0, len(prompt_ids) - 1:] = True  # the positions that predict a completion token
    student_logits = student.to(device).eval()(input_ids=ids[:, :-1]).logits
    teacher_logits = teacher.to(device).eval()(input_ids=ids[:, :-1]).logits
    per_token = reverse_kl(student_logits, teacher_logits, mask, reduction="none")  # (C,)
    teacher_top = teacher_logits[mask].argmax(-1)  # (C,)
    return [(tokenizer.convert_ids_to_tokens(token), float(kl), tokenizer.convert_ids_to_tokens(int(top)))
            for token, kl, top in zip(completion_ids, per_token, teacher_top)]
