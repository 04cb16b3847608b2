"""The ledger: one profile's typed records, one whole line each; a line it cannot read is
reported (damaged, another version of distillab, another profile), never guessed at."""

import json
import warnings
from dataclasses import replace

import pytest
from helpers import record

from distillab import records
from distillab.ledger import Ledger
from distillab.profiles import get_profile
from distillab.workspace import ledger_path

FAST, STANDARD = get_profile("fast"), get_profile("standard")


def test_record_and_read_back_in_the_profiles_own_file():
    ledger = Ledger(FAST)
    assert ledger.path == ledger_path(FAST) and ledger.entries() == []
    ledger.record(record(records.TEACHER, records.TEACHER_ARM, 1.0, chapter="01"))
    ledger.record(record(records.TRACES, "teacher traces, filtered", 0.9, seed=3))
    entries = Ledger(FAST).entries()  # a new Ledger object (another notebook) sees the same runs
    assert [(e.arm, e.seed) for e in entries] == [("teacher", 0), ("teacher traces, filtered", 3)]
    assert entries[1].teacher is not None and entries[0].teacher is None
    assert Ledger(STANDARD).entries() == [] and not ledger_path(STANDARD).exists()


def test_a_run_of_another_profile_is_refused():
    with pytest.raises(ValueError, match="a run at the 'fast' profile cannot go into the 'standard' ledger"):
        Ledger(STANDARD).record(record(records.ANSWERS_ONLY, "answers only", 0.1))
    with pytest.raises(TypeError, match="pass the Profile"):
        Ledger("fast")


def test_damaged_foreign_and_old_lines_are_reported_and_skipped(tmp_path):
    ledger = Ledger(FAST, tmp_path / "ledger.jsonl")
    ledger.record(record(records.TEACHER, "teacher", 1.0))
    line = json.loads(record(records.ANSWERS_ONLY, "answers only", 0.2).to_json())
    old = {"kind": "KD", "model_size": "small", "parameters": 1, "data_size": 1, "steps": 1, "flops": 1.0,
           "seconds": 1.0, "accuracy": {"1": 0.5}, "extra": {}}
    with ledger.path.open("a") as file:
        file.write('{"chapter": "half a line\n')
        file.write(json.dumps({**line, "family": "mystery"}) + "\n")
        file.write(json.dumps({**line, "profile": "standard"}) + "\n")
        file.write(json.dumps(old) + "\n" + json.dumps(old) + "\n")
    ledger.record(record(records.LOGITS, "KD", 0.5))
    with pytest.warns(UserWarning) as caught:
        entries = ledger.entries()
    messages = [str(w.message) for w in caught]
    assert "line 2 is damaged" in messages[0] and "line 3 is damaged" in messages[1] and "mystery" in messages[1]
    assert "line 4 is damaged" in messages[2] and "a 'standard' run in the 'fast' ledger" in messages[2]
    assert "2 line(s) (lines 5-6) were written by another version of distillab" in messages[3]
    assert [e.arm for e in entries] == ["teacher", "KD"]
    assert "repair() moves them to" in messages[0]
    before = ledger.path.read_bytes()
    with pytest.warns(UserWarning):
        ledger.entries()
    assert ledger.path.read_bytes() == before and not ledger.damaged_path.exists()  # reading never writes
    moved = ledger.repair()
    assert [entry["line"] for entry in moved] == [2, 3, 4, 5, 6]
    aside = [json.loads(line) for line in ledger.damaged_path.read_text().splitlines()]
    assert [entry["line"] for entry in aside] == [2, 3, 4, 5, 6] and aside[0]["text"] == '{"chapter": "half a line'
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the unreadable lines were moved: the ledger now reads clean
        assert [e.arm for e in ledger.entries()] == ["teacher", "KD"]


def test_a_write_cut_short_loses_no_complete_run(tmp_path):
    """A record cut off half-way (a crash, a full disk, a hand edit without the last newline) must not
    swallow the next one: every complete run survives, the fragment is kept aside."""
    ledger = Ledger(FAST, tmp_path / "ledger.jsonl")
    first, second, third = (record(records.ANSWERS_ONLY, "answers only", 0.1 * i, seed=i) for i in (1, 2, 3))
    ledger.record(first)
    line = second.to_json()
    with ledger.path.open("a") as file:
        file.write(line[: len(line) // 2])  # the write of `second` is cut short: no newline
    ledger.record(third)
    with pytest.warns(UserWarning, match="line 2 is damaged"):
        assert ledger.entries() == [first, third]
    ledger.repair()
    assert json.loads(ledger.damaged_path.read_text())["text"] == line[: len(line) // 2]
    ledger.path.write_text(ledger.path.read_text().rstrip("\n"))  # a hand edit that drops the final newline
    ledger.record(second)
    assert ledger.entries() == [first, third, second]


def test_clear():
    ledger = Ledger(FAST)
    ledger.record(record(records.TEACHER, "teacher", 1.0))
    ledger.clear()
    assert len(ledger) == 0


def test_a_record_holding_a_line_separator_character_is_one_line(tmp_path):
    """str.splitlines() also splits on U+2028, U+2029 and U+0085; a record's text may hold them."""
    ledger = Ledger(FAST, tmp_path / "ledger.jsonl")
    odd = replace(record(records.TRACES, "traces\u2028second line\u2029\u0085", 0.3), settings={"note": "a\u2028b"})
    ledger.record(odd)
    ledger.record(record(records.TEACHER, "teacher", 1.0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert [e.arm for e in ledger.entries()] == [odd.arm, "teacher"]
    assert ledger.repair() == [] and not ledger.damaged_path.exists()


def _append_many(path: str, worker: int, count: int) -> None:
    ledger = Ledger(FAST, path)
    for i in range(count):
        ledger.record(record(records.ANSWERS_ONLY, f"worker {worker} run {i}", 0.1, seed=i))


def test_several_kernels_appending_while_another_reads_and_repairs_lose_no_line(tmp_path):
    import multiprocessing

    ledger = Ledger(FAST, tmp_path / "ledger.jsonl")
    with ledger.path.open("w") as file:
        file.write('{"a damaged line"\n')  # gives repair() something to rewrite while the others append
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_append_many, args=(str(ledger.path), w, 40)) for w in range(3)]
    for worker in workers:
        worker.start()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        while any(worker.is_alive() for worker in workers):
            ledger.entries()
            ledger.repair()
    for worker in workers:
        worker.join()
        assert worker.exitcode == 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        arms = [e.arm for e in ledger.entries()]
    assert sorted(arms) == sorted(f"worker {w} run {i}" for w in range(3) for i in range(40))


def test_a_line_with_an_arm_name_an_earlier_version_wrote_reads_under_its_one_name(tmp_path):
    ledger = Ledger(FAST, tmp_path / "ledger.jsonl")
    line = json.loads(record(records.ANSWERS_ONLY, "answers only", 0.2).to_json())
    ledger.path.write_text(json.dumps({**line, "arm": "answer-only"}) + "\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # read as it is, nothing reported
        (entry,) = ledger.entries()
    assert entry.arm == "answers only" == records.RENAMED_ARMS["answer-only"]
    assert json.loads(ledger.path.read_text())["arm"] == "answer-only"  # the file is not rewritten
