"""One helper per kind of plot, each returning a matplotlib Figure with labelled axes and units.
Chapters call these so that every plot in the course looks and reads alike."""

from __future__ import annotations

import textwrap

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

from distillab.comparison import Comparison
from distillab.training import History


def plot_training(history: History, title: str) -> Figure:
    """Loss (log scale) and learning rate against optimizer step."""
    fig, (loss_ax, lr_ax) = plt.subplots(1, 2, figsize=(10, 3.5))
    loss_ax.plot(history.step, history.loss, lw=1)
    loss_ax.set(xlabel="optimizer step", ylabel="loss (nats per completion token)", yscale="log",
                title="training loss")
    lr_ax.plot(history.step, history.lr)
    lr_ax.set(xlabel="optimizer step", ylabel="learning rate", title="warmup + cosine schedule")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_accuracy_by_difficulty(accuracy: dict[str, dict[int, float]] | Comparison, title: str,
                                ylabel: str = "accuracy on held-out problems (%)") -> Figure:
    """Grouped bars: a fraction (shown in %) per difficulty, one bar colour per model or setting (a
    `Comparison`: each arm's mean over its seeds)."""
    if isinstance(accuracy, Comparison):
        accuracy = accuracy.by_difficulty()
    fig, ax = plt.subplots(figsize=(7, 3.5))
    names = list(accuracy)
    width = 0.8 / max(len(names), 1)
    for i, name in enumerate(names):
        levels = sorted(accuracy[name])
        xs = [d + (i - (len(names) - 1) / 2) * width for d in levels]
        ax.bar(xs, [100 * accuracy[name][d] for d in levels], width=width, label=name)
    ax.set(xlabel="difficulty (reasoning steps)", ylabel=ylabel,
           ylim=(0, 105), title=title)
    ax.set_xticks(sorted({d for acc in accuracy.values() for d in acc}))
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))  # beside the bars, never over them
    fig.tight_layout()
    return fig


