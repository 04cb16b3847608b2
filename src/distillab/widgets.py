"""Thin ipywidgets front ends over pure functions (the functions are what the tests call)."""

from __future__ import annotations

import ipywidgets as widgets
from IPython.display import Markdown, display

from distillab.cost import CPU_UTILIZATION, H100, dollars, estimate_training_cost, human_duration, seconds_on_this_machine
from distillab.losses import check_top_k
from distillab.rejection import plan_rejection_sampling
from distillab.sampling import KEEP


def describe_training_cost(
    log10_parameters: float, log10_tokens: float, utilization: float, dollars_per_hour: float,
    cpu_peak_gflops: float | None = None, cpu_utilization: float = CPU_UTILIZATION,
) -> str:
    """The calculator's answer as a Markdown table (a pure function of the knobs): N = 10**log10_parameters
    parameters trained on D = 10**log10_tokens tokens, on an H100 at `utilization` of its peak and
    `dollars_per_hour`, and on this CPU at `cpu_utilization` of its `cpu_peak_gflops`."""
    gpu = H100.with_changes(utilization=utilization, dollars_per_hour=dollars_per_hour)
    estimate = estimate_training_cost(10**log10_parameters, 10**log10_tokens, gpu, cpu_peak_gflops, cpu_utilization)
    rows = [
        ("model parameters N", f"{10**log10_parameters:.3g}"),
        ("training tokens D", f"{10**log10_tokens:.3g}"),
        ("training FLOPs 6·N·D", f"{estimate.flops:.3g}"),
        ("H100-hours", f"{estimate.gpu_hours:,.3g}"),
        ("rental cost", f"${estimate.dollars:,.2f}"),
    ]
    if estimate.seconds_here is not None:
        rows.append((f"on this CPU ({100 * cpu_utilization:.0f} % of its peak)", human_duration(estimate.seconds_here)))
    table = "\n".join(f"| {k} | {v} |" for k, v in rows)
    return f"| quantity | value |\n|---|---|\n{table}\n\nAssumptions: {gpu.describe()}."


def cost_calculator(cpu_peak_gflops: float | None = None, utilization: float = H100.utilization,
                    dollars_per_hour: float = H100.dollars_per_hour,
                    cpu_utilization: float = CPU_UTILIZATION) -> widgets.Widget:
    """Sliders for N, D, utilisation and price, starting at the chapter's knobs; the table below
    them updates as they move."""
    style = {"description_width": "170px"}
    layout = widgets.Layout(width="520px")
    controls = {
        "log10_parameters": widgets.FloatSlider(9.0, min=5, max=12, step=0.1, style=style, layout=layout,
                                                description="log10 parameters"),
        "log10_tokens": widgets.FloatSlider(8.0, min=5, max=13, step=0.1, style=style, layout=layout,
                                            description="log10 tokens"),
        "utilization": widgets.FloatSlider(utilization, min=0.05, max=1.0, step=0.05, style=style,
                                           layout=layout, description="GPU utilisation"),
        "dollars_per_hour": widgets.FloatSlider(dollars_per_hour, min=0.5, max=10, step=0.25,
                                                style=style, layout=layout, description="$ per GPU-hour"),
    }

    def show(**knobs: float) -> None:
        display(Markdown(describe_training_cost(**knobs, cpu_peak_gflops=cpu_peak_gflops,
                                                cpu_utilization=cpu_utilization)))

    output = widgets.interactive_output(show, controls)
    return widgets.VBox([*controls.values(), output])


def top_tokens(logits, tokenizer, temperature: float, k: int = 8) -> list[tuple[str, float]]:
    """The k most likely next tokens at `temperature`, as (token, probability), most likely first."""
    from distillab.distillation import soften

    probabilities = soften(logits, temperature)
    values, indices = probabilities.topk(check_top_k(k, probabilities.shape[-1]))
    return [(tokenizer.convert_ids_to_tokens(int(i)), float(v)) for v, i in zip(values, indices)]


def temperature_explorer(logits_by_name: dict, tokenizer, title: str) -> widgets.Widget:
    """A temperature slider over next-token distributions (one panel per entry of `logits_by_name`)."""
    import matplotlib.pyplot as plt

    from distillab.plots import plot_next_token_distributions

    slider = widgets.FloatLogSlider(1.0, base=2, min=-1, max=3, step=0.25, description="temperature T",
                                    style={"description_width": "110px"}, layout=widgets.Layout(width="480px"))

    def show(temperature: float) -> None:
        figure = plot_next_token_distributions(
            {name: top_tokens(logits, tokenizer, temperature) for name, logits in logits_by_name.items()},
            f"{title} (T = {temperature:.2g})")
        display(figure)
        plt.close(figure)

    return widgets.VBox([slider, widgets.interactive_output(show, {"temperature": slider})])


def describe_rejection_plan(acceptance_by_difficulty: dict[int, float], num_traces: int, k: int, keep: str,
                            num_parameters: float, cpu_peak_gflops: float | None = None) -> str:
    """The planner's answer as a Markdown table (a pure function of the knobs): per difficulty the
    acceptance, the prompts and samples needed; then the FLOPs, time and dollars in all."""
    plan = plan_rejection_sampling(acceptance_by_difficulty, num_traces, k, keep, num_parameters)
    lines = ["| difficulty | acceptance | prompts | samples |", "|---|---|---|---|"]
    for d, a in sorted(acceptance_by_difficulty.items()):
        lines.append(f"| {d} | {100 * a:.1f} % | {plan.prompts[d]:,} | {plan.samples[d]:,} |")
    lines.append(f"| **all** | | **{plan.total_prompts:,}** | **{plan.total_samples:,}** |")
    summary = f"\n\n{num_traces:,} traces ({keep!r}, k = {k}): {plan.flops:.3g} generation FLOPs"
    if cpu_peak_gflops is not None:
        summary += f", about {human_duration(seconds_on_this_machine(plan.flops, cpu_peak_gflops))} on this CPU"
    return "\n".join(lines) + summary + f", ${dollars(plan.flops):.2g} on an H100 ({H100.describe()})."


def rejection_planner(acceptance_by_temperature: dict[float, dict[int, float]], num_parameters: float,
                      cpu_peak_gflops: float | None = None) -> widgets.Widget:
    """Pick a temperature (among the measured ones), k, the number of traces and the keep rule;
    the plan below updates as they move."""
    style, layout = {"description_width": "150px"}, widgets.Layout(width="480px")
    controls = {
        "temperature": widgets.SelectionSlider(options=sorted(acceptance_by_temperature), value=min(
            acceptance_by_temperature, key=lambda t: abs(t - 1.0)), description="temperature T", style=style, layout=layout),
        "k": widgets.IntSlider(1, min=1, max=16, description="samples per prompt k", style=style, layout=layout),
        "num_traces": widgets.IntSlider(4000, min=250, max=20000, step=250, description="traces wanted",
                                        style=style, layout=layout),
        "keep": widgets.ToggleButtons(options=KEEP[:2], value="first", description="keep", style=style),
    }

    def show(temperature: float, k: int, num_traces: int, keep: str) -> None:
        try:
            text = describe_rejection_plan(acceptance_by_temperature[temperature], num_traces, k, keep,
                                           num_parameters, cpu_peak_gflops)
        except ValueError as error:  # e.g. a difficulty where nothing is ever accepted
            text = f"**No plan:** {error}"
        display(Markdown(text))

    return widgets.VBox([*controls.values(), widgets.interactive_output(show, controls)])
