"""Frames the charts and findings draw from: steady points, sizes, lessons, cold pairs.

Pure pandas (no matplotlib): which rows a chart or a finding shows, chosen
from the specs (``MODELS``' overlap, baseline, pooled; the workloads'
resource kinds), never from names.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from bench.results.ideal import gil_of, point_parallelism, resource_of
from bench.results.recommend import size_label, task_unit
from bench.scenarios.metrics import METRICS
from bench.scenarios.models import COLD, MODELS, OVERLAPS, STEADY, model_label

MODEL_ORDER = list(MODELS)
#: The label of a chart's series: ``process_pool[fork]``, ``to_thread``.
series_label = model_label

#: The resources of waiting work, in the order of the waiting lesson.
WAITS = ("async_wait", "blocking_wait")


def is_baseline(model: str) -> bool:
    """Whether ``model`` is the baseline every speedup divides (``ModelDef.baseline``)."""
    spec = MODELS.get(model)
    return spec is not None and spec.baseline


def overlap(model: str) -> str:
    """The model's ``overlap`` (what runs tasks at once); "" for an unknown model."""
    spec = MODELS.get(model)
    return spec.overlap if spec is not None else ""


def steady(summary: pd.DataFrame, workload: str | None = None) -> pd.DataFrame:
    """Steady points with a speedup, optionally of one workload."""
    q = (summary["metric"] == STEADY) & summary["speedup"].notna()
    if workload is not None:
        q &= summary["workload"] == workload
    return summary[q]


def metric_workloads(summary: pd.DataFrame, column: str) -> list[str]:
    """Workloads with a steady point that has a value in ``column`` (a metric's), in order."""
    if column not in summary.columns:
        return []
    df = steady(summary)
    return list(dict.fromkeys(df.loc[df[column].notna(), "workload"]))


def sizes(summary: pd.DataFrame, workload: str) -> list[float]:
    """The task sizes at which ``workload`` was measured at steady state, ascending."""
    return sorted(float(s) for s in steady(summary, workload)["task_size"].unique())


def at_largest_size(df: pd.DataFrame) -> pd.DataFrame:
    """The rows of each workload at its largest measured task size (a size sweep's default)."""
    if df.empty:
        return df
    top = df.groupby("workload")["task_size"].transform("max")
    return df[df["task_size"] == top]


def size_text(summary: pd.DataFrame, workload: str, size: float) -> str:
    """``" at 1e+04 lines"`` when ``workload`` was measured at several sizes, else ""."""
    if len(sizes(summary, workload)) < 2:
        return ""
    return f" at {size_label(size, task_unit(summary, workload))}"


def order_series(df: pd.DataFrame) -> pd.DataFrame:
    rank = df["model"].map({m: i for i, m in enumerate(MODEL_ORDER)}).fillna(len(MODEL_ORDER))
    return df.assign(_rank=rank).sort_values(["_rank", "start_method", "tasks", "workers"],
                                             kind="stable")


def series_groups(df: pd.DataFrame) -> list[tuple[str, str, pd.DataFrame]]:
    """(model, start_method, rows) per series, in the models' order."""
    out = []
    for (model, sm), g in order_series(df).groupby(["model", "start_method"], sort=False):
        out.append((str(model), str(sm), g))
    return out


def pick_workers(workers: pd.Series, cores: int) -> int:
    """W = C when measured, else the largest W measured."""
    ws = [int(w) for w in workers.dropna()]
    return cores if cores in ws else max(ws)


#: Columns of :func:`lesson_bars`.
LESSON_COLUMNS = ["label", "workload", "model", "start_method", "workers", "tasks", "sleeps",
                  "ideal_sleeps", "task_s", "overlap", "beside"]


def wait_workloads(summary: pd.DataFrame) -> list[str]:
    """Workloads whose resource is a wait (:data:`WAITS`), non-blocking ones first."""
    names = list(dict.fromkeys(steady(summary)["workload"]))
    return [wl for r in WAITS for wl in names if resource_of(summary, str(wl)) == r]


def _lesson_parts(summary: pd.DataFrame, waits: list[str]) -> list[pd.DataFrame]:
    df = at_largest_size(steady(summary))
    keep = df["model"].map(lambda m: overlap(m) in OVERLAPS and not is_baseline(m))
    df = df[keep.astype(bool)]
    return [df[df["workload"] == wl] for wl in waits]


def _lesson_tasks(parts: list[pd.DataFrame]) -> int | None:
    """The largest T measured by every wait workload (else the largest T of any)."""
    counts = [set(p["tasks"].astype(int)) for p in parts if not p.empty]
    if not counts:
        return None
    common = set.intersection(*counts)
    return int(max(common) if common else max(set.union(*counts)))


