"""The live view of a comparison: a table that fills in run by run, with each seed's paired
difference once every arm of that seed is done, as Markdown in a notebook and as lines elsewhere."""

from distillab.live_table import REUSED_MARK, LiveComparison
from distillab.tables import column_format, markdown_table, text_table


def test_the_table_fills_in_and_pairs_each_seed_once_both_arms_are_done(capsys):
    view = LiveComparison("SFT vs KD", ["SFT", "KD"], (0, 1), total_steps=40, notebook=False)
    assert [row["SFT (%)"] for row in view.rows()] == ["waiting", "waiting"]
    view.started("SFT", 0)
    view.step("SFT", 0, 10, 1.25)
    assert view.rows()[0]["SFT (%)"] == "training …" and view.bar.n == 10
    view.finished("SFT", 0, 0.40)
    assert view.rows()[0]["KD − SFT (points)"] == "" and view.seconds_to_first_pair is None
    view.finished("KD", 0, 0.55, reused=True)
    first = view.rows()[0]
    assert first == {"seed": "0", "SFT (%)": "40.0", "KD (%)": f"55.0 {REUSED_MARK}", "KD − SFT (points)": "+15.0"}
    assert view.seconds_to_first_pair is not None and view.rows()[1]["KD − SFT (points)"] == ""
    assert view.summary().startswith("So far (1 of 2 seeds done): KD ahead of SFT on 1 of 1 seeds (+15.0 points")
    view.finished("KD", 1, 0.30, interrupted=True)
    view.finished("SFT", 1, 0.35)
    assert view.rows()[1]["KD (%)"] == "30.0 (stopped)" and view.rows()[1]["KD − SFT (points)"] == "-5.0"
    assert "on 1 of 2 seeds (+5.0 points on average)" in view.summary()
    view.close()
    printed = capsys.readouterr().out  # outside a notebook: a line per run, and each seed's verdict
    assert "KD, seed 0: 55.0 % (reused from the ledger)" in printed and "seed 1: KD − SFT -5.0 points" in printed


def test_in_a_notebook_it_is_one_output_drawn_again_in_place(monkeypatch):
    shown = []

    class Handle:
        def update(self, view):
            shown.append(view)

    monkeypatch.setattr("IPython.display.display", lambda view, display_id: shown.append(view) or Handle())
    view = LiveComparison("A vs B", ["A", "B"], (0,), total_steps=0, notebook=True)
    view.finished("A", 0, 0.1)
    view.finished("B", 0, 0.2)
    view.close()
    markdown = shown[-1]._repr_markdown_()
    assert markdown.startswith("**A vs B**") and "| seed | A (%) | B (%) | B − A (points) |" in markdown
    assert "| 0 | 10.0 | 20.0 | +10.0 |" in markdown and "seed" in repr(shown[-1])


def test_tables_as_markdown_and_as_aligned_text():
    rows = [{"arm": "SFT", "accuracy": 0.5, "gain": None}, {"arm": "KD", "accuracy": 0.625, "gain": 12.5}]
    assert markdown_table(rows, {"accuracy": ".2f"}).splitlines() == [
        "| arm | accuracy | gain |", "|---|---|---|", "| SFT | 0.50 | – |", "| KD | 0.62 | +12.5 |"]
    assert text_table(rows, {"accuracy": ".2f", "gain": ".2f"}).splitlines() == [
        "arm  accuracy  gain", "SFT  0.50      –", "KD   0.62      12.50"]


def test_a_comparisons_columns_have_one_format_everywhere_unless_told_otherwise():
    row = {"arm": "KD", "mean accuracy (%)": 46.25, "min": 40, "max": 52.5, "gain over SFT (points)": 7.25,
           "gain min": -1.0, "gain max": 3, "seeds ahead": "2/3", "verdict": "not settled", "steps": 570,
           "reused": True}
    assert markdown_table([row]).splitlines()[-1] == (
        "| KD | 46.2 | 40.0 | 52.5 | +7.2 | -1.0 | +3.0 | 2/3 | not settled | 570 | True |")
    assert markdown_table([row], {"min": ".0f"}).splitlines()[-1].startswith("| KD | 46.2 | 40 | 52.5 |")
    assert column_format("gain over the warm start") == "+.1f" and column_format("teacher FLOPs") == ""