def plot_learned_and_lost(points: dict[str, list[tuple[float, float, float]]], title: str) -> Figure:
    """What each run learned on the task (points over the model as it comes) against what it lost
    away from it: its perplexity's change on ordinary English (%) and the drift of its next-token
    distributions on chat prompts (nats); one marker per seed, a colour per arm
    (`realmodel_results.learned_and_lost`)."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5), sharey=True)
    for name, seeds in points.items():
        for ax, column in zip(axes, (1, 2)):
            ax.scatter([s[column] for s in seeds], [s[0] for s in seeds], label=name, alpha=0.8)
    axes[0].set(xlabel="perplexity on English passages: change (%)", ylabel="learned: points over as it comes")
    axes[1].set(xlabel="drift on chat prompts: KL from as it comes (nats)")
    for ax in axes:
        ax.axhline(0, color="grey", lw=0.5)
    axes[0].axvline(0, color="grey", lw=0.5)
    axes[1].legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_costs(labels: list[str], dollars: list[tuple[float, float]], title: str) -> Figure:
    """Horizontal bars of a cost range (low, high) in dollars, log scale."""
    fig, ax = plt.subplots(figsize=(7, 0.6 * len(labels) + 1.2))
    for i, (low, high) in enumerate(dollars):
        ax.barh(i, high - low, left=low, height=0.5)
        ax.text(high * 1.1, i, rf"\${low:,.0f}–\${high:,.0f}", va="center")  # \$: not mathtext
    ax.set_yticks(range(len(labels)), labels)
    ax.set(xscale="log", xlabel="rental cost (US dollars, log scale)", title=title.replace("$", r"\$"))
    ax.set_xlim(right=max(h for _, h in dollars) * 20)
    fig.tight_layout()
    return fig


def plot_next_token_distributions(distributions: dict[str, list[tuple[str, float]]], title: str) -> Figure:
    """One panel per distribution: bars of the top tokens' probabilities, most likely first.
    `distributions` maps a panel title to [(token, probability), ...]."""
    fig, axes = plt.subplots(1, len(distributions), figsize=(3.6 * len(distributions), 3.2), squeeze=False)
    for ax, (name, pairs) in zip(axes[0], distributions.items()):
        ax.bar(range(len(pairs)), [p for _, p in pairs], color="tab:blue")
        ax.set_xticks(range(len(pairs)), [t for t, _ in pairs])
        ax.set(ylim=(0, 1.05), xlabel="next token (most likely first)", ylabel="probability", title=name)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_seed_spread(results: dict[str, list[float]] | Comparison, title: str, ylabel: str = "mean accuracy (%)",
                     seeds: list[int] | None = None) -> Figure:
    """One column per arm: a dot per seed (the same seed joined by a grey line across arms, so a
    paired comparison reads as the slope of each line) and a bar at the mean. A `Comparison` is
    drawn seed by seed, its seeds named."""
    if isinstance(results, Comparison):
        seeds = seeds or sorted(run.seed for run in next(iter(results.values())))
        results = results.accuracies()
    fig, ax = plt.subplots(figsize=(1.6 * len(results) + 2.5, 3.6))
    names = list(results)
    for i, name in enumerate(names):
        values = results[name]
        ax.bar(i, sum(values) / len(values), width=0.55, alpha=0.35, color="tab:blue")
        ax.scatter([i] * len(values), values, color="tab:blue", zorder=3)
    for j in range(len(results[names[0]])):
        ax.plot(range(len(names)), [results[name][j] for name in names], color="grey", lw=0.8, zorder=2)
    if seeds is not None:
        for value, seed in zip(results[names[-1]], seeds):
            ax.annotate(f"seed {seed}", (len(names) - 1, value), xytext=(6, 0), textcoords="offset points",
                        va="center", fontsize=8)
    ax.set_xticks(range(len(names)), [textwrap.fill(name, 22) for name in names])
    ax.set(ylabel=ylabel, title=title)
    ax.set_xlim(-0.6, len(names) - 0.1)
    fig.tight_layout()
    return fig


def plot_mean_and_range(series: dict[str, dict[float, list[float]]], xlabel: str, title: str,
                        ylabel: str = "mean accuracy (%)", log_x: bool = True) -> Figure:
    """One line per arm: the mean over seeds at each setting, with a bar from the worst seed to the best."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for name, by_x in series.items():
        xs = sorted(by_x)
        means = [sum(by_x[x]) / len(by_x[x]) for x in xs]
        low = [m - min(by_x[x]) for m, x in zip(means, xs)]
        high = [max(by_x[x]) - m for m, x in zip(means, xs)]
        ax.errorbar(xs, means, yerr=[low, high], marker="o", capsize=3, label=name)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title, xscale="log" if log_x else "linear")
    settings = sorted({x for by_x in series.values() for x in by_x})
    ax.set_xticks(settings, [f"{x:,.0f}" if x == int(x) and x < 1e6 else f"{x:.2g}" for x in settings])
    ax.xaxis.set_minor_formatter(NullFormatter())  # only the settings measured are labelled: no crowded minor labels
    ax.legend()
    fig.tight_layout()
    return fig


def plot_frontier(points: list, teacher_training: bool, title: str) -> Figure:
    """Chapter 05: every run as a dot (colour = family), accuracy against total compute (log scale),
    mean accuracy on the left and the hardest level on the right, with each panel's Pareto frontier."""
    from distillab.frontier import pareto_front
    from distillab.records import FAMILIES, PRETRAINED

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2), sharex=True)
    for ax, hardest in zip(axes, (False, True)):
        score = (lambda p: 100 * p.hardest_accuracy) if hardest else (lambda p: 100 * p.mean_accuracy)  # noqa: E731
        for family in FAMILIES:
            group = [p for p in points if p.family == family]
            if group and family == PRETRAINED:  # its own pretraining is not counted: a level, not a point
                for i, point in enumerate(group):
                    ax.axhline(score(point), color="grey", ls="--", lw=1,
                               label=f"{family} (pretraining not counted)" if i == 0 else None)
            elif group:
                ax.scatter([p.total_flops(teacher_training) for p in group], [score(p) for p in group],
                           label=family, alpha=0.7, zorder=3)
        front = pareto_front(points, teacher_training, hardest)
        ax.step([p.total_flops(teacher_training) for p in front], [score(p) for p in front], where="post",
                color="black", lw=1, label="Pareto frontier", zorder=2)
        level = max(points[0].accuracy) if points else 5
        ax.set(xscale="log", ylim=(-3, 103), ylabel=f"accuracy on {level}-step problems (%)" if hardest else
               "mean accuracy, all levels (%)",
               xlabel="total compute (FLOPs; " + ("the teacher's training included)" if teacher_training
                                                   else "the teacher taken as given)"))
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=8, loc="lower center", ncol=len(labels))  # below the panels, over no point
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig
