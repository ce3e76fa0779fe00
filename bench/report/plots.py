"""Chart functions of the run report: each draws on a given Axes, never creates a figure.

Every function takes the summary frame of :mod:`bench.results.aggregate` and draws
one panel with a title, axes labelled with their units and a legend (a
colour bar for the heatmap).  Figures are made by :func:`bench.report.export.new_figure`;
:func:`add_caption` names the host under a figure.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import LogFormatter

from bench.results.ideal import point_parallelism
from bench.scenarios.models import MODELS

_MODEL_ORDER = list(MODELS)
_PROCESS_COLOURS = {"fork": "C2", "forkserver": "C8", "spawn": "C9"}
_COLOURS = {"sequential": "0.4", "asyncio_await": "C4", "asyncio_gather": "C0",
            "asyncio_create_task": "C6", "asyncio_taskgroup": "C5",
            "asyncio_blocking": "C3", "to_thread": "C1", "thread_pool": "C7"}


#: Heatmaps annotate their cells with values up to this many cells.
ANNOTATE_CELLS = 48
EFFICIENCY_LABEL = "efficiency = ideal time / measured time (ratio)"
#: The efficiency colour scale runs from 0 to 1 (ideal), stretched up to this when cells beat it.
EFFICIENCY_SCALE_MAX = 1.25
_IDEAL_COLOURS = ("k", "0.45", "0.7")


def series_label(model: str, start_method: str = "") -> str:
    """``process_pool[fork]`` for process pools, the model name otherwise."""
    return f"{model}[{start_method}]" if start_method else model


def colour(model: str, start_method: str = "") -> str:
    """The colour of a model (and start method) in every chart."""
    if model == "process_pool":
        return _PROCESS_COLOURS.get(start_method, "C2")
    return _COLOURS.get(model, "k")


def steady(summary: pd.DataFrame, workload: str | None = None) -> pd.DataFrame:
    """Steady points with a speedup, optionally of one workload."""
    q = (summary["metric"] == "steady") & summary["speedup"].notna()
    if workload is not None:
        q &= summary["workload"] == workload
    return summary[q]


def _order(df: pd.DataFrame) -> pd.DataFrame:
    rank = df["model"].map({m: i for i, m in enumerate(_MODEL_ORDER)}).fillna(len(_MODEL_ORDER))
    return df.assign(_rank=rank).sort_values(["_rank", "start_method", "tasks", "workers"],
                                             kind="stable")


def _groups(df: pd.DataFrame) -> list[tuple[str, str, pd.DataFrame]]:
    """(model, start_method, rows) per series, in the models' order."""
    out = []
    for (model, sm), g in _order(df).groupby(["model", "start_method"], sort=False):
        out.append((str(model), str(sm), g))
    return out


def _no_data(ax: Axes, title: str) -> None:
    ax.set_title(title)
    ax.text(0.5, 0.5, "no data in this run", transform=ax.transAxes, ha="center",
            va="center", color="0.4")
    ax.set_xticks([])
    ax.set_yticks([])


def pick_workers(workers: pd.Series, cores: int) -> int:
    """W = C when measured, else the largest W measured."""
    ws = [int(w) for w in workers.dropna()]
    return cores if cores in ws else max(ws)


def plot_speedup(ax: Axes, summary: pd.DataFrame, *, workload: str, cores: int,
                 tasks: int | None = None) -> None:
    """Speedup vs workers W at one task count, one line per model with its 95 % CI band.

    Also draws the ideal speedup of every series (:func:`bench.results.ideal.ideal_parallelism`
    of the workload's resource and the model's overlap; series with the same
    ideal share one line), a vertical marker at W = C, and models without
    workers as horizontal dashed lines.  ``tasks`` defaults to the largest T.
    """
    df = steady(summary, workload)
    title = f"{workload}: speedup vs workers"
    if df.empty:
        _no_data(ax, title)
        return
    tasks = int(df["tasks"].max()) if tasks is None else tasks
    df = df[df["tasks"] == tasks]
    pooled = df[df["workers"].notna()]
    for model, sm, g in _groups(pooled):
        x = g["workers"].astype(float).to_numpy()
        y = g["speedup"].astype(float).to_numpy()
        lo, hi = g["speedup_ci_low"].astype(float), g["speedup_ci_high"].astype(float)
        c = colour(model, sm)
        if len(x) > 1:
            ax.fill_between(x, lo, hi, color=c, alpha=0.18, linewidth=0)
        else:  # a band needs two points: show a lone point's CI as an error bar
            ax.errorbar(x, y, yerr=np.vstack([y - lo, hi - y]).clip(min=0), color=c,
                        linestyle="none", capsize=3, linewidth=0.8)
        ax.plot(x, y, marker="o", color=c, label=series_label(model, sm))
    for model, sm, g in _groups(df[df["workers"].isna() & (df["model"] != "sequential")]):
        ax.axhline(float(g["speedup"].iloc[0]), color=colour(model, sm), linestyle="--",
                   label=f"{series_label(model, sm)} (no workers)")
    top = max([cores, *pooled["workers"].astype(int)])
    ws = np.arange(1, top + 1)
    _ideal_lines(ax, summary, df[df["model"] != "sequential"], workload=workload,
                 tasks=tasks, cores=cores, ws=ws)
    ax.axvline(cores, color="0.5", linewidth=0.8, linestyle="-.",
               label=f"W = C = {cores} usable cores")
    ax.set_xticks(ws)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("workers W (count)")
    ax.set_ylabel("speedup (\N{MULTIPLICATION SIGN} sequential)")
    ax.set_title(f"{title} (T = {tasks})")
    ax.legend(fontsize="x-small")


