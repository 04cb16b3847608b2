"""Worker processes for the runs of a comparison (`students.compare`, chapters 02-04 and 06): the
standard library's process pool over torch's multiprocessing (spawn), each worker a fresh Python
with its share of the cores. A run trains in a worker exactly as it would in the notebook's own
process (same seed, same code, same data), so its result is the same; the notebook records it.

Ctrl-C (the notebook's ■) reaches the workers too: each run in progress stops after its step and
comes back marked interrupted, and a run that had not begun does not start.
"""

from __future__ import annotations

import atexit
import os
import queue
import signal
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor

import torch
import torch.multiprocessing

WORKER_ENV = "DISTILLAB_WORKER"  # set inside a worker: its share of the cores is already decided
REPORT_EVERY = 10  # a worker reports its run's loss every this many steps

_worker: dict = {}  # inside a worker: its progress queue and the pool's stop event


def _start_worker(cores: int, progress, stop, running) -> None:
    os.environ[WORKER_ENV] = "1"
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # only training takes Ctrl-C, and stops after its step
    _worker.update(cores=cores, progress=progress, stop=stop, running=running)
    _take_my_share()
    progress.put(("pid", os.getpid(), None))


def _take_my_share() -> None:
    """Use the cores divided by the runs in progress now: one each while every worker is busy, more
    for the last runs of a comparison when the others are done (see `students.compare` for what the
    thread count can change)."""
    threads = max(1, _worker["cores"] // max(1, _worker["running"].value))
    if threads != torch.get_num_threads():
        torch.set_num_threads(threads)


def _run_task(task: int, function: Callable, args: tuple):
    """In a worker: `function(*args, on_step=...)`, reporting progress as (task, step, loss); None
    when the pool was told to stop before this task began."""
    if _worker["stop"].is_set():
        return None
    _take_my_share()

    def on_step(step: int, loss: float) -> None:
        if step % REPORT_EVERY == 0:
            _worker["progress"].put((task, step, loss))
            _take_my_share()

    return function(*args, on_step=on_step)


class Workers:
    """`count` worker processes sharing `cores` threads among the runs in progress (`running`)."""

    def __init__(self, count: int, cores: int) -> None:
        context = torch.multiprocessing.get_context("spawn")
        self.count, self.cores = count, cores
        self.progress, self.stop, self.running = context.Queue(), context.Event(), context.Value("i", count)
        self.pids: set[int] = set()
        self.executor = ProcessPoolExecutor(count, mp_context=context, initializer=_start_worker,
                                            initargs=(cores, self.progress, self.stop, self.running))

    def runs_left(self, count: int) -> None:
        """`count` runs are not finished yet: the workers share the cores among that many."""
        self.running.value = max(1, min(self.count, count))

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


def pool(count: int, cores: int) -> Workers:
    """The kernel's pool of `count` workers sharing `cores` threads, started once and kept for the
    next comparison (starting a worker costs seconds: it imports torch)."""
    global _pool
    if _pool is not None and (_pool.count, _pool.cores) != (count, cores):
        _pool.shutdown()
        _pool = None
    if _pool is None:
        _pool = Workers(count, cores)
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
    """How many workers a comparison of `runs` runs uses by default: one per core (each with one
    thread while all are busy), at most one per run. One (the notebook's own process) on a GPU, for a pretrained model
    (a copy per worker would not fit in memory), inside a worker, and in a data-parallel launch."""
    from distillab.runtime import pick_device

    if pretrained or pick_device().type != "cpu" or os.environ.get(WORKER_ENV) or int(os.environ.get("WORLD_SIZE", "1")) > 1:
        return 1
    return max(1, min(runs, torch.get_num_threads()))
