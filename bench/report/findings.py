"""Findings in plain words, computed from a run's summary frame.

Each finding covers one question the project asks (do processes beat threads
on CPU work holding the GIL? do threads scale on work that releases it? how
many task times do T waiting tasks cost under each model? which model to
pick, and from what size on? what does a cold pool cost?).  Every finding
reads the workloads' and models' specs (a workload's ``resource``, a model's
``overlap`` and ``baseline``), never their names: a user's workload declared
``cpu_gil`` gets the same sentences as the built-in ``cpu``, and one whose
resource is unknown gets no sentence that needs the model of the ideal.  A
finding whose data the run lacks (a restricted grid) is left out.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd

from bench.report.frames import (
    at_largest_size,
    cold_pairs,
    is_baseline,
    lesson_bars,
    overlap,
    series_label,
    size_text,
    steady,
    wait_workloads,
)
from bench.results.ideal import gil_of, point_parallelism, resource_of, runs_in_parallel
from bench.results.recommend import (
    point_label,
    recommendation_sentence,
    task_unit,
    threads_best,
)
from bench.scenarios import native
from bench.scenarios.metrics import METRICS
from bench.scenarios.models import DEFAULT_LOOP, MODELS, STEADY, model_label

#: How a finding names what a workload's tasks spend their time on.
RESOURCE_WORDS = {"cpu_gil": "pure-Python CPU work, holds the GIL",
                  "cpu_nogil": "CPU work that releases the GIL",
                  "blocking_wait": "a blocking wait", "async_wait": "a non-blocking wait"}


def _best(df: pd.DataFrame, kind: str) -> pd.Series | None:
    """The row of highest speedup among models whose overlap is ``kind`` (None if none)."""
    rows = df[df["model"].map(overlap) == kind]
    if rows.empty:
        return None
    return rows.loc[rows["speedup"].astype(float).idxmax()]


def _where(r: pd.Series) -> str:
    w = "" if pd.isna(r["workers"]) else f"W = {int(r['workers'])}, "
    return f"{series_label(str(r['model']), str(r['start_method']))}, {w}T = {int(r['tasks'])}"


def _x(value: float) -> str:
    return f"{value:.2f}\N{MULTIPLICATION SIGN}"


def _ideal(summary: pd.DataFrame, r: pd.Series, cores: int) -> float:
    """The ideal speedup of the point ``r`` (:func:`bench.results.ideal.ideal_parallelism`)."""
    c = int(r["cores"]) if "cores" in r.index and not pd.isna(r["cores"]) else cores
    return point_parallelism(summary, workload=str(r["workload"]), model=str(r["model"]),
                             tasks=int(r["tasks"]), workers=r["workers"], cores=c, gil=gil_of(r))


def _parallel(summary: pd.DataFrame, r: pd.Series) -> bool:
    """Whether the point's workers could run its work in parallel at all (GIL, resource)."""
    resource = resource_of(summary, str(r["workload"]))
    return resource is not None and runs_in_parallel(
        resource, overlap(str(r["model"])), gil=gil_of(r))


def _of_resource(summary: pd.DataFrame, resource: str) -> list[tuple[str, pd.DataFrame, str]]:
    """(workload, steady rows at its largest size, heading) of every workload of ``resource``."""
    df = at_largest_size(steady(summary))
    out = []
    for wl in dict.fromkeys(df["workload"]):
        if resource_of(summary, str(wl)) != resource:
            continue
        rows = df[df["workload"] == wl]
        size = float(rows["task_size"].iloc[0])
        heading = f"{wl}{size_text(summary, str(wl), size)} ({RESOURCE_WORDS[resource]})"
        out.append((str(wl), rows, heading))
    return out


