"""Which model to pick, and from what task size on a pool pays: read off a run's rounds.

*Recommendation*: for each question (workload, task size, task count and
interpreter), the decisions' pick (:func:`bench.results.decisions.decide`: the
fastest steady point by its per-round paired ratios, or the plain loop where the
fastest is equivalent to it) and each rival's verdict: worse, equivalent within
``delta``, or undecided (with the rounds it would need at the spread seen).  The
verdicts' intervals hold however a race stopped (a confidence sequence over the
run's looks, :class:`bench.results.decisions.Looks`).

*Break-even size*: for each pooled model (and start method) and task count,
the smallest measured task size at which some worker count beats sequential
with 95 % confidence (the speedup interval's low end above 1), or none.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from bench.results.decisions import (
    EQUIVALENT,
    QUESTION,
    UNDECIDED,
    WORSE,
    Looks,
    decide,
    looks_for,
)
from bench.scenarios import native
from bench.scenarios.metrics import METRICS
from bench.scenarios.models import MODELS, STEADY, model_label
from bench.scenarios.profiles import DELTA
from bench.scenarios.workloads import BUILTINS

#: Columns of ``recommendations.csv`` (then the pick's metrics).
RECOMMENDATION_COLUMNS = ["workload", "task_size", "tasks", "model", "start_method", "workers",
                          "speedup", "speedup_ci_low", "speedup_ci_high", "equivalent", "name",
                          "equivalent_names", "python", "native", "decided", "worse",
                          "undecided", "needed", "rounds", "delta", "mean_speedup",
                          "mean_speedup_low", "mean_speedup_high"]
#: Columns of the break-even table.
BREAK_EVEN_COLUMNS = ["workload", "model", "start_method", "tasks", "python",
                      "break_even_size", "workers", "speedup", "speedup_ci_low",
                      "sizes_measured", "sizes_without_interval"]


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


def margin_text(delta: float) -> str:
    """The equivalence margin in words: ``5 %`` for 0.05."""
    return f"{delta * 100:.3g} %"


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


def question_label(q: pd.DataFrame, unit: str | None = None) -> str:
    """``cpu, 50000 iterations, T = 16`` (and the interpreter in a run of several): one
    question of :func:`bench.results.decisions.decide`'s frame (``q``: its rows), in
    ``unit`` (default: the workload's spec's, :func:`task_unit`)."""
    row = q.iloc[0]
    if unit is None:
        unit = task_unit(q.assign(task_unit=""), str(row["workload"]))
    text = f"{row['workload']}, {size_label(float(row['task_size']), unit)}, T = {row['tasks']}"
    return text + (f" ({row['python']})" if row["python"] else "")


def rival_label(row: Mapping[str, Any]) -> str:
    """``process_pool[fork] W=2``: a candidate as verdicts name it."""
    return point_label(str(row["model"]), str(row["start_method"] or ""), row["workers"])


def data_looks(tidy: pd.DataFrame) -> Looks:
    """The looks of a run whose manifest does not say: a run of fixed rounds (the fewest
    rounds a steady point has) extended up to the most (:func:`looks_for`)."""
    steady = tidy[tidy["metric"] == STEADY]
    counts = steady.groupby("name", sort=False)["round"].nunique()
    if counts.empty:
        return looks_for(2, 2, raced=False)
    return looks_for(int(counts.min()), int(counts.max()), raced=False)


def _labels(rows: pd.DataFrame, col: str = "") -> str:
    """The rows' labels (or ``col``), ``; ``-separated."""
    return "; ".join(str(r[col]) if col else rival_label(r) for r in rows.to_dict("records"))


def _pick_row(q: pd.DataFrame, delta: float) -> tuple[Any, ...]:
    """One question's row of :data:`RECOMMENDATION_COLUMNS` (the summary's columns left
    NaN: :func:`recommendations` fills them in)."""
    pick = q[q["pick"]].iloc[0]
    rivals = q[~q["pick"]]
    verdict = {v: rivals[rivals["verdict"] == v] for v in (WORSE, EQUIVALENT, UNDECIDED)}
    base = q[q["model"].map(lambda m: m in MODELS and MODELS[m].baseline)]
    speed = ((float(base["ratio"].iloc[0]), float(base["ratio_low"].iloc[0]),
              float(base["ratio_high"].iloc[0])) if len(base) else (math.nan,) * 3)
    undecided = verdict[UNDECIDED]
    return (pick["workload"], float(pick["task_size"]), int(pick["tasks"]), pick["model"],
            pick["start_method"], pick["workers"], math.nan, math.nan, math.nan,
            _labels(verdict[EQUIVALENT]), pick["name"], _labels(verdict[EQUIVALENT], "name"),
            pick["python"], "", undecided.empty, _labels(verdict[WORSE]), _labels(undecided),
            float(undecided["needed"].max()) if len(undecided) else 0.0, int(pick["rounds"]),
            delta, *speed)


