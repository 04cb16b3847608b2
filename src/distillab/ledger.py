"""The ledger: one `records.RunRecord` per trained model, one JSON line each, in a file per profile
that persists across notebooks, so chapter 05 can draw everything the learner did at that profile.
"""

from __future__ import annotations

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

    def record(self, record: RunRecord) -> RunRecord:
        if record.profile != self.profile.name:
            raise ValueError(f"a run at the {record.profile!r} profile cannot go into the "
                             f"{self.profile.name!r} ledger ({self.path})")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as file:
            file.write(record.to_json() + "\n")
        return record

    def entries(self) -> list[RunRecord]:
        """Every record of this profile. A line that is not one (damaged, from an older version of
        distillab, from another profile) is reported with a warning and skipped, never guessed at."""
        if not self.path.is_file():
            return []
        records, other_version = [], []
        text = self.path.read_text(encoding="utf-8", errors="replace")  # non-text bytes become �, then fail as JSON
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = RunRecord.from_json(line)
            except OtherVersionError:
                other_version.append(number)
                continue
            except RecordError as error:
                warnings.warn(f"ledger {self.path} line {number} is damaged or unreadable and was skipped: {error}. "
                              "Move the file aside (or delete it) and re-run the chapters to record those runs again.",
                              stacklevel=2)
                continue
            if record.profile != self.profile.name:
                warnings.warn(f"ledger {self.path} line {number} is a {record.profile!r} run in the "
                              f"{self.profile.name!r} ledger and was skipped", stacklevel=2)
                continue
            records.append(record)
        if other_version:
            warnings.warn(f"ledger {self.path}: {len(other_version)} line(s) (lines {other_version[0]}-{other_version[-1]}) "
                          "were written by another version of distillab and are not read: their family and teacher "
                          "cannot be told for sure. Move the file aside (or delete it) and re-run the chapters.",
                          stacklevel=2)
        return records

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)

    def __len__(self) -> int:
        return len(self.entries())
