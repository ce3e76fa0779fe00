"""Which model to pick, and from what task size on a pool pays: read off a run's rounds.

*Recommendation*: for each workload, task size and task count, the fastest
steady point (highest paired speedup over sequential; sequential itself when
nothing beats it, or when the fastest is statistically tied with it: the
plain loop is the simpler choice) and the points statistically tied with it.  Two points of
one group were measured in the same rounds, interleaved in the same
processes, so each round gives their paired ratio; a point is *tied* with the
best when the 95 % interval of that ratio (:mod:`bench.results.stats`)
contains 1, or when too few rounds give no interval.

*Break-even size*: for each pooled model (and start method) and task count,
the smallest measured task size at which some worker count beats sequential
with 95 % confidence (the speedup interval's low end above 1), or none.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from bench.results import stats
from bench.scenarios import native
from bench.scenarios.metrics import METRICS
from bench.scenarios.models import BASELINE, MODELS, STEADY, model_label
from bench.scenarios.workloads import BUILTINS

#: Columns of ``recommendations.csv``.
RECOMMENDATION_COLUMNS = ["workload", "task_size", "tasks", "model", "start_method", "workers",
                          "speedup", "speedup_ci_low", "speedup_ci_high", "tied", "name",
                          "tied_names", "python", "native"]
#: Columns of the break-even table.
BREAK_EVEN_COLUMNS = ["workload", "model", "start_method", "tasks", "python",
                      "break_even_size", "workers", "speedup", "speedup_ci_low",
                      "sizes_measured"]


def task_unit(summary: pd.DataFrame, workload: str) -> str:
    """The unit of ``workload``'s task sizes.

    The frame's ``task_unit`` column when it has one (see :func:`with_units`),
    else the workload's spec in :data:`bench.scenarios.workloads.BUILTINS`,
    else ``"size"``.
    """
    if "task_unit" in summary.columns:  # NumPy, not pandas indexing: called once per table row
        units = summary["task_unit"].to_numpy()[summary["workload"].to_numpy() == workload]
        found = next((str(u) for u in units if isinstance(u, str) and u), "")
        if found:
            return found
    work = BUILTINS.get(workload)
    return work.unit if work is not None else "size"


def size_label(size: float, unit: str) -> str:
    """``10000 lines``; ``size 10000`` when the unit is unknown (``"size"``)."""
    return f"size {size:g}" if unit in ("", "size") else f"{size:g} {unit}"


def with_units(summary: pd.DataFrame, units: Mapping[str, str]) -> pd.DataFrame:
    """``summary`` with a ``task_unit`` column: ``units[workload]``, else :func:`task_unit`."""
    names = summary["workload"].astype(str)
    known = {n: units.get(n) or task_unit(summary, n) for n in names.unique()}
    return summary.assign(task_unit=names.map(known))


def point_label(model: str, start_method: str, workers: object) -> str:
    """``process_pool[fork] W=2``-style label of a point's model and worker count."""
    label = model_label(model, start_method)
    return label if pd.isna(workers) else f"{label} W={int(workers)}"  # type: ignore[call-overload]


def native_text(pools: str, threads: int) -> str:
    """The native thread pools a point's processes held, as a pick states them.

    ``""`` where none was loaded (or none was recorded); else, e.g., ``openblas at 1
    thread in each worker (C / W)`` for a setting of ``threads`` per worker, ``openblas
    at 2 threads (its default)`` for the library's default.
    """
    if not native.held(pools):
        return ""
    libs = ", ".join(native.libraries(pools))
    n = native.threads(pools)
    count = f"{n} thread{'s' * (n != 1)}"
    return (f"{libs} at {count} in each worker (C / W)" if threads
            else f"{libs} at {count} (its default)")


