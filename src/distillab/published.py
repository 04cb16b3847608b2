"""The published figures the course quotes (see the chapter 00 references), as data.
Chapter 00 recomputes their costs; chapter 05 compares the learner's runs with them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PublishedRun:
    name: str
    who: str
    what: str  # what was trained, how
    student_parameters: float  # parameters of the model that was trained
    training_examples: int  # teacher traces (or samples) it was trained on
    gpus: int | None  # accelerators used at once (None: not published)
    hours: float | None  # wall-clock hours (None: not published)
    reported_dollars: float | None  # the cost the authors stated (None: not stated)
    source: str

    @property
    def gpu_hours(self) -> float | None:
        return None if self.gpus is None or self.hours is None else self.gpus * self.hours


PUBLISHED_RUNS = (
    PublishedRun("s1-32B", "Stanford/UW", "SFT of Qwen2.5-32B on 1,000 curated reasoning traces",
                 32e9, 1_000, gpus=16, hours=26 / 60, reported_dollars=50.0,
                 source="Muennighoff et al. 2025, s1: Simple test-time scaling"),
    PublishedRun("Sky-T1-32B-Preview", "Berkeley NovaSky", "SFT of Qwen2.5-32B on 17k rejection-sampled traces",
                 32e9, 17_000, gpus=8, hours=19.0, reported_dollars=450.0,
                 source="NovaSky team 2025, Sky-T1 blog post"),
    PublishedRun("R1-Distill-Qwen-1.5B", "DeepSeek", "SFT of Qwen2.5-Math-1.5B on ~800k R1 samples",
                 1.5e9, 800_000, gpus=None, hours=None, reported_dollars=None,
                 source="DeepSeek-AI 2025, DeepSeek-R1 report"),
)

# Accuracy figures quoted in the chapters, with their sources.
R1_DISTILL_QWEN_1_5B = {"AIME24": 28.9, "MATH-500": 83.9}
R1_QWEN_32B_AIME24 = {"distilled from R1": 72.6, "RL from scratch": 47.0}
S1_SELECTION_AIME24 = {"random 1k": 36.7, "curated 1k (s1K)": 50.0, "all 59k": 53.3}
HINTON_2015_SPEECH_3_PERCENT = {"hard labels": 44.5, "soft targets": 57.0}
QWEN3_GPU_HOURS = {"on-policy distillation": 1_800, "reinforcement learning": 17_920}
H100_PRICE_RANGE = (2.0, 3.5)  # dollars per GPU-hour, rented, 2025


COST_TABLE_FORMATS = {"GPU-hours": ".1f", "dollars_low": ",.0f", "dollars_high": ",.0f", "reported_dollars": ",.0f",
                      "flops": ".2e", "tokens_per_example": ",.0f"}


@dataclass(frozen=True)
class RunCost:
    """A published run recomputed (`recomputed`): its rental cost and the compute it implies."""
    run: str
    gpu_hours: float
    dollars_low: float  # at the low end of the price range
    dollars_high: float  # at the high end
    reported_dollars: float | None  # what its authors stated
    flops: float  # what the GPU-hours imply under the GPU's stated use
    tokens_per_example: float  # FLOPs / 6·N / examples: training tokens per example, epochs included


def recomputed(gpu, price_range: tuple[float, float] = H100_PRICE_RANGE) -> dict[str, RunCost]:
    """Each published run with GPU-hours, by name, recomputed: the rental cost over `price_range`,
    the FLOPs the GPU-hours imply under `gpu`'s assumptions, and the training tokens per example
    that implies."""
    from distillab.cost import flops_from_gpu_hours

    costs = {}
    for run in PUBLISHED_RUNS:
        if run.gpu_hours is not None:
            flops = flops_from_gpu_hours(run.gpu_hours, gpu)
            costs[run.name] = RunCost(run.name, run.gpu_hours, run.gpu_hours * price_range[0], run.gpu_hours * price_range[1],
                                      run.reported_dollars, flops, flops / (6 * run.student_parameters) / run.training_examples)
    return costs


def cost_table(gpu, price_range: tuple[float, float] = H100_PRICE_RANGE) -> list[dict]:
    """`recomputed` as a table's rows, shown in `COST_TABLE_FORMATS`."""
    return [{"run": c.run, "GPU-hours": c.gpu_hours, "dollars_low": c.dollars_low, "dollars_high": c.dollars_high,
             "reported_dollars": c.reported_dollars, "flops": c.flops, "tokens_per_example": c.tokens_per_example}
            for c in recomputed(gpu, price_range).values()]


S1, SKY_T1 = PUBLISHED_RUNS[0].name, PUBLISHED_RUNS[1].name  # the two copies chapter 00 prices

# Parameter counts of the real pair chapter 06 prices (their model cards on the Hugging Face hub).
MODEL_PARAMETERS = {"Qwen/Qwen2.5-1.5B-Instruct": 1.54e9, "Qwen/Qwen2.5-0.5B-Instruct": 0.49e9}
