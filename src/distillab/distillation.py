"""Logit distillation (white-box), chapter 02: the transfer set the teacher writes, its next-token
distributions cached once for that set (full or top-k), and the KD objective the training loop runs.

White-box means we read the teacher's weights' output, its whole distribution at every position,
not just its text. That needs the weights (an open model) and one shared vocabulary.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import torch
from transformers import PreTrainedTokenizerFast

from distillab import knobs, world
from distillab.cost import counting_flops
from distillab.losses import (check_temperature, check_top_k, forward_kl, generalized_jsd,
                              masked_cross_entropy, mix_soft_and_hard, reverse_kl, top_k_kd, top_k_teacher)
from distillab.models import state_sha256
from distillab.runtime import pick_device
from distillab.sampling import sample_traces
from distillab.training import History, Objective, TrainingConfig, TrainingSet, train

LOSSES = ("forward_kl", "reverse_kl", "jsd", "top_k")
FULL, TOP_LOG_PROBS, TOP_INDICES = "teacher_log_probs", "teacher_top_log_probs", "teacher_top_indices"


@dataclass(frozen=True)
class DistillationConfig:
    loss: str = "forward_kl"  # one of LOSSES
    temperature: float = 1.0  # T > 0 softens teacher and student alike
    alpha: float = 1.0  # weight of the soft (teacher) loss; 1 - alpha goes to the hard labels (SFT)
    beta: float = 0.5  # the generalized JSD's β (loss="jsd"): 0 is forward KL, 1 reverse KL
    scale_by_t_squared: bool = True  # Hinton's T² factor (forward_kl and top_k)
    top_k: int | None = None  # loss="top_k": how many teacher entries per position the cache keeps

    def __post_init__(self) -> None:
        knobs.choice("loss", self.loss, LOSSES)
        check_temperature(self.temperature)
        knobs.fraction("alpha", self.alpha)
        knobs.fraction("beta", self.beta)
        if self.loss == "top_k" and self.top_k is None:
            raise ValueError("loss='top_k' needs top_k: how many of the teacher's most likely tokens to keep at each "
                             "position, a whole number >= 1 (e.g. top_k=5; chapter 02's TOP_K knob)")
        if self.loss != "top_k" and self.top_k is not None:
            raise ValueError(f"top_k={self.top_k!r} goes only with loss='top_k' (got loss={self.loss!r}): set "
                             "loss='top_k', or leave top_k out (None)")
        if self.top_k is not None:
            knobs.whole_number("top_k", self.top_k, 1)
        knobs.flag("scale_by_t_squared", self.scale_by_t_squared)

    def describe(self) -> str:
        settings = f"T={self.temperature:g}, α={self.alpha:g}"
        if self.loss == "jsd":
            settings += f", β={self.beta:g}"
        if self.loss == "top_k":
            settings += f", k={self.top_k}"
        if self.loss in ("forward_kl", "top_k") and not self.scale_by_t_squared:
            settings += ", no T²"
        return f"{self.loss} ({settings})"


@dataclass
class TransferSet:
    """The prompts and the teacher's own greedy completions: what both SFT and KD train on."""
    data: TrainingSet
    num_prompts: int
    num_correct: int  # completions the verifier accepts
    teacher_data_flops: float  # the teacher writing the completions, estimated as 2·N per token
    seconds: float


def transfer_set(teacher: torch.nn.Module, tokenizer: PreTrainedTokenizerFast,
                 problems_by_difficulty: dict[int, list[world.Problem]]) -> TransferSet:
    """The teacher answers every prompt greedily; those answers become the training texts.
    A completion of the wrong shape (not the trace length of its difficulty) is dropped."""
    problems = [p for _, level in sorted(problems_by_difficulty.items()) for p in level]
    samples = sample_traces(teacher, tokenizer, problems, k=1, temperature=0.0)
    pairs: dict[int, list[tuple[str, str]]] = {}
    for problem, (text,) in zip(problems, samples.texts):
        if len(text.split()) == len(problem.trace.split()):
            pairs.setdefault(problem.difficulty, []).append((problem.prompt, text))
    return TransferSet(TrainingSet.from_texts(pairs, tokenizer), len(problems),
                       sum(verdicts[0] for verdicts in samples.correct), samples.flops, samples.seconds)


@dataclass
class TeacherCache:
    """A transfer set that carries the teacher's log-probs at every completion position."""
    data: TrainingSet
    vocab_size: int
    top_k: int | None  # None: the full distribution is stored
    flops: float  # the teacher's forward passes, counted once
    seconds: float
    bytes: int  # memory the cached tensors take
    completion_tokens: int  # positions cached

    @property
    def bytes_per_token(self) -> float:
        return self.bytes / self.completion_tokens


