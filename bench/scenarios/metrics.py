"""Metrics as specs: what a point costs, and why a model wins, beside its time.

Time stays the primary metric, measured exactly as before.  Every other
metric is one :class:`MetricDef` entry in :data:`METRICS`: its name, unit,
the models it applies to, its collector, and whether lower is better.  The
child (:mod:`bench.measure.child`) reads the entries to collect, the results
file stores one benchmark per point and metric (``NAME:metric``), and the
summary, the report, ``compare``, ``ab``, ``check`` and history read the same
entries; nothing downstream names a metric.

**Collected outside the timed values.**  Once every point of a round is open
and before its warm-up sweep, each point runs *probe batches* of its own,
untimed: for each enabled metric with an instrument, one batch of its work
(or :attr:`MetricDef.batches`) with that instrument attached (:meth:`Instrument.start` just before,
:meth:`Instrument.stop` just after), so that no probe perturbs another; for
a metric with a ``separate`` collector, the batches it runs itself.  The
timed values never run with an instrument attached.

Standard library only, and ``/proc`` (Linux): the measured children import
this module, and pool workers import nothing of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import cpu_tasks

#: Seconds between two beats of the event-loop heartbeat (and two memory samples).
HEARTBEAT_S = 0.001
MEMORY_SAMPLE_S = 0.005
#: Least time the dispatch probe spends running empty batches (at least two), seconds.
DISPATCH_MIN_S = 0.003


@dataclass
class ProbeContext:
    """What a collector sees: the opened batch, its worker processes, the task count."""

    #: The opened model (:class:`bench.scenarios.models.Batch`).
    batch: Any
    #: Process ids of the point's pool workers (empty for models without processes).
    pids: tuple[int, ...]
    tasks: int
    is_async: bool


class Instrument(Protocol):
    """Attached to a probe batch: read just before it starts and just after it ends."""

    def start(self, ctx: ProbeContext) -> None:
        """Take the readings the value is measured from (just before the batch)."""

    def stop(self, ctx: ProbeContext) -> dict[str, float]:
        """The value (key ``""``) and any extra statistics, once the batch ended."""


@dataclass(frozen=True)
class MetricDef:
    """One metric every stage reads.

    ``value`` is stored in the pyperf file in ``pyperf_unit`` (``second``,
    ``byte`` or ``integer``: a plain number); reports show ``value * scale``
    in ``unit``.  ``applies`` says whether a point's model gets it (given the
    model's entry and whether its batch runs on an event loop).  A metric is
    collected by ``instrument`` (attached to the shared probe batch) or by
    ``separate`` (its own untimed batches).  ``baseline_difference``: the
    summary shows the point minus its sequential baseline in the same round
    (what the model adds).  ``extras`` name the extra statistics an
    instrument returns beside its value (summary columns ``NAME_EXTRA``).
    """

    name: str
    unit: str
    scale: float
    pyperf_unit: str
    description: str
    applies: Callable[[Any, bool], bool]
    lower_is_better: bool = True
    instrument: Callable[[], Instrument] | None = None
    separate: Callable[[ProbeContext], float] | None = None
    baseline_difference: bool = False
    extras: tuple[str, ...] = ()
    #: A function of :mod:`bench.results.ideal` giving each summary row's ideal value
    #: (summary column ``NAME_ideal``); "" when the metric has none.
    ideal: str = ""
    #: Format of one shown value (after ``scale``).
    fmt: str = "{:.2f}"
    #: Name of its summary columns ("": the metric's name).
    column: str = ""
    #: Batches of the point's work its instrument is attached around (one probe reading).
    batches: int = 1
    #: Words shown before a value in tables ("loop lag "), "" for none.
    prefix: str = ""
    #: A pick that costs this much more (stored unit) than a model tied with it, and
    #: at least twice as much, is named in the findings; 0: never.
    notable: float = 0.0

    @property
    def col(self) -> str:
        """The stem of the metric's summary columns (``cores_used``, ``lag``, ...)."""
        return self.column or self.name

    def show(self, value: float) -> str:
        """``value`` (as stored) in the metric's display unit, e.g. ``1.93 cores``."""
        if value != value:
            return ""
        return f"{self.prefix}{self.fmt.format(value * self.scale)} {self.unit}"


# ------------------------------------------------------------------ /proc readings
def _proc_cpu_s(pid: int) -> float:
    """CPU seconds of every thread of ``pid`` (``/proc/PID/task/*/schedstat``, nanoseconds)."""
    total = 0
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError, ValueError, IndexError):
                total += int((task / "schedstat").read_text().split()[0])
    return total / 1e9


def _pss_bytes(pid: int | str) -> int:
    """Proportional set size of ``pid`` (``/proc/PID/smaps_rollup``), bytes; 0 if unreadable."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    return 0


# ------------------------------------------------------------------ instruments
class _Cores:
    """CPU seconds of this process (all threads) and the point's workers over wall time."""

    def start(self, ctx: ProbeContext) -> None:
        self.cpu = time.process_time() + sum(_proc_cpu_s(p) for p in ctx.pids)
        self.t0 = time.perf_counter()

    def stop(self, ctx: ProbeContext) -> dict[str, float]:
        wall = time.perf_counter() - self.t0
        cpu = time.process_time() + sum(_proc_cpu_s(p) for p in ctx.pids) - self.cpu
        return {"": max(cpu, 1e-9) / wall}


