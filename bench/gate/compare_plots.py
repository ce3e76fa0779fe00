"""Overlay charts of a comparison: one series per run, drawn on a given Axes.

Machines with different core counts compare by the shape of their curves:
efficiency (ideal time / measured time, :mod:`bench.results.ideal`) is drawn against
W / C, so W = C lines up at 1 on every host.
"""

from __future__ import annotations

import pandas as pd
from matplotlib.axes import Axes

from bench.scenarios.models import STEADY, model_label

_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")
_STYLES = ("-", "--", ":", "-.")


def series(points: pd.DataFrame, *, workload: str, tasks: int) -> pd.DataFrame:
    """The steady, pooled points of one workload and task count, with a series label."""
    df = points[(points["workload"] == workload) & (points["tasks"] == tasks)
                & (points["metric"] == STEADY) & points["workers"].notna()
                & points["speedup"].notna()].copy()
    df["series"] = [model_label(m, sm) for m, sm in zip(df["model"], df["start_method"],
                                                         strict=True)]
    return df.sort_values(["run", "series", "workers"], kind="stable")


def _draw(ax: Axes, df: pd.DataFrame, x: str, y: str, runs: list[str]) -> None:
    models = list(dict.fromkeys(df["series"]))
    for (run, model), g in df.groupby(["run", "series"], sort=False):
        i, j = runs.index(str(run)), models.index(str(model))
        ax.plot(g[x].astype(float), g[y].astype(float), color=f"C{i % 10}",
                linestyle=_STYLES[i % len(_STYLES)], marker=_MARKERS[j % len(_MARKERS)],
                label=f"{run} · {model}")


def plot_speedup_overlay(ax: Axes, points: pd.DataFrame, *, workload: str,
                         tasks: int) -> None:
    """Speedup vs workers W, one line per (run, model); colour = run, marker = model."""
    df = series(points, workload=workload, tasks=tasks)
    runs = list(dict.fromkeys(points["run"]))
    _draw(ax, df, "workers", "speedup", runs)
    ax.axhline(1.0, color="0.6", linewidth=0.8)
    ax.set_xlabel("workers W")
    ax.set_ylabel("speedup vs the run's sequential")
    ax.set_title(f"{workload}, T={tasks}: speedup")
    if df.shape[0]:
        ax.legend(fontsize="x-small")


def plot_efficiency_overlay(ax: Axes, points: pd.DataFrame, *, workload: str,
                            tasks: int) -> None:
    """Efficiency vs W / C, one line per (run, model); W = C is drawn at x = 1."""
    df = series(points, workload=workload, tasks=tasks)
    runs = list(dict.fromkeys(points["run"]))
    _draw(ax, df, "workers_per_core", "efficiency", runs)
    ax.axhline(1.0, color="0.6", linewidth=0.8)
    ax.axvline(1.0, color="0.6", linewidth=0.8, linestyle=":")
    ax.set_xlabel("workers per usable core W / C")
    ax.set_ylabel("efficiency = ideal time / measured time")
    ax.set_title(f"{workload}, T={tasks}: efficiency")
    if df.shape[0]:
        ax.legend(fontsize="x-small")
