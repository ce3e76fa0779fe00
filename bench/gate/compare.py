"""N runs side by side: host records, common points, ratios against the first run.

``concbench compare A.json B.json [C.json ...]`` compares runs from different
machines, interpreters (``concbench run --python PATH``) or commits.  Runs
with different grids compare on the points they have in common; the points
left out are listed.  A point's identity is its name *and* its work
(:data:`WORK_KEY`: workload, model, start method, tasks, workers, metric,
task size): a point of the same name doing other work (a smoke run's 0.2x
tasks against a quick run's) is listed as *not comparable*, with the reason,
never compared.  The first run is the reference of every ratio.

The statistical unit is the round (a fresh process measuring the point at one
moment), never the single value: ratios and their CIs are computed from each
point's per-round medians (``tidy.groupby(["name", "round"]).value_s.median()``),
and the ratio's 95 % CI is a percentile bootstrap over those rounds (NaN with
fewer than 2 rounds on a side: one round gives no interval).

Points frame (:func:`compare_points`), one row per (point, run):

================ ============================================================
column           meaning
================ ============================================================
name             benchmark name, e.g. ``cpu/process_pool[fork]/t4/w2``
run              the run's label (its run name, made unique)
workload, model, start_method, tasks, workers, metric, task_size: the point's keys
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
================ ============================================================
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from bench.errors import UsageError
from bench.gate.stats import slowdown_ci
from bench.results import stats
from bench.results.aggregate import KEYS, RunData

#: Host record keys whose differences make times incomparable (the gate warns).
TIME_KEYS = ("usable_cores", "cpu_model", "python_version", "python_build", "gil_enabled")
#: Host record keys highlighted in comparisons (differences that matter).
MATTERS = (*TIME_KEYS, "start_methods")
#: Host record keys shown first, in this order.
HOST_ORDER = (*MATTERS, "python_implementation", "logical_cores", "cpu_affinity",
              "cgroup_cpu_quota", "platform", "hostname", "run_name", "profile",
              "work_scale", "git_commit", "concbench_version")

#: How the written comparison labels points of one name whose work differs between runs.
NOT_COMPARABLE = "not comparable (the work differs)"

POINT_COLUMNS = ["name", "run", "workload", "model", "start_method", "tasks", "workers",
                 "metric", "task_size", "cores", "workers_per_core", "n", "rounds",
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
    """Host records side by side: one row per key, one column per run.

    Columns ``key``, one per label, ``differs`` (values not all equal) and
    ``matters`` (a key in :data:`MATTERS`).
    """
    keys = [k for k in HOST_ORDER if any(k in h for h in hosts)]
    keys += sorted({k for h in hosts for k in h} - set(keys))
    rows = []
    for key in keys:
        values = ["" if h.get(key) is None else str(h.get(key)) for h in hosts]
        rows.append([key, *values, len(set(values)) > 1, key in MATTERS])
    return pd.DataFrame(rows, columns=["key", *labels, "differs", "matters"])


def host_differences(hosts: Sequence[dict[str, Any]],
                     keys: Sequence[str] = TIME_KEYS) -> list[str]:
    """Lines like ``usable_cores: 2 vs 4`` for the ``keys`` whose values differ."""
    out = []
    for key in keys:
        values = ["" if h.get(key) is None else str(h.get(key)) for h in hosts]
        if len(set(values)) > 1:
            out.append(f"{key}: {' vs '.join(v or '?' for v in values)}")
    return out


#: The columns that say what work a point does: a point's identity is its name *and* these.
#: What a point does: the key of every summary row (:data:`bench.results.aggregate.KEYS`).
WORK_KEY = tuple(KEYS)
_WORK_LABELS = {"task_size": "task size", "start_method": "start method"}


@dataclass
class PointMatch:
    """How the points of several runs (or summaries) match on name and work."""

    #: Names present in every frame with the same work everywhere (first frame's order).
    common: list[str]
    #: Per frame (by position), the names missing from at least one other frame.
    only_in: list[list[str]]
    #: Names present everywhere whose work differs: name -> why, e.g. ``task size 2 vs 10 MiB``.
    not_comparable: dict[str, str]


def _plain(value: Any) -> Any:
    """A cell as a plain Python value (``<NA>``/NaN -> None) for equality tests."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float | np.floating) and math.isnan(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def point_work(frame: pd.DataFrame) -> dict[str, tuple[Any, ...]]:
    """Each point's work (the :data:`WORK_KEY` columns) from a tidy or summary frame."""
    first = frame.drop_duplicates("name")
    cols = [first[c].tolist() if c in first else [None] * len(first) for c in WORK_KEY]
    return {str(n): tuple(_plain(v) for v in vals)
            for n, *vals in zip(first["name"], *cols, strict=True)}


def _fmt(value: Any) -> str:
    if value is None or value == "":
        return "none"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return f"{value:g}" if isinstance(value, float) else str(value)


