"""A claim is a paired effect over seeds with a one-sided 95 % lower bound; `check` reports a claim
that does not hold in a learner's notebook and raises under the tests."""

import math

import nbformat
import pytest
from nbclient import NotebookClient

from distillab import claims
from distillab.claims import Claim, ClaimNotHeld
from distillab.comparison import PairedGain


def test_the_t_table_matches_the_distributions_worked_by_hand():
    # one degree of freedom is the Cauchy distribution: F(t) = 1/2 + atan(t)/pi
    assert claims.T_ONE_SIDED_95[1] == pytest.approx(math.tan(0.45 * math.pi), abs=1e-3)
    # two: F(t) = 1/2 + t / (2 sqrt(2 + t^2)), so F(t) = 0.95 at t = sqrt(2 * 0.9^2 / (1 - 0.9^2))
    assert claims.T_ONE_SIDED_95[2] == pytest.approx(math.sqrt(2 * 0.81 / 0.19), abs=1e-3)
    values = [claims.T_ONE_SIDED_95[df] for df in sorted(claims.T_ONE_SIDED_95)]
    assert values == sorted(values, reverse=True) and values[-1] > 1.645  # falls towards the normal's 1.645


def test_the_lower_bound_of_a_hand_worked_example():
    # +9.7, +4.3, +21.0: mean 11.667, deviations -1.967, -7.367, +9.333, sd sqrt(145.247 / 2) = 8.522,
    # bound 11.667 - 2.920 * 8.522 / sqrt(3) = -2.70: ahead on every seed, and still not shown at 95 %
    claim = Claim("KD beats SFT", (0, 1, 2), (9.7, 4.3, 21.0))
    assert claim.mean == pytest.approx(11.667, abs=1e-3)
    assert claim.lower_bound == pytest.approx(-2.70, abs=0.01)
    assert claim.seeds_ahead == 3 and not claim.holds
    assert Claim("every seed", (0, 1, 2), (9.7, 4.3, 21.0), rule="every seed").holds
    assert not Claim("every seed, mean 12", (0, 1, 2), (9.7, 4.3, 21.0), rule="every seed", mean_margin=12).holds
    assert Claim("a large effect", (0, 1, 2), (80.0, 96.0, 89.6), margin=30).holds
    assert Claim("one seed", (0,), (5.0,)).lower_bound == -math.inf
    summary = claim.summary()
    assert summary["seeds"] == [9.7, 4.3, 21.0] and summary["seeds_ahead"] == 3 and summary["holds"] is False
    with pytest.raises(ValueError, match="one of"):
        Claim("x", (0,), (1.0,), rule="most seeds")
    with pytest.raises(ValueError, match="one effect per seed"):
        Claim("x", (0, 1), (1.0,))


def test_the_seeds_a_claim_needs_match_the_textbook_power_tables():
    # one-sided paired t at 95 %, 80 % power: an effect of half its spread needs 27 seeds (G*Power's
    # figure); an effect equal to its spread needs 8 exactly, and the approximation asks for 9
    assert claims.seeds_needed(0.5, 1.0) == 27
    assert claims.seeds_needed(1.0, 1.0) == 9
    assert claims.power(1.0, 1.0, 8) == pytest.approx(0.797, abs=1e-3)
    # more effect, less spread or a lower margin never asks for more seeds
    assert claims.seeds_needed(2.0, 1.0) < claims.seeds_needed(1.0, 1.0) < claims.seeds_needed(1.0, 2.0)
    assert claims.seeds_needed(1.0, 1.0, margin=-0.5) < claims.seeds_needed(1.0, 1.0)
    assert claims.seeds_needed(1.0, 1.0, margin=0.5) > claims.seeds_needed(1.0, 1.0)
    assert claims.seeds_needed(0.1, 1.0) is None  # 30 seeds are not enough
    assert claims.seeds_needed(1.0, 0.0) == 2 and claims.power(-1.0, 0.0, 5) == 0.0
    assert claims.power(1.0, 1.0, 1) == 0.0  # one seed has no interval


def test_a_paired_gain_becomes_a_claim():
    claim = Claim.of_gain("traces beat answers", PairedGain((0, 1, 2), (79.7, 89.9, 96.0)), margin=30)
    assert claim.seeds == (0, 1, 2) and claim.holds and "3 of 3" in claim.describe()


