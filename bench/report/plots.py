"""Chart functions of the run report: each draws on a given Axes, never creates a figure.

Every function takes the summary frame of :mod:`bench.results.aggregate` and draws
one panel with a title, axes labelled with their units and a legend (a
colour bar for the heatmap).  Figures are made by :func:`bench.report.export.new_figure`;
:func:`add_caption` names the host under a figure.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.colors import to_hex, to_rgb
from matplotlib.figure import Figure
from matplotlib.ticker import LogFormatter

from bench.report.figures import spaced_labels, worker_axis, worker_ticks
from bench.report.frames import (
    at_largest_size,
    cold_pairs,
    is_baseline,
    lesson_bars,
    pick_workers,
    series_groups,
    series_label,
    size_points,
    size_text,
    steady,
)
from bench.report.tables import host_caption
from bench.results.ideal import gil_of, point_parallelism
from bench.results.recommend import task_unit
from bench.scenarios.models import LOOPS, MODELS

#: The process start methods, in the order a pool's series vary its look (:func:`style`).
_START_METHODS = ("fork", "forkserver", "spawn")
#: A variant's look by its index (:func:`style`): its model's colour moved towards black
#: (< 0) or white (> 0) by that share, and its marker.
_VARIANTS = ((0.0, "o"), (-0.35, "s"), (0.4, "^"), (-0.5, "D"), (0.6, "v"), (-0.2, "P"))
#: Colours of the models whose entry gives none (in :data:`MODELS`' order), and of models
#: this version does not know.
_FALLBACK_COLOURS = ("navy", "goldenrod", "crimson", "olivedrab", "slateblue", "sienna")

#: Heatmaps annotate their cells with values up to this many cells.
ANNOTATE_CELLS = 48
EFFICIENCY_LABEL = "efficiency = ideal time / measured time (ratio)"
#: The efficiency colour scale runs from 0 to 1 (ideal), stretched up to this when cells beat it.
EFFICIENCY_SCALE_MAX = 1.25
_IDEAL_COLOURS = ("k", "0.45", "0.7")


def style(model: str, start_method: str = "") -> dict[str, Any]:
    """The colour and marker of a model's series (and start method) in every chart.

    The colour is the model's entry's (``ModelDef.colour``; else one of
    :data:`_FALLBACK_COLOURS`); each start method of a pool measured per
    start method and each event loop of :data:`LOOPS` but the first gets a
    shade of it and a marker of its own (:data:`_VARIANTS`), so that no two
    series look the same.
    """
    spec = MODELS.get(model)
    if spec is None:
        return {"color": _FALLBACK_COLOURS[zlib.crc32(model.encode()) % len(_FALLBACK_COLOURS)],
                "marker": "x"}
    base = MODELS.get(spec.variant_of, spec)
    plain = [m for m, d in MODELS.items() if not d.colour and not d.variant_of]
    hue = base.colour or _FALLBACK_COLOURS[plain.index(base.name) % len(_FALLBACK_COLOURS)]
    method = _START_METHODS.index(start_method) if spec.per_start_method \
        and start_method in _START_METHODS else 0
    shade, marker = _VARIANTS[(method + len(_START_METHODS) * list(LOOPS).index(spec.loop))
                              % len(_VARIANTS)]
    end = float(shade > 0)  # white or black
    r, g, b = (v + (end - v) * abs(shade) for v in to_rgb(hue))
    return {"color": to_hex((r, g, b)), "marker": marker}


def colour(model: str, start_method: str = "") -> str:
    """The colour of a model's series (and start method): :func:`style`'s."""
    return str(style(model, start_method)["color"])


def no_data(ax: Axes, title: str) -> None:
    ax.set_title(title)
    ax.text(0.5, 0.5, "no data in this run", transform=ax.transAxes, ha="center",
            va="center", color="0.4")
    ax.set_xticks([])
    ax.set_yticks([])


def at_size(ax: Axes, summary: pd.DataFrame, workload: str, task_size: float | None,
             what: str) -> tuple[pd.DataFrame, str] | None:
    """A workload's steady points at one size (default: its largest) and the chart's title.

    None, with the Axes marked "no data", when the workload has no steady point.
    """
    df = steady(summary, workload)
    if df.empty:
        no_data(ax, f"{workload}: {what}")
        return None
    size = float(df["task_size"].max()) if task_size is None else task_size
    return df[df["task_size"] == size], f"{workload}{size_text(summary, workload, size)}: {what}"


def plot_speedup(ax: Axes, summary: pd.DataFrame, *, workload: str, cores: int,
                 tasks: int | None = None, task_size: float | None = None) -> None:
    """Speedup vs workers W at one task count, one line per model with its 95 % CI band.

    Also draws the ideal speedup of every series (:func:`bench.results.ideal.ideal_parallelism`
    of the workload's resource and the model's overlap; series with the same
    ideal share one line), a vertical marker at W = C, and models without
    workers as horizontal dashed lines.  ``tasks`` defaults to the largest T,
    ``task_size`` to the largest size measured.
    """
    found = at_size(ax, summary, workload, task_size, "speedup vs workers")
    if found is None:
        return
    df, title = found
    tasks = int(df["tasks"].max()) if tasks is None else tasks
    df = df[df["tasks"] == tasks]
    pooled = df[df["workers"].notna()]
    for model, sm, g in series_groups(pooled):
        x = g["workers"].astype(float).to_numpy()
        y = g["speedup"].astype(float).to_numpy()
        lo, hi = g["speedup_ci_low"].astype(float), g["speedup_ci_high"].astype(float)
        look = style(model, sm)
        c = look["color"]
        if len(x) > 1:
            ax.fill_between(x, lo, hi, color=c, alpha=0.18, linewidth=0)
        else:  # a band needs two points: show a lone point's CI as an error bar
            ax.errorbar(x, y, yerr=np.vstack([y - lo, hi - y]).clip(min=0), color=c,
                        linestyle="none", capsize=3, linewidth=0.8)
        ax.plot(x, y, **look, label=series_label(model, sm))
    others = df[df["workers"].isna() & ~df["model"].map(is_baseline).astype(bool)]
    for model, sm, g in series_groups(others):
        ax.axhline(float(g["speedup"].iloc[0]), color=colour(model, sm), linestyle="--",
                   label=f"{series_label(model, sm)} (no workers)")
    top = max([cores, *pooled["workers"].astype(int)])
    ws = np.arange(1, top + 1)
    _ideal_lines(ax, summary, df[~df["model"].map(is_baseline).astype(bool)], workload=workload,
                 tasks=tasks, cores=cores, ws=ws)
    ax.axvline(cores, color="0.5", linewidth=0.8, linestyle="-.",
               label=f"W = C = {cores} usable cores")
    worker_axis(ax, pooled["workers"].astype(float), cores=cores, top=top)
    ax.set_ylim(bottom=0)
    ax.set_ylabel("speedup (\N{MULTIPLICATION SIGN} sequential)")
    ax.set_title(f"{title} (T = {tasks})")
    ax.legend(fontsize="x-small")


def _ideal_lines(ax: Axes, summary: pd.DataFrame, df: pd.DataFrame, *, workload: str,
                 tasks: int, cores: int, ws: np.ndarray) -> None:
    """One dotted ideal line per distinct ideal curve over ``ws``, labelled with its series."""
    curves: dict[tuple[float, ...], list[str]] = {}
    rows = summary[summary["workload"] == workload]  # the specs are read off this workload's rows
    for model, sm, g in series_groups(df):
        pooled = g["workers"].notna().any()
        ys = tuple(point_parallelism(rows, workload=workload, model=model, tasks=tasks,
                                     workers=int(w) if pooled else None, cores=cores,
                                     gil=gil_of(g.iloc[0])) for w in ws)
        if not any(math.isnan(y) for y in ys):
            curves.setdefault(ys, []).append(series_label(model, sm))
    for i, (ys, names) in enumerate(curves.items()):
        ax.plot(ws, ys, linestyle=":", linewidth=1.6, color=_IDEAL_COLOURS[i % len(_IDEAL_COLOURS)],
                label=f"ideal: {', '.join(names)}")


def plot_wall_time(ax: Axes, summary: pd.DataFrame, *, workload: str, cores: int,
                   task_size: float | None = None) -> None:
    """Median batch time vs task count T, log-log, one line per model.

    Pooled models are drawn at W = C (or their largest W when C was not
    measured); ``task_size`` defaults to the largest size measured.
    """
    found = at_size(ax, summary, workload, task_size, "wall time vs tasks")
    if found is None:
        return
    df, title = found
    for model, sm, g in series_groups(df):
        label = series_label(model, sm)
        if g["workers"].notna().any():
            w = pick_workers(g["workers"], cores)
            g = g[g["workers"] == w]
            label += f" (W = {w})"
        g = g.sort_values("tasks")
        x = g["tasks"].astype(float).to_numpy()
        look = style(model, sm)
        ax.fill_between(x, g["ci_low_s"].astype(float) * 1e3,
                        g["ci_high_s"].astype(float) * 1e3, color=look["color"], alpha=0.18,
                        linewidth=0)
        ax.plot(x, g["median_s"].astype(float) * 1e3, **look, label=label)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(LogFormatter(labelOnlyBase=False))
    ax.yaxis.set_minor_formatter(LogFormatter(labelOnlyBase=False, minor_thresholds=(2, 0.5)))
    ticks = sorted({int(t) for t in df["tasks"]})
    if len(ticks) == 1:  # one task count: a window around it, not a singular axis
        ax.set_xlim(ticks[0] / 2, ticks[0] * 2)
    ax.set_xticks(ticks, spaced_labels(ax, ticks, [str(t) for t in ticks]))
    ax.set_xlabel("tasks per batch T (count, log scale)")
    ax.set_ylabel("median batch time (ms, log scale)")
    ax.set_title(title)
    ax.legend(fontsize="x-small")


def efficiency_rows(summary: pd.DataFrame,
                    workload: str | None = None) -> list[tuple[str, int]]:
    """The heatmaps' rows: (workload, T) of every pooled point with an efficiency, in order.

    Workloads in the summary's order, task counts ascending; the panels of one
    figure share these rows, so that a row reads across the figure.
    """
    df = at_largest_size(steady(summary, workload))
    df = df[df["workers"].notna() & df["efficiency"].notna()]
    order = {wl: i for i, wl in enumerate(dict.fromkeys(df["workload"]))}
    pairs = {(str(wl), int(t)) for wl, t in zip(df["workload"], df["tasks"], strict=True)}
    return sorted(pairs, key=lambda r: (order[r[0]], r[1]))


def plot_efficiency_heatmap(ax: Axes, summary: pd.DataFrame, *, model: str,
                            start_method: str = "", workload: str | None = None,
                            colorbar: bool = True, vmax: float | None = None,
                            rows: list[tuple[str, int]] | None = None,
                            row_labels: bool = True) -> None:
    """Efficiency (ideal time / measured time) of one pooled model over tasks x workers.

    One row per task count T and one column per worker count W.  Without
    ``workload``, the rows of every workload the model ran are stacked, in
    blocks divided by a white line and labelled ``workload T``.  Cells are
    annotated with their value when there are at most :data:`ANNOTATE_CELLS`.
    Each workload is shown at its largest measured task size.  The colour
    scale runs from 0 to 1 (the ideal), up to :data:`EFFICIENCY_SCALE_MAX`
    when cells beat the ideal (noise, or a task faster in a worker than in
    the baseline).  The colour bar is the legend:
    drawn beside the Axes unless ``colorbar`` is false (a figure sharing one
    colour bar passes ``vmax`` so that every panel uses the same scale).
    ``rows`` (see :func:`efficiency_rows`) fixes the rows, empty where the
    model has no point; a panel that is not first in its figure row passes
    ``row_labels=False`` and shows neither y tick labels nor y label (the
    rows are those of the panel on its left).
    """
    df = at_largest_size(steady(summary, workload))
    df = df[(df["model"] == model) & (df["start_method"] == start_method)
            & df["workers"].notna() & df["efficiency"].notna()]  # no ideal, no efficiency
    where = f", {workload}" if workload else ""
    title = f"{series_label(model, start_method)}{where}: efficiency"
    if df.empty:
        no_data(ax, title)
        return
    grid = df.pivot_table(index=["workload", "tasks"], columns="workers", values="efficiency",
                          aggfunc="mean")
    wanted = efficiency_rows(df, workload) if rows is None else rows
    grid = grid.reindex(pd.MultiIndex.from_tuples(wanted, names=["workload", "tasks"]))
    values = grid.to_numpy(dtype=float)
    top = efficiency_vmax(values) if vmax is None else vmax
    image = ax.imshow(values, origin="lower", aspect="auto", cmap="viridis", vmin=0.0, vmax=top)
    for (i, j), v in np.ndenumerate(values if values.size <= ANNOTATE_CELLS else []):
        if not math.isnan(v):
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize="small",
                    color="white" if v < 0.6 * top else "black")
    labels = [str(t) if workload else f"{wl} {t}" for wl, t in grid.index]
    for i in range(1, len(grid.index)):
        if grid.index[i][0] != grid.index[i - 1][0]:
            ax.axhline(i - 0.5, color="white", linewidth=2)
    shown = worker_ticks(grid.columns)  # one column per W measured: at most ten labelled
    ax.set_xticks([list(grid.columns).index(w) for w in shown], [str(w) for w in shown])
    ax.set_xlabel("workers W (count)")
    if row_labels:
        ax.set_yticks(range(len(labels)), labels)
        ax.set_ylabel("tasks per batch T (count)" if workload else "workload, tasks per batch T")
    else:
        ax.set_yticks([])  # a Tick is costly to draw; the panel on the left labels the rows
    # placed, not fitted above the tick labels: nothing is drawn above a heatmap
    ax.set_title(title, fontsize="medium", y=1.0)
    if colorbar:
        ax.figure.colorbar(image, ax=ax, label=EFFICIENCY_LABEL)


def efficiency_vmax(values: Any) -> float:
    """The top of the efficiency colour scale: 1, or the largest value up to the cap."""
    arr = np.asarray(values, dtype=float)
    top = float(np.nanmax(arr)) if arr.size and not np.isnan(arr).all() else 1.0
    return min(max(1.0, top), EFFICIENCY_SCALE_MAX)


def plot_sleep_lesson(ax: Axes, summary: pd.DataFrame, *, cores: int,
                      tasks: int | None = None) -> None:
    """The seed's lesson: T waiting tasks run each way, wall time in one task's time.

    Horizontal bars (see :func:`lesson_bars`), each with its ideal marked, and
    reference lines at one task's time and at T task times.
    """
    bars = lesson_bars(summary, cores=cores, tasks=tasks)
    title = "waiting tasks: overlapped or one after another"
    if bars.empty:
        no_data(ax, title)
        return
    t = int(bars["tasks"].iloc[0])
    y = np.arange(len(bars))[::-1]
    colours = [colour(m, sm) for m, sm in zip(bars["model"], bars["start_method"], strict=True)]
    container = ax.barh(y, bars["sleeps"], color=colours, height=0.6)
    ax.bar_label(container, labels=[f"{v:.2f}" + (f"  ({b})" if b else "")
                                    for v, b in zip(bars["sleeps"], bars["beside"], strict=True)],
                 padding=3, fontsize="small")
    ax.plot(bars["ideal_sleeps"], y, linestyle="none", marker="|", markersize=22,
            markeredgewidth=2, color="k", label="ideal for the model")
    ax.axvline(1.0, color="C2", linestyle="--", label="one task's time (all overlap)")
    ax.axvline(t, color="C3", linestyle=":", label=f"T = {t} task times (one after another)")
    ax.set_yticks(y, list(bars["label"]))
    if t > 16:
        ax.set_xscale("log")
    top = max(t, float(bars["sleeps"].max()))
    room = 1.5 if bars["beside"].astype(bool).any() else 1.0  # the metrics beside each bar
    ax.set_xlim(right=top * (1.8 if t > 16 else 1.2) * (room if t <= 16 else room ** 2))
    ax.set_xlabel("wall time per batch (task times: sequential median / T)")
    ax.set_ylabel("workload, model")
    ax.set_title(f"waiting tasks: {t} per batch, overlapped or one after another")
    ax.legend(fontsize="x-small", loc="best")


def plot_speedup_vs_size(ax: Axes, summary: pd.DataFrame, *, workload: str,
                         tasks: int | None = None) -> None:
    """Speedup vs task size (log scale), one line per pooled model and start method.

    Each point is the model's best speedup over its worker counts at that
    size (see :func:`size_points`), with its 95 % CI as an error bar; a
    horizontal line at 1 marks the sequential baseline: a pool pays where
    its interval lies above it.
    """
    df = size_points(summary, workload=workload, tasks=tasks)
    title = f"{workload}: speedup vs task size"
    if df.empty:
        no_data(ax, title)
        return
    for model, sm, g in series_groups(df):
        g = g.sort_values("task_size")
        x = g["task_size"].astype(float).to_numpy()
        y = g["speedup"].astype(float).to_numpy()
        lo = g["speedup_ci_low"].astype(float).to_numpy()
        hi = g["speedup_ci_high"].astype(float).to_numpy()
        yerr = np.nan_to_num(np.vstack([y - lo, hi - y]).clip(min=0))
        look = style(model, sm)
        ax.errorbar(x, y, yerr=yerr, color=look["color"], linestyle="none", capsize=3,
                    linewidth=0.8)
        ax.plot(x, y, **look, label=f"{series_label(model, sm)} (best W)")
    ax.axhline(1.0, color="0.4", linestyle="--", linewidth=1,
               label="sequential (1\N{MULTIPLICATION SIGN})")
    ax.set_xscale("log")
    ax.set_ylim(bottom=0)
    ax.set_xlabel(f"task size ({task_unit(summary, workload)}, log scale)")
    ax.set_ylabel("speedup (\N{MULTIPLICATION SIGN} sequential), best over W")
    ax.set_title(f"{title} (T = {int(df['tasks'].iloc[0])})")
    ax.legend(fontsize="x-small")


def plot_cold_start(ax: Axes, summary: pd.DataFrame) -> None:
    """Pool cold start (creation + first batch) per start method next to the warm batch."""
    pairs = cold_pairs(summary)
    title = "pool cold start vs warm batch"
    if pairs.empty:
        no_data(ax, title)
        return
    x = np.arange(len(pairs))
    cold = ax.bar(x - 0.2, pairs["cold_s"] * 1e3, width=0.4, color="C3",
                  label="cold: create pool + first batch")
    warm = ax.bar(x + 0.2, pairs["warm_s"].fillna(0.0) * 1e3, width=0.4, color="C0",
                  label="warm batch (pool ready)")
    ax.bar_label(cold, fmt="%.1f", fontsize="x-small", padding=2)
    ax.bar_label(warm, labels=["" if math.isnan(v) else f"{v * 1e3:.1f}"
                               for v in pairs["warm_s"]], fontsize="x-small", padding=2)
    ax.set_xticks(x, list(pairs["label"]), rotation=15)
    shapes = {(int(t), None if pd.isna(w) else int(w))
              for t, w in zip(pairs["tasks"], pairs["workers"], strict=True)}
    if len(shapes) == 1:
        t, w = shapes.pop()
        title += f" (T = {t})" if w is None else f" (T = {t}, W = {w})"
    ax.set_xlabel("pool (start method)")
    ax.set_ylabel("time (ms)")
    ax.set_title(title)
    ax.legend(fontsize="x-small")


def add_caption(fig: Figure, host: Mapping[str, Any]) -> None:
    """Write the host caption under ``fig`` (kept clear of the axes by the layout)."""
    fig.supxlabel(host_caption(host), fontsize="small", color="0.3")
