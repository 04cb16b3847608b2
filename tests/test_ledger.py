import pytest

from distillab.ledger import Ledger, LedgerEntry
from distillab.workspace import ledger_path


def _entry(**changes):
    return LedgerEntry(**{"kind": "teacher", "model_size": "large", "parameters": 1_800_000,
                          "data_size": 100, "steps": 10, "flops": 1e12, "seconds": 3.0,
                          "accuracy": {1: 1.0, 2: 0.5}, **changes})


def test_record_and_read_back():
    ledger = Ledger()
    assert ledger.path == ledger_path() and ledger.entries() == []
    ledger.record(_entry())
    ledger.record(_entry(kind="sft", seed=3))
    entries = Ledger().entries()  # a new Ledger object (another notebook) sees the same runs
    assert [e.kind for e in entries] == ["teacher", "sft"]
    assert entries[0].accuracy == {1: 1.0, 2: 0.5} and entries[0].mean_accuracy == 0.75


def test_a_damaged_line_is_reported_and_skipped(tmp_path):
    ledger = Ledger(tmp_path / "ledger.jsonl")
    ledger.record(_entry())
    with ledger.path.open("a") as file:
        file.write('{"kind": "half a line\n')
        file.write('{"unexpected": 1}\n')
    ledger.record(_entry(kind="kd"))
    with pytest.warns(UserWarning) as caught:
        entries = ledger.entries()
    assert [str(w.message).split(" is damaged")[0][-6:] for w in caught] == ["line 2", "line 3"]
    assert [e.kind for e in entries] == ["teacher", "kd"]


def test_clear():
    ledger = Ledger()
    ledger.record(_entry())
    ledger.clear()
    assert len(ledger) == 0
