"""One helper per kind of plot, each returning a matplotlib Figure with labelled axes and units.
Chapters call these so that every plot in the course looks and reads alike."""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

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


def plot_accuracy_by_difficulty(accuracy: dict[str, dict[int, float]], title: str) -> Figure:
    """Grouped bars: accuracy (%) per difficulty, one bar colour per model."""
    fig, ax = plt.subplots(figsize=(7, 3.5))
    names = list(accuracy)
    width = 0.8 / max(len(names), 1)
    for i, name in enumerate(names):
        levels = sorted(accuracy[name])
        xs = [d + (i - (len(names) - 1) / 2) * width for d in levels]
        ax.bar(xs, [100 * accuracy[name][d] for d in levels], width=width, label=name)
    ax.set(xlabel="difficulty (reasoning steps)", ylabel="accuracy on held-out problems (%)",
           ylim=(0, 105), title=title)
    ax.set_xticks(sorted({d for acc in accuracy.values() for d in acc}))
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))  # beside the bars, never over them
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


def markdown_table(rows: list[dict], formats: dict[str, str] | None = None) -> str:
    """A list of same-keyed dicts as a Markdown table; `formats` maps a column to a format spec."""
    formats = formats or {}
    columns = list(rows[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        cells = [format(row[c], formats.get(c, "")) if row[c] is not None else "–" for c in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
