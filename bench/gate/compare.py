"""N runs side by side: host records, common points, ratios against the first run.

``concbench compare A.json B.json [C.json ...]`` compares runs from different
machines, interpreters (``concbench run --python PATH``) or commits.  Runs
with different grids compare on the points they have in common (matched on
name and work by :mod:`bench.gate.match`); the points left out, and those of
one name doing other work, are listed.  The first run is the reference of
every ratio.

The statistical unit is the round (a fresh process measuring the point at one
moment), never the single value: ratios and their CIs are computed from each
point's per-round medians, and the ratio's 95 % CI is a percentile bootstrap
over those rounds (NaN with fewer than 2 rounds on a side: one round gives no
interval).

Points frame (:func:`compare_points`), one row per (point, run):

================ ============================================================
column           meaning
================ ============================================================
name             benchmark name, e.g. ``cpu/process_pool[fork]/t4/w2``
run              the run's label (its run name, made unique)
workload, model, start_method, tasks, workers, metric, task_size: the point's keys
python           its interpreter's tag in a run of several (``3.14``), "" in a run of one
cores            C, usable cores of the run's host
workers_per_core W / C (NaN without workers)
n                number of values
rounds           number of rounds (the unit of every interval here)
median_s         median batch time, seconds (the run's summary)
ci_low_s         95 % CI of the median, low end (the run's summary)
ci_high_s        95 % CI of the median, high end (the run's summary)
ratio            median of per-round medians / the first run's (> 1: slower)
ratio_ci_low     95 % CI of the ratio (bootstrap over rounds), low end
ratio_ci_high    95 % CI of the ratio (bootstrap over rounds), high end
speedup          the run's own speedup (the run's summary)
efficiency       speedup / min(W, C, T)
(metrics)        every metric's column group of the run's summary
                 (:func:`bench.results.aggregate.metric_columns`)
================ ============================================================
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from bench.errors import UsageError
from bench.gate.match import (
    TIME_KEYS,
    common_points,
    host_differences,
    host_keys,
    host_values,
    run_host,
    samples,
)
from bench.gate.stats import slowdown_ci
from bench.results.aggregate import RunData
from bench.results.readings import metric_columns

#: Host record keys highlighted in comparisons (differences that matter).
MATTERS = (*TIME_KEYS, "start_methods")
#: Host record keys shown first, in this order.
HOST_ORDER = (*MATTERS, "python_implementation", "logical_cores", "cpu_affinity",
              "cgroup_cpu_quota", "platform", "hostname", "run_name", "profile",
              "work_scale", "git_commit", "concbench_version")

#: How the written comparison labels points of one name whose work differs between runs.
NOT_COMPARABLE = "not comparable (the work differs)"

POINT_COLUMNS = ["name", "run", "workload", "model", "start_method", "tasks", "workers",
                 "metric", "task_size", "python", "cores", "workers_per_core", "n", "rounds",
                 "median_s", "ci_low_s",
                 "ci_high_s", "ratio", "ratio_ci_low", "ratio_ci_high", "speedup",
                 "efficiency"]


@dataclass
class Comparison:
    """Runs compared on their common points."""

    runs: list[RunData]
    labels: list[str]
    common: list[str]
    left_out: dict[str, list[str]]
    hosts: pd.DataFrame
    differences: list[str]
    points: pd.DataFrame
    #: Points in every run whose work differs: name -> why (never compared).
    not_comparable: dict[str, str] = field(default_factory=dict)


def run_labels(runs: Sequence[RunData]) -> list[str]:
    """One unique, readable label per run: its run name, else the file's stem."""
    labels: list[str] = []
    for r in runs:
        stem = r.path.name if r.path.name != "results.json" else r.path.parent.name
        base = str(r.host.get("run_name") or stem or "run")
        label, k = base, 2
        while label in labels:
            label, k = f"{base} ({k})", k + 1
        labels.append(label)
    return labels


def host_table(hosts: Sequence[dict[str, Any]], labels: Sequence[str]) -> pd.DataFrame:
    """Host records (:func:`bench.gate.match.run_host`) side by side: one row per key, each
    followed by the other interpreters' where they differ from it (:func:`bench.gate.match.
    host_keys`), one column per run.

    Columns ``key``, one per label, ``differs`` (values not all equal) and
    ``matters`` (a key in :data:`MATTERS`, or an interpreter's copy of one).
    """
    keys = [k for k in HOST_ORDER if any(k in h for h in hosts)]
    keys += sorted({k for h in hosts for k in h if "@" not in k} - set(keys))
    rows = []
    for key in host_keys(hosts, keys):
        values = host_values(hosts, key)
        rows.append([key, *values, len(set(values)) > 1, key.partition("@")[0] in MATTERS])
    return pd.DataFrame(rows, columns=["key", *labels, "differs", "matters"])


def compare_points(runs: Sequence[RunData], labels: Sequence[str],
                   common: Sequence[str]) -> pd.DataFrame:
    """The points frame (see the module docstring) over the ``common`` points."""
    ref = samples(runs[0], common)
    metrics = list(metric_columns(
        sorted({str(m) for r in runs for m in r.probes["probe"].unique()})))
    frames = []
    for run, label in zip(runs, labels, strict=True):
        s = run.summary.set_index("name").loc[list(common)]
        cur = samples(run, common)
        counts = run.tidy.groupby("name")["value_s"].size()
        ci = slowdown_ci(cur, ref)
        f = pd.DataFrame({
            "name": list(common), "run": label,
            "workload": s["workload"].to_numpy(), "model": s["model"].to_numpy(),
            "start_method": s["start_method"].to_numpy(), "tasks": s["tasks"].to_numpy(),
            "workers": s["workers"].astype(float).to_numpy(), "metric": s["metric"].to_numpy(),
            "task_size": s["task_size"].to_numpy(), "python": s["python"].astype(str).to_numpy(),
            "cores": s["cores"].to_numpy(), "n": [int(counts[n]) for n in common],
            "rounds": [len(cur[n]) for n in common],
            "median_s": s["median_s"].to_numpy(), "ci_low_s": s["ci_low_s"].to_numpy(),
            "ci_high_s": s["ci_high_s"].to_numpy(),
            "ratio": [float(np.median(cur[n]) / np.median(ref[n])) for n in common],
            "ratio_ci_low": [ci[n][0] for n in common],
            "ratio_ci_high": [ci[n][1] for n in common],
            "speedup": s["speedup"].to_numpy(), "efficiency": s["efficiency"].to_numpy(),
            # every metric's column group, side by side (NaN where a run did not collect it)
            **{col: s[col].to_numpy() if col in s.columns else np.nan for col in metrics},
        })
        workers = pd.to_numeric(f["workers"], errors="coerce").astype(float)
        f["workers_per_core"] = workers / f["cores"].astype(float)
        frames.append(f)
    out = pd.concat(frames, ignore_index=True)
    out["workers"] = out["workers"].astype("Int64")
    return out[[*POINT_COLUMNS, *metrics]]


def compare_runs(runs: Sequence[RunData]) -> Comparison:
    """Compare loaded runs (at least two) on their common points."""
    if len(runs) < 2:
        raise UsageError("compare needs at least two runs")
    labels = run_labels(runs)
    match = common_points(runs)
    left_out = dict(zip(labels, match.only_in, strict=True))
    hosts = [run_host(r) for r in runs]
    return Comparison(
        runs=list(runs), labels=labels, common=match.common, left_out=left_out,
        hosts=host_table(hosts, labels), differences=host_differences(hosts, MATTERS),
        points=compare_points(runs, labels, match.common),
        not_comparable=match.not_comparable,
    )
