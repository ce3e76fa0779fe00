"""The metrics' readings: from the results file to the summary's column groups.

Every metric of :data:`bench.scenarios.metrics.METRICS` is one benchmark per
point in the results file (``NAME:metric``, metadata ``probe``), one reading
per round.  :func:`probes` reads them into a frame; :func:`add_metrics` gives
the summary one column group per metric (median over rounds and its 95 % CI
across rounds, the round being the unit as for time; a metric with
``baseline_difference`` paired with the sequential baseline of the same
round), read by the report, ``compare`` and the gates.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from bench.results import ideal, stats, store
from bench.scenarios.metrics import METRICS

#: Metadata key naming the metric of a metric's benchmark (``NAME:metric``).
PROBE = "probe"
#: Columns of the probes frame (one row per point, metric and round; extras follow).
PROBE_COLUMNS = ["name", "probe", "round", "value"]


def probes(suite: store.Suite) -> pd.DataFrame:
    """One row per point, metric and round: the metrics' readings (:data:`PROBE_COLUMNS`).

    ``name`` is the point's name (the benchmark's less ``:metric``); each extra
    statistic a metric records (``probe_EXTRA`` run metadata) is a column
    ``EXTRA`` of its own.  Metrics the results name but this version does not
    know are kept: every stage shows what the file holds.
    """
    rows: list[dict[str, Any]] = []
    for b in suite.get_benchmarks():
        meta = b.get_metadata()
        metric = meta.get(PROBE)
        if metric is None:
            continue
        point = b.get_name().removesuffix(f":{metric}")
        for r, run in enumerate(b.get_runs()):
            rmeta = run.get_metadata()
            extras = {k[6:]: float(v) for k, v in rmeta.items()
                      if k.startswith("probe_") and isinstance(v, int | float)}
            for v in run.values:
                rows.append({"name": point, "probe": str(metric),
                             "round": int(rmeta.get("round", r)), "value": float(v), **extras})
    return pd.DataFrame(rows, columns=None if rows else PROBE_COLUMNS)


def _column(name: str) -> str:
    spec = METRICS.get(name)
    return spec.col if spec is not None else name


def metric_columns(names: list[str] | None = None) -> dict[str, str]:
    """The summary's column group of each metric (:data:`bench.scenarios.metrics.METRICS`).

    ``COL`` (median over rounds, in the stored unit; ``COL`` is the metric's
    :attr:`~bench.scenarios.metrics.MetricDef.col`), ``COL_ci_low`` and
    ``COL_ci_high`` (its 95 % CI across rounds), one ``COL_EXTRA`` per extra
    statistic and ``COL_ideal`` where the metric has an ideal.  ``names`` adds
    metrics a results file holds that the registry does not know.
    """
    out: dict[str, str] = {}
    for name in dict.fromkeys([*METRICS, *(names or [])]):
        spec, col = METRICS.get(name), _column(name)
        what = (f"{spec.description} ({spec.pyperf_unit}; reports show x{spec.scale:g} "
                f"in {spec.unit})" if spec is not None else "a metric this version does not know")
        out[col] = f"metric {name}: {what}; median over rounds"
        out[f"{col}_ci_low"] = f"95 % CI of {col}, low end (order statistics over rounds)"
        out[f"{col}_ci_high"] = f"95 % CI of {col}, high end"
        for extra in spec.extras if spec is not None else ():
            out[f"{col}_{extra}"] = f"metric {name}: its {extra}, median over rounds"
            if spec is not None and spec.extra_intervals:
                out[f"{col}_{extra}_ci_low"] = f"95 % CI of {col}_{extra}, low end"
                out[f"{col}_{extra}_ci_high"] = f"95 % CI of {col}_{extra}, high end"
        if spec is not None and spec.ideal:
            out[f"{col}_ideal"] = f"{col} of the model of the ideal (bench.results.ideal)"
    return out


def readings_by_round(probed: pd.DataFrame, name: str) -> pd.Series:
    """Metric ``name``'s reading of each point in each round (their median, were there several).

    Indexed by (point, round) in first-seen order: the unit every interval and gate reads.
    """
    rows = probed[probed["probe"] == name]
    return rows.groupby(["name", "round"], sort=False)["value"].median().astype(float)


def metric_rounds(probed: pd.DataFrame, name: str, pairs: dict[str, str]) -> pd.Series:
    """Per-round values of metric ``name``, indexed by (point, round), as the summary tests them.

    A metric with ``baseline_difference`` gives the point minus its
    sequential baseline in the same round (``pairs``: point -> baseline).
    """
    per_round = readings_by_round(probed, name)
    spec = METRICS.get(name)
    if spec is not None and spec.baseline_difference:
        per_round = stats.paired_differences(per_round, pairs)
    return per_round


def add_metrics(s: pd.DataFrame, probed: pd.DataFrame, pairs: dict[str, str]) -> list[str]:
    """Each metric's column group (:func:`metric_columns`) on the summary ``s`` (by name)."""
    found = list(dict.fromkeys(probed["probe"])) if len(probed) else []
    for name in dict.fromkeys([*METRICS, *found]):
        spec, col = METRICS.get(name), _column(name)
        for column in [col, f"{col}_ci_low", f"{col}_ci_high"]:
            s[column] = math.nan
        if name in found:
            signed = spec is not None and spec.baseline_difference
            t = stats.grouped_intervals(metric_rounds(probed, name, pairs), positive=not signed)
            s[col] = t["centre"].reindex(s.index).astype(float)
            s[f"{col}_ci_low"] = t["low"].reindex(s.index).astype(float)
            s[f"{col}_ci_high"] = t["high"].reindex(s.index).astype(float)
        for extra in spec.extras if spec is not None else ():
            _add_extra(s, probed[probed["probe"] == name], f"{col}_{extra}", extra,
                       spec is not None and spec.extra_intervals)
        if spec is not None and spec.ideal:
            s[f"{col}_ideal"] = getattr(ideal, spec.ideal)(s)
    return [n for n in found if n not in METRICS]


def _add_extra(s: pd.DataFrame, rows: pd.DataFrame, column: str, extra: str,
               intervals: bool) -> None:
    """An extra statistic's median over rounds as ``column`` of ``s`` (and its 95 % interval,
    ``column_ci_low`` and ``column_ci_high``, where its metric gives them)."""
    s[column] = math.nan
    if intervals:
        s[f"{column}_ci_low"] = s[f"{column}_ci_high"] = math.nan
    if not len(rows) or extra not in rows.columns:
        return
    per = rows.groupby(["name", "round"], sort=False)[extra].median().astype(float)
    s[column] = per.groupby(level=0, sort=False).median().reindex(s.index)
    if intervals:
        t = stats.grouped_intervals(per, positive=False)
        s[f"{column}_ci_low"] = t["low"].reindex(s.index).astype(float)
        s[f"{column}_ci_high"] = t["high"].reindex(s.index).astype(float)
