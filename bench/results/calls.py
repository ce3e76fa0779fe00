"""The network workloads' figures: throughput and added latency against calls in flight,
the caps that kept the concurrency below what was asked, and each loop's knee.

Reads the summary's columns of the metric whose entry is ``per_call``
(:mod:`bench.scenarios.metrics`): every interval is over rounds, and
throughput's is T over the batch time's.
"""

from __future__ import annotations

import math

import pandas as pd

from bench.scenarios.metrics import METRICS
from bench.scenarios.models import MODELS, STEADY, model_label

#: The summary columns of the metric whose extras are each call's figures (``per_call``).
_COL = next(m.col for m in METRICS.values() if m.per_call)

#: The knee: the most calls in flight whose added p99 stays within this share of the
#: service's own p99.
KNEE_SHARE = 0.10

CALLS_COLUMNS = {
    "workload": "the network workload (its client stack)",
    "python": "the interpreter's tag (empty in a run of one)",
    "model": "model, with its start method where it has one",
    "workers": "W: the limit's calls or the pool's workers (empty for the other models)",
    "tasks": "T, calls per batch",
    "asked": "calls allowed in flight at once: W for a limit or a pool, T on an event loop, "
             "1 one after another (NaN open loop: the arrival rate sets them)",
    "inflight": "the most calls the service held at once (median over rounds)",
    "throughput": "calls a second: T over the batch's median time",
    "throughput_ci_low": "95 % CI of throughput, low end (T over the time's high end)",
    "throughput_ci_high": "95 % CI of throughput, high end",
    "added_p99_s": "p99 of each call's time past the service's own p99, seconds (median over "
                   "rounds)",
    "added_p99_ci_low": "95 % CI of added_p99_s, low end",
    "added_p99_ci_high": "95 % CI of added_p99_s, high end",
    "added_p50_s": "the same at the p50", "added_p50_ci_low": "95 % CI of added_p50_s, low end",
    "added_p50_ci_high": "95 % CI of added_p50_s, high end",
    "added_p90_s": "the same at the p90", "added_max_s": "the slowest call's, less the "
                   "service's own p99.9",
    "own_p99_s": "the service's own p99, seconds",
    "p99_sent_s": "p99 of each call's time from its submission (open loop: its intended "
                  "send) to its end, seconds (median over rounds)",
    "late": "share of the calls that started over 1 ms after their intended send (open "
            "loop; 0 closed loop)",
    "client_us": "the client's CPU microseconds per call",
    "service_us": "the service's CPU microseconds per request",
    "cap": "the connection cap of the point's clients (0: none, or not in this process)",
}


def _w_bounds(model: str) -> bool:
    """Whether W bounds the calls in flight of the model labelled ``model``."""
    spec = MODELS.get(model.split("[")[0])
    return spec is not None and spec.w_bounds_calls


def _asked(row: pd.Series) -> float:
    model = MODELS.get(str(row["model"]))
    if any(part.startswith("poisson") for part in str(row["name"]).split("/")):
        return math.nan  # open loop: the arrival rate, not a limit, sets the calls in flight
    workers = None if pd.isna(row["workers"]) else int(row["workers"])
    return 1 if model is None else model.in_flight(int(row["tasks"]), workers)


def calls_frame(summary: pd.DataFrame) -> pd.DataFrame:
    """One row per steady point with a ``calls`` reading: :data:`CALLS_COLUMNS`."""
    if _COL not in summary.columns:
        return pd.DataFrame(columns=list(CALLS_COLUMNS))
    s = summary[(summary["metric"] == STEADY) & summary[_COL].notna()]

    def col(extra: str = "") -> pd.Series:
        return s[f"{_COL}_{extra}" if extra else _COL]

    t = s["tasks"].astype(float)
    out = pd.DataFrame({
        "workload": s["workload"], "python": s["python"].fillna("").astype(str),
        "model": [model_label(str(m), str(sm) if isinstance(sm, str) else "")
                  for m, sm in zip(s["model"], s["start_method"], strict=True)],
        "workers": s["workers"], "tasks": s["tasks"].astype(int),
        "asked": [_asked(r) for _, r in s.iterrows()],
        "inflight": col("inflight"), "throughput": t / s["median_s"],
        "throughput_ci_low": t / s["ci_high_s"], "throughput_ci_high": t / s["ci_low_s"],
        "added_p99_s": col(), "added_p99_ci_low": col("ci_low"),
        "added_p99_ci_high": col("ci_high"), "added_p50_s": col("p50"),
        "added_p50_ci_low": col("p50_ci_low"), "added_p50_ci_high": col("p50_ci_high"),
        "added_p90_s": col("p90"), "added_max_s": col("max"),
        "own_p99_s": col("own_p99"), "p99_sent_s": col("p99_queued"), "late": col("late"),
        "client_us": col("client_us"),
        "service_us": col("service_us"), "cap": col("cap")})
    return out.reset_index(drop=True)


