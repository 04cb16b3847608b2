"""The one training loop: data in batches of one difficulty, a pluggable objective, AdamW with
warmup + cosine decay ending exactly at the step budget, a progress bar, and a history.

Chapter 01 trains the teacher with it; chapters 02-04 pass other objectives (KD losses), and
chapter 04 other batches too (the student's own samples, `onpolicy.OnPolicyBatches`).
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

import torch
from tqdm.auto import tqdm
from transformers import PreTrainedTokenizerFast, get_cosine_schedule_with_warmup

from distillab import tokenizer as tok
from distillab import knobs, world
from distillab.cost import counting_flops
from distillab.losses import masked_cross_entropy
from distillab.runtime import pick_device, seed_everything, share_the_cores


@dataclass
class TrainingSet:
    """Tokenized examples grouped by difficulty. With the world's tokenizer, prompts of one
    difficulty have the same length, and so do correct completions; a row of another length (a
    sampled trace that went astray, chapter 03; numbers split into digits by a BPE tokenizer,
    chapter 06) is padded on the right with [PAD], outside the completion mask.

    input_ids[d]: (N_d, T_d) token ids of `[BOS] prompt completion [EOS] [PAD]...`.
    completion_mask[d]: (N_d, T_d) True on the completion tokens and [EOS] (what the model must learn).
    extras[name][d]: (N_d, ...) anything stored per example that an objective needs, e.g. the
        teacher's cached log-probs (chapter 02); every batch carries the rows of its examples.
    tokenizer_fingerprint: which tokenizer made the ids (`train` refuses a model built for another).
    """

    input_ids: dict[int, torch.Tensor]
    completion_mask: dict[int, torch.Tensor]
    extras: dict[str, dict[int, torch.Tensor]] = field(default_factory=dict)
    tokenizer_fingerprint: str | None = None

    @classmethod
    def from_texts(
        cls,
        pairs_by_difficulty: dict[int, list[tuple[str, str]]],
        tokenizer: PreTrainedTokenizerFast,
    ) -> TrainingSet:
        """Build from (prompt, completion) text pairs grouped by difficulty."""
        input_ids, masks = {}, {}
        for difficulty, pairs in sorted(pairs_by_difficulty.items()):
            if not pairs:
                continue
            prompts = tokenizer([p for p, _ in pairs])["input_ids"]  # [BOS] prompt
            completions = tokenizer([c for _, c in pairs], add_special_tokens=False)["input_ids"]
            rows = [p + c + [tokenizer.eos_token_id] for p, c in zip(prompts, completions)]
            width = max(len(row) for row in rows)
            input_ids[difficulty] = torch.tensor([row + [tokenizer.pad_token_id] * (width - len(row)) for row in rows])
            mask = torch.zeros_like(input_ids[difficulty], dtype=torch.bool)
            for i, (prompt, row) in enumerate(zip(prompts, rows)):
                mask[i, len(prompt):len(row)] = True
            masks[difficulty] = mask
        if not input_ids:
            raise ValueError("the training set is empty: give at least one example")
        return cls(input_ids, masks, tokenizer_fingerprint=tok.fingerprint(tokenizer))

    @classmethod
    def from_problems(
        cls,
        problems_by_difficulty: dict[int, list[world.Problem]],
        tokenizer: PreTrainedTokenizerFast,
        style: str = "trace",
    ) -> TrainingSet:
        """Build from world problems, with their program-made completions in `style`."""
        world.check_style(style)
        pairs = {d: [(p.prompt, p.completion(style)) for p in problems]
                 for d, problems in problems_by_difficulty.items()}
        return cls.from_texts(pairs, tokenizer)

    def tensors(self) -> dict[str, torch.Tensor]:
        """Its tensors by name (for a safetensors file); `from_tensors` reads them back."""
        tables = {"input_ids": self.input_ids, "completion_mask": self.completion_mask,
                  **{f"extra.{name}": rows for name, rows in self.extras.items()}}
        return {f"{table}.{d}": t for table, by_difficulty in tables.items() for d, t in by_difficulty.items()}

    @classmethod
    def from_tensors(cls, tensors: dict[str, torch.Tensor], tokenizer_fingerprint: str | None) -> TrainingSet:
        tables: dict[str, dict[int, torch.Tensor]] = {}
        for name, tensor in tensors.items():
            table, difficulty = name.rsplit(".", 1)
            tables.setdefault(table, {})[int(difficulty)] = tensor
        extras = {table.removeprefix("extra."): rows for table, rows in tables.items() if table.startswith("extra.")}
        return cls(dict(sorted(tables["input_ids"].items())), dict(sorted(tables["completion_mask"].items())),
                   extras, tokenizer_fingerprint)

    def __len__(self) -> int:
        return sum(len(ids) for ids in self.input_ids.values())

    def sizes(self) -> dict[int, int]:
        return {d: len(ids) for d, ids in self.input_ids.items()}

    def with_extra(self, name: str, per_difficulty: dict[int, torch.Tensor]) -> TrainingSet:
        """A copy that also carries `name`: one row per example, for every difficulty."""
        for difficulty, ids in self.input_ids.items():
            rows = per_difficulty.get(difficulty)
            if rows is None or len(rows) != len(ids):
                raise ValueError(f"extra {name!r} needs {len(ids)} rows for difficulty {difficulty}, "
                                 f"got {None if rows is None else len(rows)}")
        return TrainingSet(self.input_ids, self.completion_mask, {**self.extras, name: per_difficulty},
                           self.tokenizer_fingerprint)


MIXES = ("examples", "tokens")  # how often each difficulty's batches come up (TrainingConfig.mix)


class BatchSampler:
    """Yields batches of one difficulty. A difficulty is drawn with probability proportional to its
    number of examples (`mix="examples"`), or to its number of completion tokens (`mix="tokens"`:
    a 5-step trace of 33 tokens then weighs almost four times a 1-step trace of 9); within it,
    examples are visited in a fresh random order each epoch."""

    def __init__(self, data: TrainingSet, batch_size: int, seed: int, mix: str = "examples") -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if mix not in MIXES:
            raise ValueError(f"mix must be one of {MIXES}, got {mix!r}")
        self.data, self.batch_size = data, batch_size
        self.generator = torch.Generator().manual_seed(seed)
        self.difficulties = sorted(data.input_ids)
        self.weights = torch.tensor([float(len(data.input_ids[d]) if mix == "examples" else data.completion_mask[d].sum())
                                     for d in self.difficulties])
        self.order = {d: torch.empty(0, dtype=torch.long) for d in self.difficulties}

    def _next_indices(self, difficulty: int) -> torch.Tensor:
        count = len(self.data.input_ids[difficulty])
        while len(self.order[difficulty]) < min(self.batch_size, count):
            fresh = torch.randperm(count, generator=self.generator)
            self.order[difficulty] = torch.cat([self.order[difficulty], fresh])
        take = min(self.batch_size, count)
        indices, self.order[difficulty] = self.order[difficulty][:take], self.order[difficulty][take:]
        return indices

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Where the sampler stands: its random generator and each difficulty's remaining order."""
        return {"generator": self.generator.get_state(), **{f"order.{d}": o for d, o in self.order.items()}}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.generator.set_state(state["generator"])
        self.order = {d: state[f"order.{d}"] for d in self.difficulties}

    def next_batch(self) -> dict:
        pick = torch.multinomial(self.weights, 1, generator=self.generator).item()
        difficulty = self.difficulties[pick]
        indices = self._next_indices(difficulty)
        return {
            "difficulty": difficulty,
            "input_ids": self.data.input_ids[difficulty][indices],
            "completion_mask": self.data.completion_mask[difficulty][indices],
            **{name: rows[difficulty][indices] for name, rows in self.data.extras.items()},
        }


