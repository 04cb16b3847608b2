"""The ledger: one line per run (what, how big, how long, how many FLOPs, what accuracy), kept in
a JSON-lines file that persists across notebooks so chapter 05 can draw everything the learner did.
"""

from __future__ import annotations

import json
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

from distillab.workspace import ledger_path
from distillab.world import mean_accuracy


@dataclass
class LedgerEntry:
    kind: str  # what the run was: "teacher", "sft-traces", "kd", ...
    model_size: str  # a name from models.SIZES
    parameters: int
    data_size: int  # training examples the run could draw from
    steps: int  # optimizer steps
    flops: float  # training FLOPs, counted
    seconds: float  # training wall time
    accuracy: dict[int, float]  # difficulty -> fraction correct on held-out problems
    seed: int = 0
    profile: str = ""
    extra: dict = field(default_factory=dict)  # e.g. the teacher FLOPs a distilled run depended on
    timestamp: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        self.accuracy = {int(k): float(v) for k, v in self.accuracy.items()}

    @property
    def mean_accuracy(self) -> float:
        return mean_accuracy(self.accuracy)


class Ledger:
    """Append-only run log in a JSON-lines file (default: the current profile's workspace)."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else ledger_path()

    def record(self, entry: LedgerEntry) -> LedgerEntry:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as file:
            file.write(json.dumps(asdict(entry)) + "\n")
        return entry

    def entries(self) -> list[LedgerEntry]:
        """Every readable entry. A damaged line is reported with a warning and skipped."""
        if not self.path.is_file():
            return []
        entries = []
        text = self.path.read_text(errors="replace")  # bytes that are not text (a damaged file) become �, then fail as JSON
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                entries.append(LedgerEntry(**json.loads(line)))
            except (json.JSONDecodeError, TypeError, ValueError, AttributeError) as error:
                warnings.warn(f"ledger {self.path} line {number} is damaged and was skipped ({error})",
                              stacklevel=2)
        return entries

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)

    def __len__(self) -> int:
        return len(self.entries())
