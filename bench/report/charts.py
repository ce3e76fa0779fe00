"""The run report's charts: one figure per chart kind, drawn in a pool of forked processes.

Panels are per workload or pooled model, never per point, so the number of
figures stays bounded however large the grid.  Each figure is saved as PNG
and SVG (:func:`bench.report.export.save_figure`).
"""

from __future__ import annotations

import math
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.axes import Axes

from bench.report import frames, plots
from bench.report.export import new_figure, save_figure
from bench.scenarios.models import COLD

#: At most this many processes draw charts.
MAX_RENDER_WORKERS = 4


@dataclass(frozen=True)
class Chart:
    """One saved chart: file stem, title, and its PNG and SVG files."""

    stem: str
    title: str
    png: Path
    svg: Path


def cores_of(summary: pd.DataFrame, host: dict[str, Any]) -> int:
    return int(host.get("usable_cores") or (summary["cores"].max() if len(summary) else 1))


def _panel_figure(stem: str, title: str, panels: list[str],
                  draw: Callable[[Axes, str], None], host: dict[str, Any],
                  out_dir: Path, *, width: float = 6.4) -> Chart:
    ncols = min(len(panels), 2)
    fig, axes = new_figure(ncols, math.ceil(len(panels) / ncols), width=width)
    for ax, panel in zip(axes, panels, strict=False):
        draw(ax, panel)
    for ax in axes[len(panels):]:
        ax.remove()
    plots.add_caption(fig, host)
    paths = save_figure(fig, out_dir, stem)
    return Chart(paths["png"].stem, title, paths["png"], paths["svg"])


def _workloads(summary: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(frames.steady(summary)["workload"]))


def _speedup_chart(summary: pd.DataFrame, host: dict[str, Any], out_dir: Path) -> Chart:
    cores = cores_of(summary, host)
    return _panel_figure(
        "speedup", "Speedup vs workers, per workload", _workloads(summary),
        lambda ax, wl: plots.plot_speedup(ax, summary, workload=wl, cores=cores), host, out_dir)


def _wall_time_chart(summary: pd.DataFrame, host: dict[str, Any], out_dir: Path) -> Chart:
    cores = cores_of(summary, host)
    return _panel_figure(
        "wall_time", "Wall time vs task count (log-log), per workload", _workloads(summary),
        lambda ax, wl: plots.plot_wall_time(ax, summary, workload=wl, cores=cores),
        host, out_dir)


def _efficiency_chart(summary: pd.DataFrame, host: dict[str, Any], out_dir: Path) -> Chart:
    """One heatmap per pooled model, side by side, sharing one colour scale."""
    series = frames.pooled_series(summary)
    pooled = frames.steady(summary)
    pooled = pooled[pooled["workers"].notna()]
    top = float(pooled["efficiency"].max())
    # efficiency is 1 at best; cells beating the ideal (noise) stretch the scale a little
    vmax = plots.efficiency_vmax(pooled["efficiency"])
    rows = len(pooled.drop_duplicates(["workload", "tasks"]))
    ncols = min(len(series), 3 if rows < 8 else 5)
    fig, axes = new_figure(ncols, math.ceil(len(series) / ncols), width=4.2 if rows < 8 else 3.6,
                           height=max(3.0, 0.22 * rows + 1.4))
    for ax, (model, sm, _) in zip(axes, series, strict=False):
        plots.plot_efficiency_heatmap(ax, summary, model=model, start_method=sm,
                                      colorbar=False, vmax=vmax)
    for ax in axes[len(series):]:
        ax.remove()
    images = [im for ax in fig.axes for im in ax.images]
    fig.colorbar(images[0], ax=fig.axes, label=plots.EFFICIENCY_LABEL, shrink=0.9,
                 extend="max" if top > vmax else "neither")
    fig.suptitle("Efficiency = ideal time / measured time per pooled model, "
                 "tasks \N{MULTIPLICATION SIGN} workers")
    plots.add_caption(fig, host)
    paths = save_figure(fig, out_dir, "efficiency")
    title = "Efficiency heatmaps (tasks \N{MULTIPLICATION SIGN} workers) per pooled model"
    return Chart(paths["png"].stem, title, paths["png"], paths["svg"])


def _lesson_chart(summary: pd.DataFrame, host: dict[str, Any], out_dir: Path) -> Chart:
    cores = cores_of(summary, host)
    return _panel_figure(
        "sleep_lesson", "The seed's lesson: waiting tasks, overlapped or one after another",
        ["lesson"],
        lambda ax, _: plots.plot_sleep_lesson(ax, summary, cores=cores), host, out_dir,
        width=8.0)