Objective = Callable[[torch.nn.Module, dict], torch.Tensor]


class Batches(Protocol):
    """Anything that hands out training batches: `BatchSampler`, or chapter 04's on-policy batches.
    To be resumable after an interrupt it also gives and takes its state (tensors by name)."""

    def next_batch(self) -> dict: ...

    def state_dict(self) -> dict[str, torch.Tensor]: ...

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None: ...


def sft_objective(model: torch.nn.Module, batch: dict) -> torch.Tensor:
    """Supervised fine-tuning: next-token cross-entropy on the completion tokens only.

    Position t predicts token t + 1. Only positions from the batch's first completion token on
    get logits (`logits_to_keep`): a prompt position needs its hidden state, for attention, but no
    distribution over the vocabulary. With a 49,152-token vocabulary (chapter 07) those logits,
    and their gradient, are most of a step's memory; the loss is the same."""
    input_ids = batch["input_ids"]  # (B, T)
    targets, mask = input_ids[:, 1:], batch["completion_mask"][:, 1:]
    first = first_counted(mask)
    logits = model(input_ids=input_ids[:, :-1], logits_to_keep=mask.shape[1] - first,
                   use_cache=False).logits  # (B, T-1-first, V); training keeps no cache
    return masked_cross_entropy(logits, targets[:, first:], mask[:, first:])


