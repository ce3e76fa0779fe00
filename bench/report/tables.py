"""The report's tables as display strings: summary, recommendations, break-even, host, notes."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pandas as pd

from bench.report.export import fmt_ms, fmt_num, fmt_range
from bench.report.frames import is_baseline, series_label
from bench.report.interpreters import Part
from bench.results.recommend import point_label, size_label, task_unit
from bench.scenarios import native
from bench.scenarios.metrics import METRICS
from bench.scenarios.models import STEADY

#: What the recommendation and break-even tables show (HTML and Markdown).
SECTION_NOTES = {
    "network": ("Each network workload's calls to the loopback service, per model: the calls "
              "allowed in flight (W for a limit or a pool, T on an event loop) and the most "
              "the service saw at once; calls a second (T over the batch's median time); the "
              "p99 and p50 each call took past the service's own latency at that quantile, "
              "timed call by call in a batch of their own; the p99 from each call's "
              "submission (open loop: its intended send) and the share of calls that started "
              "over 1 ms late (open loop); the client's CPU per call and the service's per "
              "request. 95 % CIs over rounds. All columns are in network.csv."),
    "interpreters": ("For each workload, at its largest T and task size: each interpreter's "
                     "pick with its speedup over its own sequential loop, its sequential time "
                     "against the first interpreter's, and its pick's time against the first "
                     "interpreter's sequential time (> 1: faster). Every round ran each group "
                     "under every interpreter, in consecutive children in an order that "
                     "alternates, so these ratios are paired by round; 95 % CIs."),
    "picks": ("For each workload, task size and task count T: the decisions' pick, its "
              "speedup over sequential (the geometric mean of the per-round ratios, with the "
              "interval its verdict reads), what it costs, the points equivalent to it and "
              "whether every rival is decided (else the most rounds an undecided one needs "
              "at the spread seen). All columns are in recommendations.csv."),
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


def host_rows(host: dict[str, Any], summary: pd.DataFrame | None = None
              ) -> list[tuple[str, str]]:
    """The host record's rows, and the native thread pools the run's processes held (from
    ``summary``'s ``native_pools``: what the workloads loaded, not the bare interpreter's)."""
    rows = [(str(k), str(v)) for k, v in sorted(host.items())]
    if summary is not None and "native_pools" in summary:
        held = sorted({p for p in summary["native_pools"].astype(str) if native.held(p)})
        if held:
            rows.append(("native_pools (as the points' processes held them)", "; ".join(held)))
    return rows


def host_table(parts: Sequence[Part]) -> pd.DataFrame:
    """The Host section: a row per record (:func:`host_rows`), a value column per interpreter
    in a run of several, the records that differ between them first."""
    columns = [dict(host_rows(p.host, p.summary)) for p in parts]
    keys = list(dict.fromkeys(k for c in columns for k in c))
    if len(parts) > 1:
        keys.sort(key=lambda k: len({c.get(k) for c in columns}) == 1)
    heads = [f"Python {p.tag}" for p in parts] if len(parts) > 1 else ["value"]
    return pd.DataFrame([[k, *(c.get(k, "") for c in columns)] for k in keys],
                        columns=["record", *heads])


def host_caption(*hosts: Mapping[str, Any]) -> str:
    """One line naming the host: CPU model, usable cores C, and each interpreter's Python."""
    host = hosts[0]
    cpu = host.get("cpu_model") or host.get("cpu_model_name") or "unknown CPU"
    cores = host.get("usable_cores", "?")
    pythons = " and ".join(
        f"{h.get('python_implementation', 'Python')} {h.get('python_version', '?')}"
        + (" (free-threaded)" if str(h.get("gil_enabled", 1)) == "0" else "") for h in hosts)
    name = host.get("hostname")
    where = f" on {name}" if name else ""
    return f"Host{where}: {cpu}, C = {cores} usable cores, {pythons}"


#: Headings of the report's recommendation table.
RECOMMENDATION_TABLE = ("workload", "size", "T", "pick", "speedup (interval)", "what it costs",
                        "equivalent to it", "decided")
#: Headings of the report's break-even table.
BREAK_EVEN_TABLE = ("workload", "pool", "T", "break-even size", "there")


def _times(value: float) -> str:
    return "" if value != value else f"{value:.2f}\N{MULTIPLICATION SIGN}"


def _with_python(table: pd.DataFrame, python: pd.Series) -> pd.DataFrame:
    """``table`` with a Python column (each row's interpreter) second, in a run of several
    (whose every point has a tag, however few of them a table holds)."""
    if (python.astype(str) != "").any():
        table.insert(1, "Python", python.astype(str).to_numpy())
    return table


def recommendation_table(summary: pd.DataFrame, recommended: pd.DataFrame) -> pd.DataFrame:
    """The recommendations as display strings (:data:`RECOMMENDATION_TABLE`, and a Python
    column in a run of several interpreters)."""
    rows = []
    for r in recommended.itertuples(index=False):
        ci = (f" ({r.mean_speedup_low:.2f}\N{EN DASH}{r.mean_speedup_high:.2f})"
              if r.mean_speedup_low == r.mean_speedup_low else "")
        rows.append((str(r.workload), size_label(r.task_size, task_unit(summary, str(r.workload))),
                     str(r.tasks), point_label(str(r.model), str(r.start_method), r.workers)
                     + (f", {r.native}" if r.native else ""),
                     _times(float(r.mean_speedup)) + ci,
                     metrics_text(r._asdict()) or "not measured", str(r.equivalent) or "none",
                     _decided(bool(r.decided), float(r.needed))))
    return _with_python(pd.DataFrame(rows, columns=list(RECOMMENDATION_TABLE), dtype=object),
                        recommended["python"])