def _tied(ratios: np.ndarray) -> np.ndarray:
    """Whether each row of per-round paired ratios is indistinguishable from 1.

    ``ratios`` holds one point's per-round median over another's per row, one
    column per round (NaN where a point lacks the round): the ratios of a
    round are paired.  Too few rounds give no interval: cannot tell, tied.
    """
    out = np.empty(len(ratios), dtype=bool)
    for i, row in enumerate(ratios):
        got = stats.median_interval(row)
        out[i] = not (got.low > 1 or got.high < 1)  # NaN bounds compare false: tied
    return out


def recommendations(tidy: pd.DataFrame, summary: pd.DataFrame) -> pd.DataFrame:
    """One row per (workload, task size, task count, interpreter): the model to pick and its
    ties.

    Returns
    -------
    pandas.DataFrame
        :data:`RECOMMENDATION_COLUMNS`; ``tied`` lists the tied points'
        labels, ``; ``-separated ("" when none), ``tied_names`` their names;
        then the pick's value of every metric (:mod:`bench.scenarios.metrics`)
        in the summary, one column each.
    """
    steady = summary[(summary["metric"] == STEADY) & summary["speedup"].notna()]
    if steady.empty:
        return pd.DataFrame(columns=RECOMMENDATION_COLUMNS)
    # NumPy, not pandas indexing, inside the loop: one pass per group of a large run
    per_round = stats.round_medians(tidy).unstack("round").reindex(steady["name"])
    medians = per_round.to_numpy(dtype=float)
    steady = steady.assign(python=steady["python"].astype(str) if "python" in steady else "")
    groups = steady.groupby(["workload", "task_size", "tasks", "python"], sort=False).indices
    speedup = steady["speedup"].to_numpy(dtype=float)
    names = steady["name"].to_numpy(dtype=object)
    model = steady["model"].to_numpy(dtype=object)
    method = steady["start_method"].to_numpy(dtype=object)
    workers = steady["workers"].to_numpy(dtype=object)
    low = steady["speedup_ci_low"].to_numpy(dtype=float)
    high = steady["speedup_ci_high"].to_numpy(dtype=float)
    rows = []
    for (workload, size, tasks, python), at in groups.items():
        best = at[int(np.argmax(speedup[at]))]  # the first of equal speedups, as idxmax
        base = at[model[at] == BASELINE]
        if len(base) and model[best] != BASELINE and _tied(
                medians[base[:1]] / medians[best])[0]:
            # the fastest median is no surer than the plain loop: the fastest point surely
            # faster than it is the pick (its speedup's interval above 1), else the loop
            sure = at[low[at] > 1]
            best = sure[int(np.argmax(speedup[sure]))] if len(sure) else base[0]
        others = at[at != best]
        same = _tied(medians[others] / medians[best])
        tied = [point_label(model[i], method[i], workers[i]) for i in others[same]]
        rows.append((workload, float(size), int(tasks), model[best], method[best],
                     workers[best], float(speedup[best]), float(low[best]), float(high[best]),
                     "; ".join(tied), names[best], "; ".join(names[others[same]]), python))
    out = pd.DataFrame(rows, columns=RECOMMENDATION_COLUMNS[:-1])
    out["workers"] = out["workers"].astype("Int64")
    picked = summary.set_index("name").reindex(out["name"])
    out["native"] = [native_text(str(p), int(t)) for p, t in zip(
        picked.get("native_pools", pd.Series("", index=picked.index)).fillna(""),
        picked.get("native_threads", pd.Series(0, index=picked.index)).fillna(0), strict=True)]
    # what the pick costs: every metric the summary has for it
    metric_cols = [c for c in (m.col for m in METRICS.values()) if c in summary.columns]
    for col in metric_cols:
        out[col] = picked[col].to_numpy(dtype=float)
    return out