def id_dtype(vocab_size: int) -> torch.dtype:
    """The smallest integer type that stores every token id of a vocabulary (a real LM's 150,000
    ids wrap around in int16)."""
    return torch.int16 if vocab_size <= torch.iinfo(torch.int16).max + 1 else torch.int32


@dataclass
class TeacherLogProbs:
    """The teacher's next-token log-probs (float32) at the completion positions of a training set,
    from one forward pass over it; every cache of that set (full or top-k) is cut from them."""
    by_difficulty: dict[int, torch.Tensor]  # difficulty -> (N_d, C_d, V)
    flops: float  # the teacher's forward passes, counted
    seconds: float


@torch.no_grad()
def teacher_log_probs(teacher: torch.nn.Module, data: TrainingSet, batch_size: int = 256) -> TeacherLogProbs:
    """Run the teacher once over `data` and keep its log-probs at the completion positions. Within
    a difficulty the completion is always the last C positions."""
    device = pick_device()
    teacher.to(device).eval()
    by_difficulty, flops, start = {}, 0.0, time.perf_counter()
    for difficulty, ids in data.input_ids.items():
        num_targets = int(data.completion_mask[difficulty][0, 1:].sum())  # C
        chunks = []
        for first in range(0, len(ids), batch_size):
            batch = ids[first:first + batch_size].to(device)
            with counting_flops() as counted:
                logits = teacher(input_ids=batch[:, :-1]).logits
            flops += counted.flops
            chunks.append(torch.log_softmax(logits[:, -num_targets:].float(), dim=-1).cpu())  # (b, C, V)
        by_difficulty[difficulty] = torch.cat(chunks)
    return TeacherLogProbs(by_difficulty, flops, time.perf_counter() - start)


def cache_teacher(teacher: torch.nn.Module, data: TrainingSet, top_k: int | None = None,
                  batch_size: int = 256, log_probs: TeacherLogProbs | None = None) -> TeacherCache:
    """The teacher's next-token log-probs at the completion positions of `data`: all V of them in
    float16 (`top_k=None`), or the k largest with their token ids (float16 values, token ids in the
    smallest integer type that holds every id of the vocabulary: int16 up to 32,768 tokens, int32
    beyond). `log_probs` (`teacher_log_probs` of the same data) saves running the teacher again:
    a full cache and its top-k caches come from the same forward pass, and cost it once."""
    vocab_size = teacher.get_input_embeddings().num_embeddings
    if top_k is not None:
        check_top_k(top_k, vocab_size)  # before any teacher work
    log_probs = log_probs or teacher_log_probs(teacher, data, batch_size)
    full, top_values, top_indices = {}, {}, {}
    for difficulty, rows in log_probs.by_difficulty.items():
        if top_k is None:
            full[difficulty] = rows.half()
        else:
            values, indices = top_k_teacher(rows, top_k)
            top_values[difficulty], top_indices[difficulty] = values.half(), indices.to(id_dtype(vocab_size))
    if top_k is None:
        cached, tensors = data.with_extra(FULL, full), list(full.values())
    else:
        cached = data.with_extra(TOP_LOG_PROBS, top_values).with_extra(TOP_INDICES, top_indices)
        tensors = list(top_values.values()) + list(top_indices.values())
    size = sum(t.numel() * t.element_size() for t in tensors)
    positions = sum(t.shape[0] * t.shape[1] for t in (full or top_values).values())
    return TeacherCache(cached, vocab_size, top_k, log_probs.flops, log_probs.seconds, size, positions)


@dataclass(frozen=True)
class KDObjective:
    """The training objective for logit distillation with `config`. The teacher's log-probs come
    from the batch (a `cache_teacher` transfer set) or, when `teacher` is given, from a forward pass
    on the fly. An object rather than a closure, so that a run can name it (`recipe`) and a worker
    process can receive it."""
    config: DistillationConfig
    teacher: torch.nn.Module | None = None

    def recipe(self) -> dict:
        """What decides this objective's gradients, as plain JSON (a run's key holds it)."""
        on_the_fly = None if self.teacher is None else state_sha256(self.teacher)
        return {"objective": "logit distillation", **asdict(self.config), "teacher on the fly": on_the_fly}

    def __call__(self, model: torch.nn.Module, batch: dict) -> torch.Tensor:
        config, teacher = self.config, self.teacher
        input_ids = batch["input_ids"]  # (B, T)
        mask = batch["completion_mask"][:, 1:]  # (B, T-1): positions that predict a completion token
        logits = model(input_ids=input_ids[:, :-1]).logits  # (B, T-1, V)
        if config.loss == "top_k":
            if TOP_LOG_PROBS not in batch:
                raise ValueError("loss='top_k' needs a top-k cache: cache_teacher(teacher, data, top_k=k)")
            values, indices = batch[TOP_LOG_PROBS], batch[TOP_INDICES]  # (B, C, k)
            num_targets = values.shape[1]
            soft = top_k_kd(logits[:, -num_targets:], values, indices, mask[:, -num_targets:],
                            config.temperature, config.scale_by_t_squared)
        else:
            if FULL in batch:
                teacher_log_probs = batch[FULL]  # (B, C, V)
            elif teacher is not None:
                with torch.no_grad():
                    teacher_log_probs = teacher(input_ids=input_ids[:, :-1]).logits  # (B, T-1, V)
            else:
                raise ValueError("no teacher distribution: cache it with cache_teacher(teacher, data) "
                                 "or pass teacher= to kd_objective")
            num_targets = teacher_log_probs.shape[1]
            student, teacher_part, part_mask = logits[:, -num_targets:], teacher_log_probs, mask[:, -num_targets:]
            if config.loss == "forward_kl":
                soft = forward_kl(student, teacher_part, part_mask, config.temperature, config.scale_by_t_squared)
            elif config.loss == "reverse_kl":
                soft = reverse_kl(student, teacher_part, part_mask, config.temperature)
            else:
                soft = generalized_jsd(student, teacher_part, part_mask, config.beta, config.temperature)
        if config.alpha == 1.0:
            return soft
        hard = masked_cross_entropy(logits, input_ids[:, 1:], mask)
        return mix_soft_and_hard(soft, hard, config.alpha)