def _sized(summary: pd.DataFrame) -> list[str]:
    """Workloads measured at more than one task size."""
    return [wl for wl in _workloads(summary) if len(frames.sizes(summary, wl)) > 1]


def _size_chart(summary: pd.DataFrame, host: dict[str, Any], out_dir: Path) -> Chart:
    return _panel_figure(
        "speedup_size", "Speedup vs task size per pooled model (best W at each size)",
        _sized(summary), lambda ax, wl: plots.plot_speedup_vs_size(ax, summary, workload=wl),
        host, out_dir)


def _cold_chart(summary: pd.DataFrame, host: dict[str, Any], out_dir: Path) -> Chart:
    return _panel_figure("cold_start", "Pool cold start per start method vs warm batch",
                         [COLD], lambda ax, _: plots.plot_cold_start(ax, summary),
                         host, out_dir)


ChartFn = Callable[[pd.DataFrame, dict[str, Any], Path], Chart]

#: Chart kinds in display order.
CHARTS: dict[str, ChartFn] = {
    "speedup": _speedup_chart, "speedup_size": _size_chart, "wall_time": _wall_time_chart,
    "efficiency": _efficiency_chart, "sleep_lesson": _lesson_chart, "cold_start": _cold_chart,
}


def chart_kinds(summary: pd.DataFrame, host: dict[str, Any]) -> list[str]:
    """The chart kinds the run's data supports, in display order."""
    kinds = []
    if _workloads(summary):
        kinds += ["speedup", *(["speedup_size"] if _sized(summary) else []), "wall_time"]
    if frames.pooled_series(summary) and summary["efficiency"].notna().any():
        kinds.append("efficiency")  # workloads of unknown resource kind have no ideal
    if not frames.lesson_bars(summary, cores=cores_of(summary, host)).empty:
        kinds.append("sleep_lesson")
    if (summary["metric"] == COLD).any():
        kinds.append("cold_start")
    return kinds


def _render(kind: str, summary: pd.DataFrame, host: dict[str, Any], out_dir: Path) -> Chart:
    return CHARTS[kind](summary, host, out_dir)


def render_workers(n_charts: int) -> int:
    """Processes to draw charts in: up to the usable CPUs, 1 where forking is unsafe.

    Drawing is pure-Python matplotlib work; forked workers (which inherit
    the imports) roughly divide the report's time by the CPUs.  Only on
    Linux, and never from a process already running threads.
    """
    if n_charts < 2 or threading.active_count() > 1 or not sys.platform.startswith("linux"):
        return 1
    return max(1, min(n_charts, len(os.sched_getaffinity(0)), MAX_RENDER_WORKERS))


#: Signals the chart workers leave to the parent.
_INTERRUPTS = frozenset({signal.SIGINT, signal.SIGTERM})


def _chart_worker_init() -> None:
    """Start of a chart worker: Ctrl-C is the parent's business, SIGTERM ends the worker.

    A terminal's Ctrl-C reaches the whole foreground process group, workers
    included; the parent stops and ends them itself, so they ignore SIGINT
    rather than each printing a traceback.  They were forked with both
    signals blocked (see :func:`build_charts`) and unblock them here.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _INTERRUPTS)


def build_charts(summary: pd.DataFrame, host: dict[str, Any], out_dir: Path, *,
                 workers: int | None = None) -> list[Chart]:
    """Draw and save every chart the run's data supports, one figure per chart kind.

    Panels are per workload or pooled model, never per point, so the number
    of figures stays bounded however large the grid.  ``workers`` (default
    :func:`render_workers`) processes draw the figures.  Interrupted (Ctrl-C,
    SIGTERM), the workers are ended at once rather than left to finish their
    charts.
    """
    kinds = chart_kinds(summary, host)
    workers = render_workers(len(kinds)) if workers is None else workers
    if workers <= 1:
        return [_render(k, summary, host, out_dir) for k in kinds]
    costly_first = sorted(kinds, key=lambda k: k not in ("efficiency", "wall_time"))
    ctx = multiprocessing.get_context("fork")
    # Signals stay blocked while the pool forks its workers (they inherit the mask
    # until their initializer runs), so an interrupt never lands half-way through
    # its start; a pending one is raised inside the with block, which ends the pool.
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, _INTERRUPTS)
    try:
        with ctx.Pool(workers, initializer=_chart_worker_init) as pool:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
            pending = {k: pool.apply_async(_render, (k, summary, host, out_dir))
                       for k in costly_first}
            return [pending[k].get() for k in kinds]
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
