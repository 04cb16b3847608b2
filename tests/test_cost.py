import pytest
import torch

from distillab import cost
from distillab.cost import H100, GpuAssumptions
from distillab.models import build_model, matmul_parameters
from distillab.training import sft_objective


def test_flop_counter_matches_the_textbook_count_for_one_matmul():
    a, b = torch.randn(8, 16), torch.randn(16, 4)
    assert cost.count_flops(lambda: a @ b) == 2 * 8 * 16 * 4


def test_counted_training_flops_match_six_n_d(tokenizer):
    """6·N·D ignores attention's T² term, so the count is a little above it and close to it."""
    model = build_model("large", tokenizer)
    ids = torch.randint(4, len(tokenizer), (4, 24))
    batch = {"input_ids": ids, "completion_mask": torch.ones_like(ids, dtype=torch.bool)}
    counted = cost.count_flops(lambda: sft_objective(model, batch).backward())
    rule = cost.training_flops(matmul_parameters(model), ids[:, :-1].numel())
    assert 1.0 <= counted / rule < 1.1, counted / rule
    # attention adds 2 matmuls of T×T×d per layer forward (QKᵀ and AV); the backward recomputes
    # QKᵀ and does 4 more, so 7 in all. The counter does not halve them for the causal mask.
    t, d, layers = ids.shape[1] - 1, model.config.hidden_size, model.config.num_hidden_layers
    attention = 7 * 2 * ids.shape[0] * t * t * d * layers
    assert counted == pytest.approx(rule + attention, rel=1e-3)


def test_dollars_follow_from_the_stated_assumptions():
    gpu = GpuAssumptions(peak_tflops=1000, utilization=0.5, dollars_per_hour=2.0)
    flops = 1000e12 * 0.5 * 3600  # one GPU-hour of work
    assert cost.gpu_hours(flops, gpu) == pytest.approx(1.0)
    assert cost.dollars(flops, gpu) == pytest.approx(2.0)
    assert cost.flops_from_gpu_hours(1.0, gpu) == pytest.approx(flops)
    assert cost.dollars(flops, gpu.with_changes(dollars_per_hour=3.0)) == pytest.approx(3.0)
    assert "H100" in H100.describe() and "40%" in H100.describe()


@pytest.mark.parametrize("knobs, message", [
    ({"utilization": 0}, "utilization"), ({"utilization": 1.5}, "utilization"),
    ({"peak_tflops": -1}, "peak_tflops"), ({"dollars_per_hour": -2}, "dollars_per_hour"),
])
def test_bad_assumptions_are_named(knobs, message):
    with pytest.raises(ValueError, match=message):
        GpuAssumptions(**knobs)


def test_matmul_peak_is_four_matmuls_flops_over_the_fastest_try(monkeypatch):
    # a clock that moves 1 ms at every reading, then 3 ms per try from the third try on: the
    # fastest tries take one reading's 1 ms, so the peak is 4 x 2 x 64^3 FLOPs per ms, by hand
    readings = []

    def clock():
        readings.append(None)
        return sum(0.003 if i > 12 else 0.001 for i in range(len(readings)))

    monkeypatch.setattr(cost.time, "perf_counter", clock)
    peak = cost.measure_matmul_peak_gflops(size=64, seconds=0.05)
    assert peak == pytest.approx(4 * 2 * 64**3 / 0.001 / 1e9)


def test_estimate_training_cost():
    estimate = cost.estimate_training_cost(1e9, 1e9, H100, cpu_peak_gflops=100.0)
    assert estimate.flops == 6e18
    assert estimate.dollars == pytest.approx(cost.dollars(6e18))
    assert estimate.seconds_here == pytest.approx(6e18 / (100e9 * 0.6))
    with pytest.raises(ValueError, match="num_parameters must be a finite number > 0"):
        cost.estimate_training_cost(0, 1e9)


def test_human_duration():
    assert cost.human_duration(42) == "42 s"
    assert cost.human_duration(90) == "1.5 min"
    assert cost.human_duration(3 * 365.25 * 86400) == "3 years"


def test_bench_table_lists_nested_figures():
    from distillab.bench import format_table

    table = format_table({"matmul_peak_gflops": 200.0, "teacher_accuracy": {1: 1.0}})
    assert "matmul_peak_gflops" in table and "teacher_accuracy[1]" in table and "200.000" in table


def test_run_counting_flops_returns_the_result_too():
    a = torch.randn(4, 4)
    result, flops = cost.run_counting_flops(lambda: a @ a)
    assert torch.equal(result, a @ a) and flops == 2 * 4**3


@pytest.mark.parametrize("peak, utilization, message", [
    (0.0, 0.5, "peak_gflops must be a finite number > 0"), (200.0, 0.0, "utilization must be a finite number > 0 and <= 1"),
    (200.0, 1.5, "utilization must be a finite number > 0 and <= 1"),
])
def test_cpu_time_refuses_nonsense(peak, utilization, message):
    with pytest.raises(ValueError, match=message):
        cost.seconds_on_this_machine(1e12, peak, utilization)


def test_tokens_trained_reads_the_six_n_d_rule_backwards():
    assert cost.tokens_trained(6 * 32e9 * 1e12, 32e9) == pytest.approx(1e12)  # by hand: D = C / (6 N)
    assert cost.tokens_trained(cost.training_flops(1e6, 5e4), 1e6) == pytest.approx(5e4)