def work_difference(works: Sequence[tuple[Any, ...]]) -> str:
    """Why points of one name do different work: ``task size 20000 vs 100000 iterations``.

    Parameters
    ----------
    works : Sequence[tuple]
        The point's :data:`WORK_KEY` values in each run.

    Returns
    -------
    str
        One clause per differing field, joined by ``"; "`` ("" when none differs).
    """
    from bench.scenarios.workloads import WORKLOADS

    parts = []
    for i, key in enumerate(WORK_KEY):
        values = [w[i] for w in works]
        if len(set(values)) < 2:
            continue
        text = f"{_WORK_LABELS.get(key, key)} {' vs '.join(_fmt(v) for v in values)}"
        spec = WORKLOADS.get(str(works[0][0])) if key == "task_size" else None
        if spec is not None and len({w[0] for w in works}) == 1:
            text += f" {spec.unit}"
        parts.append(text)
    return "; ".join(parts)


def match_points(frames: Sequence[pd.DataFrame]) -> PointMatch:
    """Match points across frames on their name and their work (:data:`WORK_KEY`).

    A point whose name is in every frame but whose work differs (another task
    size, say) is *not comparable*: it is listed with the reason, never
    compared.

    Parameters
    ----------
    frames : Sequence[pandas.DataFrame]
        Tidy or summary frames, with a ``name`` column and the work columns.

    Returns
    -------
    PointMatch
        The comparable points, each frame's unmatched names, the ones not comparable.
    """
    works = [point_work(f) for f in frames]
    shared = set(works[0]).intersection(*map(set, works[1:]))
    not_comparable: dict[str, str] = {}
    common = []
    for name in works[0]:
        if name not in shared:
            continue
        if len({w[name] for w in works}) == 1:
            common.append(name)
        else:
            not_comparable[name] = work_difference([w[name] for w in works])
    return PointMatch(common, [[n for n in w if n not in shared] for w in works],
                      not_comparable)


def common_points(runs: Sequence[RunData]) -> PointMatch:
    """The points every run has, doing the same work everywhere (see :func:`match_points`).

    Raises
    ------
    UsageError
        When the runs have no comparable point in common.
    """
    match = match_points([r.tidy for r in runs])
    if not match.common:
        files = ", ".join(str(r.path) for r in runs)
        if match.not_comparable:
            first, why = next(iter(match.not_comparable.items()))
            raise UsageError(
                f"the runs have no comparable point ({files}): the "
                f"{len(match.not_comparable)} points they share measure different work "
                f"(e.g. {first}: {why}); nothing to compare")
        raise UsageError(f"the runs have no point in common ({files}): nothing to compare")
    return match


def round_medians(run: RunData, names: Sequence[str]) -> dict[str, pd.Series]:
    """Each named point's per-round medians (seconds), indexed by round, in round order.

    The round (one process, or a few, at one moment of the host) is the
    statistical unit: the values of one round are not independent draws.
    """
    med = stats.round_medians(run.tidy).sort_index()
    return {n: med.loc[n].astype(float) for n in names}


def samples(run: RunData, names: Sequence[str]) -> dict[str, np.ndarray]:
    """The per-round medians (seconds) of each named point of ``run``: one value per round."""
    return {n: s.to_numpy(dtype=float) for n, s in round_medians(run, names).items()}


def compare_points(runs: Sequence[RunData], labels: Sequence[str],
                   common: Sequence[str]) -> pd.DataFrame:
    """The points frame (see the module docstring) over the ``common`` points."""
    ref = samples(runs[0], common)
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
            "workers": s["workers"].to_numpy(), "metric": s["metric"].to_numpy(),
            "task_size": s["task_size"].to_numpy(),
            "cores": s["cores"].to_numpy(), "n": [int(counts[n]) for n in common],
            "rounds": [len(cur[n]) for n in common],
            "median_s": s["median_s"].to_numpy(), "ci_low_s": s["ci_low_s"].to_numpy(),
            "ci_high_s": s["ci_high_s"].to_numpy(),
            "ratio": [float(np.median(cur[n]) / np.median(ref[n])) for n in common],
            "ratio_ci_low": [ci[n][0] for n in common],
            "ratio_ci_high": [ci[n][1] for n in common],
            "speedup": s["speedup"].to_numpy(), "efficiency": s["efficiency"].to_numpy(),
        })
        workers = pd.to_numeric(f["workers"], errors="coerce").astype(float)
        f["workers_per_core"] = workers / f["cores"].astype(float)
        frames.append(f)
    out = pd.concat(frames, ignore_index=True)
    out["workers"] = out["workers"].astype("Int64")
    return out[POINT_COLUMNS]


def compare_runs(runs: Sequence[RunData]) -> Comparison:
    """Compare loaded runs (at least two) on their common points."""
    if len(runs) < 2:
        raise UsageError("compare needs at least two runs")
    labels = run_labels(runs)
    match = common_points(runs)
    left_out = dict(zip(labels, match.only_in, strict=True))
    hosts = [r.host for r in runs]
    return Comparison(
        runs=list(runs), labels=labels, common=match.common, left_out=left_out,
        hosts=host_table(hosts, labels), differences=host_differences(hosts, MATTERS),
        points=compare_points(runs, labels, match.common),
        not_comparable=match.not_comparable,
    )
