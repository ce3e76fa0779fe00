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
run             index of the pyperf worker process that measured the value
value_s         seconds for one batch
=============== =============================================================

Summary frame: one row per point; see :data:`SUMMARY_COLUMNS`.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyperf
from scipy import stats

from bench import store
from bench.errors import UsageError
from bench.store import load_results

#: Points whose 95 % CI half-width exceeds this share of the median are unstable.
STABLE_HALF_WIDTH = 0.05
#: Largest task, worker or core count a results file may claim.
MAX_COUNT = 1_000_000
#: Bootstrap resamples for every CI of a median (and of a speedup).
N_RESAMPLES = 2000
#: Resamples per vectorised step of scipy's bootstrap (bounds its memory).
BOOTSTRAP_BATCH = 100
#: Points of one sample size per bootstrap thread, at least.
ROWS_PER_THREAD = 200
KEYS = ["workload", "model", "start_method", "tasks", "workers", "metric", "task_size"]

SUMMARY_COLUMNS = {
    "workload": "workload name",
    "model": "execution model",
    "start_method": 'process start method ("" for other models)',
    "tasks": "T, tasks per batch",
    "workers": "W, workers (<NA> for models without workers)",
    "n": "number of values",
    "median_s": "median batch time, seconds",
    "mean_s": "mean batch time, seconds",
    "stdev_s": "standard deviation, seconds",
    "ci_low_s": "95 % bootstrap CI of the median, low end",
    "ci_high_s": "95 % bootstrap CI of the median, high end",
    "speedup": "median of sequential (same workload, tasks, size) / this median",
    "speedup_ci_low": "95 % bootstrap CI of the speedup, low end",
    "speedup_ci_high": "95 % bootstrap CI of the speedup, high end",
    "efficiency": "speedup / min(W, C, T) (/ 1 without workers)",
    "ideal_s": "the model's analytic time from d = sequential median / T",
    "ideal_ratio": "median_s / ideal_s (1.0 = ideal)",
    "karp_flatt": "Karp-Flatt serial fraction at p = min(W, C, T) (NaN at p = 1)",
    "ci_half_pct": "CI half-width as a percentage of the median",
    "stable": "CI half-width <= 5 % of the median",
    "metric": "steady (warm batches) or cold (pool creation + first batch)",
    "task_size": "one task's size in the workload's unit",
    "name": "benchmark name",
    "cores": "C, usable cores of the host",
}


@dataclass
class RunData:
    """Everything derived from one results file."""

    path: Path
    host: dict[str, Any]
    tidy: pd.DataFrame
    summary: pd.DataFrame
    amdahl: pd.DataFrame = field(default_factory=pd.DataFrame)


def host_info(suite: pyperf.BenchmarkSuite) -> dict[str, Any]:
    """The run's host record (``host_*`` metadata, prefix removed) and run fields."""
    meta = suite.get_benchmarks()[0].get_metadata()
    info = {k[5:]: v for k, v in meta.items() if k.startswith("host_")}
    for key in ("run_name", "profile", "work_scale", "git_commit", "concbench_version",
                "cpu_model_name", "cpu_freq", "cpu_config"):
        if key in meta:
            info.setdefault(key, meta[key])
    return info


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


def tidy(suite: pyperf.BenchmarkSuite, source: str = "results") -> pd.DataFrame:
    """One row per measured value, with the point's metadata as columns.

    Raises
    ------
    UsageError
        A benchmark whose ``tasks``, ``workers``, ``task_size`` or
        ``host_usable_cores`` metadata is not a valid number (named with
        ``source``, the file it came from).
    """
    rows: list[tuple[Any, ...]] = []
    for b in suite.get_benchmarks():
        meta = b.get_metadata()
        try:
            point = (
                b.get_name(), str(meta.get("workload", "")), str(meta.get("model", "")),
                str(meta.get("start_method", "")), _count(meta, "tasks", 1),
                _count(meta, "workers", None), str(meta.get("metric", "steady")),
                _size(meta), _count(meta, "host_usable_cores", 1),
            )
        except ValueError as exc:
            raise UsageError(f"{source}: benchmark {b.get_name()!r}: {exc}") from None
        for r, run in enumerate(b.get_runs()):
            rows.extend((*point, r, float(v)) for v in run.values)
    cols = ["name", *KEYS[:5], "metric", "task_size", "cores", "run", "value_s"]
    df = pd.DataFrame(rows, columns=cols)
    df["workers"] = df["workers"].astype("Int64")
    return df


