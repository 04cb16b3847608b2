"""The ledger: one `records.RunRecord` per trained model, one JSON line each, in a file per profile
that persists across notebooks, so chapter 05 can draw everything the learner did at that profile.

It never loses a run: a record is appended as one whole line in one write, flushed to disk, after
repairing a last line that a cut-short write left without its newline; a line that cannot be read
is moved, with its line number and the reason, to `ledger.jsonl.damaged` beside it.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

from distillab.profiles import Profile
from distillab.records import OtherVersionError, RecordError, RunRecord
from distillab.workspace import ledger_path


class Ledger:
    """Append-only run log of one profile: `Ledger(profile)` is that profile's file in the
    workspace; `path=` puts it elsewhere (tests, a throw-away ledger)."""

    def __init__(self, profile: Profile, path: str | Path | None = None) -> None:
        if not isinstance(profile, Profile):
            raise TypeError(f"a ledger belongs to one profile: pass the Profile the chapter chose "
                            f"(profiles.get_profile(...)), got {profile!r}")
        self.profile = profile
        self.path = Path(path) if path is not None else ledger_path(profile)

    @property
    def damaged_path(self) -> Path:
        return self.path.with_name(self.path.name + ".damaged")

    def record(self, record: RunRecord) -> RunRecord:
        """Append `record` as one whole line."""
        if record.profile != self.profile.name:
            raise ValueError(f"a run at the {record.profile!r} profile cannot go into the "
                             f"{self.profile.name!r} ledger ({self.path})")
        line = (record.to_json() + "\n").encode("utf-8")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a+b") as file:
                if file.tell() > 0:  # a last line cut short (no newline) must not swallow this one
                    file.seek(-1, os.SEEK_END)
                    if file.read(1) != b"\n":
                        line = b"\n" + line
                file.write(line)
                file.flush()
                os.fsync(file.fileno())
        except OSError as error:
            raise type(error)(error.errno, f"could not write to the ledger {self.path} ({error.strerror or error}): "
                                           "set DISTILLAB_HOME to a folder you can write to, with free space. The "
                                           "run itself is still in memory") from None
        return record

    def entries(self) -> list[RunRecord]:
        """Every record of this profile. A line that is not one (damaged, from an older version of
        distillab, from another profile) is reported with a warning and skipped, never guessed at."""
        if not self.path.is_file():
            return []
        records, kept, aside, other_version = [], [], [], []
        text = self.path.read_text(encoding="utf-8", errors="replace")  # non-text bytes become �, then fail as JSON
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = RunRecord.from_json(line)
                if record.profile != self.profile.name:
                    raise RecordError(f"a {record.profile!r} run in the {self.profile.name!r} ledger")
            except RecordError as error:
                aside.append({"line": number, "reason": str(error), "text": line})
                if isinstance(error, OtherVersionError):
                    other_version.append(number)
                else:
                    warnings.warn(f"ledger {self.path} line {number} is damaged or unreadable ({error}): moved to "
                                  f"{self.damaged_path}", stacklevel=2)
                continue
            records.append(record)
            kept.append(line)
        if other_version:
            warnings.warn(f"ledger {self.path}: {len(other_version)} line(s) (lines {other_version[0]}-{other_version[-1]}) "
                          "were written by another version of distillab: their family and teacher cannot be told for "
                          f"sure, so they were moved to {self.damaged_path}. Re-run the chapters to record them again.",
                          stacklevel=2)
        if aside:
            try:
                self._set_aside(aside, kept)
            except OSError as error:
                warnings.warn(f"could not move the unreadable lines of {self.path} aside ({error}); they stay", stacklevel=2)
        return records

    def _set_aside(self, aside: list[dict], kept: list[str]) -> None:
        """Move unreadable lines to the .damaged file (appended, with line numbers and reasons), then
        replace the ledger by its readable lines in one rename: a crash between the two leaves a
        line in both files, never in neither."""
        with self.damaged_path.open("a", encoding="utf-8") as file:
            file.writelines(json.dumps(entry, ensure_ascii=False) + "\n" for entry in aside)
            file.flush()
            os.fsync(file.fileno())
        staging = self.path.with_name(self.path.name + ".rewrite")
        staging.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
        os.replace(staging, self.path)

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)

    def __len__(self) -> int:
        return len(self.entries())
