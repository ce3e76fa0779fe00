"""The run report's charts: one figure per chart kind (drawn by :mod:`bench.report.drawing`).

Panels are per workload or pooled model, never per point, so the number of
figures stays bounded however large the grid.  Each figure is saved as PNG
and SVG (:func:`bench.report.figures.save_figure`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.axes import Axes

from bench.report import calls_plots, frames, metric_plots, plots
from bench.report.decision_plots import plot_verdicts
from bench.report.drawing import VERDICTS, Chart, cores_of, sized_workloads, workloads_of
from bench.report.figures import fit_layout, new_figure, save_figure
from bench.report.interpreters import plot_interpreters, python_label
from bench.results.calls import calls_frame
from bench.results.decisions import QUESTION
from bench.results.recommend import margin_text
from bench.scenarios.metrics import METRICS
from bench.scenarios.models import COLD

#: Inches kept on the right of the efficiency heatmaps for their shared colour bar.
COLORBAR_IN = 1.2


def _named(stem: str, title: str, summary: pd.DataFrame,
           host: Mapping[str, Any]) -> tuple[str, str]:
    """A chart of one interpreter's points, in a run of several, names it: ``speedup-3.14``,
    ``...: Python 3.14.0`` (a run of one has one tag, "")."""
    tags = set(summary["python"].astype(str))
    if len(tags) != 1 or tags == {""}:
        return stem, title
    return f"{stem}-{tags.pop()}", f"{title}: {python_label(host)}"


def _panel_figure(summary: pd.DataFrame, stem: str, title: str, panels: list[str],
                  draw: Callable[[Axes, str], None], host: dict[str, Any],
                  out_dir: Path, *, width: float = 6.4) -> Chart:
    stem, title = _named(stem, title, summary, host)
    ncols = min(len(panels), 2)
    fig, axes = new_figure(ncols, math.ceil(len(panels) / ncols), width=width)
    for ax, panel in zip(axes, panels, strict=False):
        draw(ax, panel)
    for ax in axes[len(panels):]:
        ax.remove()
    plots.add_caption(fig, host)
    paths = save_figure(fig, out_dir, stem)
    return Chart(paths["png"].stem, title, paths["png"], paths["svg"])


def _speedup_chart(summary: pd.DataFrame, host: dict[str, Any], out_dir: Path) -> Chart:
    cores = cores_of(summary, host)
    return _panel_figure(
        summary, "speedup", "Speedup vs workers, per workload", workloads_of(summary),
        lambda ax, wl: plots.plot_speedup(ax, summary, workload=wl, cores=cores), host, out_dir)


def _metric_chart(metric: str, summary: pd.DataFrame, host: dict[str, Any],
                  out_dir: Path) -> Chart:
    """The chart of a metric whose entry has a ``chart``, named after the metric."""
    spec, cores = METRICS[metric], cores_of(summary, host)
    ideal = ", with the ideal" if spec.ideal else ""
    return _panel_figure(
        summary, metric, f"{metric[:1].upper()}{metric[1:]} vs workers, per workload{ideal}",
        frames.metric_workloads(summary, spec.col),
        lambda ax, wl: metric_plots.plot_metric(ax, summary, metric=metric, workload=wl,
                                                cores=cores),
        host, out_dir)


def _wall_time_chart(summary: pd.DataFrame, host: dict[str, Any], out_dir: Path) -> Chart:
    cores = cores_of(summary, host)
    return _panel_figure(
        summary, "wall_time", "Wall time vs task count (log-log), per workload",
        workloads_of(summary),
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
    shared = plots.efficiency_rows(summary)
    for i, (ax, (model, sm, _)) in enumerate(zip(axes, series, strict=False)):
        plots.plot_efficiency_heatmap(ax, summary, model=model, start_method=sm,
                                      colorbar=False, vmax=vmax, rows=shared,
                                      row_labels=i % ncols == 0)
    for ax in axes[len(series):]:
        ax.remove()
    fig.suptitle("Efficiency = ideal time / measured time per pooled model, "
                 "tasks \N{MULTIPLICATION SIGN} workers")
    plots.add_caption(fig, host)
    _, bottom, right, top_ = fit_layout(fig, right=COLORBAR_IN)
    width = float(fig.get_size_inches()[0])
    cax = fig.add_axes((right + 0.25 / width, bottom, 0.18 / width, top_ - bottom))
    images = [im for ax in fig.axes for im in ax.images]
    fig.colorbar(images[0], cax=cax, label=plots.EFFICIENCY_LABEL,
                 extend="max" if top > vmax else "neither")
    stem, title = _named("efficiency", "Efficiency heatmaps (tasks \N{MULTIPLICATION SIGN} "
                         "workers) per pooled model", summary, host)
    paths = save_figure(fig, out_dir, stem)
    return Chart(paths["png"].stem, title, paths["png"], paths["svg"])


def _lesson_chart(summary: pd.DataFrame, host: dict[str, Any], out_dir: Path) -> Chart:
    cores = cores_of(summary, host)
    return _panel_figure(
        summary, "sleep_lesson",
        "The seed's lesson: waiting tasks, overlapped or one after another", ["lesson"],
        lambda ax, _: plots.plot_sleep_lesson(ax, summary, cores=cores), host, out_dir,
        width=8.0)


def _size_chart(summary: pd.DataFrame, host: dict[str, Any], out_dir: Path) -> Chart:
    return _panel_figure(
        summary, "speedup_size", "Speedup vs task size per pooled model (best W at each size)",
        sized_workloads(summary),
        lambda ax, wl: plots.plot_speedup_vs_size(ax, summary, workload=wl), host, out_dir)


def _cold_chart(summary: pd.DataFrame, host: dict[str, Any], out_dir: Path) -> Chart:
    return _panel_figure(summary, "cold_start",
                         "Pool cold start per start method vs warm batch", [COLD],
                         lambda ax, _: plots.plot_cold_start(ax, summary), host, out_dir)


def interpreter_chart(rows: pd.DataFrame, host: dict[str, Any], out_dir: Path) -> Chart:
    """The chart of a run of several interpreters (:mod:`bench.report.interpreters`)."""
    return _panel_figure(rows, "interpreters", "Which Python: each interpreter's sequential "
                         "loop and pick against the first one's sequential loop",
                         ["interpreters"], lambda ax, _: plot_interpreters(ax, rows), host,
                         out_dir, width=8.0)


def _verdict_chart(decisions: pd.DataFrame, host: dict[str, Any], out_dir: Path) -> Chart:
    """One workload's verdicts (:func:`bench.report.decision_plots.plot_verdicts`):
    ``decisions`` holds its questions' rows, the margin (``delta``) and whether the run
    raced (``raced``) in columns of their own (:func:`bench.report.drawing.verdict_jobs`)."""
    first = decisions.iloc[0]
    workload, delta, raced = str(first["workload"]), float(first["delta"]), bool(first["raced"])
    rows = len(decisions) + decisions.groupby(QUESTION, sort=False).ngroups + 1
    fig, (ax,) = new_figure(width=9.0, height=0.24 * rows + 1.8)
    plot_verdicts(ax, decisions, workload=workload, delta=delta, raced=raced)
    plots.add_caption(fig, host)
    paths = save_figure(fig, out_dir, f"verdicts-{workload}")
    return Chart(paths["png"].stem, f"Verdicts, {workload}: each rival's time over its "
                 "question's pick, with its interval; shaded: equivalent within "
                 f"\N{PLUS-MINUS SIGN}{margin_text(delta)}", paths["png"], paths["svg"])


ChartFn = Callable[[pd.DataFrame, dict[str, Any], Path], Chart]


def _network_chart(summary: pd.DataFrame, host: dict[str, Any], out_dir: Path) -> Chart:
    frame = calls_frame(summary)
    names = list(dict.fromkeys(frame[frame["asked"].notna()]["workload"]))
    panels = [f"{wl}\t{k}" for wl in names for k in ("throughput", "latency")]
    return _panel_figure(
        summary, "network", "Network calls: throughput and added p99 vs calls in flight",
        panels, lambda ax, p: calls_plots.plot_calls(
            ax, frame, workload=p.split("\t")[0], throughput=p.endswith("throughput")),
        host, out_dir)


#: Chart kinds (each metric's own chart follows the efficiency heatmaps in display order).
CHARTS: dict[str, ChartFn] = {
    "speedup": _speedup_chart, "speedup_size": _size_chart, "wall_time": _wall_time_chart,
    "efficiency": _efficiency_chart, "sleep_lesson": _lesson_chart, "cold_start": _cold_chart,
    "network": _network_chart, VERDICTS: _verdict_chart,
}


def render(kind: str, summary: pd.DataFrame, host: dict[str, Any], out_dir: Path) -> Chart:
    """Draw and save the chart of ``kind``: one of :data:`CHARTS`, or a metric's name."""
    if kind in CHARTS:
        return CHARTS[kind](summary, host, out_dir)
    return _metric_chart(kind, summary, host, out_dir)


