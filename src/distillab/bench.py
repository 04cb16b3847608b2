"""The benchmark: this machine's figures of merit at the standard profile, written to
bench/latest.json and printed as a table. Run with `make bench` or `python -m distillab.bench`.

It executes every chapter, then every lab solution, in a fresh kernel with a throw-away workspace (timing each,
and reading each chapter's peak memory; `chapters_01_to_03_seconds` is a new learner's wait for their first
distilled student), then every chapter again at the fast profile in a workspace of its own (`chapter_seconds_fast`), then reads
the teacher chapter 01 trained and measures its generation speed and a student's training speed,
runs chapters 02, 03 and 06 again in the same workspace (with nothing changed, and chapter 02 with
TEMPERATURE changed: `rerun_unchanged_seconds`, `one_knob_change_seconds`, and when each headline
showed its first seed with every arm done, `first_paired_seed_seconds`), measures a comparison's
training throughput on worker processes against one process (`worker_throughput`),
reads chapters 02-04's headlines back from the ledger, times a KD step against an SFT step,
and times the teacher writing chapter 03's 4,000 traces; for chapter 07, reads the real model's
accuracy before and after from the ledger and measures its fine-tuning steps (full and LoRA, each in
a process of its own for its peak memory) and its generation speed.

`--only 07_a_real_model 07_teach_a_chat_model_from_traces` runs just the chapters (both profiles) and
lab solutions (standard) named, and their figures, and updates those keys of an existing
bench/latest.json, which then lists them under "partial_update".
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from unittest import mock

import torch

from distillab import (claims, cost, kd_experiments, labs, onpolicy_experiments, realmodel, realmodel_experiments, runtime,
                       trace_experiments, transfer_experiments, world)
from distillab.chapter_times import BENCH_FILE
from distillab.comparison import PairedGain
from distillab.evaluation import evaluate
from distillab.ledger import Ledger
from distillab.models import STUDENT_SIZE, build_model, load_model
from distillab.profiles import Profile, get_profile
from distillab.sampling import generate, max_new_tokens_for
from distillab.teacher import training_data
from distillab.tokenizer import build_tokenizer
from distillab.training import train
from distillab.workspace import HALF_BUDGET_TEACHER, HOME_ENV, REFERENCE_TEACHER, teacher_path

ROOT = Path(__file__).resolve().parents[2]


# Appended to a notebook the bench runs: the kernel's peak resident memory, or that of the largest
# process it started and waited for (chapter 06's recipe command), in MB.
PEAK_MEMORY_CELL = "from distillab.runtime import peak_memory_mb; print(peak_memory_mb())"


# Appended after that: how the chapter's headline comparison went (`comparison.Comparison.timing`).
HEADLINE_TIMING_CELL = "import json; print(json.dumps(headline.timing))"


@dataclass(frozen=True)
class NotebookRun:
    seconds: float  # wall time: the kernel's start and the notebook's cells
    peak_memory_mb: float  # the largest resident memory of its kernel or of a process it ran
    headline: dict | None = None  # its headline comparison's timing, when asked for


def run_notebook(path: Path, timeout: int = 3600, knobs: dict | None = None, headline: bool = False) -> NotebookRun:
    """Execute a notebook top to bottom in a fresh kernel: its wall time, then its peak memory (and,
    with `headline`, its headline comparison's timing). `knobs` are set in a cell right after the
    knobs cell (tagged `parameters`), as a learner who turned them would. A cell may run for up to
    `timeout` seconds: chapter 07's headline at the standard profile trains six runs of a 135M-parameter
    model, over 20 minutes on a 2-core CPU."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    if knobs:
        at = next(i for i, cell in enumerate(notebook.cells) if "parameters" in cell.metadata.get("tags", []))
        notebook.cells.insert(at + 1, nbformat.v4.new_code_cell("\n".join(f"{k} = {v!r}" for k, v in knobs.items())))
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()  # the kernel's start-up counts, as a learner waits for it too
    with client.setup_kernel():
        for index, cell in enumerate(list(notebook.cells)):
            client.execute_cell(cell, index)
        seconds = time.perf_counter() - start
        probes = [PEAK_MEMORY_CELL] + ([HEADLINE_TIMING_CELL] if headline else [])  # after the timing: not counted
        outputs = []
        for code in probes:
            notebook.cells.append(nbformat.v4.new_code_cell(code))
            outputs.append(client.execute_cell(notebook.cells[-1], len(notebook.cells) - 1).outputs[-1]["text"])
    return NotebookRun(seconds, float(outputs[0]), json.loads(outputs[1]) if headline else None)


# The chapters whose headline is a comparison that reuses finished runs, and the one knob a re-run
# turns (None: re-run with nothing changed only). Chapter 02's TEMPERATURE changes the KD arm, not SFT.
RERUNS = {"02_logit_distillation": {"TEMPERATURE": 2.0}, "03_reasoning_trace_distillation": None,
          "06_beyond_the_toy": None}


def rerun_figures(first_runs: dict[str, NotebookRun], profile: Profile, home: str) -> dict:
    """Each chapter of RERUNS run again in the workspace `home` where its first run (`first_runs`)
    went: with nothing changed, then with one knob turned; and when its headline showed the first
    seed with every arm done. Fractions are of the first run's time (the chapter's, or the headline's)."""
    figures: dict = {"rerun_unchanged_seconds": {}, "one_knob_change_seconds": {}, "first_paired_seed_seconds": {},
                     "headline_seconds": {}, "rerun_fractions": {}}
    with mock.patch.dict(os.environ, {"DISTILLAB_PROFILE": profile.name, HOME_ENV: home}):
        for name, knob in RERUNS.items():
            if name not in first_runs:
                continue
            path, first = repository() / "notebooks" / f"{name}.ipynb", first_runs[name]
            print(f"running {name} again with nothing changed ...", flush=True)
            unchanged = run_notebook(path).seconds
            fractions = {"rerun_unchanged": unchanged / first.seconds}
            figures["rerun_unchanged_seconds"][name] = unchanged
            if knob:
                print(f"running {name} again with {knob} ...", flush=True)
                figures["one_knob_change_seconds"][name] = changed = run_notebook(path, knobs=knob).seconds
                fractions["one_knob_change"] = changed / first.seconds
            if first.headline:
                figures["headline_seconds"][name] = first.headline["seconds"]
                figures["first_paired_seed_seconds"][name] = paired = first.headline["first_paired_seed_seconds"]
                fractions["first_paired_seed_of_headline"] = paired / first.headline["seconds"]
            figures["rerun_fractions"][name] = fractions
    figures["one_knob_change_knobs"] = {name: knob for name, knob in RERUNS.items() if knob and name in first_runs}
    return figures


def worker_throughput(profile: Profile, num_steps: int = 60) -> dict:
    """Training steps per second of a comparison's runs (chapter 02's SFT and KD on two seeds) in
    this process against the default number of worker processes, once the workers have started."""
    from distillab import students, worker_pool

    setup = kd_experiments.prepare(HALF_BUDGET_TEACHER, "half-budget", profile)
    short = replace(setup, training=profile.student_config(num_steps=num_steps))
    arms, seeds = kd_experiments.headline_arms(short), profile.seeds[:2]
    count = worker_pool.default_count(len(arms) * len(seeds), pretrained=False)
    rate = {}
    for label, how_many in (("sequential", 1), ("workers", count)):
        if how_many > 1:  # start the workers first: a kernel keeps them for its next comparison
            students.compare(replace(setup, training=profile.student_config(num_steps=2)), arms, seeds, workers=how_many)
        start = time.perf_counter()
        students.compare(short, arms, seeds, workers=how_many)
        rate[label] = len(arms) * len(seeds) * num_steps / (time.perf_counter() - start)
    worker_pool.discard_pool()
    return {"workers": count, "threads_per_worker": runtime.STUDENT_THREADS,
            "sequential_steps_per_s": rate["sequential"], "workers_steps_per_s": rate["workers"],
            "speedup": rate["workers"] / rate["sequential"]}


def uncached_single_problems_per_s(model, tokenizer, problems: list[world.Problem]) -> float:
    """One problem at a time, no KV cache: every new token re-reads the whole sequence."""
    start = time.perf_counter()
    for p in problems:
        generate(model, tokenizer, [p.prompt], max_new_tokens_for(p.difficulty), use_cache=False)
    return len(problems) / (time.perf_counter() - start)


def student_fraction_of_peak(profile: Profile, peak_gflops: float, num_steps: int = 60) -> float:
    tokenizer = build_tokenizer()
    model = build_model(STUDENT_SIZE, tokenizer)
    history = train(model, training_data(profile, tokenizer, seed=0),
                    profile.training_config(num_steps), progress=False)
    return history.total_flops / history.total_seconds / 1e9 / peak_gflops


def paired_points(ledger: Ledger, chapter: str, baseline: str, arm: str) -> dict:
    """A chapter's headline, read back from the ledger its run wrote: `arm` minus `baseline` (arm
    constants of the chapter's module) in points of mean accuracy, seed by seed (mean, min, max)."""
    records = [r for r in ledger.entries() if r.chapter == chapter]
    by_arm = {name: {r.seed: r.mean_accuracy for r in records if r.arm == name} for name in (baseline, arm)}
    seeds = sorted(set(by_arm[baseline]) & set(by_arm[arm]))
    if not seeds:
        raise ValueError(f"the ledger {ledger.path} holds no chapter {chapter} {baseline!r} and {arm!r} runs on a "
                         "common seed: run the chapter first")
    return PairedGain(tuple(seeds), tuple(100 * (by_arm[arm][s] - by_arm[baseline][s]) for s in seeds)).summary()


def trace_generation_seconds(profile: Profile) -> float:
    """Seconds for the reference teacher to write one trace (T = 1) for each of the profile's trace
    prompts (4,000 at standard), with the KV cache."""
    return trace_experiments.prepare(REFERENCE_TEACHER, "the reference", profile).traces(1.0).seconds


def kd_step_cost_vs_sft(profile: Profile, num_steps: int = 40) -> dict:
    """Seconds per student step of KD (reading the teacher cache, or running the teacher on the
    fly) divided by an SFT step's, on the same transfer set and batches."""
    setup = kd_experiments.prepare(HALF_BUDGET_TEACHER, "half-budget", profile)
    seconds = kd_experiments.seconds_per_step(setup, num_steps=num_steps, refresh=True)
    return {"kd_cached": seconds.kd_cached / seconds.sft, "kd_on_the_fly": seconds.kd_on_the_fly / seconds.sft}


def run_chapters_at(profile: Profile, chapters: list[Path], home: str | None = None) -> dict[str, NotebookRun]:
    """Every chapter at `profile`, in order, in a workspace of its own (a learner's first run):
    `home`, or a new temporary folder."""
    workspace = home or tempfile.mkdtemp(prefix=f"distillab-bench-{profile.name}-")
    with mock.patch.dict(os.environ, {"DISTILLAB_PROFILE": profile.name, HOME_ENV: workspace}):  # restored after
        runs = {}
        for chapter in chapters:
            print(f"running {chapter.name} at the {profile.name} profile ...", flush=True)
            runs[chapter.stem] = run_notebook(chapter, headline=chapter.stem in RERUNS)
        return runs


REAL_CHAPTER = "07_a_real_model"


def real_model_step(fine_tuning: str) -> dict:
    """`realmodel_sweeps.step_probe` in a fresh process, so that its peak memory is its own."""
    import subprocess
    import sys

    code = ("import json; from distillab import realmodel_sweeps; "
            f"print(json.dumps(realmodel_sweeps.step_probe({fine_tuning!r})))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def real_model_figures(ledger: Ledger, peak_gflops: float) -> dict:
    """Chapter 07's figures: the real model's accuracy before and after (by difficulty, per seed,
    from the ledger its standard run wrote), the paired gain of traces over answers, and its
    fine-tuning step (full and LoRA) and generation speed measured here."""
    records = [r for r in ledger.entries() if r.chapter == realmodel_experiments.CHAPTER]
    before = next(r for r in records if r.arm == realmodel_experiments.AS_IT_COMES)
    arms = realmodel_experiments.headline_arms()
    after = {name: {r.seed: r.accuracy for r in records if r.arm == name} for name in arms}
    steps = {fine_tuning: real_model_step(fine_tuning) for fine_tuning in ("full", "lora")}
    lost = {name: [r.forgetting for r in records if r.arm == name and r.forgetting] for name in arms}
    forgetting = {name: {figure: sum(m[figure] for m in measured) / len(measured)
                         for figure in ("perplexity_before", "perplexity_after", "drift")} | {"seeds": len(measured)}
                  for name, measured in lost.items() if measured}
    return {"real_model_accuracy_before": before.accuracy, "real_model_accuracy_after": after,
            "real_model_forgetting": forgetting,
            "real_model_fine_tuning": realmodel_experiments.FINE_TUNING,
            "real_model_traces_vs_answers_points": paired_points(ledger, realmodel_experiments.CHAPTER, *arms),
            "real_model_step_seconds": {k: v["seconds_per_step"] for k, v in steps.items()},
            "real_model_step_fraction_of_peak": {k: v["gflops_per_second"] / peak_gflops for k, v in steps.items()},
            "real_model_step_peak_memory_mb": {k: v["peak_memory_mb"] for k, v in steps.items()},
            "real_model_trainable_parameters": {k: v["trainable_parameters"] for k, v in steps.items()},
            "real_model_generation_tokens_per_s": steps["full"]["generation_tokens_per_second"]}


def chapters_01_to_03_seconds(chapter_seconds: dict[str, float]) -> float:
    """The wait before a new learner's first distilled student: chapters 01, 02 and 03, in order."""
    return sum(seconds for name, seconds in chapter_seconds.items() if name[:2] in ("01", "02", "03"))


def readme_times(chapter: str, results: dict) -> str:
    """How the README's chapter table states its time: standard (fast), in seconds."""
    return f"{results['chapter_seconds'][chapter]:.0f} s ({results['chapter_seconds_fast'][chapter]:.0f} s)"


BUSY_SAMPLE_SECONDS = 1.0  # how long the bench watches the cores before and after it runs


def timings_warning(before: float, after: float) -> str:
    """Why the timings may not be trusted ("" when the machine looked idle): other processes kept
    cores busy (`runtime.cores_used_by_others`, sampled for a second, not the last minute's load,
    which still counts a job that just ended) when the bench began, or when it ended."""
    if before > 0.5:
        return (f"other processes kept {before:.1f} core(s) busy when the bench began: another job shared the "
                "cores, and every timing here may be several times too slow")
    if after > 0.5:
        return (f"other processes kept {after:.1f} core(s) busy when the bench ended: another job ran beside it, "
                "and the timings may be too slow")
    return ""


def repository() -> Path:
    """The course's source checkout, whose notebooks and labs the bench runs: `make bench` works from
    a clone of the repository, not from an installed package alone."""
    if not (ROOT / "notebooks").is_dir() or not (ROOT / "labs").is_dir():
        raise FileNotFoundError(f"the bench runs the course's notebooks, and there is no notebooks/ and labs/ in "
                                f"{ROOT} (distillab is installed from {Path(__file__).parent}): run it from a clone "
                                "of the course's repository, installed with `pip install -e .` (`make bench`)")
    return ROOT


def chapter_paths() -> list[Path]:
    return sorted((repository() / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def machine_figures() -> dict:
    """What this machine is, how many cores other processes keep busy now (0 when idle) and its matmul peak."""
    return {"machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
            "cpu_threads": torch.get_num_threads(), "torch": torch.__version__, "profile": "standard",
            "cores_busy_before": runtime.cores_used_by_others(BUSY_SAMPLE_SECONDS),
            "matmul_peak_gflops": cost.measure_matmul_peak_gflops(seconds=2.0)}


def chapter_figures(runs: dict[str, NotebookRun], suffix: str = "") -> dict:
    """The chapters' wall times and peak memory, under their keys (`suffix` "_fast" for that profile)."""
    return {f"chapter_seconds{suffix}": {name: run.seconds for name, run in runs.items()},
            f"chapter_peak_memory_mb{suffix}": {name: run.peak_memory_mb for name, run in runs.items()}}


def teacher_figures(profile: Profile, peak_gflops: float) -> dict:
    """Chapter 01's teacher (in the workspace the chapters ran in): its training rate against the
    peak, its accuracy and its generation speed, with and without the KV cache; and a student's
    training rate."""
    model, tokenizer, provenance = load_model(teacher_path(profile))
    rate = provenance.flops / provenance.seconds / 1e9
    held_out = world.held_out_problems(profile.eval_per_difficulty)
    few = [held_out[d][i] for d in world.DIFFICULTIES for i in range(4)]
    return {"teacher_steps": provenance.steps, "teacher_train_seconds": provenance.seconds,
            "teacher_train_total_flops": provenance.flops,
            "teacher_train_gflops": rate,  # achieved GFLOP/s over the whole training run
            "teacher_train_fraction_of_peak": rate / peak_gflops, "teacher_accuracy": provenance.accuracy,
            "teacher_gen_problems_per_s": evaluate(model, tokenizer, held_out).problems_per_second,
            "teacher_gen_uncached_single_problems_per_s": uncached_single_problems_per_s(model, tokenizer, few),
            "student_train_fraction_of_peak": student_fraction_of_peak(profile, peak_gflops)}


def headline_figures(ledger: Ledger) -> dict:
    """Chapters 02, 03, 04 and 06's headlines, read back from the ledger their runs wrote."""
    return {"kd_vs_sft_points": paired_points(ledger, "02", kd_experiments.SFT, kd_experiments.KD),
            "trace_vs_answer_points": paired_points(ledger, "03", trace_experiments.ANSWERS,
                                                    trace_experiments.FILTERED),
            "onpolicy_vs_more_sft_points": paired_points(ledger, "04", onpolicy_experiments.MORE_SFT,
                                                         onpolicy_experiments.ON_POLICY),
            "traces_across_tokenizers_vs_same_points": transfer_experiments.paired_from_ledger(ledger)}


def measure_all() -> dict:
    """Every figure: the chapters and labs at the standard profile in one throw-away workspace, the
    reruns there, the chapters at the fast profile in another, then what the standard workspace's
    teacher, ledger and real model give. The environment is as it was afterwards."""
    standard, fast = get_profile("standard"), get_profile("fast")
    home = tempfile.mkdtemp(prefix="distillab-bench-standard-")
    chapters, solutions = chapter_paths(), labs.solution_paths(repository() / "labs")
    with mock.patch.dict(os.environ, {realmodel.MODELS_ENV: str(realmodel.models_folder())}):  # before the workspace moves
        results = machine_figures()
        first = run_chapters_at(standard, chapters, home)  # in the workspace the measurements below read back
        results |= chapter_figures(first)
        results["chapter_matmul_peak_gflops"] = dict.fromkeys(first, results["matmul_peak_gflops"])
        results["chapters_01_to_03_seconds"] = chapters_01_to_03_seconds(results["chapter_seconds"])
        results |= rerun_figures(first, standard, home)
        results["worker_throughput"] = worker_throughput(standard)
        results["lab_seconds"] = {name: run.seconds for name, run in run_chapters_at(standard, solutions, home).items()}
        results |= chapter_figures(run_chapters_at(fast, chapters), "_fast")
        with mock.patch.dict(os.environ, {"DISTILLAB_PROFILE": standard.name, HOME_ENV: home}):
            results |= teacher_figures(standard, results["matmul_peak_gflops"])
            ledger = Ledger(standard)
            results |= headline_figures(ledger)
            results["trace_generation_4000_prompts_seconds"] = trace_generation_seconds(standard)
            results["kd_step_cost_vs_sft"] = kd_step_cost_vs_sft(standard)
            results |= real_model_figures(ledger, results["matmul_peak_gflops"])
    results["cores_busy_after"] = runtime.cores_used_by_others(BUSY_SAMPLE_SECONDS)  # its kernels have ended
    results["busy_machine_warning"] = timings_warning(results["cores_busy_before"], results["cores_busy_after"])
    return results


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=BENCH_FILE)
    parser.add_argument("--only", nargs="+", metavar="CHAPTER", help="run only these chapters (e.g. 07_a_real_model) "
                        "and update their keys in --out")
    args = parser.parse_args(argv)
    os.environ[claims.STRICT_ENV] = "1"  # a chapter's claim that does not hold fails the bench (its kernels inherit this)
    if args.only:
        return update_chapters(args.out, args.only)
    results = measure_all()
    if results["busy_machine_warning"]:
        print("WARNING:", results["busy_machine_warning"])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(format_table(results))
    print(f"written to {args.out}")
    return results


def update_chapters(out: Path, names: list[str]) -> dict:
    """Run only the chapters `names` at both profiles (and chapter 07's figures when it is one of
    them) and update their keys in the results at `out`, which say so under "partial_update"."""
    chapters = [path for path in chapter_paths() if path.stem in names]
    solutions = [path for path in labs.solution_paths(repository() / "labs") if path.stem in names]
    missing = set(names) - {path.stem for path in chapters + solutions}
    if missing:
        raise ValueError(f"no such chapter or lab: {', '.join(sorted(missing))} (give notebook names without "
                         "'.ipynb', e.g. 07_a_real_model)")
    results = json.loads(out.read_text())
    standard, fast = get_profile("standard"), get_profile("fast")
    with mock.patch.dict(os.environ, {realmodel.MODELS_ENV: str(realmodel.models_folder())}):
        before, peak = runtime.cores_used_by_others(BUSY_SAMPLE_SECONDS), cost.measure_matmul_peak_gflops(seconds=2.0)
        home = tempfile.mkdtemp(prefix="distillab-bench-standard-")
        first = run_chapters_at(standard, chapters, home)
        for key, value in rerun_figures(first, standard, home).items():
            results[key] = {**results.get(key, {}), **value}
        if "02_logit_distillation" in names:
            results["worker_throughput"] = worker_throughput(standard)
        lab_runs = run_chapters_at(standard, solutions, home)
        measured = chapter_figures(first) | chapter_figures(run_chapters_at(fast, chapters), "_fast")
        if REAL_CHAPTER in names:
            with mock.patch.dict(os.environ, {HOME_ENV: home}):  # the ledger the standard run wrote
                results |= real_model_figures(Ledger(standard), peak)
    measured["chapter_matmul_peak_gflops"] = dict.fromkeys(first, peak)
    measured["lab_seconds"] = {name: run.seconds for name, run in lab_runs.items()}
    for key, value in measured.items():
        results[key] = dict(sorted({**results.get(key, {}), **value}.items()))
    results["partial_update"] = {"chapters": names, "matmul_peak_gflops": peak,
                                 "busy_machine_warning": timings_warning(before, runtime.cores_used_by_others(BUSY_SAMPLE_SECONDS)),
                                 "when": time.strftime("%Y-%m-%d")}
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(format_table({key: results[key] for key in results if key.startswith(("real_model", "chapter_", "lab_"))}))
    print(f"updated {out}")
    return results


def format_table(results: dict) -> str:
    lines = []
    for key, value in results.items():
        if isinstance(value, dict):
            for inner, v in value.items():
                lines.append(f"{key}[{inner}]".ljust(48) + (f"{v:.3f}" if isinstance(v, float) else str(v)))
        else:
            lines.append(key.ljust(48) + (f"{value:.3f}" if isinstance(value, float) else str(value)))
    return "\n".join(lines)


if __name__ == "__main__":
    from distillab.runtime import run_command

    sys.exit(run_command(main, "distillab.bench"))