def _gil_finding(summary: pd.DataFrame, df: pd.DataFrame, heading: str,
                 cores: int) -> str | None:
    """Best process speedup vs best thread speedup on one workload holding the GIL."""
    proc, thread = _best(df, "processes"), _best(df, "threads")
    if proc is None and thread is None:
        return None
    parts = []
    if proc is not None:
        ci = (f"95 % CI {proc['speedup_ci_low']:.2f}\N{EN DASH}{proc['speedup_ci_high']:.2f}"
              if math.isfinite(proc["speedup_ci_low"]) else "too few rounds for an interval")
        pool = MODELS[m].pool if (m := str(proc["model"])) in MODELS else None
        parts.append(f"{pool.workers if pool else 'processes'} reached {_x(proc['speedup'])} "
                     f"on {cores} cores ({_where(proc)}; {ci})")
    if thread is not None:
        gil, scaled = "", ""
        if _parallel(summary, thread):
            gil = f" against an ideal of {_x(_ideal(summary, thread, cores))}"
            if not gil_of(thread) and float(thread["speedup_ci_low"]) > 1:
                scaled = " scaled on CPU work because the GIL was off:"
            elif not gil_of(thread):
                gil += ", the interpreter running without the GIL"
        elif float(thread["speedup"]) < 1.2:
            gil = ", no gain: the GIL runs one thread's Python at a time"
        parts.append(f"threads{scaled} {_x(thread['speedup'])} at best ({_where(thread)}){gil}")
    return f"{heading}: " + "; ".join(parts) + "."


def cpu_findings(summary: pd.DataFrame, cores: int) -> list[str]:
    """Processes vs threads on every workload whose resource is ``cpu_gil``."""
    return [text for _, df, heading in _of_resource(summary, "cpu_gil")
            if (text := _gil_finding(summary, df, heading, cores)) is not None]


def nogil_findings(summary: pd.DataFrame, cores: int) -> list[str]:
    """How far threads scale on every workload whose resource is ``cpu_nogil``."""
    out = []
    for _, df, heading in _of_resource(summary, "cpu_nogil"):
        thread = _best(df, "threads")
        if thread is None:
            continue
        eff = float(thread["efficiency"])
        text = (f"{heading}: threads reached {_x(thread['speedup'])} ({_where(thread)}) "
                f"against an ideal of {_x(_ideal(summary, thread, cores))} on {cores} cores")
        if eff == eff:  # not NaN
            text += f", an efficiency (ideal time / measured time) of {eff:.0%}"
        out.append(text + ".")
    return out


def _ideal_text(ideal: float, tasks: int, pooled: bool) -> str:
    if ideal != ideal:  # NaN: no ideal for this model
        return ""
    if pooled:
        return f" (ideal \N{LEFT CEILING}T/W\N{RIGHT CEILING} = {ideal:.0f})"
    if abs(ideal - 1) < 1e-9:
        return " (ideal 1: they all wait at once)"
    if abs(ideal - tasks) < 1e-9:
        return f" (ideal T = {tasks}: one after another)"
    return f" (ideal {ideal:.2f})"


def metric_findings(summary: pd.DataFrame, cores: int) -> list[str]:
    """A sentence per workload of each metric whose entry has a ``finding``.

    The metric at each workload's largest size and T (points without it are
    left out), largest first, beside T task times for a time (a loop blocked
    by its tasks lags about the whole batch).
    """
    out = []
    for spec in METRICS.values():
        if not spec.finding or spec.col not in summary.columns:
            continue
        for wl in dict.fromkeys(steady(summary)["workload"]):
            df = at_largest_size(steady(summary, wl))
            df = df[df["tasks"] == df["tasks"].max()]
            read = df[df[spec.col].notna()].sort_values(spec.col, ascending=False)
            if read.empty:
                continue
            t = int(df["tasks"].iloc[0])
            base = df[df["model"].map(is_baseline).astype(bool)]
            task_s = float(base["median_s"].iloc[0]) / t if len(base) else math.nan
            parts = [f"{point_label(str(r.model), str(r.start_method), r.workers)} "
                     f"{spec.fmt.format(float(getattr(r, spec.col)) * spec.scale)} {spec.unit}"
                     for r in read.itertuples()]
            whole = (f" (T = {t} task times = {t * task_s * spec.scale:.1f} {spec.unit})"
                     if task_s == task_s and spec.pyperf_unit == "second" else "")
            out.append(spec.finding.format(workload=wl, tasks=t) + f"{whole}: "
                       + ", ".join(parts) + ".")
    return out


