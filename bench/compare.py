"""N runs side by side: host records, common points, ratios against the first run.

``concbench compare A.json B.json [C.json ...]`` compares runs from different
machines, interpreters (``concbench run --python PATH``) or commits.  Runs
with different grids compare on the points they have in common; the points
left out are listed.  The first run is the reference of every ratio.

Points frame (:func:`compare_points`), one row per (point, run):

================ ============================================================
column           meaning
================ ============================================================
name             benchmark name, e.g. ``cpu/process_pool[fork]/t4/w2``
run              the run's label (its run name, made unique)
workload, model, start_method, tasks, workers, metric: the point's keys
cores            C, usable cores of the run's host
workers_per_core W / C (NaN without workers)
n                number of values
median_s         median batch time, seconds
ci_low_s         95 % bootstrap CI of the median, low end
ci_high_s        95 % bootstrap CI of the median, high end
ratio            median_s / the first run's median_s (> 1: slower)
ratio_ci_low     95 % bootstrap CI of the ratio, low end
ratio_ci_high    95 % bootstrap CI of the ratio, high end
speedup          the run's own speedup (sequential median / median)
efficiency       speedup / min(W, C, T)
================ ============================================================
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.aggregate import RunData, load
from bench.errors import UsageError
from bench.gate_stats import slowdown_ci

#: Host record keys whose differences make times incomparable (the gate warns).
TIME_KEYS = ("usable_cores", "cpu_model", "python_version", "python_build", "gil_enabled")
#: Host record keys highlighted in comparisons (differences that matter).
MATTERS = (*TIME_KEYS, "start_methods")
#: Host record keys shown first, in this order.
HOST_ORDER = (*MATTERS, "python_implementation", "logical_cores", "cpu_affinity",
              "cgroup_cpu_quota", "platform", "hostname", "run_name", "profile",
              "work_scale", "git_commit", "concbench_version")

POINT_COLUMNS = ["name", "run", "workload", "model", "start_method", "tasks", "workers",
                 "metric", "cores", "workers_per_core", "n", "median_s", "ci_low_s",
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


def common_points(runs: Sequence[RunData]) -> tuple[list[str], dict[str, list[str]]]:
    """Point names present in every run (first run's order) and, per run, the rest.

    Raises
    ------
    UsageError
        When the runs have no point in common.
    """
    names = [list(dict.fromkeys(r.tidy["name"])) for r in runs]
    shared = set(names[0]).intersection(*map(set, names[1:]))
    common = [n for n in names[0] if n in shared]
    if not common:
        files = ", ".join(str(r.path) for r in runs)
        raise UsageError(f"the runs have no point in common ({files}): nothing to compare")
    return common, {str(i): [n for n in ns if n not in shared] for i, ns in enumerate(names)}


def samples(run: RunData, names: Sequence[str]) -> dict[str, np.ndarray]:
    """The raw values (seconds) of each named point of ``run``."""
    groups = {n: g["value_s"].to_numpy(dtype=float)
              for n, g in run.tidy.groupby("name", sort=False)}
    return {n: groups[n] for n in names}


def compare_points(runs: Sequence[RunData], labels: Sequence[str],
                   common: Sequence[str]) -> pd.DataFrame:
    """The points frame (see the module docstring) over the ``common`` points."""
    ref = samples(runs[0], common)
    frames = []
    for run, label in zip(runs, labels, strict=True):
        s = run.summary.set_index("name").loc[list(common)]
        cur = samples(run, common)
        ci = slowdown_ci(cur, ref)
        f = pd.DataFrame({
            "name": list(common), "run": label,
            "workload": s["workload"].to_numpy(), "model": s["model"].to_numpy(),
            "start_method": s["start_method"].to_numpy(), "tasks": s["tasks"].to_numpy(),
            "workers": s["workers"].to_numpy(), "metric": s["metric"].to_numpy(),
            "cores": s["cores"].to_numpy(), "n": s["n"].to_numpy(),
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
    common, rest = common_points(runs)
    left_out = {labels[int(i)]: names for i, names in rest.items()}
    hosts = [r.host for r in runs]
    return Comparison(
        runs=list(runs), labels=labels, common=common, left_out=left_out,
        hosts=host_table(hosts, labels), differences=host_differences(hosts, MATTERS),
        points=compare_points(runs, labels, common),
    )


def write_comparison(paths: Sequence[Path], out_dir: Path) -> Path:
    """Compare the runs at ``paths`` and write HTML, Markdown and CSV to ``out_dir``.

    Parameters
    ----------
    paths : Sequence[pathlib.Path]
        Results files or run directories, two or more; the first is the
        reference of the ratios.
    out_dir : pathlib.Path
        Where ``index.html``, ``comparison.md``, ``points.csv``, ``hosts.csv``
        and the charts go (created if needed).

    Returns
    -------
    pathlib.Path
        The path of ``index.html``.

    Raises
    ------
    UsageError
        Fewer than two runs, an unreadable file, or no common point.
    """
    if len(paths) < 2:
        raise UsageError("compare needs at least two results files")
    from bench.compare_report import write_files

    comparison = compare_runs([load(p) for p in paths])
    return write_files(comparison, Path(out_dir))