def break_even(summary: pd.DataFrame) -> pd.DataFrame:
    """The smallest measured size at which each pool beats sequential with 95 % confidence,
    per interpreter in a run of several.

    Returns
    -------
    pandas.DataFrame
        :data:`BREAK_EVEN_COLUMNS`; ``break_even_size`` is NaN when no
        measured size was enough ("not reached"); ``workers``, ``speedup``
        and ``speedup_ci_low`` describe the point that reached it.
    """
    pooled = [m for m, spec in MODELS.items() if spec.pooled]
    df = summary[(summary["metric"] == STEADY) & summary["model"].isin(pooled)
                 & summary["speedup"].notna()]
    keys = ["workload", "model", "start_method", "tasks", "python"]
    measured = df.groupby(keys, sort=False)["task_size"].agg(
        lambda sizes: ", ".join(f"{v:g}" for v in sorted(set(map(float, sizes)))))
    beats = df[df["speedup_ci_low"].to_numpy(dtype=float) > 1]
    # per group: the smallest size that beats sequential, its best point there
    first = beats.sort_values(["task_size", "speedup"], ascending=[True, False],
                              kind="stable").drop_duplicates(keys).set_index(keys)
    out = measured.rename("sizes_measured").reset_index()
    found = first.reindex(pd.MultiIndex.from_frame(out[keys]))
    out["break_even_size"] = found["task_size"].to_numpy(dtype=float)
    out["workers"] = pd.array(found["workers"].to_numpy(), dtype="Int64")
    out["speedup"] = found["speedup"].to_numpy(dtype=float)
    out["speedup_ci_low"] = found["speedup_ci_low"].to_numpy(dtype=float)
    out["tasks"] = out["tasks"].astype(int)
    out = out[BREAK_EVEN_COLUMNS]
    return out


def recommendation_sentence(row: Mapping[str, Any], unit: str, threads_best: float) -> str:
    """E.g. ``parse, 10000 lines, T = 16: process_pool[fork] with W = 2, 1.80x (1.70-1.90)``.

    Parameters
    ----------
    row
        One row of :func:`recommendations`, as a mapping of its columns.
    unit
        The unit of the workload's task sizes (:func:`task_unit`).
    threads_best
        The best speedup of the group's points (same workload, size and T)
        whose model overlaps in threads (:func:`threads_best`), quoted beside
        a pick that is not one; NaN when there is none.

    Returns
    -------
    str
        One sentence; a baseline pick reads "(no model was faster)", and the
        tied points follow it.
    """
    size = size_label(float(row["task_size"]), unit)
    pick = model_label(str(row["model"]), str(row["start_method"]))
    if not pd.isna(row["workers"]):
        pick += f" with W = {int(row['workers'])}"
    if row.get("native"):
        pick += f"{' and' if ' with ' in pick else ' with'} {row['native']}"
    spec = MODELS.get(str(row["model"]))
    if spec is not None and spec.baseline:
        what = " (no model was faster)"
    elif np.isfinite(row["speedup_ci_low"]):
        what = (f", {row['speedup']:.2f}\N{MULTIPLICATION SIGN} "
                f"({row['speedup_ci_low']:.2f}\N{EN DASH}{row['speedup_ci_high']:.2f})")
    else:
        what = (f", {row['speedup']:.2f}\N{MULTIPLICATION SIGN} "
                "(too few rounds for an interval)")
    text = f"{row['workload']}, {size}, T = {int(row['tasks'])}: {pick}{what}"
    if (spec is None or spec.overlap != "threads") and threads_best == threads_best:
        text += f"; threads {threads_best:.2f}\N{MULTIPLICATION SIGN}"
    if row["tied"]:
        text += f"; tied with it: {row['tied']}"
    return text + "."


def threads_best(summary: pd.DataFrame) -> dict[tuple[str, float, int, str], float]:
    """Per (workload, task size, T, interpreter): the best steady speedup of a model
    overlapping in threads."""
    threads = [m for m, spec in MODELS.items() if spec.overlap == "threads"]
    df = summary[(summary["metric"] == STEADY) & summary["model"].isin(threads)]
    best = df.groupby(["workload", "task_size", "tasks", "python"], sort=False)["speedup"].max()
    return {(str(w), float(z), int(t), str(py)): float(v) for (w, z, t, py), v in best.items()}
