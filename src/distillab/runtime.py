"""The one place that picks the device and seeds every random number generator (all chapters),
fixes the threads a run computes with and names its numerics (`run_threads`, `fixed_threads`,
`numerics`), reads a process's peak memory (`peak_memory_mb`), warns when other work shares the
cores (`share_the_cores`), and the one way a `python -m distillab.*` command ends (`run_command`)."""

from __future__ import annotations

import os
import random
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from transformers.utils import logging as transformers_logging

from distillab import hub

# Importing this module changes nothing in the process. The course's entry points keep it offline
# (`hub.stay_offline`: `run_command` here, every notebook's first cells, the Makefile's export).


@contextmanager
def no_loading_bars() -> Iterator[None]:
    """transformers' own progress bars off while a model loads (the course draws its own bars for
    training and generation; one under every load of a 7 MB model is only noise), then as they were."""
    was_enabled = transformers_logging.is_progress_bar_enabled()
    transformers_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            transformers_logging.enable_progress_bar()


def pick_device() -> torch.device:
    """CUDA if present, then Apple's MPS, else the CPU. `DISTILLAB_DEVICE=cpu` forces a choice."""
    forced = os.environ.get("DISTILLAB_DEVICE")
    if forced:
        return torch.device(forced)
    if torch.cuda.is_available():  # one GPU per process when launched on several (LOCAL_RANK)
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


# A run's threads are part of its arithmetic: on another number of threads a matrix product sums its
# floats in another order, and at the course's budgets that moves a student's accuracy about as far
# as a new seed does. So a run decides its own threads and keeps them from its first step to its
# last; how many runs go at once (WORKERS, another notebook) never changes them.
STUDENT_THREADS = 1  # every course-size student (chapters 02-06) trains and is tested on one thread


def run_threads(pretrained: bool) -> int:
    """The threads a student run computes with: `STUDENT_THREADS` for the course's own small
    students, on any machine and any number of workers; every thread torch has here for a
    pretrained model (chapter 07's 135M parameters, trained in the notebook's own process)."""
    return torch.get_num_threads() if pretrained else STUDENT_THREADS


@contextmanager
def fixed_threads(threads: int) -> Iterator[None]:
    """torch computes on `threads` threads inside, then on as many as before."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def numerics(threads: int) -> dict:
    """Beyond the seed, what decides a run's floating-point sums: its threads, the instruction set
    torch's CPU kernels use here (AVX512, AVX2, ...) and the device. Two machines that differ here
    may give one seed two results, as two seeds would."""
    capability = getattr(getattr(torch.backends, "cpu", None), "get_cpu_capability", lambda: "unknown")()
    return {"threads": threads, "cpu capability": capability, "device": pick_device().type}


def machine() -> dict:
    """What a timing depends on: the processor, its cores, torch's threads and the device."""
    import platform

    return {"processor": platform.processor() or platform.machine(), "cores": os.cpu_count(),
            "threads": torch.get_num_threads(), "device": pick_device().type}


def peak_memory_mb() -> float:
    """This process's peak resident memory, or that of the largest child process it waited for, in MB.

    On Linux a process's own `ru_maxrss` starts at the peak of the process that started it (the
    kernel keeps the old memory's high-water mark across exec), so a kernel started by a large
    process would report that process's peak; its own high-water mark, VmHWM in /proc/self/status,
    does not. Children's `ru_maxrss` are their own. macOS counts bytes, Linux kB."""
    import resource

    scale = 2**20 if sys.platform == "darwin" else 2**10
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / scale
    status = Path("/proc/self/status")
    if status.exists():
        kb = next(line.split()[1] for line in status.read_text().splitlines() if line.startswith("VmHWM:"))
        return max(int(kb) / 2**10, children)
    return max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale, children)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch so that a run with the same seed repeats exactly."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed must be a whole number, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


RUNNING = Path(tempfile.gettempdir()) / "distillab-running"  # one file per distillab process that is training


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def other_runs() -> list[str]:
    """What the other distillab processes on this machine are training now (one line each)."""
    if not RUNNING.is_dir():
        return []
    found = []
    for mark in RUNNING.iterdir():
        if mark.name.isdigit() and int(mark.name) != os.getpid() and _alive(int(mark.name)):
            try:
                found.append(mark.read_text())
            except OSError:
                continue
    return found


