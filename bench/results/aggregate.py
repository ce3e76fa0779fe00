"""Results file -> tidy DataFrame -> summary DataFrame (pure pandas + numpy).

Tidy frame: one row per measured value (warm-ups excluded).

=============== =============================================================
column          meaning
=============== =============================================================
name            benchmark name, e.g. ``cpu/process_pool[fork]/t16/w2``
workload        ``cpu``, ``hash``, ``sleep``, ``async_sleep``
model           execution model (``sequential``, ``process_pool``, ...)
start_method    process start method, "" for other models
tasks           T, tasks per batch
workers         W, or <NA> for models without workers
metric          ``steady`` (warm batches) or ``cold`` (pool creation + 1st batch)
task_size       one task's size in ``task_unit``
task_unit       the workload's size unit
resource        what a task spends its time on (the workload's resource kind)
gil             whether the measuring interpreter ran with the GIL
python          the interpreter's tag in a run of several (``3.14``), "" in a run of one
run             index of the pyperf run (one process) that measured the value
round           the round that process belonged to (the statistical unit)
speed_s         the host's speed as that process read it beside its sweeps: the mean of
                its two readings of a fixed task's seconds on its median core
                (:mod:`bench.measure.speed`), NaN in files without them
value_s         seconds for one batch
=============== =============================================================

Summary frame: one row per point; see :data:`SUMMARY_COLUMNS`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyperf

from bench.errors import UsageError
from bench.results import ideal, stats, store
from bench.results.pairs import KEYS, baselines, loop_pairs, python_pairs
from bench.results.readings import (
    PROBE,
    PROBE_COLUMNS,
    add_metrics,
    metric_columns,
    probes,
)
from bench.scenarios.models import STEADY
from bench.scenarios.workloads import BUILTINS

#: Points whose 95 % CI half-width exceeds this share of the median are unstable.
STABLE_HALF_WIDTH = 0.05
#: Largest task, worker or core count a results file may claim.
MAX_COUNT = 1_000_000

SUMMARY_COLUMNS = {
    "workload": "workload name",
    "model": "execution model",
    "start_method": 'process start method ("" for other models)',
    "tasks": "T, tasks per batch",
    "workers": "W, workers (<NA> for models without workers)",
    "rounds": "rounds (fresh processes at different moments) that measured the point",
    "n": "number of values, all rounds together",
    "median_s": "batch time, seconds: the median of the per-round medians",
    "mean_s": "mean of all values, seconds (descriptive)",
    "stdev_s": "standard deviation of all values, seconds (descriptive)",
    "ci_low_s": "95 % CI of median_s, low end: distribution-free (order statistics of the "
                "per-round medians; NaN with fewer than 6 rounds)",
    "ci_high_s": "95 % CI of median_s, high end",
    "speedup": "baseline / this point, paired per round (sequential, same workload, T, "
               "size and interpreter, measured interleaved in the same process); median "
               "over rounds",
    "speedup_ci_low": "95 % CI of the speedup, low end: order statistics of the paired ratios",
    "speedup_ci_high": "95 % CI of the speedup, high end",
    "loop_ratio": "for a loop variant (asyncio_gather[uvloop]): the same model's time on the "
                  "default loop / this point's, paired per round (> 1: this loop is faster); "
                  "NaN elsewhere",
    "loop_ratio_ci_low": "95 % CI of the loop ratio, low end",
    "loop_ratio_ci_high": "95 % CI of the loop ratio, high end",
    "python": 'the interpreter\'s tag in a run of several ("3.14"), "" in a run of one',
    "python_ratio": "in a run of several interpreters: the same point's time under the first "
                    "interpreter / under this one, paired per round (> 1: this interpreter "
                    "is faster); NaN for the first one's points and in a run of one",
    "python_ratio_ci_low": "95 % CI of the interpreter ratio, low end",
    "python_ratio_ci_high": "95 % CI of the interpreter ratio, high end",
    "ideal_parallelism": "the ideal speedup of this model on this resource kind, W, C, T "
                         "and GIL (bench.results.ideal)",
    "efficiency": "ideal time / measured time, with the paired baseline "
                  "(= speedup / ideal_parallelism; about 1 at best)",
    "ideal_s": "the model's ideal batch time from d = sequential median / T",
    "ideal_ratio": "median_s / ideal_s (1.0 = ideal)",
    "karp_flatt": "Karp-Flatt serial fraction at p = min(W, C, T); NaN where it means "
                  "nothing: work that is not CPU-bound, workers that cannot run Python in "
                  "parallel (threads under the GIL), W > C or p = 1",
    "ci_half_pct": "CI half-width as a percentage of median_s (inf with fewer than 6 rounds)",
    "stable": "CI half-width <= 5 % of median_s",
    "metric": "steady (warm batches) or cold (pool creation + first batch)",
    "task_size": "one task's size in the workload's unit",
    "task_unit": "the unit of task_size (iterations, MiB, s, lines, ...)",
    "resource": "what a task spends its time on: cpu_gil, cpu_nogil, blocking_wait, async_wait",
    "gil": "whether the measuring interpreter ran with the GIL",
    "native_threads": "threads each native pool (BLAS, OpenMP, ...) of the point's worker "
                      "processes may start: C / W for process pools (as loky does), 0 for the "
                      "libraries' default (one per core they see) everywhere else",
    "native_pools": "the native thread pools the point's processes held, read through its "
                    "model in its first round (threadpoolctl): 'library version xTHREADS "
                    "[layer]', '; '-joined; 'none' without any; '' where not recorded",
    "name": "benchmark name",
    "cores": "C, usable cores of the host",
}


def summary_columns(names: list[str] | None = None) -> list[str]:
    """Every column of the summary frame: :data:`SUMMARY_COLUMNS`, then each metric's group.

    ``names`` adds metrics a results file holds that the registry does not know
    (see :func:`bench.results.readings.metric_columns`).
    """
    return [*SUMMARY_COLUMNS, *metric_columns(names)]


@dataclass
class RunData:
    """Everything derived from one results file (and the manifest beside it)."""

    path: Path
    host: dict[str, Any]
    tidy: pd.DataFrame
    summary: pd.DataFrame
    amdahl: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: Points that failed, by name: why (from ``run.json``; empty without one).
    failed: dict[str, str] = field(default_factory=dict)
    #: The metrics' readings, one row per point, metric and round (:func:`probes`).
    probes: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=PROBE_COLUMNS))
    #: Each interpreter's record by tag, in the run's order (one keyed "" in a run of one).
    interpreters: dict[str, dict[str, Any]] = field(default_factory=dict)


def _count(meta: dict[str, Any], key: str, default: int | None) -> int | None:
    """An integer metadata value >= 1 (``default`` when absent)."""
    value = meta.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) \
            or not math.isfinite(value) or value != int(value) or not 1 <= value <= MAX_COUNT:
        raise ValueError(f"metadata {key}={value!r} is not a whole number from 1 to {MAX_COUNT}")
    return int(value)


def _size(meta: dict[str, Any]) -> float:
    value = meta.get("task_size", 0.0)
    if isinstance(value, bool) or not isinstance(value, int | float) \
            or not math.isfinite(value) or value < 0:
        raise ValueError(f"metadata task_size={value!r} is not a number >= 0")
    return float(value)


def tidy(suite: store.Suite,
         source: str = "results") -> pd.DataFrame:
    """One row per measured value, with the point's metadata as columns.

    Raises
    ------
    UsageError
        A benchmark whose ``tasks``, ``workers``, ``task_size`` or
        ``host_usable_cores`` metadata is not a valid number (named with
        ``source``, the file it came from).
    """
    runs: list[tuple[Any, ...]] = []  # one row per run: its values are repeated below
    counts: list[int] = []
    values: list[float] = []
    for b in suite.get_benchmarks():
        meta = b.get_metadata()
        if PROBE in meta:
            continue  # a metric's benchmark: see probes()
        try:
            point = (
                b.get_name(), str(meta.get("workload", "")), str(meta.get("model", "")),
                str(meta.get("start_method", "")), _count(meta, "tasks", 1),
                _count(meta, "workers", None), str(meta.get("metric", STEADY)),
                _size(meta), str(meta.get("python", "")), _count(meta, "host_usable_cores", 1),
            )
        except ValueError as exc:
            raise UsageError(f"{source}: benchmark {b.get_name()!r}: {exc}") from None
        work = BUILTINS.get(point[1])
        resource = str(meta.get("resource", work.resource if work else ""))
        unit = str(meta.get("task_unit", work.unit if work else "size"))
        gil = bool(meta.get("host_gil_enabled", 1))
        native = _native(b, meta)
        for r, run in enumerate(b.get_runs()):
            run_meta = run.get_metadata()
            rnd = run_meta.get("round", r)
            if isinstance(rnd, bool) or not isinstance(rnd, int) or rnd < 0:
                raise UsageError(f"{source}: benchmark {b.get_name()!r}: run {r} has "
                                 f"round={rnd!r}, not a whole number >= 0")
            on = bool(run_meta.get("gil_enabled", gil))  # as the child ran
            runs.append((*point, unit, resource, on, *native, r, rnd, _speed(run_meta)))
            counts.append(len(run.values))
            values.extend(run.values)
    return _tidy_frame(runs, counts, values)


#: Columns of the tidy frame (see the module docstring).
TIDY_COLUMNS = ["name", *KEYS, "cores", "task_unit", "resource", "gil", "native_threads",
                "native_pools", "run", "round", "speed_s", "value_s"]


def _native(b: pyperf.Benchmark, meta: dict[str, Any]) -> tuple[int, str]:
    """The point's native thread setting, and the native pools its first round read."""
    pools = next((str(m["native_pools"]) for run in b.get_runs()
                  if "native_pools" in (m := run.get_metadata())), "")
    threads = meta.get("native_threads", 0)
    return (threads if isinstance(threads, int) and not isinstance(threads, bool) else 0,
            pools)


