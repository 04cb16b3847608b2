"""Chapter 07's stored fine-tuning sweep: its grid and names, the three rounds' choices worked out
on made-up runs (who goes on to every seed, how many steps make equal seconds), the stored file read
back typed, and its tables by hand."""

from types import SimpleNamespace

import pytest

from distillab import realmodel_fine_tuning as ft
from distillab import stored_sweeps, world
from distillab.comparison import Comparison, StudentRun
from distillab.profiles import get_profile


def test_the_grid_names_each_setting_once_and_keeps_loras_scale():
    names = [setting.name for setting in ft.GRID]
    assert len(names) == len(set(names)) == len(ft.LORA_RANKS) * len(ft.LORA_LEARNING_RATES) + len(ft.FULL_LEARNING_RATES)
    assert ft.Setting(16, 1e-3).name == "LoRA rank 16, lr 1e-3" and ft.Setting(None, 3e-5).name == "every weight, lr 3e-5"
    assert ft.Setting(8, 3e-3, 57).name == "LoRA rank 8, lr 3e-3, 57 steps"
    assert all(s.lora.alpha == 2 * s.rank for s in ft.GRID if s.kind == "lora")  # alpha / rank = 2 at every rank
    assert ft.Setting(None, 1e-4).lora is None


# Made-up accuracies by setting and seed: the sweep's choices follow from them by hand.
ACCURACY = {"LoRA rank 8, lr 3e-4": 0.10, "LoRA rank 8, lr 1e-3": 0.20, "LoRA rank 8, lr 3e-3": 0.30,
            "LoRA rank 16, lr 3e-4": 0.12, "LoRA rank 16, lr 1e-3": 0.22, "LoRA rank 16, lr 3e-3": 0.30,
            "LoRA rank 64, lr 3e-4": 0.15, "LoRA rank 64, lr 1e-3": 0.25, "LoRA rank 64, lr 3e-3": 0.05,
            "every weight, lr 3e-5": 0.20, "every weight, lr 1e-4": 0.40, "every weight, lr 3e-4": 0.35}
LATER_SEEDS = {"LoRA rank 16, lr 3e-3": 0.28, "LoRA rank 8, lr 3e-3": 0.26}  # seeds 1 and 2 reorder the finalists


def _fake_sweep(monkeypatch):
    """measure_sweep with the model, teacher and training replaced by made-up runs: a full step takes
    1.5 s, a LoRA step 1 s."""
    calls = []
    setup = SimpleNamespace(training=SimpleNamespace(num_steps=40, batch_size=8),
                            budget=SimpleNamespace(eval_per_difficulty=40))
    monkeypatch.setattr(ft, "prepare", lambda *args: setup)
    monkeypatch.setattr(ft, "teacher_traces", lambda setup: None)
    monkeypatch.setattr(ft, "traces_arm", lambda setup, samples, lora, rate, steps: SimpleNamespace(
        steps=steps or 40, per_step=1.0 if lora else 1.5))

    def accuracy(name, seed):
        setting = name.rsplit(", ", 1)[0] if name.endswith(" steps") else name
        return ACCURACY[setting] if seed == 0 else LATER_SEEDS.get(setting, ACCURACY[setting])

    def compare(setup, arms, seeds, ledger, keep_models):
        calls.append((list(arms), tuple(seeds)))
        return Comparison({name: [StudentRun(name, seed, {d: accuracy(name, seed) for d in world.DIFFICULTIES}, 1e12,
                                             arm.steps * arm.per_step, arm.steps, 100) for seed in seeds]
                           for name, arm in arms.items()})
    monkeypatch.setattr(ft, "compare", compare)
    return calls


def test_the_three_rounds_by_hand(monkeypatch):
    calls = _fake_sweep(monkeypatch)
    monkeypatch.setattr(ft, "arm_facts", lambda comparison: {name: {"trainable parameters": 1, "teacher data FLOPs": 0.0}
                                                             for name in comparison})
    results = ft.measure_sweep(get_profile("standard"))
    first, every, equal = calls
    assert first == ([s.name for s in ft.GRID], (0,))
    # the two best of each kind on seed 0, in grid order; ties (0.30, 0.30) go to the earlier setting
    assert every == (["LoRA rank 8, lr 3e-3", "LoRA rank 16, lr 3e-3", "every weight, lr 1e-4", "every weight, lr 3e-4"],
                     ft.SEEDS)
    # over every seed rank 16 leads (0.30, 0.28, 0.28 against 0.30, 0.26, 0.26); a full step takes 1.5x a LoRA one
    assert results["best"] == {"lora": "LoRA rank 16, lr 3e-3", "full": "every weight, lr 1e-4",
                               "longer_lora": "LoRA rank 16, lr 3e-3, 60 steps"}
    assert equal == (["every weight, lr 1e-4", "LoRA rank 16, lr 3e-3, 60 steps"], ft.SEEDS)
    assert results["student_runs"] == 12 + 4 * 2 + 3  # seed 0's finalists and the full setting's runs are read back


