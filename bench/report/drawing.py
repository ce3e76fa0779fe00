"""Drawing a report's charts: which charts a run supports, and the pool of processes drawing them.

No matplotlib is imported here: a drawing server is forked first; it imports
:mod:`bench.report.charts` (matplotlib) while the parent loads the results,
then forks the processes that draw, so matplotlib is imported once and the
import overlaps the loading.  Charts are then drawn while the parent writes
the tables.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import pandas as pd

from bench.report import frames
from bench.results.calls import calls_frame
from bench.results.recommend import task_unit
from bench.scenarios.metrics import METRICS
from bench.scenarios.models import COLD

#: At most this many processes draw charts.
MAX_RENDER_WORKERS = 4
#: The kind of a workload's verdict chart (:func:`verdict_jobs`).
VERDICTS = "verdicts"
#: Chart kinds by cost, the costliest first (the order the pool hands them out); a metric's
#: chart (:attr:`bench.scenarios.metrics.MetricDef.chart`) costs about what a speedup chart does.
COSTLY_FIRST = ("efficiency", "wall_time", "speedup", "speedup_size", VERDICTS,
                "sleep_lesson", "cold_start")


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
    kinds += [m.name for m in METRICS.values()
              if m.chart and frames.metric_workloads(summary, m.col)]
    if not frames.lesson_bars(summary, cores=cores_of(summary, host)).empty:
        kinds.append("sleep_lesson")
    if (summary["metric"] == COLD).any():
        kinds.append("cold_start")
    if calls_frame(summary)["asked"].notna().any():  # open-loop points: no calls-in-flight axis
        kinds.append("network")
    return kinds


def verdict_jobs(decisions: pd.DataFrame, summary: pd.DataFrame, host: dict[str, Any], *,
                 delta: float, raced: bool) -> list[tuple[str, pd.DataFrame, dict[str, Any]]]:
    """The verdict charts to draw, one per workload with a question: each job's frame is
    that workload's rows of ``decisions`` (:func:`bench.results.decisions.decide`), with
    the margin (``delta``), whether the run raced and the unit of its task sizes (from
    ``summary``) as columns."""
    return [(VERDICTS, rows.assign(delta=delta, raced=raced,
                                   task_unit=task_unit(summary, str(wl))), host)
            for wl, rows in decisions.groupby("workload", sort=False)]


def _cost(kind: str) -> int:
    """Where ``kind`` comes in :data:`COSTLY_FIRST` (a metric's chart: with the speedup's)."""
    return COSTLY_FIRST.index(kind if kind in COSTLY_FIRST else "speedup")


def render_workers(n_charts: int) -> int:
    """Processes to draw charts in: up to the usable CPUs, 1 where forking is unsafe.

    Drawing is pure-Python matplotlib work; forked workers roughly divide the
    report's time by the CPUs.  Only on Linux, and never from a process
    already running threads.
    """
    if n_charts < 2 or threading.active_count() > 1 or not sys.platform.startswith("linux"):
        return 1
    return max(1, min(n_charts, len(os.sched_getaffinity(0)), MAX_RENDER_WORKERS))


#: Signals the chart processes leave to the parent.
_INTERRUPTS = frozenset({signal.SIGINT, signal.SIGTERM})


def _unblock_signals() -> None:
    """A chart process's signals: SIGINT ignored, SIGTERM ends it, both unblocked.

    A terminal's Ctrl-C reaches the whole foreground process group, chart
    processes included; the parent stops and ends them itself, so they ignore
    SIGINT rather than each printing a traceback.  They were forked with both
    signals blocked (see :class:`ChartPool`) and unblock them here.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _INTERRUPTS)


def _warm_up() -> None:
    """Import the charts' modules and draw one text as PNG and SVG: fonts and caches loaded
    once, for every drawer to inherit."""
    import io

    from bench.report import charts, figures

    del charts  # imported here, not in each drawer

    fig, (ax,) = figures.new_figure(width=1.0, height=1.0)
    ax.set_title("0.1")
    for ext in ("png", "svg"):
        fig.savefig(io.BytesIO(), format=ext)


def _draw(kind: str, summary: pd.DataFrame, host: dict[str, Any], out_dir: Path) -> Chart:
    from bench.report import charts

    return charts.render(kind, summary, host, out_dir)


def _end_group() -> None:
    """Kill this server's process group, the drawers and the server (never the parent's)."""
    if os.getpgrp() == os.getpid():
        os.killpg(0, signal.SIGKILL)


def _end_with_parent(conn: Connection) -> None:
    """End the server and its drawers once the parent's end of ``conn`` closes."""
    with contextlib.suppress(OSError):
        conn.poll(None)  # the parent sends nothing after the job: readable means it went away
    _end_group()
    os._exit(0)