def _speed(run_meta: dict[str, Any]) -> float:
    """The mean of a run's two speed readings (seconds of the fixed task), NaN without them."""
    pairs = store.speed_readings(run_meta)
    return sum(t for t, _ in pairs) / 2 if len(pairs) == 2 else math.nan


def _tidy_frame(runs: list[tuple[Any, ...]], counts: list[int],
                values: list[float]) -> pd.DataFrame:
    """The tidy frame of ``runs`` (every column but the value), each repeated for its
    ``counts`` values, whose seconds are ``values`` in order."""
    df = pd.DataFrame(runs, columns=TIDY_COLUMNS[:-1])
    df = df.take(np.repeat(np.arange(len(df)), counts)).reset_index(drop=True)
    df["value_s"] = np.asarray(values, dtype=float)
    df["workers"] = df["workers"].astype("Int64")
    return df


def _ratio_columns(s: pd.DataFrame, stem: str, medians: pd.Series,
                   pairs: dict[str, str]) -> None:
    """``stem``, ``stem_ci_low``, ``stem_ci_high``: a paired ratio by round, with its interval."""
    t = stats.grouped_intervals(stats.paired_ratios(medians, pairs))
    for col, key in (("", "centre"), ("_ci_low", "low"), ("_ci_high", "high")):
        s[stem + col] = t[key].astype(float)  # float even where no point has a pair