def lesson_bars(summary: pd.DataFrame, *, cores: int,
                tasks: int | None = None) -> pd.DataFrame:
    """The waiting lesson's bars: T waiting tasks each way, in one task's time.

    For every workload whose resource is a wait (``async_wait`` first, then
    ``blocking_wait``), at its largest size, one bar per overlap kind its
    models ran (none, event loop, threads, processes; the baseline left
    out): the fastest model of that kind, pooled ones at W = C (or the
    largest W).  One task's time is the sequential median / T of the same
    workload, T and size; a bar's ideal is T /
    :func:`bench.results.ideal.ideal_parallelism` task times.  ``tasks``
    defaults to the largest T every wait workload measured.

    Returns
    -------
    pandas.DataFrame
        :data:`LESSON_COLUMNS`: ``sleeps`` is the batch time in task times,
        ``task_s`` one task's time in seconds, ``beside`` the readings of the
        metrics shown beside the bars (``MetricDef.lesson``; "" where none).
    """
    waits = wait_workloads(summary)
    parts = _lesson_parts(summary, waits)
    tasks = _lesson_tasks(parts) if tasks is None else tasks
    rows: list[tuple[Any, ...]] = []
    if tasks is None:
        return pd.DataFrame(rows, columns=LESSON_COLUMNS)
    for wl, part in zip(waits, parts, strict=True):
        part = part[part["tasks"] == tasks]
        for kind in OVERLAPS:
            cands = part[part["model"].map(overlap) == kind]
            if cands.empty:
                continue
            pooled = cands["workers"].notna()
            if pooled.any():
                w = pick_workers(cands["workers"], cores)
                cands = cands[~pooled | (cands["workers"] == w).fillna(False)]
            r = cands.loc[cands["speedup"].astype(float).idxmax()]
            label = f"{wl}, {series_label(str(r['model']), str(r['start_method']))}"
            if not pd.isna(r["workers"]):
                label += f", W = {int(r['workers'])}"
            d = float(r["median_s"]) * float(r["speedup"]) / tasks  # sequential median / T
            c = int(r["cores"]) if "cores" in r.index and not pd.isna(r["cores"]) else cores
            ideal = tasks / point_parallelism(summary, workload=wl, model=str(r["model"]),
                                              tasks=int(tasks), workers=r["workers"], cores=c,
                                              gil=gil_of(r))
            beside = ", ".join(m.show(float(r[m.col])) for m in METRICS.values()
                               if m.lesson and m.col in r.index and not pd.isna(r[m.col]))
            rows.append((label, wl, r["model"], r["start_method"], r["workers"], tasks,
                         float(r["median_s"]) / d, ideal, d, kind, beside))
    return pd.DataFrame(rows, columns=LESSON_COLUMNS)


def size_points(summary: pd.DataFrame, *, workload: str,
                tasks: int | None = None) -> pd.DataFrame:
    """Per pooled model, start method and task size: the best speedup over W at one T.

    ``tasks`` defaults to the largest T measured at every size of the
    workload (else the largest T).  Columns: the summary's, one row per
    (model, start_method, task_size), ascending in size.
    """
    df = steady(summary, workload)
    df = df[df["model"].map(lambda m: m in MODELS and MODELS[m].takes_workers).astype(bool)]
    if df.empty:
        return df
    if tasks is None:
        per_size = [set(g["tasks"].astype(int)) for _, g in df.groupby("task_size")]
        common = set.intersection(*per_size)
        tasks = max(common) if common else int(df["tasks"].max())
    df = df[df["tasks"] == tasks]
    best = df.groupby(["model", "start_method", "task_size"], sort=False)["speedup"].idxmax()
    return order_series(df.loc[best.to_numpy()]).sort_values(["_rank", "start_method", "task_size"],
                                                      kind="stable").drop(columns="_rank")


def cold_pairs(summary: pd.DataFrame) -> pd.DataFrame:
    """Cold-start points with the warm median of the same pool, T and W.

    Columns: ``label, model, start_method, tasks, workers, cold_s, warm_s``
    (``warm_s`` NaN when the steady point was not measured).
    """
    cold = summary[summary["metric"] == COLD]
    warm = summary[summary["metric"] == STEADY]
    keys = ["workload", "model", "start_method", "tasks", "workers", "task_size"]
    merged = order_series(cold).merge(warm[[*keys, "median_s"]], on=keys, how="left",
                                suffixes=("", "_warm"))
    return pd.DataFrame({
        "label": [series_label(m, sm) for m, sm in zip(merged["model"], merged["start_method"],
                                                       strict=True)],
        "model": merged["model"], "start_method": merged["start_method"],
        "tasks": merged["tasks"], "workers": merged["workers"],
        "cold_s": merged["median_s"].astype(float),
        "warm_s": merged["median_s_warm"].astype(float),
    })


def pooled_series(summary: pd.DataFrame) -> list[tuple[str, str, list[str]]]:
    """(model, start_method, workloads) of every pooled model measured at steady state."""
    df = steady(summary)
    df = df[df["workers"].notna()]
    return [(model, sm, list(dict.fromkeys(g["workload"]))) for model, sm, g in series_groups(df)]

