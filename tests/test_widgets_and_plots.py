import matplotlib
import pytest

matplotlib.use("Agg")

from distillab import plots, widgets  # noqa: E402
from distillab.training import History  # noqa: E402


def test_calculator_text_reacts_to_its_knobs():
    cheap = widgets.describe_training_cost(9, 8, 0.4, 2.5)
    dear = widgets.describe_training_cost(9, 8, 0.4, 5.0)
    assert "6e+17" in cheap and "$" in cheap and cheap != dear
    assert "on this CPU" in widgets.describe_training_cost(9, 8, 0.4, 2.5, cpu_peak_gflops=200)


def test_the_cpu_row_states_the_share_of_the_peak_it_assumes():
    at_60 = widgets.describe_training_cost(9, 8, 0.4, 2.5, cpu_peak_gflops=200)  # 6e17 FLOPs at 120 GFLOP/s
    assert "on this CPU (60 % of its peak) | 57.9 days" in at_60
    at_30 = widgets.describe_training_cost(9, 8, 0.4, 2.5, cpu_peak_gflops=200, cpu_utilization=0.3)
    assert "on this CPU (30 % of its peak) | 116 days" in at_30


def test_calculator_widget_builds_and_starts_at_the_chapters_knobs():
    box = widgets.cost_calculator(cpu_peak_gflops=100.0)
    assert len(box.children) == 5
    knobs = widgets.cost_calculator(cpu_peak_gflops=100.0, utilization=0.3, dollars_per_hour=2.0)
    assert (knobs.children[2].value, knobs.children[3].value) == (0.3, 2.0)


def test_plots_have_labelled_axes():
    history = History(step=[1, 2], loss=[2.0, 1.0], lr=[0.0, 1e-3], tokens=[10, 20],
                      flops=[1.0, 2.0], seconds=[0.1, 0.2])
    fig = plots.plot_training(history, "title")
    assert all(ax.get_xlabel() and ax.get_ylabel() for ax in fig.axes)
    fig = plots.plot_accuracy_by_difficulty({"teacher": {1: 1.0, 2: 0.5}}, "t")
    assert fig.axes[0].get_ylabel().startswith("accuracy")
    fig = plots.plot_costs(["a", "b"], [(1, 2), (10, 30)], "t")
    assert "dollars" in fig.axes[0].get_xlabel()


def test_top_tokens_follow_the_temperature(tokenizer):
    import torch

    logits = torch.full((len(tokenizer),), -5.0)
    logits[tokenizer.convert_tokens_to_ids("13")] = 5.0
    logits[tokenizer.convert_tokens_to_ids("12")] = 3.0
    cold, hot = widgets.top_tokens(logits, tokenizer, 1.0, k=3), widgets.top_tokens(logits, tokenizer, 4.0, k=3)
    assert [t for t, _ in cold[:2]] == ["13", "12"] and cold[0][1] > hot[0][1]
    assert hot[1][1] / hot[0][1] > cold[1][1] / cold[0][1]  # softening brings the runner-up closer
    box = widgets.temperature_explorer({"teacher": logits}, tokenizer, "t")
    assert box.children[0].value == 1.0


def test_distribution_and_seed_plots_are_labelled():
    fig = plots.plot_next_token_distributions({"T = 1": [("13", 0.8), ("12", 0.2)], "T = 2": [("13", 0.6)]}, "t")
    assert len(fig.axes) == 2 and all(ax.get_ylabel() == "probability" for ax in fig.axes)
    fig = plots.plot_seed_spread({"SFT": [30.0, 40.0], "KD": [45.0, 50.0]}, "t", seeds=[0, 1])
    assert fig.axes[0].get_ylabel() == "mean accuracy (%)"
    assert [label.get_text() for label in fig.axes[0].get_xticklabels()] == ["SFT", "KD"]
    long_names = {"teacher traces, llama + teacher's tokenizer": [90.0], "teacher traces, qwen2 + BPE": [30.0]}
    labels = [label.get_text() for label in plots.plot_seed_spread(long_names, "t").axes[0].get_xticklabels()]
    assert [label.replace("\n", " ") for label in labels] == list(long_names)  # the whole name, wrapped
    assert all(max(map(len, label.split("\n"))) <= 22 for label in labels)  # so neighbours do not overlap


