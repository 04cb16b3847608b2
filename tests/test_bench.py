"""The benchmark's pure parts: chapter 02's headline read back from a ledger."""

from distillab.bench import kd_vs_sft_points
from distillab.ledger import Ledger, LedgerEntry


def entry(kind, seed, accuracy, teacher="half-budget"):
    return LedgerEntry(kind=kind, model_size="small", parameters=1, data_size=500, steps=570, flops=1.0,
                       seconds=1.0, accuracy={1: accuracy, 2: accuracy}, seed=seed, extra={"teacher": teacher})


def test_kd_vs_sft_points_pairs_the_ledger_by_seed(tmp_path):
    ledger = Ledger(tmp_path / "ledger.jsonl")
    for e in [entry("SFT", 0, 0.40), entry("KD", 0, 0.50), entry("SFT", 1, 0.45), entry("KD", 1, 0.50),
              entry("KD", 2, 0.90), entry("KD", 0, 0.99, teacher="fully trained")]:
        ledger.record(e)
    points = kd_vs_sft_points(ledger)
    assert points["seeds"] == 2
    assert abs(points["mean"] - 7.5) < 1e-9 and abs(points["min"] - 5.0) < 1e-9 and abs(points["max"] - 10.0) < 1e-9