def kd_objective(config: DistillationConfig, teacher: torch.nn.Module | None = None) -> Objective:
    """The training objective for logit distillation (a `KDObjective`)."""
    return KDObjective(config, teacher)


def distill(student: torch.nn.Module, cache: TeacherCache, config: DistillationConfig,
            training: TrainingConfig, progress: bool = True, description: str = "KD") -> History:
    """Train `student` on the cached teacher distributions. Refuses, before any training, a
    student whose vocabulary differs from the teacher's."""
    student_vocab = student.get_input_embeddings().num_embeddings
    if student_vocab != cache.vocab_size:
        raise ValueError(
            f"the student's vocabulary has {student_vocab} tokens but the teacher's distributions cover "
            f"{cache.vocab_size}: logit distillation needs the teacher's tokenizer. Build the student with "
            "the teacher's tokenizer, or distil from the teacher's text instead (chapter 03), which "
            "works across tokenizers."
        )
    if config.top_k != cache.top_k:
        raise ValueError(f"{config.describe()} does not fit a cache with top_k={cache.top_k}: build the cache "
                         f"with cache_teacher(teacher, data, top_k={config.top_k})")
    return train(student, cache.data, training, kd_objective(config), progress, description)


def answer_prefix(problem: world.Problem) -> str:
    """The prompt and the trace up to and including the word `answer`: the teacher's next token is the result."""
    return f"{problem.prompt} {problem.trace.rsplit(' ', 1)[0]}"


def soften(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """softmax(logits / T): the distribution a KD loss compares at temperature T."""
    return torch.softmax(logits.float() / check_temperature(temperature), dim=-1)


@torch.no_grad()
def answer_logits(teacher: torch.nn.Module, tokenizer: PreTrainedTokenizerFast,
                  problems: list[world.Problem]) -> torch.Tensor:
    """The teacher's scores (n, V) for the answer token of each problem, read right after the word
    `answer` of the problem's own trace (batched by difficulty: same length, no padding)."""
    device = pick_device()
    teacher.to(device).eval()
    rows = {}
    by_difficulty: dict[int, list[int]] = {}
    for index, problem in enumerate(problems):
        by_difficulty.setdefault(problem.difficulty, []).append(index)
    for indices in by_difficulty.values():
        ids = tokenizer([answer_prefix(problems[i]) for i in indices], return_tensors="pt")["input_ids"].to(device)
        for i, logits in zip(indices, teacher(input_ids=ids).logits[:, -1].float().cpu()):
            rows[i] = logits
    return torch.stack([rows[i] for i in range(len(problems))])


def answer_mass(logits: torch.Tensor, problems: list[world.Problem], tokenizer: PreTrainedTokenizerFast,
                temperature: float = 1.0) -> dict[str, float]:
    """Where the probability of the answer token goes, averaged over problems: on the right number,
    on its neighbours (right ± 1), and on everything else."""
    probabilities = soften(logits, temperature)  # (n, V)
    right, neighbours = [], []
    for row, problem in zip(probabilities, problems):
        ids = lambda values: [tokenizer.convert_tokens_to_ids(str(v)) for v in values if 0 <= v <= world.MAX_NUMBER]  # noqa: E731
        right.append(float(row[ids([problem.answer])].sum()))
        neighbours.append(float(row[ids([problem.answer - 1, problem.answer + 1])].sum()))
    mean = lambda values: sum(values) / len(values)  # noqa: E731
    return {"right answer": mean(right), "right ± 1": mean(neighbours),
            "everything else": 1 - mean(right) - mean(neighbours)}