def _ideal_columns(s: pd.DataFrame, pairs: dict[str, str]) -> None:
    """The columns that read :mod:`bench.results.ideal`: ideal time, parallelism, efficiency.

    Only steady points with a baseline get them (the ideal time is the
    baseline's over the ideal parallelism); unknown specs give NaN.
    """
    paired = [n in pairs for n in s.index]
    par = pd.Series(ideal.frame_parallelism(s), index=s.index, dtype=float).where(paired)
    base = [float(s.at[pairs[n], "median_s"]) if n in pairs else math.nan for n in s.index]
    s["ideal_parallelism"] = par
    s["ideal_s"] = np.asarray(base) / par
    s["efficiency"] = s["speedup"] / par
    s["karp_flatt"] = [ideal.karp_flatt(float(sp), p) if ok and p is not None else math.nan
                       for sp, p, ok in zip(s["speedup"], ideal.frame_scaling(s), paired,
                                            strict=True)]


def summarize(df: pd.DataFrame, probed: pd.DataFrame | None = None,
              reference: str = "") -> pd.DataFrame:
    """One row per point: per-round intervals, paired speedups, efficiencies and ideals.

    See :mod:`bench.results.stats` for the intervals (the round is the unit),
    :data:`SUMMARY_COLUMNS` for every column, and :func:`metric_columns` for
    the metrics' (from ``probed``, the :func:`probes` frame; NaN without it).
    ``reference`` is the tag of the interpreter the others' ratios are to (the run's first).
    """
    probed = pd.DataFrame(columns=PROBE_COLUMNS) if probed is None else probed
    if df.empty:
        return pd.DataFrame(columns=summary_columns())
    first = df.drop_duplicates("name").set_index("name")
    s = first[[*KEYS, "cores", "task_unit", "resource", "gil", "native_threads",
               "native_pools"]].copy()
    g = df.groupby("name", sort=False)["value_s"]
    s["n"] = g.size()
    s["mean_s"] = g.mean()
    s["stdev_s"] = g.std(ddof=1).fillna(0.0)
    medians = stats.round_medians(df)
    t = stats.grouped_intervals(medians)
    s["rounds"] = t["rounds"].astype(int)
    s["median_s"], s["ci_low_s"], s["ci_high_s"] = t["centre"], t["low"], t["high"]

    pairs = baselines(s)
    _ratio_columns(s, "speedup", medians, {n: b for n, b in pairs.items() if n != b})
    own = [n for n, b in pairs.items() if n == b]  # a baseline against itself: exactly 1
    s.loc[own, ["speedup", "speedup_ci_low", "speedup_ci_high"]] = 1.0
    # a loop variant against the same model on the default loop, and a point under another
    # interpreter against itself under the first, paired by round like a speedup
    _ratio_columns(s, "loop_ratio", medians, loop_pairs(s))
    _ratio_columns(s, "python_ratio", medians, python_pairs(s, reference))
    _ideal_columns(s, pairs)
    s["ideal_ratio"] = s["median_s"] / s["ideal_s"]
    s["ci_half_pct"] = 100 * stats.half_width(s["ci_low_s"], s["ci_high_s"], s["median_s"])
    s["stable"] = s["ci_half_pct"] <= 100 * STABLE_HALF_WIDTH
    unknown = add_metrics(s, probed, pairs)
    s = s.reset_index()
    return s[summary_columns(unknown)]


