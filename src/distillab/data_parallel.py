"""Data parallelism on `accelerate` (over `torch.distributed`: gloo on CPUs, NCCL on GPUs), around the
one training loop, which stays as it is: every process draws the same global batch, trains on its
share of the rows, and the gradients are averaged (DDP) so that each step is the step one process
would take on the whole batch. Used by the recipe command (`distillab.run_recipe`, chapter 06);
`Processes` says how many processes a run has and which one this is.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist

from distillab.runtime import pick_device
from distillab.training import Batches, Objective


def completion_tokens(batch: dict) -> int:
    """The tokens a batch's loss is averaged over: completion positions that are predicted."""
    return int(batch["completion_mask"][:, 1:].sum())


class ShardedBatches:
    """This process's share of each global batch: every process draws the same batch (same seed)
    and keeps a contiguous block of its rows."""

    def __init__(self, batches: Batches, rank: int, world_size: int) -> None:
        self.batches, self.rank, self.world_size = batches, rank, world_size

    def next_batch(self) -> dict:
        batch = self.batches.next_batch()
        rows = len(batch["input_ids"])
        if rows < self.world_size:
            raise ValueError(f"a batch of {rows} rows cannot be shared by {self.world_size} processes: "
                             "use a batch_size of at least the number of processes")
        mine = torch.tensor_split(torch.arange(rows), self.world_size)[self.rank]
        return {key: value[mine] if torch.is_tensor(value) and value.dim() > 0 and len(value) == rows else value
                for key, value in batch.items()}

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.batches.state_dict()

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.batches.load_state_dict(state)


def data_parallel_objective(objective: Objective, wrapped_model: torch.nn.Module, world_size: int) -> Objective:
    """`objective` (a mean over the batch's completion tokens) on this process's rows, through the
    DDP-`wrapped_model` (so backward averages the gradients over processes), weighted so that the
    average is the gradient of the whole batch's mean: each process's mean counts in proportion to
    its tokens (added up over processes at every step: on-policy batches change them). The value
    returned is the whole batch's loss, for the history."""

    def objective_here(model: torch.nn.Module, batch: dict) -> torch.Tensor:
        here = completion_tokens(batch)
        weight = here * world_size / sum_over_processes(here)
        local = objective(wrapped_model, batch) * weight
        whole = local.detach().clone()
        dist.all_reduce(whole)  # sum over processes
        return local + (whole / world_size - local).detach()  # the value of the whole, the gradient of this share

    return objective_here


def sum_over_processes(value: float) -> float:
    """`value` added up over all processes (FLOPs, tokens); itself with one process."""
    if not (dist.is_available() and dist.is_initialized()):
        return value
    device = pick_device() if dist.get_backend() == "nccl" else torch.device("cpu")  # NCCL reduces GPU tensors only
    total = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(total)
    return float(total.item())


class DataParallel:
    """One process's part in data-parallel training: its rows of every batch, and an objective
    that runs through the DDP-wrapped model (`accelerator.prepare_model`)."""

    def __init__(self, wrapped_model: torch.nn.Module, rank: int, world_size: int) -> None:
        self.wrapped_model, self.rank, self.world_size = wrapped_model, rank, world_size

    def batches(self, batches: Batches) -> ShardedBatches:
        return ShardedBatches(batches, self.rank, self.world_size)

    def objective(self, objective: Objective) -> Objective:
        return data_parallel_objective(objective, self.wrapped_model, self.world_size)


class Processes:
    """This run's processes: one (the course's own path), or several under `accelerate launch`."""

    def __init__(self) -> None:
        self.accelerator = None
        if int(os.environ.get("WORLD_SIZE", "1")) > 1:
            from accelerate import Accelerator

            self.accelerator = Accelerator(cpu=not torch.cuda.is_available())
        self.world_size = self.accelerator.num_processes if self.accelerator else 1
        self.rank = self.accelerator.process_index if self.accelerator else 0
        self.is_main = self.rank == 0

    def gather(self, items: list) -> list:
        """Every process's `items`, concatenated in process order (one process: as they are)."""
        if self.accelerator is None:
            return items
        from accelerate.utils import gather_object

        return gather_object(items)

    def wait(self) -> None:
        if self.accelerator is not None:
            self.accelerator.wait_for_everyone()