def _serve(conn: Connection, parents: Connection, workers: int) -> None:
    """The drawing server: import and warm matplotlib, fork ``workers`` drawers, draw a job.

    The drawers are forked once matplotlib is loaded, so it is imported once
    (while the parent loads the data) rather than once per drawer.  The job
    ``(charts, out_dir)``, each chart a ``(kind, summary, host)``, comes through ``conn``;
    the charts, or
    the exception that stopped one, go back through it.  The server leads a
    process group of its own, drawers included: the parent ends them all at
    once (:meth:`ChartPool.__exit__`), and the server ends them itself once it
    has answered, or as soon as the parent goes away (end of file on ``conn``), drawing or
    not: a killed parent leaves no drawer writing into its folder.
    """
    parents.close()  # inherited by the fork: with it open, the parent's end never reads EOF
    with contextlib.suppress(OSError):
        os.setpgid(0, 0)  # the parent sets it too: whichever runs first
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _INTERRUPTS)
    pool: Any = None
    try:
        _warm_up()
        # What is loaded by now lives until the end: the drawers' collections skip it (2.5 % of
        # their instructions) and leave its pages shared with this server.
        gc.freeze()
        pool = multiprocessing.get_context("fork").Pool(workers, initializer=_unblock_signals)
        jobs, out_dir = conn.recv()
        threading.Thread(target=_end_with_parent, args=(conn,), daemon=True).start()
        costly_first = sorted(range(len(jobs)), key=lambda i: _cost(jobs[i][0]))
        pending = {i: pool.apply_async(_draw, (*jobs[i], out_dir)) for i in costly_first}
        conn.send([pending[i].get() for i in range(len(jobs))])
    except EOFError:
        pass  # the parent went away
    except BaseException as exc:  # whatever stopped a chart goes back to the parent
        with contextlib.suppress(Exception):
            conn.send(exc)
    finally:
        _end_group()  # nothing is left to do
        if pool is not None:
            pool.terminate()
        os._exit(0)


class ChartPool:
    """Processes that draw a report's charts, started before its data is loaded.

    ``with ChartPool() as pool: collect = pool.draw([(summary, host)], out_dir)``
    hands every chart the run supports to the drawers, the costliest first,
    and returns at once; ``collect()`` waits and gives the charts in display
    order.  One forked server imports matplotlib while the parent loads the
    data, then forks the drawers (see :func:`_serve`).  With one worker
    (``workers=1``, or where forking is unsafe) the charts are drawn in this
    process when collected.  Leaving the block ends the server and its
    drawers: interrupted (Ctrl-C, SIGTERM), at once rather than after their
    charts.
    """

    def __init__(self, workers: int | None = None) -> None:
        self.workers = render_workers(len(COSTLY_FIRST)) if workers is None else workers
        self.server: Any = None
        self.conn: Connection | None = None

    def __enter__(self) -> ChartPool:
        if self.workers > 1:
            # Signals stay blocked while the server is forked (it inherits the mask
            # until it sets its handlers), so an interrupt never lands half-way
            # through its start.
            mask = signal.pthread_sigmask(signal.SIG_BLOCK, _INTERRUPTS)
            try:
                ctx = multiprocessing.get_context("fork")
                self.conn, theirs = ctx.Pipe()
                self.server = ctx.Process(target=_serve,
                                          args=(theirs, self.conn, self.workers))
                self.server.start()
                with contextlib.suppress(OSError):
                    os.setpgid(self.server.pid, self.server.pid)
                theirs.close()
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        return self

    def draw(self, parts: Sequence[tuple[pd.DataFrame, dict[str, Any]]], out_dir: Path, *,
             first: Sequence[tuple[str, pd.DataFrame, dict[str, Any]]] = ()
             ) -> Callable[[], list[Chart]]:
        """Start drawing ``first`` (jobs ``(kind, frame, host)``, e.g. :func:`verdict_jobs`),
        then every chart each ``(summary, host)`` of ``parts`` supports (a run of several
        interpreters: one part each); return the function collecting them, in order."""
        jobs = [*first, *((k, summary, host) for summary, host in parts
                          for k in chart_kinds(summary, host))]
        conn = self.conn
        if conn is None:
            return lambda: [_draw(*job, out_dir) for job in jobs]
        # Sent from a thread: the pickled job outgrows the pipe's buffer, and the server reads
        # it only once matplotlib is imported; the tables are written meanwhile, not after.
        failed: list[BaseException] = []

        def send() -> None:
            try:
                conn.send((jobs, out_dir))
            except BaseException as exc:  # the server went away: collect() says why
                failed.append(exc)

        sender = threading.Thread(target=send, daemon=True)
        sender.start()

        def collect() -> list[Chart]:
            sender.join()
            answer = failed[0] if failed else conn.recv()
            if isinstance(answer, BaseException):
                raise answer
            return list(answer)

        return collect

    def __exit__(self, *exc: object) -> None:
        if self.server is not None:
            # every chart was collected, or we are on the way out: the server's group goes
            with contextlib.suppress(OSError):
                os.killpg(self.server.pid, signal.SIGKILL)
            self.server.kill()  # were it not yet its group's leader
            self.server.join()
        if self.conn is not None:
            self.conn.close()


def build_charts(summary: pd.DataFrame, host: dict[str, Any], out_dir: Path, *,
                 workers: int | None = None) -> list[Chart]:
    """Draw and save every chart the run's data supports (see :class:`ChartPool`)."""
    with ChartPool(workers) as pool:
        return pool.draw([(summary, host)], out_dir)()
