"""Worker processes for the runs of a comparison (`students.compare`, chapters 02-04 and 06): the
standard library's process pool over torch's multiprocessing (spawn), each worker a fresh Python.
A run trains in a worker exactly as it would in the notebook's own process (same seed, code, data
and threads: the run fixes its own, `runtime.run_threads`), so its result is the same bit for bit;
the notebook records it. How many workers there are changes how many runs go at once, never a result.

Ctrl-C (the notebook's ■) reaches the workers too: each run in progress stops after its step and
comes back marked interrupted, and a run that had not begun does not start.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import queue
import signal
import sys
import tempfile
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

import torch
import torch.multiprocessing

WORKER_ENV = "DISTILLAB_WORKER"  # set inside a worker: its launcher already warned of a busy machine
REPORT_EVERY = 10  # a worker reports its run's loss every this many steps

_worker: dict = {}  # inside a worker: its progress queue and the pool's stop event

# A spawned worker first imports the script that started it (as `__mp_main__`). A script that calls a
# comparison at its top level, outside `if __name__ == "__main__":`, would start workers from inside
# that import, which multiprocessing forbids: the worker leaves this mark for its launcher and ends.
UNGUARDED_MARK = Path(tempfile.gettempdir()) / "distillab-unguarded-main-{launcher}"


def importing_the_main_script() -> bool:
    """True inside a spawned process while it imports its launcher's main script (multiprocessing's own
    test before it refuses to start a process, `spawn._check_not_importing_main`)."""
    return bool(getattr(multiprocessing.current_process(), "_inheriting", False))


def unguarded_main_script() -> str | None:
    """After a worker died: the launcher's script, when the worker died because that script starts a
    comparison outside `if __name__ == "__main__":` (the worker's mark, removed on reading); else None."""
    mark = Path(str(UNGUARDED_MARK).format(launcher=os.getpid()))
    if not mark.is_file():
        return None
    mark.unlink(missing_ok=True)
    return getattr(sys.modules.get("__main__"), "__file__", None) or "your script"


def _start_worker(progress, stop) -> None:
    os.environ[WORKER_ENV] = "1"
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # only training takes Ctrl-C, and stops after its step
    _worker.update(progress=progress, stop=stop)
    progress.put(("pid", os.getpid(), None))


def _run_task(task: int, function: Callable, args: tuple):
    """In a worker: `function(*args, on_step=...)`, reporting progress as (task, step, loss); None
    when the pool was told to stop before this task began."""
    if _worker["stop"].is_set():
        return None

    def on_step(step: int, loss: float) -> None:
        if step % REPORT_EVERY == 0:
            _worker["progress"].put((task, step, loss))

    return function(*args, on_step=on_step)


class Workers:
    """`count` worker processes, each training one run at a time."""

    def __init__(self, count: int) -> None:
        context = torch.multiprocessing.get_context("spawn")
        self.count = count
        self.progress, self.stop = context.Queue(), context.Event()
        self.pids: set[int] = set()
        self.executor = ProcessPoolExecutor(count, mp_context=context, initializer=_start_worker,
                                            initargs=(self.progress, self.stop))

    def submit(self, task: int, function: Callable, *args) -> Future:
        """Run `function(*args, on_step=...)` in a worker; `task` names it in the progress reports."""
        return self.executor.submit(_run_task, task, function, args)

    def reports(self) -> list[tuple[int, int, float]]:
        """The (task, step, loss) reports that arrived since the last call."""
        found = []
        while True:
            try:
                task, step, loss = self.progress.get_nowait()
            except queue.Empty:
                return found
            if task == "pid":
                self.pids.add(step)
            else:
                found.append((task, step, loss))

    def interrupt(self) -> None:
        """Stop: no task begins any more, and every run in progress ends after its step."""
        self.stop.set()
        self.reports()
        for pid in self.pids:
            try:
                os.kill(pid, signal.SIGINT)  # a worker that had it already (Ctrl-C reaches the group) ignores it
            except ProcessLookupError:
                pass

    def shutdown(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)


_pool: Workers | None = None


def pool(count: int) -> Workers:
    """The kernel's pool of `count` workers, started once and kept for the next comparison (starting
    a worker costs seconds: it imports torch)."""
    global _pool
    if importing_the_main_script():  # a worker importing an unguarded script: tell the launcher, and end
        Path(str(UNGUARDED_MARK).format(launcher=os.getppid())).write_text("a worker imported an unguarded script")
        os._exit(1)
    if _pool is not None and _pool.count != count:
        _pool.shutdown()
        _pool = None
    if _pool is None:
        _pool = Workers(count)
    _pool.stop.clear()
    return _pool


def discard_pool() -> None:
    """Shut the kept pool down (at exit, or after a worker died)."""
    global _pool
    if _pool is not None:
        _pool.executor.shutdown(wait=False, cancel_futures=True)
        _pool = None


atexit.register(discard_pool)


def default_count(runs: int, pretrained: bool) -> int:
    """How many workers a comparison of `runs` runs uses by default: one per core (a course student
    trains on one thread, `runtime.STUDENT_THREADS`), at most one per run. One (the notebook's own process) on a GPU, for a pretrained model
    (a copy per worker would not fit in memory), inside a worker, and in a data-parallel launch."""
    from distillab.runtime import pick_device

    if pretrained or pick_device().type != "cpu" or os.environ.get(WORKER_ENV) or int(os.environ.get("WORLD_SIZE", "1")) > 1:
        return 1
    return max(1, min(runs, torch.get_num_threads()))
