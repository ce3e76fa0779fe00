"""Findings in plain words, computed from a run's summary frame.

Each finding covers one question the project asks (do processes beat threads
on CPU work? do threads scale on GIL-releasing work? how many sleeps do T
sleeping tasks cost under each model? what does a cold pool cost?).  A
finding whose data the run lacks (a restricted grid) is left out.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from bench.report.plots import cold_pairs, lesson_bars, series_label, steady
from bench.results.ideal import gil_of, point_parallelism, resource_of, runs_in_parallel
from bench.scenarios.models import MODELS


def _overlap(model: str) -> str:
    return MODELS[model].overlap if model in MODELS else ""


def _best(df: pd.DataFrame, overlap: str) -> pd.Series | None:
    """The row of highest speedup among models of ``overlap`` (None if there is none)."""
    rows = df[[_overlap(m) == overlap for m in df["model"]]]
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
                             tasks=int(r["tasks"]), workers=r["workers"], cores=c)


def _parallel(summary: pd.DataFrame, r: pd.Series) -> bool:
    """Whether the point's workers could run its work in parallel at all (GIL, resource)."""
    resource = resource_of(summary, str(r["workload"]))
    return resource is not None and runs_in_parallel(
        resource, _overlap(str(r["model"])), gil=gil_of(summary))


def cpu_finding(summary: pd.DataFrame, cores: int) -> str | None:
    """Best process speedup vs best thread speedup on the pure-Python CPU workload."""
    df = steady(summary, "cpu")
    proc, thread = _best(df, "processes"), _best(df, "threads")
    if proc is None and thread is None:
        return None
    parts = []
    if proc is not None:
        ci = f"{proc['speedup_ci_low']:.2f}\N{EN DASH}{proc['speedup_ci_high']:.2f}"
        parts.append(f"processes reached {_x(proc['speedup'])} on {cores} cores ({_where(proc)};"
                     f" 95 % CI {ci})")
    if thread is not None:
        gil = ""
        if _parallel(summary, thread):
            free = "" if gil_of(summary) else ", the interpreter running without the GIL"
            gil = f" against an ideal of {_x(_ideal(summary, thread, cores))}{free}"
        elif float(thread["speedup"]) < 1.2:
            gil = ", no gain: the GIL runs one thread's Python at a time"
        parts.append(f"threads {_x(thread['speedup'])} at best ({_where(thread)}){gil}")
    return "CPU work (pure Python): " + "; ".join(parts) + "."


def hash_finding(summary: pd.DataFrame, cores: int) -> str | None:
    """How far threads scale on hashing, which releases the GIL."""
    thread = _best(steady(summary, "hash"), "threads")
    if thread is None:
        return None
    eff = float(thread["efficiency"])
    return (f"Hashing (releases the GIL): threads reached {_x(thread['speedup'])} "
            f"({_where(thread)}) against an ideal of {_x(_ideal(summary, thread, cores))} on "
            f"{cores} cores, an efficiency (ideal time / measured time) of {eff:.0%}.")


def _sleep_ms(summary: pd.DataFrame, workload: str, tasks: int) -> str:
    seq = summary[(summary["workload"] == workload) & (summary["model"] == "sequential")
                  & (summary["tasks"] == tasks) & (summary["metric"] == "steady")]
    if seq.empty:
        return ""
    return f"; one sleep = {float(seq['median_s'].iloc[0]) / tasks * 1e3:.2f} ms measured"


def async_sleep_finding(summary: pd.DataFrame, cores: int) -> str | None:
    """T asyncio.sleep tasks under gather, in single sleeps."""
    bars = lesson_bars(summary, cores=cores)
    row = bars[bars["model"] == "asyncio_gather"]
    if row.empty:
        return None
    t = int(row["tasks"].iloc[0])
    text = (f"{t} asyncio.sleep tasks under asyncio.gather took {row['sleeps'].iloc[0]:.2f} "
            f"sleeps (ideal 1: they all wait at once{_sleep_ms(summary, 'async_sleep', t)})")
    return text + "."


def blocking_finding(summary: pd.DataFrame, cores: int) -> str | None:
    """time.sleep inside coroutines (≈ T sleeps) and the way out with threads or processes."""
    bars = lesson_bars(summary, cores=cores)
    block = bars[bars["model"] == "asyncio_blocking"]
    if block.empty:
        return None
    t = int(block["tasks"].iloc[0])
    text = (f"{t} time.sleep calls inside coroutines run with gather took "
            f"{block['sleeps'].iloc[0]:.2f} sleeps, about T = {t}: a blocking call stalls the "
            "event loop, so the tasks run one after another")
    for model, how in (("to_thread", "asyncio.to_thread"), ("process_pool", "a process pool")):
        r = bars[bars["model"] == model]
        if not r.empty:
            w = int(r["workers"].iloc[0])
            text += (f"; with {how} (W = {w}) they took {r['sleeps'].iloc[0]:.2f} "
                     f"(ideal ⌈T/W⌉ = {r['ideal_sleeps'].iloc[0]:.0f})")
    return text + "."


def cold_start_finding(summary: pd.DataFrame, cores: int) -> str | None:
    """Pool cold start per start method against the warm batch time."""
    pairs = cold_pairs(summary)
    if pairs.empty:
        return None
    parts = []
    for r in pairs.itertuples():
        warm = "" if pd.isna(r.warm_s) else f" (warm batch {r.warm_s * 1e3:.1f} ms)"
        parts.append(f"{r.label} {r.cold_s * 1e3:.1f} ms{warm}")
    t, w = int(pairs["tasks"].iloc[0]), int(pairs["workers"].iloc[0])
    return (f"Pool cold start, creating the pool and running its first batch of T = {t} on "
            f"W = {w}: " + ", ".join(parts) + ".")


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


FINDINGS: tuple[Callable[[pd.DataFrame, int], str | None], ...] = (
    cpu_finding, hash_finding, async_sleep_finding, blocking_finding, cold_start_finding,
    stability_finding,
)


def findings(summary: pd.DataFrame, cores: int) -> list[str]:
    """Every finding the run's data supports, in plain words.

    Parameters
    ----------
    summary
        The summary frame of :func:`bench.results.aggregate.summarize`.
    cores
        Usable cores C of the measuring host.

    Returns
    -------
    list of str
        One sentence (or two) per finding; plain text, to be escaped by the
        exporter that shows it.
    """
    if summary.empty:
        return []
    return [text for f in FINDINGS if (text := f(summary, cores)) is not None]