def test_mean_and_range_plot_is_labelled():
    fig = plots.plot_mean_and_range({"SFT": {250: [10.0, 20.0], 500: [30.0, 50.0]}}, "N", "t")
    assert fig.axes[0].get_xlabel() == "N" and fig.axes[0].get_xscale() == "log"


def test_rejection_plan_text_reacts_to_its_knobs():
    acceptance = {1: 1.0, 5: 0.5}
    one = widgets.describe_rejection_plan(acceptance, 100, k=1, keep="first", num_parameters=1e6, cpu_peak_gflops=100)
    assert "| 5 | 50.0 % | 100 | 100 |" in one and "on this CPU" in one and "H100" in one
    four = widgets.describe_rejection_plan(acceptance, 100, k=4, keep="first", num_parameters=1e6)
    assert "| 5 | 50.0 % | 54 | 216 |" in four and "on this CPU" not in four


def test_rejection_planner_builds_and_explains_an_impossible_plan():
    planner = widgets.rejection_planner({1.0: {1: 0.9, 5: 0.5}, 2.0: {1: 0.5, 5: 0.0}}, num_parameters=1e6)
    temperature = planner.children[0]
    assert list(temperature.options) == [1.0, 2.0] and temperature.value == 1.0
    temperature.value = 2.0  # nothing is ever accepted at 5 steps: the text says so instead of raising


def test_acceptance_plot_takes_its_own_label():
    figure = plots.plot_accuracy_by_difficulty({"T = 1": {1: 0.9, 2: 0.5}}, "title", ylabel="accepted (%)")
    assert figure.axes[0].get_ylabel() == "accepted (%)"


def test_frontier_plot_has_two_labelled_log_panels_and_a_frontier_line():
    from helpers import REFERENCE

    from distillab.frontier import Point
    from distillab.records import ANSWERS_ONLY, TRACES, Compute

    points = [Point("answers only", ANSWERS_ONLY, 1, 0, {1: 0.1, 5: 0.0}, Compute(1e11), None),
              Point("traces", TRACES, 1, 0, {1: 0.9, 5: 0.6}, Compute(1e12, teacher_data=1e11), REFERENCE)]
    figure = plots.plot_frontier(points, teacher_training=True, title="t")
    left, right = figure.axes
    assert left.get_xscale() == right.get_xscale() == "log"
    assert "teacher's training included" in left.get_xlabel() and "5-step" in right.get_ylabel()
    assert [line.get_label() for line in left.get_lines()] == ["Pareto frontier"]
    assert "taken as given" in plots.plot_frontier(points, teacher_training=False, title="t").axes[0].get_xlabel()


def test_the_seed_plots_take_a_comparison_and_pair_its_runs_by_seed():
    from distillab.comparison import Comparison, StudentRun

    def run(arm, seed, mean):
        return StudentRun(arm, seed, {1: mean, 2: mean / 2}, 0.0, 0.0, 1, 1)

    runs = Comparison({"A": [run("A", 1, 0.4), run("A", 0, 0.2)], "B": [run("B", 0, 0.6), run("B", 1, 0.8)]})
    assert runs.accuracies() == {"A": pytest.approx([15.0, 30.0]), "B": pytest.approx([45.0, 60.0])}  # seeds 0, 1
    fig = plots.plot_seed_spread(runs, "t")
    lines = [line.get_ydata().tolist() for line in fig.axes[0].lines]  # one grey line per seed, A to B
    assert lines == [pytest.approx([15.0, 45.0]), pytest.approx([30.0, 60.0])]
    assert [text.get_text() for text in fig.axes[0].texts] == ["seed 0", "seed 1"]
    bars = plots.plot_accuracy_by_difficulty(runs, "t").axes[0].patches
    assert [bar.get_height() for bar in bars] == pytest.approx([30.0, 15.0, 70.0, 35.0])  # A by level, then B
