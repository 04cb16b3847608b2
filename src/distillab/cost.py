"""What compute costs: FLOPs (counted and by rule of thumb), this machine's matmul peak, and
dollars on a rented GPU under stated assumptions. Chapter 00 prices published runs with it;
every later chapter prices its own runs."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TypeVar

import torch
from torch.utils import flop_counter
from torch.utils.flop_counter import FlopCounterMode, register_flop_formula
from tqdm.auto import tqdm

from distillab import knobs

SECONDS_PER_HOUR = 3600.0
T = TypeVar("T")


def _count_cpu_attention() -> None:
    """torch's counter knows the CUDA attention kernels but not the CPU one that
    `scaled_dot_product_attention` runs here, so attention would count as 0 FLOPs on a CPU.
    Register the CPU kernels with torch's own formulas for the other kernels."""
    aten = torch.ops.aten
    pairs = [("_scaled_dot_product_flash_attention_for_cpu", flop_counter.sdpa_flop),
             ("_scaled_dot_product_flash_attention_for_cpu_backward", flop_counter.sdpa_backward_flop)]
    for name, formula in pairs:
        op = getattr(aten, name, None)
        if op is not None and op not in flop_counter.flop_registry:
            register_flop_formula(op, get_raw=True)(formula)  # formula already takes tensors


_count_cpu_attention()


@dataclass
class Counted:
    flops: float = 0.0  # filled in when the `counting_flops` block ends


@contextmanager
def counting_flops() -> Iterator[Counted]:
    """`with counting_flops() as counted:` the FLOPs of the code inside, counted operation by
    operation by torch's FlopCounterMode, are `counted.flops` once the block ends."""
    counted, counter = Counted(), FlopCounterMode(display=False)
    with counter:
        yield counted
    counted.flops = float(counter.get_total_flops())


def run_counting_flops(fn: Callable[[], T]) -> tuple[T, float]:
    """Call `fn()` and return (its result, the FLOPs it performed)."""
    with counting_flops() as counted:
        result = fn()
    return result, counted.flops


def count_flops(fn: Callable[[], object]) -> float:
    """FLOPs that `fn()` performs."""
    return run_counting_flops(fn)[1]


def training_flops(num_parameters: float, num_tokens: float) -> float:
    """Rule of thumb for training: 6·N·D (2 for the forward pass, 4 for the backward pass)."""
    return 6.0 * num_parameters * num_tokens


def tokens_trained(flops: float, num_parameters: float) -> float:
    """The training tokens `flops` pay for in a model of `num_parameters`: 6·N·D read backwards."""
    return flops / (6.0 * num_parameters)


def generation_flops(num_parameters: float, num_tokens: float) -> float:
    """Rule of thumb for inference: 2·N per token processed (prompt or generated)."""
    return 2.0 * num_parameters * num_tokens