def test_the_stored_file_reads_back_typed_with_its_tables(monkeypatch, tmp_path):
    _fake_sweep(monkeypatch)
    monkeypatch.setattr(ft, "arm_facts", lambda comparison: {name: {"trainable parameters": 1000, "teacher data FLOPs": 0.0}
                                                             for name in comparison})
    results = ft.measure_sweep(get_profile("standard"))
    results["forgetting"] = {"every weight, lr 1e-4": [{"seed": 0, "perplexity_before": 10.0, "perplexity_after": 11.0,
                                                        "drift": 0.2, "passages_sha256": "ab"},
                                                       {"seed": 1, "perplexity_before": 10.0, "perplexity_after": 12.0,
                                                        "drift": 0.4, "passages_sha256": "ab"}],
                             "LoRA rank 8, lr 3e-4": [{"seed": 0, "perplexity_before": 10.0, "perplexity_after": 10.0,
                                                       "drift": 0.0, "passages_sha256": "ab"}]}  # round 1 only: not in the table
    path = tmp_path / "sweep.json"
    path.write_text(stored_sweeps.to_json(results, ft.measure_sweep))
    sweep = ft.load_sweep(path)
    assert (sweep.best.lora, sweep.best.full, sweep.seeds) == ("LoRA rank 16, lr 3e-3", "every weight, lr 1e-4", ft.SEEDS)
    rows = sweep.grid_rows()
    assert [row["fine-tuning"] for row in rows] == ["LoRA rank 8", "LoRA rank 16", "LoRA rank 64", "every weight"]
    assert rows[2]["lr 1e-3"] == pytest.approx(25.0) and rows[3]["lr 1e-3"] is None and rows[3]["lr 1e-4"] == pytest.approx(40.0)
    assert rows[0]["trainable parameters"] == "1,000"
    assert sweep.first_round_spans()["LoRA rank 8"] == pytest.approx(20.0) and sweep.first_round_gap() == pytest.approx(10.0)
    assert sweep.first_round_spans()["every weight"] == pytest.approx(20.0)
    assert sweep.worst_of_first_round() == "LoRA rank 64, lr 3e-3"
    assert sweep.lora_minus_full().gains == pytest.approx((-10.0, -12.0, -12.0))
    assert sweep.longer_lora_minus_full().gains == pytest.approx((-10.0, -12.0, -12.0))
    [row] = sweep.forgetting_rows()
    assert row["setting"] == "every weight, lr 1e-4" and row["seeds"] == 2
    assert row["perplexity change (%)"] == pytest.approx(15.0) and row["drift (nats)"] == pytest.approx(0.3)


def test_the_stored_sweep_when_there_is_none_says_how_to_measure_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="python -m distillab.realmodel_fine_tuning"):
        ft.load_sweep(tmp_path / "nothing.json")


def test_the_chapters_live_settings_are_the_stored_sweeps_best():
    """Chapter 07's defaults follow the stored sweep: LoRA at its best rank and rate, every weight at its best rate."""
    from distillab import realmodel_experiments

    sweep = ft.load_sweep()
    lora = next(s for s in ft.GRID if s.name == sweep.best.lora)
    full = next(s for s in ft.GRID if s.name == sweep.best.full)
    assert (lora.lora, lora.learning_rate) == (realmodel_experiments.LORA, realmodel_experiments.LORA_LEARNING_RATE)
    assert full.learning_rate == realmodel_experiments.LEARNING_RATE
    assert sweep.profile == "standard" and sweep.seeds == ft.SEEDS and sweep.steps == get_profile("standard").real_model.steps
    assert sweep.held_out_per_difficulty == get_profile("standard").real_model.eval_per_difficulty
