"""Drawing a report's charts: which charts a run supports, and the pool of processes drawing them.

No matplotlib is imported here: the pool's workers are forked first, and
each imports :mod:`bench.report.charts` (matplotlib) while the parent loads
the results, so the two imports overlap.  Charts are then drawn while the
parent writes the tables.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from bench.report import frames
from bench.scenarios.models import COLD

#: At most this many processes draw charts.
MAX_RENDER_WORKERS = 4
#: Chart kinds by cost, the costliest first (the order the pool hands them out).
COSTLY_FIRST = ("efficiency", "wall_time", "speedup", "speedup_size", "sleep_lesson",
                "cold_start")


@dataclass(frozen=True)
class Chart:
    """One saved chart: file stem, title, and its PNG and SVG files."""

    stem: str
    title: str
    png: Path
    svg: Path


def cores_of(summary: pd.DataFrame, host: dict[str, Any]) -> int:
    """C, the usable cores of the run's host (its record, else the summary's)."""
    return int(host.get("usable_cores") or (summary["cores"].max() if len(summary) else 1))


def workloads_of(summary: pd.DataFrame) -> list[str]:
    """The workloads with steady points, in the summary's order."""
    return list(dict.fromkeys(frames.steady(summary)["workload"]))


def sized_workloads(summary: pd.DataFrame) -> list[str]:
    """Workloads measured at more than one task size."""
    return [wl for wl in workloads_of(summary) if len(frames.sizes(summary, wl)) > 1]


def chart_kinds(summary: pd.DataFrame, host: dict[str, Any]) -> list[str]:
    """The chart kinds the run's data supports, in display order."""
    kinds = []
    if workloads_of(summary):
        kinds += ["speedup", *(["speedup_size"] if sized_workloads(summary) else []), "wall_time"]
    if frames.pooled_series(summary) and summary["efficiency"].notna().any():
        kinds.append("efficiency")  # workloads of unknown resource kind have no ideal
    if not frames.lesson_bars(summary, cores=cores_of(summary, host)).empty:
        kinds.append("sleep_lesson")
    if (summary["metric"] == COLD).any():
        kinds.append("cold_start")
    return kinds


def render_workers(n_charts: int) -> int:
    """Processes to draw charts in: up to the usable CPUs, 1 where forking is unsafe.

    Drawing is pure-Python matplotlib work; forked workers roughly divide the
    report's time by the CPUs.  Only on Linux, and never from a process
    already running threads.
    """
    if n_charts < 2 or threading.active_count() > 1 or not sys.platform.startswith("linux"):
        return 1
    return max(1, min(n_charts, len(os.sched_getaffinity(0)), MAX_RENDER_WORKERS))


#: Signals the chart workers leave to the parent.
_INTERRUPTS = frozenset({signal.SIGINT, signal.SIGTERM})


def _chart_worker_init() -> None:
    """Start of a chart worker: signals as below, then matplotlib, while the parent loads.

    A terminal's Ctrl-C reaches the whole foreground process group, workers
    included; the parent stops and ends them itself, so they ignore SIGINT
    rather than each printing a traceback, and SIGTERM ends them.  They were
    forked with both signals blocked (see :class:`ChartPool`) and unblock them
    here.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _INTERRUPTS)
    import bench.report.charts  # noqa: F401  (matplotlib: the slow import, done in parallel)


def _draw(kind: str, summary: pd.DataFrame, host: dict[str, Any], out_dir: Path) -> Chart:
    from bench.report import charts

    return charts.render(kind, summary, host, out_dir)


class ChartPool:
    """Forked processes that draw a report's charts, started before its data is loaded.

    ``with ChartPool() as pool: collect = pool.draw(summary, host, out_dir)``
    hands every chart the run supports to the workers, the costliest first,
    and returns at once; ``collect()`` waits and gives the charts in display
    order.  With one worker (``workers=1``, or where forking is unsafe) the
    charts are drawn in this process when collected.  Leaving the block ends
    the workers: interrupted (Ctrl-C, SIGTERM), at once rather than after
    their charts.
    """

    def __init__(self, workers: int | None = None) -> None:
        self.workers = render_workers(len(COSTLY_FIRST)) if workers is None else workers
        self.pool: Any = None

    def __enter__(self) -> ChartPool:
        if self.workers > 1:
            # Signals stay blocked while the pool forks its workers (they inherit the
            # mask until their initializer runs), so an interrupt never lands half-way
            # through their start.
            mask = signal.pthread_sigmask(signal.SIG_BLOCK, _INTERRUPTS)
            try:
                ctx = multiprocessing.get_context("fork")
                self.pool = ctx.Pool(self.workers, initializer=_chart_worker_init)
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        return self

    def draw(self, summary: pd.DataFrame, host: dict[str, Any],
             out_dir: Path) -> Callable[[], list[Chart]]:
        """Start drawing every chart ``summary`` supports; return the function collecting them."""
        kinds = chart_kinds(summary, host)
        if self.pool is None:
            return lambda: [_draw(k, summary, host, out_dir) for k in kinds]
        pending = {k: self.pool.apply_async(_draw, (k, summary, host, out_dir))
                   for k in sorted(kinds, key=COSTLY_FIRST.index)}
        return lambda: [pending[k].get() for k in kinds]

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            self.pool.terminate()  # every chart was collected, or we are on the way out
            self.pool.join()


def build_charts(summary: pd.DataFrame, host: dict[str, Any], out_dir: Path, *,
                 workers: int | None = None) -> list[Chart]:
    """Draw and save every chart the run's data supports (see :class:`ChartPool`)."""
    with ChartPool(workers) as pool:
        return pool.draw(summary, host, out_dir)()
