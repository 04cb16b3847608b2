"""The benchmark's pure parts: a chapter's headline read back from a ledger."""

import pytest

from distillab.bench import paired_points
from distillab.ledger import Ledger, LedgerEntry


def entry(kind, seed, accuracy, teacher="half-budget"):
    return LedgerEntry(kind=kind, model_size="small", parameters=1, data_size=500, steps=570, flops=1.0,
                       seconds=1.0, accuracy={1: accuracy, 2: accuracy}, seed=seed, extra={"teacher": teacher})


def test_paired_points_pairs_the_ledger_by_seed_among_matching_entries(tmp_path):
    ledger = Ledger(tmp_path / "ledger.jsonl")
    for e in [entry("SFT", 0, 0.40), entry("KD", 0, 0.50), entry("SFT", 1, 0.45), entry("KD", 1, 0.50),
              entry("KD", 2, 0.90), entry("KD", 0, 0.99, teacher="fully trained")]:
        ledger.record(e)
    points = paired_points(ledger, "SFT", "KD", teacher="half-budget")
    assert points["seeds"] == 2
    assert points["mean"] == pytest.approx(7.5) and points["min"] == pytest.approx(5.0)
    assert points["max"] == pytest.approx(10.0)
    with pytest.raises(ValueError, match="no 'SFT' and 'KD' runs on a common seed"):
        paired_points(ledger, "SFT", "KD", teacher="nobody")
