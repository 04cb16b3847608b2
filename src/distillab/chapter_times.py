"""What each chapter took on the machine that ran `make bench` (`bench/latest.json`), and what to
expect on this one: the bench's time scaled by the two machines' matmul peaks. A chapter's work is
mostly matrix multiplies, so on a CPU with half the bench machine's peak expect about twice the time.
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
    `profile` on the bench machine, and about how long it takes here (this machine's matmul peak is
    measured once and remembered, `reuse.matmul_peak_gflops`)."""
    if not bench_file.is_file():
        return f"(no bench figures at {bench_file}: `make bench` in the course's repository writes them)"
    figures = json.loads(bench_file.read_text(encoding="utf-8"))
    seconds = figures.get("chapter_seconds" if profile.name == "standard" else "chapter_seconds_fast", {}).get(chapter)
    bench_peak = figures.get("chapter_matmul_peak_gflops", {}).get(chapter)
    if seconds is None or bench_peak is None:
        return f"({bench_file} has no time for {chapter} at the {profile.name} profile: `make bench` measures it)"
    here_peak = reuse.matmul_peak_gflops(profile)
    return (f"Time: a first run at the {profile.name} profile took {duration(seconds)} on the bench machine "
            f"(matmul peak {bench_peak:.0f} GFLOP/s); this CPU's peak is {here_peak:.0f} GFLOP/s, so expect about "
            f"{duration(seconds * bench_peak / here_peak)} here. That is a rough guide, off either way on another "
            "machine (the peak is not all a chapter depends on), and longer while other programs keep the cores busy.")
