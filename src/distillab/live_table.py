"""What a comparison shows while it runs (chapters 02-04, 06, 07): a table that fills in run by run
(each arm's accuracy per seed and, once every arm of a seed is done, each arm's paired difference
from the baseline), and one progress bar for all of its training steps with the current run's loss.

In a notebook the table is one Markdown output, redrawn in place; anywhere else (a terminal, a
test) each finished run and each seed's verdict is a printed line.
"""

from __future__ import annotations

import time

from tqdm.auto import tqdm

from distillab.tables import markdown_table, text_table

REUSED_MARK = "↺"  # a run read back from the ledger instead of trained


def in_a_notebook() -> bool:
    """True inside a Jupyter kernel, where an output can be redrawn in place."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


class _Table:
    """A table as Markdown for JupyterLab, and as plain text for everything else."""

    def __init__(self, title: str, rows: list[dict], note: str) -> None:
        self.title, self.rows, self.note = title, rows, note

    def _repr_markdown_(self) -> str:
        return f"**{self.title}**\n\n{markdown_table(self.rows)}\n\n{self.note}"

    def __repr__(self) -> str:
        return f"{self.title}\n{text_table(self.rows)}\n{self.note}"


class LiveComparison:
    """The live view of one comparison: `arms` (the first is the baseline) on `seeds`, of which
    `total_steps` optimizer steps are to be trained. Call `started`, `step` and `finished` as runs
    go; `close` at the end. `seconds_to_first_pair` says when the first seed had every arm done."""

    def __init__(self, title: str, arms: list[str], seeds: tuple[int, ...], total_steps: int,
                 notebook: bool | None = None) -> None:
        self.title, self.arms, self.seeds = title, list(arms), tuple(seeds)
        self.accuracy: dict[tuple[str, int], float] = {}  # (arm, seed) -> mean accuracy (%)
        self.status: dict[tuple[str, int], str] = {}  # (arm, seed) -> "training", "stopped", ...
        self.reused: set[tuple[str, int]] = set()
        self.begin = time.perf_counter()
        self.seconds_to_first_pair: float | None = None
        self.notebook = in_a_notebook() if notebook is None else notebook
        self.bar = tqdm(total=total_steps, desc="students", unit="step", disable=total_steps == 0)
        self.handle = None
        if self.notebook:
            from IPython.display import display

            self.handle = display(self.view(), display_id=True)

    def started(self, arm: str, seed: int) -> None:
        self.status[arm, seed] = "training"
        self._redraw()

    def step(self, arm: str, seed: int, steps: int, loss: float) -> None:
        """`steps` more optimizer steps of (arm, seed) are done; its loss is now `loss`."""
        self.bar.update(steps)
        self.bar.set_postfix_str(f"{arm}, seed {seed}: loss {loss:.3f}", refresh=False)

    def finished(self, arm: str, seed: int, mean_accuracy: float, reused: bool = False,
                 interrupted: bool = False) -> None:
        """(arm, seed) is done with `mean_accuracy` (a fraction), trained or `reused` from the ledger."""
        self.accuracy[arm, seed] = 100 * mean_accuracy
        self.status[arm, seed] = "stopped" if interrupted else "done"
        if reused:
            self.reused.add((arm, seed))
        if self.seconds_to_first_pair is None and self._complete(seed):
            self.seconds_to_first_pair = time.perf_counter() - self.begin
        if not self.notebook:
            mark = f" ({'reused from the ledger' if reused else 'stopped' if interrupted else 'trained'})"
            print(f"  {arm}, seed {seed}: {100 * mean_accuracy:.1f} %{mark}", flush=True)
            if self._complete(seed) and len(self.arms) > 1:
                gaps = ", ".join(f"{arm} − {self.arms[0]} {self._gap(arm, seed):+.1f} points" for arm in self.arms[1:])
                print(f"  seed {seed}: {gaps}", flush=True)
        self._redraw()

    def _complete(self, seed: int) -> bool:
        return all((arm, seed) in self.accuracy for arm in self.arms)

    def _gap(self, arm: str, seed: int) -> float:
        return self.accuracy[arm, seed] - self.accuracy[self.arms[0], seed]

    def _cell(self, arm: str, seed: int) -> str:
        if (arm, seed) in self.accuracy:
            mark = f" {REUSED_MARK}" if (arm, seed) in self.reused else " (stopped)" if self.status[arm, seed] == "stopped" else ""
            return f"{self.accuracy[arm, seed]:.1f}{mark}"
        return "training …" if self.status.get((arm, seed)) == "training" else "waiting"

    def rows(self) -> list[dict]:
        """One row per seed: each arm's mean accuracy (%), then each arm minus the baseline (points)."""
        baseline = self.arms[0]
        rows = []
        for seed in self.seeds:
            row = {"seed": str(seed), **{f"{arm} (%)": self._cell(arm, seed) for arm in self.arms}}
            for arm in self.arms[1:]:
                row[f"{arm} − {baseline} (points)"] = f"{self._gap(arm, seed):+.1f}" if self._complete(seed) else ""
            rows.append(row)
        return rows

    def summary(self) -> str:
        """The verdict so far, over the seeds whose runs are all done."""
        done = [seed for seed in self.seeds if self._complete(seed)]
        reused = f" {REUSED_MARK}: read back from your ledger, not trained again." if self.reused else ""
        if len(self.arms) < 2 or not done:
            return f"{len(done)} of {len(self.seeds)} seeds done.{reused}"
        parts = []
        for arm in self.arms[1:]:
            gaps = [self._gap(arm, seed) for seed in done]
            parts.append(f"{arm} ahead of {self.arms[0]} on {sum(g > 0 for g in gaps)} of {len(done)} seeds "
                         f"({sum(gaps) / len(gaps):+.1f} points on average)")
        so_far = f"All {len(done)} seeds done" if len(done) == len(self.seeds) else \
            f"So far ({len(done)} of {len(self.seeds)} seeds done)"
        return f"{so_far}: {'; '.join(parts)}.{reused}"

    def view(self) -> _Table:
        return _Table(self.title, self.rows(), self.summary())

    def _redraw(self) -> None:
        if self.handle is not None:
            self.handle.update(self.view())

    def close(self) -> None:
        self.bar.close()
        self._redraw()
