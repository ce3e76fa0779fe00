"""The report's tables as display strings: the summary table, the host table, section notes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from bench.report.export import fmt_ms, fmt_num, fmt_range
from bench.scenarios.metrics import METRICS

#: What the recommendation and break-even tables show (HTML and Markdown).
SECTION_NOTES = {
    "picks": ("For each workload, task size and task count T: the fastest model and worker "
              "count, its speedup over sequential with its 95 % CI, and the points statistically "
              "tied with it (the 95 % CI of their per-round ratio to it contains 1). All columns "
              "are in recommendations.csv."),
    "break_even": ("The smallest measured task size at which each pool, at some worker count, "
                   "beats sequential with 95 % confidence (its speedup CI's low end above 1), "
                   "with one task's time there against the pool's dispatch cost (an empty "
                   "task's trip through it): a pool pays once a task's work is well above "
                   "what sending it costs."),
}
#: Headings of the summary table shown in HTML and Markdown.
TABLE_COLUMNS = ("point", "n", "median ms", "95 % CI ms", "CI ± %", "speedup",
                 "speedup 95 % CI", "ideal ms", "efficiency", "precision", "metrics")


def metrics_text(row: Mapping[str, Any]) -> str:
    """Every metric ``row`` has a value of, in its unit (:mod:`bench.scenarios.metrics`).

    E.g. ``1.93 cores used, loop lag 0.21 ms, memory +14.7 MB, dispatch 270.0 µs
    per task``; "" when it has none.
    """
    shown = (spec.show(float(v)) for spec in METRICS.values()
             if (v := row.get(spec.col)) is not None and not pd.isna(v))
    return ", ".join(t for t in shown if t)


def table_rows(summary: pd.DataFrame) -> list[dict[str, Any]]:
    """The summary table as display strings, one dict per point.

    Each dict has ``cells`` (in the order of :data:`TABLE_COLUMNS`) and
    ``stable`` (the CI half-width is within 5 % of the median).
    """
    rows = []
    for r in summary.itertuples(index=False):
        stable = bool(r.stable)
        cells = [str(r.name), str(r.n), fmt_ms(r.median_s), fmt_range(r.ci_low_s, r.ci_high_s, 1e3),
                 fmt_num(float(r.ci_half_pct), 2), fmt_num(float(r.speedup)),
                 fmt_range(r.speedup_ci_low, r.speedup_ci_high), fmt_ms(r.ideal_s),
                 fmt_num(float(r.efficiency)),
                 "stable" if stable else "unstable", metrics_text(r._asdict())]
        rows.append({"cells": cells, "stable": stable})
    return rows


def host_rows(host: dict[str, Any]) -> list[tuple[str, str]]:
    return [(str(k), str(v)) for k, v in sorted(host.items())]


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