def _decided(decided: bool, needed: float) -> str:
    """``yes``, or ``no: about 51 more rounds``."""
    if decided:
        return "yes"
    return "no" if needed != needed else (
        "no: at the margin" if needed == float("inf") else f"no: about {needed:.0f} more rounds")


def break_even_table(summary: pd.DataFrame, even: pd.DataFrame) -> pd.DataFrame:
    """:func:`bench.results.recommend.break_even` as display strings (:data:`BREAK_EVEN_TABLE`,
    and a Python column in a run of several interpreters).

    A pool that beat sequential at no measured size reads ``not reached
    (sizes measured: ...)``, or ``unknown: no interval at ...`` where a point of it had no
    interval there.
    """
    rows = []
    costs = _cost_text(summary)
    for r in even.itertuples(index=False):
        unit = task_unit(summary, str(r.workload))
        measured = r.sizes_measured if unit in ("", "size") else f"{r.sizes_measured} {unit}"
        unknown = (f"no interval at {r.sizes_without_interval}"
                   + ("" if unit in ("", "size") else f" {unit}")
                   + " (the race let its points leave before 6 rounds)"
                   if r.sizes_without_interval else "")
        if r.break_even_size != r.break_even_size:  # NaN
            size = (f"unknown: {unknown}" if unknown
                    else f"not reached (sizes measured: {measured})")
            there = ""
        else:
            size = size_label(r.break_even_size, unit) + (f" or less: {unknown}"
                                                          if unknown else "")
            there = (f"W = {int(r.workers)}: {_times(float(r.speedup))}, 95 % CI from "
                     f"{r.speedup_ci_low:.2f}") + costs(r)
        rows.append((str(r.workload), series_label(str(r.model), str(r.start_method)),
                     str(r.tasks), size, there))
    return _with_python(pd.DataFrame(rows, columns=list(BREAK_EVEN_TABLE), dtype=object),
                        even["python"])


def _cost_text(summary: pd.DataFrame) -> Callable[[Any], str]:
    """A break-even row's ``; a task 3.1 ms, 17x its dispatch (180 µs)``: why the pool pays.

    The task's time is the sequential median / T at that size; the cost is
    each ``break_even`` metric of the point that reached the break-even.  The
    summary is indexed once, not filtered per row.
    """
    specs = [m for m in METRICS.values() if m.break_even and m.col in summary.columns]
    steady = summary[summary["metric"] == STEADY]
    at = ["workload", "tasks", "task_size", "python"]
    base = steady[steady["model"].map(is_baseline).astype(bool)]
    pools = {m.name: _first_of(steady, [*at, "model", "start_method", "workers"], m.col)
             for m in specs}
    bases = _first_of(base, at, "median_s")

    def text(r: Any) -> str:
        where = (r.workload, r.tasks, r.break_even_size, r.python)
        median = bases.get(where)
        if median is None:
            return ""
        task = float(median) / int(r.tasks)
        found = [(m, float(c)) for m in specs if (c := pools[m.name].get(
            (*where, r.model, r.start_method, r.workers))) is not None and c == c]
        parts = [f"{task / cost:.0f}\N{MULTIPLICATION SIGN} its {m.name} "
                 f"({cost * m.scale:.0f} {m.unit.split()[0]})" for m, cost in found]
        return f"; a task {task * 1e3:.2f} ms, " + ", ".join(parts) if parts else ""

    return text


def _first_of(frame: pd.DataFrame, keys: list[str], col: str) -> dict[tuple[Any, ...], Any]:
    """``col`` of the first row of ``frame`` for each value of ``keys``."""
    out: dict[tuple[Any, ...], Any] = {}
    for key, value in zip(frame[keys].itertuples(index=False, name=None), frame[col], strict=True):
        out.setdefault(key, value)
    return out


def calls_table(frame: pd.DataFrame) -> pd.DataFrame:
    """:func:`bench.results.calls.calls_frame` as display strings (a Python column in a run
    of several interpreters)."""
    def ci(v: float, lo: float, hi: float, fmt: str) -> str:
        return "" if v != v else fmt.format(v) + (
            f" ({fmt.format(lo)}\N{EN DASH}{fmt.format(hi)})" if lo == lo else "")

    rows = [(str(r.workload), point_label(str(r.model).split("[")[0],
                                          str(r.model).partition("[")[2].rstrip("]"),
                                          r.workers),
             f"{r.tasks:,}", ("open loop" if r.asked != r.asked else f"{r.asked:,.0f}")
             + f" / {r.inflight:,.0f}",
             ci(r.throughput, r.throughput_ci_low, r.throughput_ci_high, "{:,.0f}"),
             ci(r.added_p99_s * 1e3, r.added_p99_ci_low * 1e3, r.added_p99_ci_high * 1e3,
                "{:.1f}"), ci(r.added_p50_s * 1e3, r.added_p50_ci_low * 1e3,
                              r.added_p50_ci_high * 1e3, "{:.1f}"), f"{r.p99_sent_s * 1e3:.1f}",
             "" if r.late != r.late else f"{r.late:.0%}", f"{r.client_us:.0f}",
             f"{r.service_us:.0f}")
            for r in frame.itertuples(index=False)]
    table = pd.DataFrame(rows, dtype=object, columns=[
        "Workload", "Model", "T", "In flight (allowed / seen)", "Calls/s (95 % CI)",
        "Added p99, ms (95 % CI)", "Added p50, ms (95 % CI)", "p99 from submission, ms",
        "Late starts", "Client µs/call", "Service µs/req"])
    return _with_python(table, frame["python"])
