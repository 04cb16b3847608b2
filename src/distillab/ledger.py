"""The ledger: one `records.RunRecord` per trained model, one JSON line each, in a file per profile
that persists across notebooks, so chapter 05 can draw everything the learner did at that profile.

Several kernels may use one ledger at once (JupyterLab makes that the normal case). Every write
holds the ledger's lock (`filelock`, a file beside it): a record is appended as one whole line in
one write, flushed to disk, after repairing a last line that a cut-short write left without its
newline. Reading never writes: a line that cannot be read is reported and skipped, and `repair()`
(locked too) moves such lines, with their line numbers and reasons, to `ledger.jsonl.damaged` and
says what it moved. Lines end at a newline only, so a record whose text holds U+2028 is one line.
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from filelock import FileLock

from distillab.profiles import Profile
from distillab.records import OtherVersionError, RecordError, RunRecord
from distillab.workspace import ledger_path


@dataclass
class Reading:
    """A ledger as read: its records, and the lines that are not records of this profile."""
    records: list[RunRecord] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # the readable lines, as written
    unreadable: list[dict] = field(default_factory=list)  # {"line": number, "reason": ..., "text": ...}
    other_version: list[int] = field(default_factory=list)  # numbers of lines written by another version


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

    @property
    def lock(self) -> FileLock:
        """The lock every write takes (and `repair` for its whole read-and-rewrite)."""
        return FileLock(str(self.path.with_name(f".{self.path.name}.lock")), timeout=60)  # hidden: it stays

    def record(self, record: RunRecord) -> RunRecord:
        """Append `record` as one whole line, under the ledger's lock."""
        if record.profile != self.profile.name:
            raise ValueError(f"a run at the {record.profile!r} profile cannot go into the "
                             f"{self.profile.name!r} ledger ({self.path})")
        line = (record.to_json() + "\n").encode("utf-8")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.lock, self.path.open("a+b") as file:
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

    def _read(self) -> Reading:
        reading = Reading()
        if not self.path.is_file():
            return reading
        text = self.path.read_text(encoding="utf-8", errors="replace")  # non-text bytes become �, then fail as JSON
        for number, line in enumerate(text.split("\n"), start=1):  # "\n" only: not U+2028, U+2029 or U+0085
            if not line.strip():
                continue
            try:
                record = RunRecord.from_json(line)
                if record.profile != self.profile.name:
                    raise RecordError(f"a {record.profile!r} run in the {self.profile.name!r} ledger")
            except RecordError as error:
                reading.unreadable.append({"line": number, "reason": str(error), "text": line})
                if isinstance(error, OtherVersionError):
                    reading.other_version.append(number)
                continue
            reading.records.append(record)
            reading.kept.append(line)
        return reading

    def entries(self) -> list[RunRecord]:
        """Every record of this profile. A line that is not one (damaged, from an older version of
        distillab, from another profile) is reported with a warning and skipped, never guessed at;
        the file is not touched (`repair` moves such lines aside)."""
        reading = self._read()
        fix = f"Ledger(get_profile({self.profile.name!r})).repair() moves them to {self.damaged_path}"
        for entry in reading.unreadable:
            if entry["line"] not in reading.other_version:
                warnings.warn(f"ledger {self.path} line {entry['line']} is damaged or unreadable ({entry['reason']}): "
                              f"skipped. {fix}", stacklevel=2)
        if reading.other_version:
            lines = reading.other_version
            warnings.warn(f"ledger {self.path}: {len(lines)} line(s) (lines {lines[0]}-{lines[-1]}) were written by "
                          "another version of distillab: their family and teacher cannot be told for sure, so they "
                          f"are skipped. {fix}; re-run the chapters to record them again.", stacklevel=2)
        return reading.records

    def repair(self) -> list[dict]:
        """Move every unreadable line to the .damaged file (appended, with its line number and the
        reason) and keep the readable ones, under the lock, so that no kernel's append in between is
        lost; returns what it moved (and says so). The .damaged file is written first, then the
        ledger replaced in one rename: a crash between the two leaves a line in both, never in neither."""
        with self.lock:
            reading = self._read()
            if reading.unreadable:
                with self.damaged_path.open("a", encoding="utf-8") as file:
                    file.writelines(json.dumps(entry, ensure_ascii=False) + "\n" for entry in reading.unreadable)
                    file.flush()
                    os.fsync(file.fileno())
                staging = self.path.with_name(self.path.name + ".rewrite")
                staging.write_text("".join(line + "\n" for line in reading.kept), encoding="utf-8")
                os.replace(staging, self.path)
        moved = reading.unreadable
        print(f"ledger {self.path}: moved {len(moved)} unreadable line(s) to {self.damaged_path}" if moved else
              f"ledger {self.path}: every line reads; nothing to move")
        return moved

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)

    def __len__(self) -> int:
        return len(self.entries())
