"""Charts of the metrics (:mod:`bench.scenarios.metrics`): each draws on a given Axes.

The cores-used chart reads the ``cores`` metric's summary columns, its ideal
included; the event loop's lag is drawn beside the seed's sleep lesson by
:func:`bench.report.plots.plot_sleep_lesson`.
"""

from __future__ import annotations

import pandas as pd
from matplotlib.axes import Axes

from bench.report.figures import worker_axis
from bench.report.frames import series_groups, series_label
from bench.report.plots import at_size, colour, no_data
from bench.scenarios.metrics import METRICS


def plot_cores(ax: Axes, summary: pd.DataFrame, *, workload: str, cores: int,
               tasks: int | None = None, task_size: float | None = None) -> None:
    """Cores used vs workers W at one task count, one line per model, its ideal dashed.

    Cores used is the ``cores_used`` metric (CPU seconds of the process and
    its pool workers over the batch's wall time, with its 95 % CI as a band)
    and its ideal ``cores_used_ideal`` (:func:`bench.results.ideal.frame_cores`);
    models without workers are horizontal lines; the baseline too.
    """
    col = METRICS["cores"].col
    found = at_size(ax, summary, workload, task_size, "cores used vs workers")
    if found is None:
        return
    df, title = found
    if col not in df.columns or df[col].isna().all():
        no_data(ax, title)
        return
    tasks = int(df["tasks"].max()) if tasks is None else tasks
    df = df[(df["tasks"] == tasks) & df[col].notna()]
    pooled = df[df["workers"].notna()]
    for model, sm, g in series_groups(pooled):
        g = g.sort_values("workers")
        x = g["workers"].astype(float).to_numpy()
        c = colour(model, sm)
        if len(x) > 1:
            ax.fill_between(x, g[f"{col}_ci_low"].astype(float),
                            g[f"{col}_ci_high"].astype(float), color=c, alpha=0.18,
                            linewidth=0)
        ax.plot(x, g[col].astype(float), marker="o", color=c,
                label=series_label(model, sm))
        ax.plot(x, g[f"{col}_ideal"].astype(float), color=c, linestyle=":", linewidth=1)
    for model, sm, g in series_groups(df[df["workers"].isna()]):
        ax.axhline(float(g[col].iloc[0]), color=colour(model, sm), linestyle="--",
                   linewidth=1, label=f"{series_label(model, sm)} (no workers)")
    top = max([cores, *pooled["workers"].astype(int)]) if len(pooled) else cores
    ax.plot([], [], color="0.3", linestyle=":", linewidth=1, label="ideal (dotted, per model)")
    ax.axhline(cores, color="0.5", linewidth=0.8, linestyle="-.", label=f"C = {cores} cores")
    ax.set_ylim(bottom=0, top=max(cores, float(df[col].max())) * 1.15)
    worker_axis(ax, pooled["workers"].astype(float), cores=cores, top=top)
    ax.set_ylabel("cores used (CPU s / wall s)")
    ax.set_title(f"{workload}: cores used vs workers (T = {tasks})")
    ax.legend(fontsize="x-small")
