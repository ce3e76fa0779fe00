"""Charts of the metrics (:mod:`bench.scenarios.metrics`): each draws on a given Axes.

A metric whose entry has a ``chart`` gets one against workers, from its
summary columns, its ideal included; one shown beside the waiting lesson
(``lesson``) is drawn by :func:`bench.report.plots.plot_sleep_lesson`.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from matplotlib.axes import Axes

from bench.report.figures import worker_axis
from bench.report.frames import series_groups, series_label
from bench.report.plots import at_size, colour, no_data, style
from bench.scenarios.metrics import METRICS


def plot_metric(ax: Axes, summary: pd.DataFrame, *, metric: str, workload: str, cores: int,
                tasks: int | None = None, task_size: float | None = None) -> None:
    """A metric vs workers W at one task count, one line per model, its ideal dotted.

    The metric's median over rounds (its summary column, e.g. ``cores_used``),
    with its 95 % CI as a band, and its ideal (``COL_ideal``, where the entry
    has one); models without workers are horizontal lines; the baseline too.
    C is marked where the metric is at most C (``up_to_cores``).
    """
    spec = METRICS[metric]
    col = spec.col
    found = at_size(ax, summary, workload, task_size, f"{spec.name} vs workers")
    if found is None:
        return
    df, title = found
    if col not in df.columns or df[col].isna().all():
        no_data(ax, title)
        return
    tasks = int(df["tasks"].max()) if tasks is None else tasks
    df = df[(df["tasks"] == tasks) & df[col].notna()]
    pooled = df[df["workers"].notna()]
    ideal = f"{col}_ideal" if spec.ideal and f"{col}_ideal" in df.columns else ""
    for model, sm, g in series_groups(pooled):
        _model_line(ax, g.sort_values("workers"), spec.col, ideal, spec.scale,
                    style(model, sm), series_label(model, sm))
    for model, sm, g in series_groups(df[df["workers"].isna()]):
        ax.axhline(float(g[col].iloc[0]) * spec.scale, color=colour(model, sm), linestyle="--",
                   linewidth=1, label=f"{series_label(model, sm)} (no workers)")
    if ideal:
        ax.plot([], [], color="0.3", linestyle=":", linewidth=1, label="ideal (dotted, per model)")
    values = df[col].astype(float) * spec.scale
    top = float(values.max())
    if spec.up_to_cores:
        ax.axhline(cores, color="0.5", linewidth=0.8, linestyle="-.", label=f"C = {cores} cores")
        top = max(top, cores)
    ax.set_ylim(bottom=min(0.0, float(values.min()) * 1.15), top=top * 1.15)
    worker_axis(ax, pooled["workers"].astype(float), cores=cores,
                top=max([cores, *pooled["workers"].astype(int)]) if len(pooled) else cores)
    ax.set_ylabel(spec.chart)
    ax.set_title(f"{title} (T = {tasks})")
    ax.legend(fontsize="x-small")


def _model_line(ax: Axes, g: pd.DataFrame, col: str, ideal: str, scale: float,
                look: dict[str, Any], label: str) -> None:
    """One pooled model's line over W, its 95 % CI as a band and its ideal (``ideal``)
    dotted."""
    x, c = g["workers"].astype(float).to_numpy(), look["color"]
    if len(x) > 1:
        ax.fill_between(x, g[f"{col}_ci_low"].astype(float) * scale,
                        g[f"{col}_ci_high"].astype(float) * scale, color=c, alpha=0.18,
                        linewidth=0)
    ax.plot(x, g[col].astype(float) * scale, **look, label=label)
    if ideal:
        ax.plot(x, g[ideal].astype(float) * scale, color=c, linestyle=":", linewidth=1)