def widths(benchmarks: list[pyperf.Benchmark]) -> dict[str, float]:
    """Each point's relative 95 % half-width: the wider of its median's and its speedup's.

    inf for a point with too few rounds for an interval; what the runner's
    extra rounds are aimed at.  Only the intervals are computed (not the
    whole summary): the runner asks after every extra round, inside the
    profile's time.
    """
    if not benchmarks:
        return {}
    df = tidy(store.StoredSuite(benchmarks))
    medians = stats.round_medians(df)
    pairs = {n: b for n, b in baselines(df.drop_duplicates("name").set_index("name")).items()
             if n != b}

    def half(t: pd.DataFrame) -> pd.Series:
        return stats.half_width(t["low"], t["high"], t["centre"])

    own = half(stats.grouped_intervals(medians))
    paired = half(stats.grouped_intervals(stats.paired_ratios(medians, pairs)))
    return {str(n): max(float(w), float(paired.get(n, 0.0))) for n, w in own.items()}


def amdahl(summary: pd.DataFrame) -> pd.DataFrame:
    """Amdahl serial fraction fitted over worker counts, per pooled model.

    Least squares of ``1/S - 1/p = s (1 - 1/p)`` over the points where the
    fit means something (:func:`bench.results.ideal.scaling_parallelism`: CPU-bound
    work on workers that truly run in parallel, p = min(W, C, T) with
    2 <= p and W <= C), clipped to [0, 1]; one row per (workload, model,
    start_method, tasks).
    """
    df = summary[(summary["metric"] == STEADY) & summary["workers"].notna()
                 & summary["speedup"].notna()].copy()
    df["p"] = [p or 0 for p in ideal.frame_scaling(df)]
    rows = []
    for key, g in df[df["p"] > 1].groupby(["workload", "model", "start_method", "tasks",
                                            "python"], sort=False):
        p = g["p"].to_numpy(dtype=float)
        x = 1 - 1 / p
        y = 1 / g["speedup"].to_numpy(dtype=float) - 1 / p
        frac = float(np.clip((x @ y) / (x @ x), 0.0, 1.0))
        rows.append((*key, len(g), frac))
    return pd.DataFrame(rows, columns=["workload", "model", "start_method", "tasks", "python",
                                       "points", "serial_fraction"])


def load(path: str | Path, *, missing_ok: bool = False) -> RunData:
    """Load a results file (or run directory) into DataFrames.

    Parameters
    ----------
    path
        A ``results.json`` or the run directory holding it.
    missing_ok
        A run directory whose every point failed has no results file: give
        empty frames (and its failures) instead of refusing it.

    Examples
    --------
    >>> data = bench.load("reports/latest")              # doctest: +SKIP
    >>> data.summary.query("workload == 'cpu'")[["name", "speedup"]]  # doctest: +SKIP
    """
    path = Path(path)
    results = store.resolve_results(path)
    failed = store.failures(results.parent)
    if missing_ok and not results.exists():
        df = _tidy_frame([], [], [])
        return RunData(path, {}, df, summarize(df), failed=failed)
    suite = store.read_suite(path)
    df = tidy(suite, str(results))
    probed = probes(suite)
    order = store.interpreter_order(suite)
    # each interpreter's points together, in the run's order (the file holds them as measured)
    rank = {tag: i for i, tag in enumerate(order)}
    df = df.sort_values("python", key=lambda c: c.map(rank).fillna(len(rank)), kind="stable",
                        ignore_index=True)
    summary = summarize(df, probed, order[0])
    return RunData(path, store.host_info(suite), df, summary, amdahl(summary), failed, probed,
                   store.interpreters(suite))