def wait_findings(summary: pd.DataFrame, cores: int) -> list[str]:
    """T waiting tasks under each kind of overlap, in one task's time, per wait workload.

    Covers every workload whose resource is ``async_wait`` or
    ``blocking_wait``, at the T of :func:`bench.report.plots.lesson_bars`.
    """
    bars = lesson_bars(summary, cores=cores)
    out = []
    for wl in wait_workloads(summary):
        rows = bars[bars["workload"] == wl]
        if rows.empty:
            continue
        t = int(rows["tasks"].iloc[0])
        size = float(at_largest_size(steady(summary, wl))["task_size"].iloc[0])
        resource = resource_of(summary, wl) or ""
        parts = []
        for i, r in enumerate(rows.itertuples()):
            how = series_label(str(r.model), str(r.start_method))
            if not pd.isna(r.workers):
                how += f" (W = {int(r.workers)})"
            took = "they took " if i == 0 else ""
            unit = " task times" if i == 0 else ""
            about = (f", about T = {t}" if r.overlap == "none" and r.sleeps >= 0.8 * t
                     else "")
            parts.append(f"under {how} {took}{float(r.sleeps):.2f}{unit}{about}"
                         f"{_ideal_text(float(r.ideal_sleeps), t, not pd.isna(r.workers))}")
        ms = float(rows["task_s"].iloc[0]) * 1e3
        out.append(f"{t} {wl} tasks{size_text(summary, wl, size)} "
                   f"({RESOURCE_WORDS.get(resource, resource)}): " + "; ".join(parts)
                   + f"; one task = {ms:.2f} ms measured.")
    return out


def cost_sentence(row: Mapping[str, Any], by_name: pd.DataFrame) -> str:
    """What a pick costs beyond a rival equivalent to it, for metrics with a ``notable`` level.

    E.g. ``It costs 14.7 MB more memory than thread_pool W=2, which is equivalent
    to it.`` ("" when no equivalent point is that much cheaper).  ``by_name``: the
    summary indexed by point name (indexed once by the caller, not per pick).
    """
    tied = [n for n in str(row.get("equivalent_names") or "").split("; ") if n]
    if not tied:
        return ""
    s = by_name
    out = []
    for spec in METRICS.values():
        if not spec.notable or spec.col not in s.columns or row.get("name") not in s.index:
            continue
        mine = float(s.at[row["name"], spec.col])
        values = {n: float(s.at[n, spec.col]) for n in tied if n in s.index}
        cheap = {n: v for n, v in values.items() if v == v}
        if mine != mine or not cheap:
            continue
        best = min(cheap, key=cheap.__getitem__) if spec.lower_is_better \
            else max(cheap, key=cheap.__getitem__)
        extra = (mine - cheap[best]) if spec.lower_is_better else (cheap[best] - mine)
        base = abs(cheap[best]) or 1e-300
        if extra >= spec.notable and extra >= base:
            r = s.loc[best]
            label = point_label(str(r["model"]), str(r["start_method"]), r["workers"])
            out.append(f"It costs {spec.fmt.format(extra * spec.scale).lstrip('+')} "
                       f"{spec.unit} more {spec.name} than {label}, which is equivalent to it.")
    return " ".join(out)


def recommendation_findings(summary: pd.DataFrame, recommended: pd.DataFrame) -> list[str]:
    """One sentence per row of :func:`bench.results.recommend.recommendations`.

    A pick that costs much more of a metric than a point equivalent to it
    (:func:`cost_sentence`) says so.
    """
    threads = threads_best(steady(summary))
    units = {wl: task_unit(summary, str(wl)) for wl in recommended["workload"].unique()}
    out = []
    by_name = summary.set_index("name")
    for r in recommended.to_dict("records"):
        text = recommendation_sentence(
            r, units[r["workload"]],
            threads.get((str(r["workload"]), float(r["task_size"]), int(r["tasks"]),
                         str(r["python"])), math.nan))
        cost = cost_sentence(r, by_name)
        out.append(f"{text} {cost}" if cost else text)
    return out


def cold_start_finding(summary: pd.DataFrame, cores: int) -> str | None:
    """Pool cold start per start method against the warm batch time."""
    pairs = cold_pairs(summary)
    if pairs.empty:
        return None
    parts = []
    for r in pairs.itertuples():
        warm = "" if pd.isna(r.warm_s) else f" (warm batch {r.warm_s * 1e3:.1f} ms)"
        parts.append(f"{r.label} {r.cold_s * 1e3:.1f} ms{warm}")
    t, w = int(pairs["tasks"].iloc[0]), pairs["workers"].iloc[0]
    on = "" if pd.isna(w) else f" on W = {int(w)}"  # a file's cold point may lack a W
    return (f"Pool cold start, creating the pool and running its first batch of T = {t}{on}: "
            + ", ".join(parts) + ".")