def first_counted(mask: torch.Tensor) -> int:
    """The first position (column) where any row of `mask` counts; 0 when none does."""
    columns = mask.any(dim=0).nonzero()
    return int(columns[0]) if len(columns) else 0


@dataclass
class History:
    """One row per optimizer step; tokens, FLOPs and seconds are running totals. A run the learner
    stopped (Ctrl-C, the notebook's stop button) ends early with `interrupted` set, and `resume`
    holds what `train` needs to go on from there exactly as if it had never stopped."""

    step: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    tokens: list[int] = field(default_factory=list)
    flops: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    threads: list[int] = field(default_factory=list)  # the threads each step computed with (a run keeps its own)
    interrupted: bool = False  # stopped by the learner before its last step
    resume: TrainingState | None = field(default=None, repr=False)  # set when interrupted

    @property
    def completed_steps(self) -> int:
        return self.step[-1] if self.step else 0

    @property
    def total_flops(self) -> float:
        return self.flops[-1] if self.flops else 0.0

    @property
    def total_seconds(self) -> float:
        return self.seconds[-1] if self.seconds else 0.0

    @property
    def total_tokens(self) -> int:
        return self.tokens[-1] if self.tokens else 0

    def loss_at_ends(self) -> tuple[float, float]:
        """The mean loss over the first tenth of the steps and over the last tenth (one step each in
        a run of under 20 steps), so that the two never share a step in a run of two or more."""
        if not self.loss:
            raise ValueError("no step was trained: there is no loss to compare")
        window = max(1, len(self.loss) // 10)
        return sum(self.loss[:window]) / window, sum(self.loss[-window:]) / window


@dataclass
class TrainingState:
    """Everything a stopped run needs to go on exactly where it stopped: the optimizer's moments,
    the batch sampler's place, the random state, and the history so far."""
    history: History
    optimizer: dict  # torch.optim state_dict()
    batches: dict[str, torch.Tensor]  # the batch source's state_dict()
    rng: torch.Tensor  # torch's global random state (sampling in on-policy batches draws from it)
    flops_per_shape: dict[tuple, float]  # FLOPs already counted per batch shape (not counted again)

    def tensors(self) -> dict[str, torch.Tensor]:
        """The state's tensors by name, for a safetensors file."""
        out = {f"batches.{name}": t for name, t in self.batches.items()}
        for index, state in self.optimizer["state"].items():
            out.update({f"optimizer.{index}.{key}": t for key, t in state.items()})
        return {**out, "rng": self.rng}

    def metadata(self) -> dict:
        """The rest, as plain JSON: the optimizer's settings and the history."""
        history = {name: getattr(self.history, name) for name in ("step", "loss", "lr", "tokens", "flops", "seconds")}
        flops = {"x".join(map(str, shape)): value for shape, value in self.flops_per_shape.items()}
        return {"param_groups": self.optimizer["param_groups"], "history": history, "flops_per_shape": flops}

    @classmethod
    def from_saved(cls, tensors: dict[str, torch.Tensor], metadata: dict) -> TrainingState:
        optimizer_state: dict[int, dict] = {}
        for name, tensor in tensors.items():
            if name.startswith("optimizer."):
                _, index, key = name.split(".", 2)
                optimizer_state.setdefault(int(index), {})[key] = tensor
        batches = {name.removeprefix("batches."): t for name, t in tensors.items() if name.startswith("batches.")}
        flops = {tuple(int(n) for n in shape.split("x")): value for shape, value in metadata["flops_per_shape"].items()}
        return cls(History(**metadata["history"]), {"state": optimizer_state, "param_groups": metadata["param_groups"]},
                   batches, tensors["rng"], flops)


class StopRequest:
    """While training, Ctrl-C (the notebook's stop button) asks the loop to stop after the step it
    is in, instead of tearing it apart mid-update; a second Ctrl-C stops at once as usual."""

    def __init__(self) -> None:
        self.requested = False
        self.previous = None

    def _handler(self, signum, frame) -> None:
        self.requested = True
        signal.signal(signal.SIGINT, self.previous)  # a second Ctrl-C is an ordinary KeyboardInterrupt

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


@dataclass(frozen=True)
class TrainingConfig:
    num_steps: int  # optimizer steps: the budget
    batch_size: int  # sequences per step
    learning_rate: float = 3e-3  # peak learning rate
    warmup_steps: int = 50  # linear warmup, then cosine decay to 0 at exactly num_steps
    weight_decay: float = 0.1
    grad_clip: float = 1.0  # max gradient norm
    seed: int = 0
    mix: str = "examples"  # draw each difficulty's batches in proportion to its "examples" or its completion "tokens"
    gradient_checkpointing: bool = False  # keep each layer's input only, recompute the rest backward: less memory, more time
    micro_batch_size: int | None = None  # sequences per forward/backward pass, gradients summed over a step (None: the batch)

    def __post_init__(self) -> None:
        knobs.whole_number("num_steps", self.num_steps, 1)
        knobs.whole_number("batch_size", self.batch_size, 1)
        knobs.whole_number(f"warmup_steps (from 0 to num_steps - 1 = {self.num_steps - 1})", self.warmup_steps, 0,
                           self.num_steps - 1)
        knobs.number("learning_rate", self.learning_rate, above=0)
        knobs.number("weight_decay", self.weight_decay, minimum=0)
        knobs.number("grad_clip (the largest gradient norm a step may take)", self.grad_clip, above=0)
        knobs.whole_number("seed", self.seed, 0)
        knobs.choice("mix", self.mix, MIXES)
        knobs.flag("gradient_checkpointing", self.gradient_checkpointing)
        if self.micro_batch_size is not None:
            knobs.whole_number(f"micro_batch_size (from 1 to batch_size = {self.batch_size}, or None)",
                               self.micro_batch_size, 1, self.batch_size)


def checkpointed(model: torch.nn.Module) -> torch.nn.Module:
    """Gradient checkpointing (transformers' own, non-reentrant): the forward pass keeps only each
    layer's input, and the backward pass computes the layer again to get what it dropped. The
    activations of a long sequence are most of a step's memory; the price is one more forward
    pass through every layer (`train` counts its FLOPs too). The loss and gradients are the same."""
    if not getattr(model, "supports_gradient_checkpointing", False):
        raise ValueError(f"{type(model).__name__} cannot recompute its activations (no gradient checkpointing): "
                         "train it with gradient_checkpointing=False")
    if hasattr(model, "activation_checkpointing_enable"):  # its name from transformers 5 on
        model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    else:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    return model


def micro_batches(batch: dict, size: int | None) -> Iterator[tuple[dict, float]]:
    """`batch` in parts of `size` sequences (None: whole), each with its share of the batch's
    counted completion tokens. Every objective of the course averages over those tokens, so the
    parts' losses weighted by their shares sum to the batch's loss, and their gradients to its
    gradient: the same step, with the activations of `size` sequences at a time in memory."""
    rows = len(batch["input_ids"])
    if size is None or size >= rows:
        yield batch, 1.0
        return
    counted = batch["completion_mask"][:, 1:].sum(dim=1)  # position t predicts t + 1: the objectives' tokens
    total = float(counted.sum())
    if total == 0:
        yield batch, 1.0
        return
    for start in range(0, rows, size):
        share = float(counted[start:start + size].sum()) / total
        if share > 0:  # a part with nothing to learn adds nothing (and its mean would be 0 / 0)
            yield {k: v[start:start + size] if torch.is_tensor(v) and v.dim() and len(v) == rows else v
                   for k, v in batch.items()}, share


def train(
    model: torch.nn.Module,
    data: TrainingSet,
    config: TrainingConfig,
    objective: Objective = sft_objective,
    progress: bool = True,
    description: str = "training",
    batches: Batches | None = None,
    resume: TrainingState | None = None,
    on_step: Callable[[int, float], None] | None = None,
) -> History:
    """Train `model` in place for exactly `config.num_steps` optimizer steps and return the history.

    `batches` (default: a `BatchSampler` over `data` with the config's batch size, seed and mix)
    hands out one batch per step. FLOPs are counted by `torch.utils.flop_counter` on the first step
    of each batch shape (the objective's own extra work, e.g. a teacher forward pass, included) and
    reused for later steps of the same shape; a batch that cost FLOPs to make (the student's own
    samples, chapter 04) says how many under the key "student_sampling_flops", and they are added.

    Ctrl-C (the notebook's stop button) ends the run after the step in progress: the history comes
    back with `interrupted` set and `resume` filled in. `train(..., resume=history.resume)` on the
    same model, data and config then runs the remaining steps, with the same batches and updates
    as a run that never stopped. `on_step(step, loss)`, if given, hears of every step as it ends
    (a comparison's progress line).
    """
    model_tokenizer = getattr(model.config, "tokenizer_fingerprint", None)
    if None not in (model_tokenizer, data.tokenizer_fingerprint) and model_tokenizer != data.tokenizer_fingerprint:
        raise ValueError(
            "the training set was tokenized with another tokenizer than the model's: token ids mean "
            "different words to it. Text carries over, ids do not: rebuild the set from the texts with "
            "the model's own tokenizer (TrainingSet.from_texts(pairs, tokenizer))"
        )
    vocab_size = model.get_input_embeddings().num_embeddings
    largest_id = max(int(ids.max()) for ids in data.input_ids.values())
    if largest_id >= vocab_size:
        raise ValueError(
            f"the training set uses token id {largest_id} but the model's vocabulary has only "
            f"{vocab_size} tokens: build the data with the tokenizer the model was built for"
        )
    seed_everything(config.seed)
    device = pick_device()
    model.to(device).train()
    if config.gradient_checkpointing:
        checkpointed(model)
    sampler = batches if batches is not None else BatchSampler(data, config.batch_size, config.seed, config.mix)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.learning_rate, betas=(0.9, 0.95),
        weight_decay=config.weight_decay,
    )
    history, done, flops_per_shape = History(), 0, {}
    if resume is not None:  # go on where a stopped run left off
        history, done = resume.history, resume.history.completed_steps
        if not 0 < done < config.num_steps:
            raise ValueError(f"the run to resume completed {done} steps; the config asks for {config.num_steps}: "
                             "resume with the config it was started with")
        optimizer.load_state_dict(resume.optimizer)
        sampler.load_state_dict(resume.batches)
        torch.set_rng_state(resume.rng)
        flops_per_shape = dict(resume.flops_per_shape)  # counting again would change the numerics a hair
    schedule = get_cosine_schedule_with_warmup(optimizer, config.warmup_steps, config.num_steps, last_epoch=done - 1)
    tokens = float(history.total_tokens)
    flops, seconds_before = history.total_flops, history.total_seconds
    start = time.perf_counter()
    bar = tqdm(range(done + 1, config.num_steps + 1), desc=description, disable=not progress,
               initial=done, total=config.num_steps)
    with StopRequest() as stop, share_the_cores(description):
        for step in bar:
            batch = sampler.next_batch()
            sampling = batch.pop("student_sampling_flops", 0.0)  # FLOPs spent writing this batch (on-policy samples)
            batch = {k: v.to(device) if torch.is_tensor(v) else v for k, v in batch.items()}
            shape = tuple(batch["input_ids"].shape)
            lr = schedule.get_last_lr()[0]

            def forward_backward() -> torch.Tensor:
                total = torch.zeros((), device=device)
                for part, share in micro_batches(batch, config.micro_batch_size):
                    loss = share * objective(model, part)
                    loss.backward()  # each part's gradient adds to the others': one step's gradient
                    total += loss.detach()
                return total

            if shape not in flops_per_shape:
                with counting_flops() as counted:
                    loss = forward_backward()
                flops_per_shape[shape] = counted.flops
            else:
                loss = forward_backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            schedule.step()
            tokens += batch["input_ids"].numel()
            flops += flops_per_shape[shape] + sampling
            history.step.append(step)
            history.loss.append(loss.item())
            history.lr.append(lr)
            history.tokens.append(int(tokens))
            history.flops.append(flops)
            history.seconds.append(seconds_before + time.perf_counter() - start)
            history.threads.append(torch.get_num_threads())
            if step % 10 == 0 or step == config.num_steps:
                bar.set_postfix(loss=f"{history.loss[-1]:.3f}")
            if on_step is not None:
                on_step(step, history.loss[-1])
            if stop.requested and step < config.num_steps:  # the learner pressed stop: end here, cleanly
                history.interrupted = True
                history.resume = TrainingState(history, optimizer.state_dict(), sampler.state_dict(),
                                               torch.get_rng_state(), dict(flops_per_shape))
                break
        else:
            history.interrupted, history.resume = False, None
    bar.close()
    model.eval()
    return history
