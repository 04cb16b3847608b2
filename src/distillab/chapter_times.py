"""What each chapter took on the machine that ran `make bench` (`bench/latest.json`), with that
machine's matmul peak beside this one's. The time is not scaled by the two peaks: a chapter's time
also goes to memory-bound work, Python and the tokenizer, so the ratio of peaks does not predict it.
"""

from __future__ import annotations

import json
from pathlib import Path

from distillab import reuse
from distillab.profiles import Profile

BENCH_FILE = Path(__file__).resolve().parents[2] / "bench" / "latest.json"  # in the course's repository


def duration(seconds: float) -> str:
    """A chapter's time as the course states it: '76 s', '4.5 min'."""
    return f"{seconds:.0f} s" if seconds < 100 else f"{seconds / 60:.1f} min"


def time_sentence(chapter: str, figures: dict) -> str:
    """How a chapter's opening states its time, from the bench's `figures` (bench/latest.json): at
    both profiles, and run again with nothing changed where the bench measured that."""
    sentence = (f"{duration(figures['chapter_seconds'][chapter])} at the standard profile, "
                f"{duration(figures['chapter_seconds_fast'][chapter])} at the fast one")
    again = figures.get("rerun_unchanged_seconds", {}).get(chapter)
    return sentence if again is None else f"{sentence}; run again with nothing changed, {duration(again)}"


def expected(chapter: str, profile: Profile, bench_file: Path = BENCH_FILE) -> str:
    """One line: the first run of `chapter` (a notebook name, e.g. "02_logit_distillation") at
    `profile` on the bench machine, with its matmul peak and this machine's (measured once and
    remembered, `reuse.matmul_peak_gflops`)."""
    figures = bench_figures(bench_file)
    if figures is None:
        return f"(no bench figures at {bench_file}: `make bench` in the course's repository writes them)"
    seconds = figures.get("chapter_seconds" if profile.name == "standard" else "chapter_seconds_fast", {}).get(chapter)
    bench_peak = figures.get("chapter_matmul_peak_gflops", {}).get(chapter)
    if seconds is None or bench_peak is None:
        return f"({bench_file} has no time for {chapter} at the {profile.name} profile: `make bench` measures it)"
    here_peak = reuse.matmul_peak_gflops()
    return (f"Time: a first run at the {profile.name} profile took {duration(seconds)} on the bench machine "
            f"({figures.get('cpu_threads', '?')} threads, matmul peak {bench_peak:.0f} GFLOP/s; this CPU's: {here_peak:.0f} "
            "GFLOP/s). A CPU with fewer cores or a lower peak takes longer, and so does one busy with other programs; how much longer, the "
            "peaks alone do not predict.")


def opening(chapter: str, profile: Profile, budget: str, bench_file: Path = BENCH_FILE) -> str:
    """What a chapter's run says first: the time to expect (`expected`), this run's profile with the
    chapter's `budget` in its own words, and the profile's caveat where it has one."""
    lines = [expected(chapter, profile, bench_file), f"profile {profile.name}: {budget}", profile.caveat]
    return "\n".join(line for line in lines if line)


def bench_figures(bench_file: Path = BENCH_FILE) -> dict | None:
    """The figures `make bench` wrote (bench/latest.json), or None where there are none."""
    if not bench_file.is_file():
        return None
    return json.loads(bench_file.read_text(encoding="utf-8"))


def teacher_fraction_of_peak(bench_file: Path = BENCH_FILE) -> float | None:
    """The share of its matmul peak that chapter 01's teacher trained at on the bench machine, at
    the standard profile (what `cost.CPU_UTILIZATION` stands for), or None where it was not measured."""
    figures = bench_figures(bench_file)
    return None if figures is None else figures.get("teacher_train_fraction_of_peak")


def real_model_step_memory(bench_file: Path = BENCH_FILE) -> str | None:
    """One sentence: the peak memory of one fine-tuning step of chapter 07's real model, every
    weight against LoRA, as `make bench` measured it (each arm alone in a fresh process), or None
    where it was not measured."""
    figures = bench_figures(bench_file)
    memory = None if figures is None else figures.get("real_model_step_peak_memory_mb")
    if not memory:
        return None
    return (f"peak memory of a fine-tuning step on the bench machine (`make bench`, each arm alone): every weight "
            f"{memory['full'] / 1024:.2f} GiB, LoRA {memory['lora'] / 1024:.2f} GiB")