def _busy_jiffies() -> tuple[int, int, int]:
    """(busy, total) CPU time of the whole machine, and this process's own, in clock ticks (Linux)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    own = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
    return sum(fields) - idle, sum(fields), int(own[11]) + int(own[12])  # utime + stime


def cores_used_by_others(seconds: float = 0.2) -> float:
    """How many cores other processes keep busy right now, measured over `seconds` (0.0 where the
    machine does not say: not Linux). Unlike the load average, this leaves out the caller's own
    work of the last minute (the run before this one)."""
    try:
        busy, total, own = _busy_jiffies()
        time.sleep(seconds)
        busy_after, total_after, own_after = _busy_jiffies()
    except (OSError, ValueError, IndexError):
        return 0.0
    elapsed = total_after - total
    cores = os.cpu_count() or 1
    return max(0.0, (busy_after - busy) - (own_after - own)) / elapsed * cores if elapsed else 0.0


def busy_warning(what: str, others: list[str], load: float, cores: int, threads: int) -> str:
    """What to tell a learner before `what` starts on a machine already busy ("" when it is not)."""
    if others:
        return (f"{len(others)} other distillab run(s) are training on this machine ({'; '.join(others)}): {what} "
                f"keeps its {threads} thread(s), so its result is the one it would be alone, but expect it to take "
                f"at least {len(others) + 1}x as long while they run, and more when both use every core. For full "
                "speed, let the other notebook finish (or stop it with ■) before you start this one")
    if load > 0.5 * cores:
        return (f"the cores are already busy (other processes keep {load:.1f} of {cores} core(s) busy) before {what} "
                f"began: another job is running, so expect at least {max(2.0, (load + threads) / cores):.0f}x the usual "
                "time, and up to 10-30x when both use every core. Wait for the other job, or stop it, for full speed")
    return ""


@contextmanager
def share_the_cores(what: str) -> Iterator[None]:
    """Around a long run (`training.train` uses it): warn when the machine is already busy or other
    distillab processes are training, and mark this process as training while it does. The run's
    threads stay as they are (`fixed_threads`): taking fewer would change its result. The processes
    of one data-parallel run (WORLD_SIZE > 1) and a comparison's worker processes (DISTILLAB_WORKER,
    `worker_pool`) are left alone: their launcher warned already."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 or os.environ.get("DISTILLAB_WORKER"):
        yield
        return
    message = busy_warning(what, other_runs(), cores_used_by_others(), os.cpu_count() or 1, torch.get_num_threads())
    if message:
        warnings.warn(message, stacklevel=3)
    mark = RUNNING / str(os.getpid())
    try:
        RUNNING.mkdir(exist_ok=True)
        mark.write_text(what)
    except OSError:  # an unwritable temporary folder only loses the warning, never the run
        mark = None
    try:
        yield
    finally:
        if mark is not None:
            mark.unlink(missing_ok=True)


LOGS = Path(tempfile.gettempdir()) / "distillab-logs"  # a command's traceback, when it fails unexpectedly


def run_command(main: Callable[[], object], prog: str) -> int:
    """Run a command's `main` and return its exit code (0 when it returns anything but a number).
    A bad input or a fault the package reports (ValueError, OSError) ends in one line on stderr that
    says what was wrong and what to do, exit 1. Any other error also ends in one line, exit 1, that
    names it and the log file holding its traceback. Ctrl-C ends in one line, exit 130. The command
    and every process it starts stay off the Hugging Face hub unless HF_HUB_OFFLINE=0 is set
    (`hub.stay_offline`)."""
    hub.stay_offline()
    try:
        code = main()
    except KeyboardInterrupt:
        print(f"{prog}: stopped (Ctrl-C); what finished before it is kept", file=sys.stderr)
        return 130
    except (ValueError, OSError) as error:
        print(f"{prog}: {' '.join(str(error).split())}", file=sys.stderr)
        return 1
    except Exception as error:  # not a bad input: a fault of the package, of torch or of the machine
        log = LOGS / f"{prog.replace(' ', '_')}-{os.getpid()}.log"
        try:
            LOGS.mkdir(exist_ok=True)
            log.write_text(traceback.format_exc(), encoding="utf-8")
            where = f"the traceback is in {log}"
        except OSError:
            where = "its traceback could not be written to a log"
        print(f"{prog}: failed with {type(error).__name__}: {' '.join(str(error).split())[:500]} ({where}); "
              "what finished before it is kept", file=sys.stderr)
        return 1
    return code if isinstance(code, int) else 0  # a main may return its results (bench): success