def stable_share(summary: pd.DataFrame) -> tuple[int, int]:
    """(stable points, all points): stable = 95 % CI half-width within 5 % of the median."""
    return int(summary["stable"].astype(bool).sum()), len(summary)


def stability_finding(summary: pd.DataFrame, cores: int) -> str | None:
    """The share of stable points, in words."""
    stable, total = stable_share(summary)
    if not total:
        return None
    text = (f"{stable} of {total} points ({stable / total:.0%}) are stable: their 95 % CI "
            "half-width is within 5 % of the median")
    return text + ("." if stable == total else "; the others are marked unstable.")


def loop_findings(summary: pd.DataFrame, cores: int) -> list[str]:
    """Each other event loop against the default one, per workload: paired loop ratios."""
    if "loop_ratio" not in summary.columns:
        return []
    rows = summary[summary["loop_ratio"].notna()]
    out = []
    for (workload, loop), part in rows.groupby(
            ["workload", rows["model"].map(lambda m: MODELS[m].loop if m in MODELS else "")],
            sort=False):
        per_t = []
        for t, at in part.groupby("tasks", sort=True):
            cells = [f"{MODELS[str(r.model)].variant_of} {_x(float(r.loop_ratio))} "
                     f"({r.loop_ratio_ci_low:.2f}\N{EN DASH}{r.loop_ratio_ci_high:.2f})"
                     for r in at.itertuples()]
            per_t.append(f"T = {t}: " + ", ".join(cells))
        default = DEFAULT_LOOP
        out.append(f"Event loops, {workload}: {loop} against {default}'s own loop (the time on "
                   f"{default}'s loop over the time on {loop}, paired by round, 95 % CI; > 1: "
                   f"{loop} is faster): " + "; ".join(per_t) + ".")
    return out


#: The lessons, each a list of sentences, in the order the report shows them.
LESSONS: tuple[Callable[[pd.DataFrame, int], list[str]], ...] = (
    cpu_findings, nogil_findings, wait_findings, metric_findings, loop_findings,
)


def native_finding(summary: pd.DataFrame, cores: int) -> str | None:
    """Which native thread pools (BLAS, OpenMP) each workload's points held, per setting:
    ``openblas 0.3.31 x1 pthreads in process_pool[fork] at W = 2``."""
    pools = summary.get("native_pools", pd.Series("", index=summary.index)).astype(str)
    parts = []
    for wl, of_wl in summary[(summary["metric"] == STEADY) & pools.map(native.held)].groupby(
            "workload", sort=False):
        cells = []
        for (threads, held), at in of_wl.groupby(["native_threads", "native_pools"]):
            models = ", ".join(sorted({model_label(str(m), str(sm)) for m, sm in
                                       zip(at["model"], at["start_method"], strict=True)}))
            ws = ", ".join(str(int(w)) for w in sorted(set(at["workers"].dropna())))
            cells.append(f"{held} in {models}" + (f" at W = {ws}" if threads else ""))
        parts.append(f"{wl}: " + "; ".join(cells))
    return (f"Native thread pools (threadpoolctl; C = {cores}): " + ". ".join(parts) + ". Each "
            "process-pool worker's are limited to C / W threads, as loky does; the other models "
            "keep the library's default.") if parts else None


#: Findings shown after the recommendations.
FINDINGS: tuple[Callable[[pd.DataFrame, int], str | None], ...] = (
    native_finding, cold_start_finding, stability_finding,
)


def findings(summary: pd.DataFrame, cores: int, *,
             recommended: pd.DataFrame | None = None) -> list[str]:
    """Every finding the run's data supports, in plain words.

    Parameters
    ----------
    summary
        The summary frame of :func:`bench.results.aggregate.summarize`; a
        ``task_unit`` column (:func:`bench.results.recommend.with_units`)
        names the units of task sizes.
    cores
        Usable cores C of the measuring host.
    recommended
        :func:`bench.results.recommend.recommendations` of the run: one
        sentence per row follows the lessons (none when not given).

    Returns
    -------
    list of str
        One sentence (or two) per finding; plain text, to be escaped by the
        exporter that shows it.
    """
    if summary.empty:
        return []
    out = [text for lesson in LESSONS for text in lesson(summary, cores)]
    if recommended is not None and not recommended.empty:
        out += recommendation_findings(summary, recommended)
    return out + [text for f in FINDINGS if (text := f(summary, cores)) is not None]