def recommendations(tidy: pd.DataFrame, summary: pd.DataFrame, *, looks: Looks | None = None,
                    delta: float = DELTA, decisions: pd.DataFrame | None = None
                    ) -> pd.DataFrame:
    """One row per question (workload, task size, task count, interpreter): the decisions'
    pick (:func:`bench.results.decisions.decide`) and its rivals' verdicts.

    Parameters
    ----------
    tidy, summary : pandas.DataFrame
        The run's tidy and summary frames (:mod:`bench.results.aggregate`).
    looks : Looks, optional
        The looks the run may take (the manifest's; default: :func:`data_looks`).
    delta : float
        The equivalence margin.
    decisions : pandas.DataFrame, optional
        :func:`bench.results.decisions.decide`'s frame, when the caller has it.

    Returns
    -------
    pandas.DataFrame
        :data:`RECOMMENDATION_COLUMNS`, one row per question of two or more steady
        points: ``speedup`` and its CI the pick's summary figures (median of the
        per-round paired speedups), ``mean_speedup`` and its bounds the decisions'
        (the geometric mean of the baseline's time over the pick's and the interval
        the baseline's verdict reads); ``equivalent``, ``worse``, ``undecided`` the
        rivals of each verdict (labels, ``; ``-separated, "" when none),
        ``equivalent_names`` the equivalent rivals' names; ``decided`` whether no
        rival is undecided, ``needed`` the most rounds an undecided rival needs (0
        decided, inf never), ``rounds`` the pick's rounds; then the pick's value of
        every metric (:mod:`bench.scenarios.metrics`) in the summary, one column each.
    """
    if decisions is None:
        decisions = decide(tidy, looks if looks is not None else data_looks(tidy), delta)
    if decisions.empty:
        return pd.DataFrame(columns=RECOMMENDATION_COLUMNS)
    rows = [_pick_row(q, delta) for _, q in decisions.groupby(QUESTION, sort=False)]
    out = pd.DataFrame(rows, columns=RECOMMENDATION_COLUMNS)
    out["workers"] = out["workers"].astype("Int64")
    picked = summary.set_index("name").reindex(out["name"])
    for col in ("speedup", "speedup_ci_low", "speedup_ci_high"):
        out[col] = picked[col].to_numpy(dtype=float)
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
        and ``speedup_ci_low`` describe the point that reached it;
        ``sizes_without_interval`` the sizes below it (all sizes, when none reached it)
        at which a point of the pool had no speedup interval (a race let it leave
        before 6 rounds): there the break-even is unknown, not "not reached".
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
    blind = df[~np.isfinite(df["speedup_ci_low"].to_numpy(dtype=float))]
    blind_at = set(zip(*(blind[k] for k in [*keys, "task_size"]), strict=True))
    sizes = df.groupby(keys, sort=False)["task_size"].agg(lambda v: sorted(set(map(float, v))))
    out["sizes_without_interval"] = [
        ", ".join(f"{z:g}" for z in sizes[k] if (*k, z) in blind_at
                  and not z >= size) for k, size in zip(
            zip(*(out[c] for c in keys), strict=True), out["break_even_size"], strict=True)]
    return out[BREAK_EVEN_COLUMNS]


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
        One sentence; a baseline pick reads "(no model was faster by more than 5 %)",
        and the points equivalent to it follow.
    """
    size = size_label(float(row["task_size"]), unit)
    pick = model_label(str(row["model"]), str(row["start_method"]))
    if not pd.isna(row["workers"]):
        pick += f" with W = {int(row['workers'])}"
    if row.get("native"):
        pick += f"{' and' if ' with ' in pick else ' with'} {row['native']}"
    spec = MODELS.get(str(row["model"]))
    margin = margin_text(float(row.get("delta", DELTA)))
    if spec is not None and spec.baseline:
        what = f" (no model was faster by more than {margin})"
    elif np.isfinite(row["speedup_ci_low"]):
        what = (f", {row['speedup']:.2f}\N{MULTIPLICATION SIGN} "
                f"({row['speedup_ci_low']:.2f}\N{EN DASH}{row['speedup_ci_high']:.2f})")
    else:
        what = (f", {row['speedup']:.2f}\N{MULTIPLICATION SIGN} "
                "(too few rounds for an interval)")
    text = f"{row['workload']}, {size}, T = {int(row['tasks'])}: {pick}{what}"
    if (spec is None or spec.overlap != "threads") and threads_best == threads_best:
        text += f"; threads {threads_best:.2f}\N{MULTIPLICATION SIGN}"
    if row.get("equivalent"):
        text += f"; equivalent within {margin}: {row['equivalent']}"
    return text + "."


def threads_best(summary: pd.DataFrame) -> dict[tuple[str, float, int, str], float]:
    """Per (workload, task size, T, interpreter): the best steady speedup of a model
    overlapping in threads."""
    threads = [m for m, spec in MODELS.items() if spec.overlap == "threads"]
    df = summary[(summary["metric"] == STEADY) & summary["model"].isin(threads)]
    best = df.groupby(["workload", "task_size", "tasks", "python"], sort=False)["speedup"].max()
    return {(str(w), float(z), int(t), str(py)): float(v) for (w, z, t, py), v in best.items()}