def test_a_claim_that_does_not_hold_is_reported_and_the_run_goes_on(monkeypatch, capsys):
    monkeypatch.delenv(claims.STRICT_ENV, raising=False)
    stored = Claim("KD beats SFT", (0, 1, 2), (9.7, 4.3, 21.0), rule="every seed")
    assert claims.check(Claim("KD beats SFT", (0, 1, 2), (21.6, 4.8, -0.1), rule="every seed"), stored) is False
    out = capsys.readouterr().out
    assert "does not show the claim" in out and "-0.1" in out and "The course measured" in out and "+9.7" in out
    assert "another CPU" in out and "goes on" in out
    assert claims.check(stored) is True and "Claim holds" in capsys.readouterr().out


def test_under_the_tests_a_claim_that_does_not_hold_fails_loudly(monkeypatch):
    monkeypatch.setenv(claims.STRICT_ENV, "1")
    with pytest.raises(ClaimNotHeld, match=r"needs every seed is at least \+0.0 points"):
        claims.check(Claim("KD beats SFT", (0, 1, 2), (21.6, 4.8, -0.1), rule="every seed"))


def test_a_claim_is_checked_where_the_chapter_asserts_it_and_only_reported_elsewhere(monkeypatch, capsys):
    monkeypatch.setenv(claims.STRICT_ENV, "1")
    failing = Claim("KD beats SFT", (0, 1, 2), (21.6, 4.8, -0.1), rule="every seed")
    claims.check_where_asserted([failing], asserted=False, where="with the default knobs")
    out = capsys.readouterr().out
    assert "the claim needs every seed" in out and out.endswith("asserted with the default knobs; this run only reports them.\n")
    with pytest.raises(ClaimNotHeld):
        claims.check_where_asserted([failing], asserted=True)
    with pytest.raises(ValueError, match="a stored claim goes beside one claim, and there are 2"):
        claims.check_where_asserted([failing, failing], asserted=True, stored=failing)


def test_a_notebook_reports_and_goes_on_where_the_tests_stop(monkeypatch):
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("from distillab.claims import Claim, check\n"
                                  "held = check(Claim('KD beats SFT', (0, 1, 2), (21.6, 4.8, -0.1), rule='every seed'))"),
        nbformat.v4.new_code_cell("print('the chapter goes on', held)"),
    ])
    monkeypatch.delenv(claims.STRICT_ENV, raising=False)
    NotebookClient(notebook, timeout=120, kernel_name="python3").execute()
    outputs = [output.get("text", "") for cell in notebook.cells for output in cell.outputs]
    assert "does not show the claim" in outputs[0] and outputs[1] == "the chapter goes on False\n"


def test_a_questions_row_gives_the_bound_on_the_means_side_and_the_seeds_that_would_settle_it():
    gain = PairedGain((0, 1, 2), (9.7, 4.3, 21.0)).row("temperature", "SFT", "T=1")
    assert gain["gain at 95 %"] == "≥ -2.7" and gain["seeds to settle"] == 6
    # a loss: its upper bound, mean + t * sd / sqrt(n) = -11.667 + 14.37 = +2.7
    loss = PairedGain((0, 1, 2), (-9.7, -4.3, -21.0)).row("loss", "SFT", "reverse KL")
    assert loss["gain at 95 %"] == "≤ +2.7" and loss["seeds to settle"] == 6
    assert claims.upper_bound_95((-9.7, -4.3, -21.0)) == pytest.approx(2.70, abs=0.01)
    assert PairedGain((0, 1, 2), (-3.0, 5.0, -1.0)).seeds_to_settle() == "over 30"
    same = PairedGain((0, 1), (0.0, 0.0)).row("top-k", "SFT", "k=1")
    assert same["gain at 95 %"] is None and same["seeds to settle"] is None
    assert PairedGain((0,), (5.0,)).seeds_to_settle() is None  # one seed: no spread to measure


def test_the_largest_margin_is_the_largest_step_the_seeds_clear_often_enough():
    effects = (72.2, 61.9, 59.1, 40.0, 60.1, 73.1)  # mean 61.1, spread 12.0
    assert claims.power(61.07, 11.98, 3, 20) >= 0.9 > claims.power(61.07, 11.98, 3, 30)
    assert claims.largest_margin(effects, 3) == 20.0
    assert claims.largest_margin(effects, 3, wanted=0.8) == 30.0  # a weaker demand allows more
    assert claims.largest_margin(effects, 3, step=5) == 25.0
    assert claims.largest_margin((10.0, -8.0, 3.0), 3) is None  # not even 0