def _ideal_lines(ax: Axes, summary: pd.DataFrame, df: pd.DataFrame, *, workload: str,
                 tasks: int, cores: int, ws: np.ndarray) -> None:
    """One dotted ideal line per distinct ideal curve over ``ws``, labelled with its series."""
    curves: dict[tuple[float, ...], list[str]] = {}
    for model, sm, g in _groups(df):
        pooled = g["workers"].notna().any()
        ys = tuple(point_parallelism(summary, workload=workload, model=model, tasks=tasks,
                                     workers=int(w) if pooled else None, cores=cores)
                   for w in ws)
        if not any(math.isnan(y) for y in ys):
            curves.setdefault(ys, []).append(series_label(model, sm))
    for i, (ys, names) in enumerate(curves.items()):
        ax.plot(ws, ys, linestyle=":", linewidth=1.6, color=_IDEAL_COLOURS[i % len(_IDEAL_COLOURS)],
                label=f"ideal: {', '.join(names)}")


def plot_wall_time(ax: Axes, summary: pd.DataFrame, *, workload: str, cores: int) -> None:
    """Median batch time vs task count T, log-log, one line per model.

    Pooled models are drawn at W = C (or their largest W when C was not measured).
    """
    df = steady(summary, workload)
    title = f"{workload}: wall time vs tasks"
    if df.empty:
        _no_data(ax, title)
        return
    for model, sm, g in _groups(df):
        label = series_label(model, sm)
        if g["workers"].notna().any():
            w = pick_workers(g["workers"], cores)
            g = g[g["workers"] == w]
            label += f" (W = {w})"
        g = g.sort_values("tasks")
        x = g["tasks"].astype(float).to_numpy()
        c = colour(model, sm)
        ax.fill_between(x, g["ci_low_s"].astype(float) * 1e3,
                        g["ci_high_s"].astype(float) * 1e3, color=c, alpha=0.18, linewidth=0)
        ax.plot(x, g["median_s"].astype(float) * 1e3, marker="o", color=c, label=label)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(LogFormatter(labelOnlyBase=False))
    ax.yaxis.set_minor_formatter(LogFormatter(labelOnlyBase=False, minor_thresholds=(2, 0.5)))
    ticks = sorted({int(t) for t in df["tasks"]})
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.set_xlabel("tasks per batch T (count, log scale)")
    ax.set_ylabel("median batch time (ms, log scale)")
    ax.set_title(title)
    ax.legend(fontsize="x-small")


