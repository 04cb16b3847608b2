import matplotlib

matplotlib.use("Agg")

from distillab import plots, widgets  # noqa: E402
from distillab.training import History  # noqa: E402


def test_calculator_text_reacts_to_its_knobs():
    cheap = widgets.describe_training_cost(9, 8, 0.4, 2.5)
    dear = widgets.describe_training_cost(9, 8, 0.4, 5.0)
    assert "6e+17" in cheap and "$" in cheap and cheap != dear
    assert "on this CPU" in widgets.describe_training_cost(9, 8, 0.4, 2.5, cpu_peak_gflops=200)


def test_calculator_widget_builds():
    box = widgets.cost_calculator(cpu_peak_gflops=100.0)
    assert len(box.children) == 5


def test_plots_have_labelled_axes():
    history = History(step=[1, 2], loss=[2.0, 1.0], lr=[0.0, 1e-3], tokens=[10, 20],
                      flops=[1.0, 2.0], seconds=[0.1, 0.2])
    fig = plots.plot_training(history, "title")
    assert all(ax.get_xlabel() and ax.get_ylabel() for ax in fig.axes)
    fig = plots.plot_accuracy_by_difficulty({"teacher": {1: 1.0, 2: 0.5}}, "t")
    assert fig.axes[0].get_ylabel().startswith("accuracy")
    fig = plots.plot_costs(["a", "b"], [(1, 2), (10, 30)], "t")
    assert "dollars" in fig.axes[0].get_xlabel()