class _Lag:
    """A callback scheduled every :data:`HEARTBEAT_S` on the batch's loop: how late it ran."""

    def start(self, ctx: ProbeContext) -> None:
        self.late: list[float] = []
        self.loop: asyncio.AbstractEventLoop = ctx.batch.loop
        now = self.loop.time()  # the first beat is due as the batch starts
        self.handle: asyncio.TimerHandle | None = self.loop.call_at(now, self._beat, now)

    def _beat(self, when: float) -> None:
        self.late.append(max(self.loop.time() - when, 0.0))
        nxt = max(when + HEARTBEAT_S, self.loop.time() + HEARTBEAT_S / 10)
        self.handle = self.loop.call_at(nxt, self._beat, nxt)

    def stop(self, ctx: ProbeContext) -> dict[str, float]:
        if self.handle is not None:
            self.handle.cancel()
        # a beat still due when the batch ended is as late as the batch let it be
        pending = self.loop.time() - self.handle.when() if self.handle is not None else 0.0
        late = sorted([*self.late, max(pending, 0.0)])
        p99 = late[min(len(late) - 1, math.ceil(0.99 * len(late)) - 1)]
        return {"": max(late[-1], 1e-9), "p99": max(p99, 1e-9)}


class _Memory:
    """Peak PSS of this process and the point's workers, sampled during the batch."""

    def start(self, ctx: ProbeContext) -> None:
        self.peak = self._read(ctx)
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._sample, args=(ctx,), daemon=True)
        self.thread.start()

    def _read(self, ctx: ProbeContext) -> int:
        return _pss_bytes("self") + sum(_pss_bytes(p) for p in ctx.pids)

    def _sample(self, ctx: ProbeContext) -> None:
        while not self.done.wait(MEMORY_SAMPLE_S):
            self.peak = max(self.peak, self._read(ctx))

    def stop(self, ctx: ProbeContext) -> dict[str, float]:
        self.done.set()
        self.thread.join()
        return {"": float(max(self.peak, self._read(ctx), 1))}


def _dispatch(ctx: ProbeContext) -> float:
    """Seconds per task of empty tasks (``cpu_tasks.noop``) through the point's own model."""
    func = cpu_tasks.anoop if ctx.is_async else cpu_tasks.noop
    argv = [(i,) for i in range(ctx.tasks)]
    ctx.batch.run_tasks(func, argv)  # the first trip warms what the model caches
    n, t0 = 0, time.perf_counter()
    while True:
        ctx.batch.run_tasks(func, argv)
        n += 1
        elapsed = time.perf_counter() - t0
        if elapsed >= DISPATCH_MIN_S and n >= 2:
            return max(elapsed, 1e-12) / (n * ctx.tasks)


def _on_loop(model: Any, on_loop: bool) -> bool:
    return on_loop


def _every(model: Any, on_loop: bool) -> bool:
    return True


def _workers_or_baseline(model: Any, on_loop: bool) -> bool:
    return bool(model.pooled or model.baseline)


METRICS: dict[str, MetricDef] = {
    m.name: m
    for m in (
        MetricDef("cores", "cores used", 1.0, "integer",
                  "CPU seconds of the measuring process and its pool workers during a batch, "
                  "over the batch's wall time", _every, lower_is_better=False,
                  instrument=_Cores, ideal="frame_cores", batches=2,  # less ramp and tail
                  column="cores_used"),  # "cores" is C, the host's usable cores
        MetricDef("lag", "ms", 1e3, "second",
                  "how late the event loop ran a callback due as the batch starts and every 1 ms "
                  "after: "
                  "the maximum (p99 beside it)", _on_loop, instrument=_Lag, extras=("p99",),
                  prefix="loop lag "),
        MetricDef("memory", "MB", 1e-6, "byte",
                  "peak PSS of the measuring process and the point's pool workers during a "
                  "batch, minus the sequential baseline's in the same round", _every,
                  instrument=_Memory, baseline_difference=True, fmt="{:+.1f}",
                  prefix="memory ", notable=5e6),
        MetricDef("dispatch", "µs per task", 1e6, "second",
                  "one empty task's trip through the model (cpu_tasks.noop), per task",
                  _every, separate=_dispatch, fmt="{:.1f}", prefix="dispatch "),
    )
}


def gate_metrics() -> tuple[str, ...]:
    """What the gates can test: ``time``, ``speedup`` (within-run) and every metric."""
    return ("time", "speedup", *METRICS)


def parse(text: str, known: Mapping[str, MetricDef] | None = None) -> tuple[str, ...]:
    """``cores,lag`` -> ``("cores", "lag")``; "all" gives every metric.

    Raises
    ------
    ValueError
        A name that is not a metric (the message lists them).
    """
    known = METRICS if known is None else known
    names = tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    if names == ("all",):
        return tuple(known)
    wrong = [n for n in names if n not in known]
    if wrong:
        raise ValueError(f"unknown metric {wrong[0]!r}: choose from {', '.join(known)}")
    return names


def collect(ctx: ProbeContext, model: Any, names: tuple[str, ...],
            on_loop: bool) -> dict[str, dict[str, float]]:
    """Every enabled metric of one opened point, from its own probe batches (untimed).

    Returns
    -------
    dict
        Metric name -> ``{"": value, extra: value}``.
    """
    wanted = [METRICS[n] for n in names if n in METRICS and METRICS[n].applies(model, on_loop)]
    out: dict[str, dict[str, float]] = {}
    for m in wanted:
        if m.instrument is not None:  # a batch of its own: no instrument perturbs another
            inst = m.instrument()
            inst.start(ctx)
            for _ in range(m.batches):
                ctx.batch.run()
            out[m.name] = inst.stop(ctx)
    for m in wanted:
        if m.separate is not None:
            out[m.name] = {"": m.separate(ctx)}
    return out