def plot_efficiency_heatmap(ax: Axes, summary: pd.DataFrame, *, model: str,
                            start_method: str = "", workload: str | None = None,
                            colorbar: bool = True, vmax: float | None = None) -> None:
    """Efficiency (ideal time / measured time) of one pooled model over tasks x workers.

    One row per task count T and one column per worker count W.  Without
    ``workload``, the rows of every workload the model ran are stacked, in
    blocks divided by a white line and labelled ``workload T``.  Cells are
    annotated with their value when there are at most :data:`ANNOTATE_CELLS`.
    The colour scale runs from 0 to 1 (the ideal), up to
    :data:`EFFICIENCY_SCALE_MAX` when cells beat the ideal (noise, or a task
    faster in a worker than in the baseline).  The colour bar is the legend:
    drawn beside the Axes unless ``colorbar`` is false (a figure sharing one
    colour bar passes ``vmax`` so that every panel uses the same scale).
    """
    df = steady(summary, workload)
    df = df[(df["model"] == model) & (df["start_method"] == start_method)
            & df["workers"].notna()]
    where = f", {workload}" if workload else ""
    title = f"{series_label(model, start_method)}{where}: efficiency"
    if df.empty:
        _no_data(ax, title)
        return
    order = {wl: i for i, wl in enumerate(dict.fromkeys(df["workload"]))}
    grid = df.pivot_table(index=["workload", "tasks"], columns="workers", values="efficiency",
                          aggfunc="mean")
    grid = grid.iloc[sorted(range(len(grid)), key=lambda i: (order[grid.index[i][0]],
                                                             grid.index[i][1]))]
    values = grid.to_numpy(dtype=float)
    top = efficiency_vmax(values) if vmax is None else vmax
    image = ax.imshow(values, origin="lower", aspect="auto", cmap="viridis", vmin=0.0, vmax=top)
    for (i, j), v in np.ndenumerate(values if values.size <= ANNOTATE_CELLS else []):
        if not math.isnan(v):
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize="small",
                    color="white" if v < 0.6 * top else "black")
    rows = [str(t) if workload else f"{wl} {t}" for wl, t in grid.index]
    for i in range(1, len(grid.index)):
        if grid.index[i][0] != grid.index[i - 1][0]:
            ax.axhline(i - 0.5, color="white", linewidth=2)
    ax.set_xticks(range(len(grid.columns)), [str(int(w)) for w in grid.columns])
    ax.set_yticks(range(len(rows)), rows)
    ax.set_xlabel("workers W (count)")
    ax.set_ylabel("tasks per batch T (count)" if workload else "workload, tasks per batch T")
    ax.set_title(title, fontsize="medium")
    if colorbar:
        ax.figure.colorbar(image, ax=ax, label=EFFICIENCY_LABEL)


def efficiency_vmax(values: Any) -> float:
    """The top of the efficiency colour scale: 1, or the largest value up to the cap."""
    arr = np.asarray(values, dtype=float)
    top = float(np.nanmax(arr)) if arr.size and not np.isnan(arr).all() else 1.0
    return min(max(1.0, top), EFFICIENCY_SCALE_MAX)


def lesson_bars(summary: pd.DataFrame, *, cores: int,
                tasks: int | None = None) -> pd.DataFrame:
    """The sleep lesson's bars: one row per case with its time in single sleeps.

    Cases: ``asyncio.sleep`` under gather; ``time.sleep`` inside gather; via
    ``to_thread``; in a process pool (W = C or the largest W).  A single sleep
    is the sequential median / T of the same workload and T; a case's ideal
    is T / :func:`bench.results.ideal.ideal_parallelism` single sleeps.  Columns:
    ``label, workload, model, start_method, workers, tasks, sleeps, ideal_sleeps``.
    """
    df = steady(summary)
    cases = [("async_sleep", "asyncio_gather", "asyncio.sleep, gather"),
             ("sleep", "asyncio_blocking", "time.sleep inside gather"),
             ("sleep", "to_thread", "time.sleep, to_thread"),
             ("sleep", "process_pool", "time.sleep, process pool")]
    parts = [df[(df["workload"] == wl) & (df["model"] == m)] for wl, m, _ in cases]
    if tasks is None:
        counts = [set(p["tasks"].astype(int)) for p in parts if not p.empty]
        if not counts:
            return pd.DataFrame(columns=["label", "workload", "model", "start_method",
                                         "workers", "tasks", "sleeps", "ideal_sleeps"])
        common = set.intersection(*counts)
        tasks = max(common) if common else max(set.union(*counts))
    rows = []
    for (wl, model, text), part in zip(cases, parts, strict=True):
        part = part[part["tasks"] == tasks]
        if part.empty:
            continue
        if part["workers"].notna().any():
            w = pick_workers(part["workers"], cores)
            part = part[part["workers"] == w]
            text += f", W = {w}"
        r = part.sort_values("start_method", key=lambda s: s != "fork", kind="stable").iloc[0]
        if r["start_method"]:
            text = text.replace("process pool", f"process pool [{r['start_method']}]")
        d = float(r["median_s"]) * float(r["speedup"]) / tasks  # sequential median / T
        c = int(r["cores"]) if "cores" in r.index and not pd.isna(r["cores"]) else cores
        ideal = tasks / point_parallelism(summary, workload=wl, model=model, tasks=tasks,
                                          workers=r["workers"], cores=c)
        rows.append((text, wl, model, r["start_method"], r["workers"], tasks,
                     float(r["median_s"]) / d, ideal))
    return pd.DataFrame(rows, columns=["label", "workload", "model", "start_method", "workers",
                                       "tasks", "sleeps", "ideal_sleeps"])