def cap_findings(frame: pd.DataFrame) -> list[str]:
    """A sentence per point whose calls in flight stayed below what was asked (at most 90 %
    of it): a client's connection cap named where the concurrency reached it."""
    out = []
    for r in frame.itertuples(index=False):
        got, asked = float(r.inflight), float(r.asked)
        if math.isnan(got) or math.isnan(asked) or got > 0.9 * asked:
            continue
        where = f"{r.workload}, {r.model}" + ("" if pd.isna(r.workers) else f" W={int(r.workers)}")
        where += f", T = {r.tasks}" + (f" ({r.python})" if r.python else "")
        if r.cap and got <= r.cap + 0.5 and r.cap < asked:
            why = (f"its client's connection pool allows {int(r.cap)} connections: the limit "
                   f"of {asked:,.0f} ran {int(got):,} at a time")
        else:
            why = (f"the service held at most {int(got):,} of the {asked:,.0f} calls allowed at "
                   "once: the client, not a cap it declares, kept them fewer")
        out.append(f"{where}: {why}.")
    return out


#: A service that kept this share of a core busy was the limit, not the client.
SERVICE_BUSY = 0.8


def service_findings(frame: pd.DataFrame) -> list[str]:
    """A sentence per point whose service was busy enough to be the limit: its CPU per
    request times the calls a second kept at least :data:`SERVICE_BUSY` of its one core."""
    out = []
    for r in frame.itertuples(index=False):
        busy = float(r.service_us) * float(r.throughput) / 1e6
        if busy >= SERVICE_BUSY:
            out.append(f"{r.workload}, {r.model}, T = {r.tasks}: the loopback service kept "
                       f"{busy:.0%} of its core busy ({r.service_us:.0f} µs a request at "
                       f"{r.throughput:,.0f} calls a second): the service, not the client, "
                       "was the limit")
    return out


def along_asked(frame: pd.DataFrame) -> pd.DataFrame:
    """The closed-loop rows of ``frame``, with what stays fixed along their calls in flight:
    ``axis``, T where W bounds them (a limit, a pool; 0 else), and ``w``, W where T does
    (W event loops; 0 else).  A series over ``asked`` is one (model, axis, w)."""
    bound = frame["model"].map(_w_bounds).astype(bool)
    return frame.assign(axis=frame["tasks"].where(bound, 0),
                        w=frame["workers"].where(~bound, 0).fillna(0).astype(int)
                        )[frame["asked"].notna()]


def knees(frame: pd.DataFrame, share: float = KNEE_SHARE) -> pd.DataFrame:
    """Per workload, model and interpreter (and T, for a limit or a pool): the most calls in
    flight whose added p99 stays within ``share`` of the service's own p99.

    Columns: ``workload``, ``python``, ``model``, ``tasks`` (0 where the axis is T),
    ``workers`` (W of W loops, whose axis is T; 0 where the axis is W or there is none),
    ``knee`` (the largest measured ``asked`` whose added p99's 95 % CI lies within, with
    every smaller one; NaN: none), ``knee_high`` (the same, read at the CI's low end: the
    knee lies between the two, at the grid's resolution), ``measured`` (the levels),
    ``intervals`` (every level has its interval: too few rounds give none).
    """
    rows = []
    by_t = along_asked(frame)
    for (wl, py, model, axis, w), g in by_t.groupby(["workload", "python", "model", "axis",
                                                     "w"], sort=False):
        g = g.sort_values("asked")
        limit = share * g["own_p99_s"].astype(float)
        rows.append({"workload": wl, "python": py, "model": model, "tasks": int(axis),
                     "workers": int(w),
                     "knee": _largest_within(g, g["added_p99_ci_high"] <= limit),
                     "knee_high": _largest_within(g, g["added_p99_ci_low"] <= limit),
                     "measured": ", ".join(f"{a:,.0f}" for a in g["asked"]),
                     "intervals": bool(g[["added_p99_ci_low", "added_p99_ci_high"]]
                                       .notna().all().all())})
    return pd.DataFrame(rows, columns=["workload", "python", "model", "tasks", "workers", "knee",
                                       "knee_high", "measured", "intervals"])


def _largest_within(g: pd.DataFrame, within: pd.Series) -> float:
    """The largest ``asked`` before the first level that is not ``within``."""
    best = math.nan
    for asked, ok in zip(g["asked"], within.fillna(False), strict=True):
        if not ok:
            break
        best = float(asked)
    return best


def knee_sentences(found: pd.DataFrame) -> list[str]:
    """A sentence per :func:`knees` row measured at two levels or more, each with its
    interval (a run of too few rounds for one says nothing of its knee)."""
    out = []
    for r in found.itertuples(index=False):
        if ", " not in r.measured or not r.intervals:  # one level ("1,000"): no knee
            continue
        at = f"{r.workload}, {r.model}" + (f" W={r.workers}" if r.workers else "") + (
            f", T = {r.tasks:,}" if r.tasks else "") + (f" ({r.python})" if r.python else "")
        if math.isnan(r.knee_high):
            out.append(f"{at}: the added p99 passed {KNEE_SHARE:.0%} of the service's own "
                       f"p99 at every level measured ({r.measured} in flight).")
            continue
        lead = (f"no level measured is surely within {KNEE_SHARE:.0%} of the service's own p99"
                if math.isnan(r.knee) else f"the knee, the most calls in flight whose added "
                f"p99's 95 % CI stays within {KNEE_SHARE:.0%} of the service's own p99, is "
                f"{r.knee:,.0f}")
        more = "" if r.knee == r.knee_high else (
            f"; by the intervals' low ends, up to {r.knee_high:,.0f}")
        out.append(f"{at}: {lead}{more} (levels measured: {r.measured}).")
    return out