def measure_matmul_peak_gflops(size: int = 1024, seconds: float = 1.0, progress: bool = False) -> float:
    """The best fp32 matrix-multiply speed of this machine's CPU, in GFLOP/s (best of many tries),
    measured for `seconds` (with a progress bar in seconds if `progress`)."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    flops_per_matmul = 2.0 * size**3
    best, begin = 0.0, time.perf_counter()
    torch.mm(a, b)  # warm up
    with tqdm(total=seconds, unit="s", desc="measuring the matmul peak", disable=not progress,
              bar_format="{l_bar}{bar}| {n:.1f}/{total:.1f} s") as bar:
        while time.perf_counter() - begin < seconds:
            start = time.perf_counter()
            for _ in range(4):
                torch.mm(a, b)
            best = max(best, 4 * flops_per_matmul / (time.perf_counter() - start))
            bar.update(min(time.perf_counter() - begin, seconds) - bar.n)
    return best / 1e9


PRICE_RANGE = (2.0, 3.5)  # dollars per rented H100-hour in 2025, low and high
# The share of a CPU's fp32 matmul peak that training reaches: about what chapter 01's teacher
# reaches at the standard profile (`make bench` writes its own as teacher_train_fraction_of_peak).
# Smaller models and batches reach less (the fast profile's teacher, chapter 02's students).
CPU_UTILIZATION = 0.6


@dataclass(frozen=True)
class GpuAssumptions:
    """What a rented accelerator does per dollar. Every dollar figure in the course states these."""

    name: str = "H100"
    peak_tflops: float = 989.0  # dense BF16 peak of an H100 SXM
    utilization: float = 0.40  # fraction of peak real training reaches (35-45 % is typical)
    dollars_per_hour: float = 2.75  # rental price per GPU-hour: the middle of PRICE_RANGE

    def __post_init__(self) -> None:
        knobs.number("peak_tflops", self.peak_tflops, above=0)
        knobs.number("utilization", self.utilization, above=0, maximum=1)
        knobs.number("dollars_per_hour", self.dollars_per_hour, minimum=0)

    def with_changes(self, **changes) -> GpuAssumptions:
        return replace(self, **changes)

    @property
    def flops_per_hour(self) -> float:
        return self.peak_tflops * 1e12 * self.utilization * SECONDS_PER_HOUR

    def describe(self) -> str:
        return (f"{self.name} at {self.peak_tflops:g} TFLOP/s peak, {self.utilization:.0%} "
                f"utilisation, ${self.dollars_per_hour:g} per GPU-hour")


H100 = GpuAssumptions()


def gpu_hours(flops: float, gpu: GpuAssumptions = H100) -> float:
    """GPU-hours needed to do `flops` under the stated assumptions."""
    return knobs.number("flops", flops, minimum=0) / gpu.flops_per_hour


def dollars(flops: float, gpu: GpuAssumptions = H100) -> float:
    """Rental cost of `flops` under the stated assumptions."""
    return gpu_hours(flops, gpu) * gpu.dollars_per_hour


def flops_from_gpu_hours(hours: float, gpu: GpuAssumptions = H100) -> float:
    """The FLOPs a published run did, inferred from its GPU-hours under the stated assumptions."""
    return knobs.number("hours", hours, minimum=0) * gpu.flops_per_hour


def seconds_on_this_machine(flops: float, peak_gflops: float, utilization: float = CPU_UTILIZATION) -> float:
    """How long `flops` would take here, at `utilization` of the measured matmul peak."""
    knobs.number("flops", flops, minimum=0)
    knobs.number("peak_gflops", peak_gflops, above=0)
    knobs.number("utilization", utilization, above=0, maximum=1)
    return flops / (peak_gflops * 1e9 * utilization)


@dataclass(frozen=True)
class CostEstimate:
    flops: float
    gpu_hours: float
    dollars: float
    seconds_here: float | None  # on this machine's CPU, if its peak was given


def estimate_training_cost(
    num_parameters: float,
    num_tokens: float,
    gpu: GpuAssumptions = H100,
    cpu_peak_gflops: float | None = None,
    cpu_utilization: float = CPU_UTILIZATION,
) -> CostEstimate:
    """The calculator of chapter 00: 6·N·D FLOPs, and what they cost on `gpu` and take here (at
    `cpu_utilization` of this CPU's `cpu_peak_gflops`)."""
    knobs.number("num_parameters", num_parameters, above=0)
    knobs.number("num_tokens", num_tokens, above=0)
    flops = training_flops(num_parameters, num_tokens)
    here = None if cpu_peak_gflops is None else seconds_on_this_machine(flops, cpu_peak_gflops, cpu_utilization)
    return CostEstimate(flops, gpu_hours(flops, gpu), dollars(flops, gpu), here)


def human_duration(seconds: float) -> str:
    """'42 s', '3.5 min', '7.2 h', '4.1 days', '2.5 years'."""
    for unit, size in (("years", 365.25 * 86400), ("days", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.3g} {unit}"
    return f"{seconds:.3g} s"