def plot_sleep_lesson(ax: Axes, summary: pd.DataFrame, *, cores: int,
                      tasks: int | None = None) -> None:
    """The seed's lesson: sleeping T tasks four ways, wall time in single sleeps.

    Horizontal bars (see :func:`lesson_bars`), each with its ideal marked, and
    reference lines at one sleep and at T sleeps.
    """
    bars = lesson_bars(summary, cores=cores, tasks=tasks)
    title = "asyncio.sleep vs time.sleep"
    if bars.empty:
        _no_data(ax, title)
        return
    t = int(bars["tasks"].iloc[0])
    y = np.arange(len(bars))[::-1]
    colours = [colour(m, sm) for m, sm in zip(bars["model"], bars["start_method"], strict=True)]
    container = ax.barh(y, bars["sleeps"], color=colours, height=0.6)
    ax.bar_label(container, labels=[f"{v:.2f}" for v in bars["sleeps"]], padding=3,
                 fontsize="small")
    ax.plot(bars["ideal_sleeps"], y, linestyle="none", marker="|", markersize=22,
            markeredgewidth=2, color="k", label="ideal for the model")
    ax.axvline(1.0, color="C2", linestyle="--", label="one sleep (all overlap)")
    ax.axvline(t, color="C3", linestyle=":", label=f"T = {t} sleeps (one after another)")
    ax.set_yticks(y, list(bars["label"]))
    if t > 16:
        ax.set_xscale("log")
    top = max(t, float(bars["sleeps"].max()))
    ax.set_xlim(right=top * (1.8 if t > 16 else 1.2))
    ax.set_xlabel("wall time per batch (single sleeps)")
    ax.set_ylabel("how the T tasks sleep")
    ax.set_title(f"{title}: {t} sleeping tasks")
    ax.legend(fontsize="x-small", loc="upper right")


def cold_pairs(summary: pd.DataFrame) -> pd.DataFrame:
    """Cold-start points with the warm median of the same pool, T and W.

    Columns: ``label, model, start_method, tasks, workers, cold_s, warm_s``
    (``warm_s`` NaN when the steady point was not measured).
    """
    cold = summary[summary["metric"] == "cold"]
    warm = summary[summary["metric"] == "steady"]
    keys = ["workload", "model", "start_method", "tasks", "workers"]
    merged = _order(cold).merge(warm[[*keys, "median_s"]], on=keys, how="left",
                                suffixes=("", "_warm"))
    return pd.DataFrame({
        "label": [series_label(m, sm) for m, sm in zip(merged["model"], merged["start_method"],
                                                       strict=True)],
        "model": merged["model"], "start_method": merged["start_method"],
        "tasks": merged["tasks"], "workers": merged["workers"],
        "cold_s": merged["median_s"].astype(float),
        "warm_s": merged["median_s_warm"].astype(float),
    })


def plot_cold_start(ax: Axes, summary: pd.DataFrame) -> None:
    """Pool cold start (creation + first batch) per start method next to the warm batch."""
    pairs = cold_pairs(summary)
    title = "pool cold start vs warm batch"
    if pairs.empty:
        _no_data(ax, title)
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
    shapes = {(int(t), int(w)) for t, w in zip(pairs["tasks"], pairs["workers"], strict=True)}
    if len(shapes) == 1:
        t, w = shapes.pop()
        title += f" (T = {t}, W = {w})"
    ax.set_xlabel("pool (start method)")
    ax.set_ylabel("time (ms)")
    ax.set_title(title)
    ax.legend(fontsize="x-small")


def host_caption(host: Mapping[str, Any]) -> str:
    """One line naming the host: CPU model, usable cores C, Python."""
    cpu = host.get("cpu_model") or host.get("cpu_model_name") or "unknown CPU"
    cores = host.get("usable_cores", "?")
    impl = host.get("python_implementation", "Python")
    version = host.get("python_version", "?")
    gil = " (free-threaded)" if str(host.get("gil_enabled", 1)) == "0" else ""
    name = host.get("hostname")
    where = f" on {name}" if name else ""
    return f"Host{where}: {cpu}, C = {cores} usable cores, {impl} {version}{gil}"


def add_caption(fig: Figure, host: Mapping[str, Any]) -> None:
    """Write the host caption under ``fig`` (kept clear of the axes by the layout)."""
    fig.supxlabel(host_caption(host), fontsize="small", color="0.3")


def pooled_series(summary: pd.DataFrame) -> list[tuple[str, str, list[str]]]:
    """(model, start_method, workloads) of every pooled model measured at steady state."""
    df = steady(summary)
    df = df[df["workers"].notna()]
    return [(model, sm, list(dict.fromkeys(g["workload"]))) for model, sm, g in _groups(df)]
