"""Data parallelism: each process's rows of a batch, and the gradient that processes average, which
must be the gradient one process would take on the whole batch."""

import faulthandler
import os
import sys
import time
import traceback
from datetime import timedelta
from queue import Empty

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.nn.parallel import DistributedDataParallel

from distillab import data_parallel

ROWS, LENGTH, WIDTH = 7, 5, 3


class FixedBatches:
    """Stands in for training.Batches: the same seeded batch every time."""

    def next_batch(self) -> dict:
        generator = torch.Generator().manual_seed(0)
        mask = (torch.rand(ROWS, LENGTH, generator=generator) < 0.6).long()  # rows with unequal token counts
        mask[:, 1] = 1  # every row predicts at least one token
        return {"input_ids": torch.randn(ROWS, LENGTH, WIDTH, generator=generator), "completion_mask": mask,
                "difficulty": torch.tensor(3), "name": "a batch"}

    def state_dict(self) -> dict:
        return {}


def token_mean_loss(model, batch) -> torch.Tensor:
    """A mean over the batch's predicted completion tokens, as every course objective is."""
    per_token = model(batch["input_ids"][:, 1:]).squeeze(-1) ** 2
    mask = batch["completion_mask"][:, 1:].float()
    return (per_token * mask).sum() / mask.sum()


def test_each_process_keeps_a_contiguous_block_and_together_they_keep_every_row_once():
    whole = FixedBatches().next_batch()
    shards = [data_parallel.ShardedBatches(FixedBatches(), rank, 3).next_batch() for rank in range(3)]
    assert [len(s["input_ids"]) for s in shards] == [3, 2, 2]
    assert torch.equal(torch.cat([s["input_ids"] for s in shards]), whole["input_ids"])
    assert all(s["difficulty"] == whole["difficulty"] and s["name"] == "a batch" for s in shards)  # not rows: kept
    with pytest.raises(ValueError, match="a batch of 7 rows cannot be shared by 8 processes"):
        data_parallel.ShardedBatches(FixedBatches(), 0, 8).next_batch()


def test_without_a_process_group_a_sum_over_processes_is_the_value_itself():
    assert not dist.is_initialized()
    assert data_parallel.sum_over_processes(12.5) == 12.5


def _one_process(rank: int, world_size: int, store: str, queue) -> None:
    """One of the processes: its loss and gradient, or what went wrong, put on `queue` as plain data."""
    faulthandler.dump_traceback_later(120, exit=True)  # a process that hangs prints where, then ends
    try:
        # Gloo talks over the loopback interface, not whatever the machine's hostname resolves to.
        os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo0" if sys.platform == "darwin" else "lo")
        dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world_size,
                                timeout=timedelta(seconds=60))
        torch.manual_seed(0)
        model = torch.nn.Linear(WIDTH, 1, bias=False)
        wrapped = DistributedDataParallel(model)
        both = data_parallel.DataParallel(wrapped, rank, world_size)
        batch = both.batches(FixedBatches()).next_batch()
        loss = both.objective(token_mean_loss)(model, batch)
        loss.backward()
        queue.put((rank, loss.item(), model.weight.grad.tolist()))  # plain numbers: the process ends before they are read
        dist.destroy_process_group()
    except Exception:
        queue.put((rank, None, traceback.format_exc()))
    faulthandler.cancel_dump_traceback_later()


def results_of(processes, queue, timeout: float = 180) -> list:
    """What each process put on `queue`. A process that ends without a result (a crash) or hangs
    fails the test with every process's exit code, not with a bare queue.Empty, and is stopped."""
    results, deadline = [], time.monotonic() + timeout
    while len(results) < len(processes):
        try:
            results.append(queue.get(timeout=1))
        except Empty:
            codes = [process.exitcode for process in processes]
            if time.monotonic() > deadline or None not in codes:
                for process in processes:
                    process.kill()
                pytest.fail(f"{len(results)} of {len(processes)} processes gave a result within {timeout:.0f} s; "
                            f"exit codes {codes} (None: still running; negative: ended by that signal); "
                            f"results: {results}")
    return results


def test_two_processes_average_to_the_whole_batchs_gradient_and_loss(tmp_path):
    torch.manual_seed(0)
    model = torch.nn.Linear(WIDTH, 1, bias=False)
    whole = token_mean_loss(model, FixedBatches().next_batch())
    whole.backward()
    context = mp.get_context("spawn")
    queue = context.Queue()
    processes = [context.Process(target=_one_process, args=(rank, 2, str(tmp_path / "store"), queue)) for rank in range(2)]
    for process in processes:
        process.start()
    results = results_of(processes, queue)
    for process in processes:
        process.join(timeout=60)
    assert all(loss is not None for _, loss, _ in results), [error for _, loss, error in results if loss is None]
    assert [process.exitcode for process in processes] == [0, 0]
    for rank, loss, grad in results:  # the rows split 4 and 3, with unequal tokens: weighting makes it exact
        assert loss == pytest.approx(whole.item(), rel=1e-6), rank
        assert torch.allclose(torch.tensor(grad), model.weight.grad, atol=1e-6), (rank, grad, model.weight.grad)
