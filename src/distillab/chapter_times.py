"""What each chapter took on the machine that ran `make bench` (`bench/latest.json`), and what to
expect on this one: the bench's time scaled by the two machines' matmul peaks. A chapter's work is
mostly matrix multiplies, so on a CPU with half the bench machine's peak expect about twice the time.
"""

from __future__ import annotations

import json
from pathlib import Path

from distillab import reuse
from distillab.cost import human_duration
from distillab.profiles import Profile

BENCH_FILE = Path(__file__).resolve().parents[2] / "bench" / "latest.json"  # in the course's repository


def chapter_peaks(figures: dict) -> dict[str, float]:
    """The matmul peak (GFLOP/s) of the machine each chapter's time in `figures` (the bench file)
    was measured on: recorded per chapter; for a file written before that, the peak of the partial
    update that measured it, else the whole run's."""
    peaks = dict(figures.get("chapter_matmul_peak_gflops", {}))
    partial = figures.get("partial_update") or {}
    for name in partial.get("chapters", []):
        peaks.setdefault(name, partial["matmul_peak_gflops"])
    for name in figures.get("chapter_seconds", {}):
        peaks.setdefault(name, figures["matmul_peak_gflops"])
    return peaks


def expected(chapter: str, profile: Profile, bench_file: Path = BENCH_FILE) -> str:
    """One line: the first run of `chapter` (a notebook name, e.g. "02_logit_distillation") at
    `profile` on the bench machine, and about how long it takes here (this machine's matmul peak is
    measured once and remembered, `reuse.matmul_peak_gflops`)."""
    if not bench_file.is_file():
        return f"(no bench figures at {bench_file}: `make bench` in the course's repository writes them)"
    figures = json.loads(bench_file.read_text(encoding="utf-8"))
    seconds = figures.get("chapter_seconds" if profile.name == "standard" else "chapter_seconds_fast", {}).get(chapter)
    if seconds is None:
        return f"({bench_file} has no time for {chapter} at the {profile.name} profile: `make bench` measures it)"
    bench_peak, here_peak = chapter_peaks(figures)[chapter], reuse.matmul_peak_gflops(profile)
    return (f"Time: a first run at the {profile.name} profile took {human_duration(seconds)} on the bench machine "
            f"(matmul peak {bench_peak:.0f} GFLOP/s); this CPU's peak is {here_peak:.0f} GFLOP/s, so expect about "
            f"{human_duration(seconds * bench_peak / here_peak)} here (longer while other programs keep its cores busy).")