def _median(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """``np.median`` along ``axis``, by sorting: ~4x faster on the short rows bootstrapped here."""
    ordered = np.sort(np.moveaxis(x, axis, -1), axis=-1)
    n = ordered.shape[-1]
    return np.asarray((ordered[..., (n - 1) // 2] + ordered[..., n // 2]) / 2)


def _bootstrap(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Percentile bootstrap of the median of each row (rows of equal length).

    One vectorised :func:`scipy.stats.bootstrap` call for all rows, seeded
    with the row length: a point's CI is the same wherever it is computed
    (the runner's stability check, the summary) and from run to run.

    Returns
    -------
    low, high, distribution : numpy.ndarray
        The 95 % CI bounds per row, and the bootstrap medians, shape
        ``(rows, N_RESAMPLES)``.  Rows of one value have no spread: their
        bounds and every bootstrap median are that value.
    """
    if samples.shape[1] < 2:
        med = np.median(samples, axis=1)
        return med, med, np.repeat(med[:, None], N_RESAMPLES, axis=1)
    res = stats.bootstrap((samples,), _median, axis=-1, vectorized=True,
                          n_resamples=N_RESAMPLES, batch=BOOTSTRAP_BATCH,
                          method="percentile", confidence_level=0.95, rng=samples.shape[1])
    ci = res.confidence_interval
    return np.atleast_1d(ci.low), np.atleast_1d(ci.high), res.bootstrap_distribution


def _bootstrap_rows(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_bootstrap` over many rows, in chunks on threads (numpy's sorts release the GIL).

    Every chunk draws the same resample indices (same seed, same row length),
    so the result equals one call over all rows.
    """
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    chunks = min(cpus, len(samples) // ROWS_PER_THREAD)
    if chunks <= 1:
        return _bootstrap(samples)
    with ThreadPoolExecutor(chunks) as pool:
        parts = list(pool.map(_bootstrap, np.array_split(samples, chunks)))
    low, high, dist = (np.concatenate(p) for p in zip(*parts, strict=True))
    return low, high, dist


def ci_half_width(values: Any) -> float:
    """Half-width of the 95 % bootstrap CI of the median, as a share of the median."""
    arr = np.asarray(values, dtype=float).reshape(1, -1)
    low, high, _ = _bootstrap(arr)
    med = float(np.median(arr))
    return float((high[0] - low[0]) / 2 / med) if med > 0 else math.inf


def _ratio_ci(base: np.ndarray, model: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """95 % percentile CI of median(base) / median(model) from bootstrap medians.

    ``base`` and ``model`` are bootstrap distributions of the two medians,
    shape ``(rows, N_RESAMPLES)``.  Rows that came from one scipy call share
    their resample indices, so the model's replicates are shifted by one:
    every base replicate is paired with an independently drawn model one,
    as an unpaired two-sample bootstrap needs.
    """
    ratio = base / np.roll(model, 1, axis=1)
    low, high = np.percentile(ratio, [2.5, 97.5], axis=1)
    return low, high


def _by_length(groups: dict[Any, np.ndarray]) -> dict[int, list[Any]]:
    out: dict[int, list[Any]] = {}
    for key, vals in groups.items():
        out.setdefault(len(vals), []).append(key)
    return out


def parallelism(workers: Any, cores: int, tasks: int) -> int:
    """p = min(W, C, T); 1 for models without workers."""
    if workers is None or workers is pd.NA or (isinstance(workers, float) and math.isnan(workers)):
        return 1
    return max(1, min(int(workers), cores, tasks))


def ideal_time(workload: str, model: str, tasks: int, workers: Any, cores: int,
               d: float) -> float:
    """The model's analytic batch time from one task's sequential time ``d``.

    sequential, asyncio_blocking, asyncio_await: T*d; other asyncio models on
    async_sleep: d; pools on blocking sleep: ceil(T/W)*d; process pools on CPU
    work and threads on GIL-releasing work: ceil(T/min(W, C))*d, time-slicing
    at ceil(T/W)*(W/C)*d when W > C; GIL-bound threads: T*d.
    """
    from bench.models import MODELS, WORKLOADS

    if model not in MODELS or workload not in WORKLOADS or not d > 0:
        return math.nan
    work, kind = WORKLOADS[workload], MODELS[model].kind
    if model in ("sequential", "asyncio_blocking", "asyncio_await"):
        return tasks * d
    if kind == "asyncio":
        return d
    w = int(workers) if workers is not None and workers is not pd.NA else 1
    if work.io_bound:
        return math.ceil(tasks / w) * d
    if kind == "thread" and not work.releases_gil:
        return tasks * d
    if w <= cores:
        return math.ceil(tasks / w) * d
    return math.ceil(tasks / w) * (w / cores) * d


def karp_flatt(speedup: float, p: int) -> float:
    """Karp-Flatt serial fraction e = (1/S - 1/p) / (1 - 1/p); NaN when p = 1."""
    if p <= 1 or not speedup > 0:
        return math.nan
    return (1 / speedup - 1 / p) / (1 - 1 / p)


def summarize(df: pd.DataFrame) -> pd.DataFrame:
    """One row per point with medians, CIs, speedups, efficiencies and ideals."""
    if df.empty:
        return pd.DataFrame(columns=list(SUMMARY_COLUMNS))
    values = {name: g["value_s"].to_numpy() for name, g in df.groupby("name", sort=False)}
    first = df.drop_duplicates("name").set_index("name")
    s = first[[*KEYS, "cores"]].copy()
    s["n"] = [len(values[n]) for n in s.index]
    s["median_s"] = [float(np.median(values[n])) for n in s.index]
    s["mean_s"] = [float(np.mean(values[n])) for n in s.index]
    s["stdev_s"] = [float(np.std(values[n], ddof=1)) if len(values[n]) > 1 else 0.0
                    for n in s.index]
    s["ci_low_s"], s["ci_high_s"] = np.nan, np.nan
    boot: dict[str, np.ndarray] = {}  # each point's bootstrap medians
    for names in _by_length(values).values():
        lo, hi, dist = _bootstrap_rows(np.vstack([values[n] for n in names]))
        s.loc[names, "ci_low_s"], s.loc[names, "ci_high_s"] = lo, hi
        boot.update(zip(names, dist, strict=True))

    pairs = _baselines(s)
    s["speedup"] = s["speedup_ci_low"] = s["speedup_ci_high"] = np.nan
    if pairs:
        names, bases = list(pairs), list(pairs.values())
        s.loc[names, "speedup"] = (s.loc[bases, "median_s"].to_numpy()
                                   / s.loc[names, "median_s"].to_numpy())
        lo, hi = _ratio_ci(np.vstack([boot[b] for b in bases]),
                           np.vstack([boot[n] for n in names]))
        s.loc[names, "speedup_ci_low"], s.loc[names, "speedup_ci_high"] = lo, hi
    own = [n for n, b in pairs.items() if n == b]  # a baseline against itself: exactly 1
    s.loc[own, ["speedup_ci_low", "speedup_ci_high"]] = 1.0

    p = [parallelism(w, c, t) for w, c, t in zip(s["workers"], s["cores"], s["tasks"],
                                                   strict=True)]
    s["efficiency"] = s["speedup"] / p
    s["karp_flatt"] = [karp_flatt(sp, pp) for sp, pp in zip(s["speedup"], p, strict=True)]
    s["ideal_s"] = [
        ideal_time(r.workload, r.model, r.tasks, r.workers, r.cores,
                   s.loc[pairs[n], "median_s"] / r.tasks if n in pairs else math.nan)
        if r.metric == "steady" else math.nan
        for n, r in zip(s.index, s.itertuples(), strict=True)
    ]
    s["ideal_ratio"] = s["median_s"] / s["ideal_s"]
    half = (s["ci_high_s"] - s["ci_low_s"]) / 2
    s["ci_half_pct"] = 100 * half / s["median_s"]
    s["stable"] = half <= STABLE_HALF_WIDTH * s["median_s"]
    s = s.reset_index()
    return s[list(SUMMARY_COLUMNS)]


def _baselines(s: pd.DataFrame) -> dict[str, str]:
    """Map each steady point with a baseline to its sequential point (same workload, T, size)."""
    steady = s["metric"] == "steady"
    seq = s[steady & (s["model"] == "sequential")]
    base = dict(zip(zip(seq["workload"], seq["tasks"], seq["task_size"], strict=True),
                    seq.index, strict=True))
    keys = zip(s["workload"], s["tasks"], s["task_size"], strict=True)
    return {n: base[k] for n, k, st in zip(s.index, keys, steady, strict=True)
            if st and k in base}


def amdahl(summary: pd.DataFrame) -> pd.DataFrame:
    """Amdahl serial fraction fitted over worker counts, per pooled model.

    Least squares of ``1/S - 1/p = s (1 - 1/p)`` over the points with p > 1,
    clipped to [0, 1]; one row per (workload, model, start_method, tasks).
    """
    df = summary[(summary["metric"] == "steady") & summary["workers"].notna()
                 & summary["speedup"].notna()].copy()
    rows = []
    for key, g in df.groupby(["workload", "model", "start_method", "tasks"], sort=False):
        p = np.array([parallelism(w, c, t) for w, c, t in zip(g["workers"], g["cores"],
                                                                g["tasks"], strict=True)])
        mask = p > 1
        if not mask.any():
            continue
        x = 1 - 1 / p[mask]
        y = 1 / g["speedup"].to_numpy()[mask] - 1 / p[mask]
        frac = float(np.clip((x @ y) / (x @ x), 0.0, 1.0))
        rows.append((*key, int(mask.sum()), frac))
    return pd.DataFrame(rows, columns=["workload", "model", "start_method", "tasks",
                                       "points", "serial_fraction"])


def load(path: str | Path) -> RunData:
    """Load a results file (or run directory) into DataFrames.

    Examples
    --------
    >>> data = bench.load("reports/latest")              # doctest: +SKIP
    >>> data.summary.query("workload == 'cpu'")[["name", "speedup"]]  # doctest: +SKIP
    """
    path = Path(path)
    suite = load_results(path)
    df = tidy(suite, str(store.resolve_results(path)))
    summary = summarize(df)
    return RunData(path, host_info(suite), df, summary, amdahl(summary))
