"""Metrics as specs: what a point costs, and why a model wins, beside its time.

Time stays the primary metric, measured exactly as before.  Every other
metric is one :class:`MetricDef` entry in :data:`METRICS`: its name, unit,
the models it applies to, its collector, whether lower is better, and where
the report shows it.  The child (:mod:`bench.measure.child`) reads the
entries to collect, the results file stores one benchmark per point and
metric (``NAME:metric``), and the summary, the report, ``compare``, ``ab``,
``check`` and history read the same entries; nothing downstream names a metric.

**Nothing runs inside a timed value.**  An instrument is attached where its
entry's :attr:`MetricDef.rides` says: around a timed value (outside its
clock) only one that reads what the kernel counts anyway (CPU seconds, peak
memory); one that runs something while it reads (the lag's heartbeat
thread) around a batch whose time is discarded.

Standard library only, and ``/proc`` (Linux): the measured children import
this module, and pool workers import nothing of it.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import cpu_tasks
from bench.scenarios import callprobes, procfs

#: Seconds between two beats of the event-loop heartbeat.
HEARTBEAT_S = 0.001
#: Where a metric's instrument is attached (:attr:`MetricDef.rides`).
WARMUP, VALUE = "warm-up", "value"
#: Least time the dispatch probe spends running empty batches (at least two), seconds.
DISPATCH_MIN_S = 0.003


@dataclass
class ProbeContext:
    """What a collector sees: the opened batch, its model's entry, workers and task count."""

    #: The opened model (:class:`bench.scenarios.models.Batch`).
    batch: Any
    #: The model's entry (:class:`bench.scenarios.models.ModelDef`): what a metric applies to.
    model: Any
    #: Process ids of the point's pool workers (empty for models without processes).
    pids: tuple[int, ...]
    tasks: int
    is_async: bool
    #: Bytes of this process that the other points opened in it hold (their pools'
    #: threads and interpreters, their tasks' arguments): the memory reading leaves them out.
    others: int = 0
    #: The point's workload (:class:`bench.scenarios.workloads.Workload`).
    work: Any = None

    @property
    def on_loop(self) -> bool:
        """Whether the batch runs on an event loop."""
        return self.batch.loop is not None


class Instrument(Protocol):
    """Attached around batches: reads just before they start and just after they end.  Only
    one riding on a warm-up (:attr:`MetricDef.rides`) may run anything
    while they run (the lag's heartbeat thread); one riding on a timed value never does."""

    def start(self, ctx: ProbeContext) -> None:
        """Take the readings the value is measured from (just before the batch)."""

    def stop(self, ctx: ProbeContext) -> dict[str, float]:
        """The value (key ``""``) and any extra statistics, once the batch ended."""


@dataclass(frozen=True)
class MetricDef:
    """One metric every stage reads.

    ``value`` is stored in the pyperf file in ``pyperf_unit`` (``second``, ``byte`` or
    ``integer``: a plain number); reports show ``value * scale`` in ``unit``.  ``applies``
    says whether a point's model gets it (given the model's entry and whether its batch runs
    on an event loop).  A metric is collected by ``instrument`` (attached where ``rides``
    says) or by ``separate`` (its own untimed batches).  ``baseline_difference``: the summary
    shows the point minus its sequential baseline in the same round (what the model adds).
    ``extras`` name the extra statistics an instrument returns beside its value (summary
    columns ``NAME_EXTRA``).
    """

    name: str
    unit: str
    scale: float
    pyperf_unit: str
    description: str
    applies: Callable[[ProbeContext], bool]
    lower_is_better: bool = True
    instrument: Callable[[], Instrument] | None = None
    separate: Callable[[ProbeContext], float | dict[str, float]] | None = None
    baseline_difference: bool = False
    #: Its instrument reads :attr:`ProbeContext.others`: the child measures what each
    #: point's opening adds to the process (only for the metrics that read it).
    footprint: bool = False
    extras: tuple[str, ...] = ()
    #: A function of :mod:`bench.results.ideal` giving each summary row's ideal value
    #: (summary column ``NAME_ideal``); "" when the metric has none.
    ideal: str = ""
    #: Format of one shown value (after ``scale``).
    fmt: str = "{:.2f}"
    #: Name of its summary columns ("": the metric's name).
    column: str = ""
    #: Where it is read: :data:`VALUE` (around the point's first measured value of the
    #: round, outside its clock: only an instrument that reads counters the kernel keeps)
    #: or :data:`WARMUP` (an instrument around the first batch of the point's warm-up value
    #: of the round, discarded; a separate collector just after that value).
    rides: str = WARMUP
    #: Words shown before a value in tables ("loop lag "), "" for none.
    prefix: str = ""
    #: A pick that costs this much more (stored unit) than a model equivalent to it, and
    #: at least twice as much, is named in its decision; 0: never.
    notable: float = 0.0
    #: Where the report shows it beside its columns: ``chart``, the y axis of its own chart
    #: against workers W per workload (its ideal dotted; C marked where ``up_to_cores``);
    #: ``lesson``, beside the waiting lesson's bars; ``finding``, the opening of a sentence
    #: per workload at its largest size and T (fields ``workload``, ``tasks``; the models'
    #: readings follow); ``break_even``, a cost per task (seconds) that a break-even row
    #: sets one task's time against.
    chart: str = ""
    up_to_cores: bool = False
    lesson: bool = False
    finding: str = ""
    break_even: bool = False
    #: Its extras are each call's figures of a network workload (throughput, calls in
    #: flight, the clients' cap): the report's network section reads them.
    per_call: bool = False
    #: Its extras get 95 % intervals over rounds too (summary ``COL_EXTRA_ci_low``/``_high``).
    extra_intervals: bool = False

    @property
    def col(self) -> str:
        """The stem of the metric's summary columns (``cores_used``, ``lag``, ...)."""
        return self.column or self.name

    def show(self, value: float) -> str:
        """``value`` (as stored) in the metric's display unit, e.g. ``1.93 cores``."""
        if value != value:
            return ""
        return f"{self.prefix}{self.fmt.format(value * self.scale)} {self.unit}"


# ------------------------------------------------------------------ instruments
class _Cores:
    """CPU seconds of this process (all threads) and the point's workers over wall time."""

    def start(self, ctx: ProbeContext) -> None:
        self.cpu = time.process_time() + sum(procfs.proc_cpu_s(p) for p in ctx.pids)
        self.t0 = time.perf_counter()

    def stop(self, ctx: ProbeContext) -> dict[str, float]:
        wall = time.perf_counter() - self.t0
        cpu = time.process_time() + sum(procfs.proc_cpu_s(p) for p in ctx.pids) - self.cpu
        return {"": max(cpu, 1e-9) / wall}


class _Lag:
    """How long the batch's event loop took to run a callback sent every :data:`HEARTBEAT_S`.

    A heartbeat thread hands the loop a callback every millisecond (``call_soon_threadsafe``,
    which wakes a waiting loop at once: no timer's millisecond rounding in the reading) and
    the callback records how long after its sending it ran: about nothing on a loop that
    waits, the rest of the blocking step on a loop that a task holds.
    """

    def start(self, ctx: ProbeContext) -> None:
        self.loop: asyncio.AbstractEventLoop = ctx.batch.loop
        self.late: list[float] = []
        self.sent: dict[int, float] = {}
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._send, daemon=True)
        self.thread.start()

    def _send(self) -> None:
        n = 0
        while not self.done.is_set():
            self.sent[n] = time.perf_counter()
            self.loop.call_soon_threadsafe(self._beat, n)
            n += 1
            self.done.wait(HEARTBEAT_S)

    def _beat(self, n: int) -> None:
        self.late.append(time.perf_counter() - self.sent.pop(n))

    def stop(self, ctx: ProbeContext) -> dict[str, float]:
        self.done.set()
        self.thread.join()
        now = time.perf_counter()
        late = sorted([*self.late, *(now - t for t in self.sent.values())])  # not yet run
        # run the beats still queued now, so that none runs inside a timed value later
        self.loop.run_until_complete(asyncio.sleep(0))
        if not late:
            return {"": 1e-9, "p99": 1e-9}
        p99 = late[min(len(late) - 1, math.ceil(0.99 * len(late)) - 1)]
        return {"": max(late[-1], 1e-9), "p99": max(p99, 1e-9)}


class _Memory:
    """Peak memory of this process and the point's workers during the batch, no sampling.

    This process counts its PSS as the batch starts; each pool worker its USS
    (the pages it alone maps, however many other workers the child has open:
    a worker's memory is the point's whatever else is open).  Each adds how
    far its RSS rose during the batch (peak RSS, reset at the batch's start
    through ``/proc/PID/clear_refs``; where it cannot be, the rise of the same
    size from start to end).  What the other points of the child opened in
    this process (:attr:`ProbeContext.others`) is not this point's.
    """

    def start(self, ctx: ProbeContext) -> None:
        self.procs: list[int | str] = ["self", *ctx.pids]
        self.held = [procfs.held_bytes(p) for p in self.procs]
        self.rss = [procfs.status_kib(p, "VmRSS") * 1024 for p in self.procs]
        self.reset = [procfs.reset_peak(p) for p in self.procs]

    def stop(self, ctx: ProbeContext) -> dict[str, float]:
        total = 0
        for proc, held, rss, reset in zip(self.procs, self.held, self.rss, self.reset,
                                          strict=True):
            rise = (procfs.status_kib(proc, "VmHWM") * 1024 - rss) if reset \
                else (procfs.held_bytes(proc) - held)
            total += held + max(rise, 0)
        return {"": float(max(total - ctx.others, 1))}


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


def _on_loop(ctx: ProbeContext) -> bool:
    return ctx.on_loop


def _every(ctx: ProbeContext) -> bool:
    return True


def _calls(ctx: ProbeContext) -> bool:
    return ctx.work is not None and bool(ctx.work.service)


METRICS: dict[str, MetricDef] = {
    m.name: m
    for m in (
        MetricDef("cores", "cores used", 1.0, "integer",
                  "CPU seconds of the measuring process and its pool workers during a timed "
                  "value, over its wall time", _every, lower_is_better=False,
                  instrument=_Cores, ideal="frame_cores", rides=VALUE, up_to_cores=True,
                  chart="cores used (CPU s / wall s)", column="cores_used"),  # "cores" is C
        MetricDef("lag", "ms", 1e3, "second",
                  "how long the event loop took to run a callback a heartbeat thread sent it "
                  "every 1 ms during a batch: the maximum (p99 beside it)", _on_loop,
                  instrument=_Lag, extras=("p99",), prefix="loop lag ", rides=WARMUP,
                  lesson=True, finding="Event loop, {workload}, T = {tasks}: the longest a "
                  "callback sent to the loop every 1 ms waited during a batch"),
        MetricDef("memory", "MB", 1e-6, "byte",
                  "peak memory of the measuring process and the point's pool workers during "
                  "a timed value (the process's PSS, each worker's USS: its private pages, "
                  "at its start, plus the rise of peak RSS), minus the sequential "
                  "baseline's in the same round", _every,
                  instrument=_Memory, baseline_difference=True, footprint=True, rides=VALUE,
                  fmt="{:+.1f}", prefix="memory ", notable=5e6),
        MetricDef("dispatch", "µs per task", 1e6, "second",
                  "one empty task's trip through the model (cpu_tasks.noop), per task",
                  _every, separate=_dispatch, fmt="{:.1f}", prefix="dispatch ", rides=WARMUP,
                  break_even=True),
        MetricDef("calls", "ms", 1e3, "second",
                  "each call's time from when it was allowed to start to its end, less the "
                  "service's own latency at the same quantile, over a batch of its own: the "
                  "p99 (p50, p90, max, the p99 from submission, client CPU per call, the "
                  "batch's calls a second, the most calls the service held at once, its CPU "
                  "per request and the clients' connection cap beside it)", _calls,
                  separate=callprobes.calls,
                  extras=("p50", "p90", "max", "p99_queued", "own_p99", "client_us",
                          "throughput", "inflight", "service_us", "cap", "late"),
                  prefix="added p99 ", rides=WARMUP, fmt="{:.1f}", per_call=True,
                  extra_intervals=True),
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


def wanted(ctx: ProbeContext, names: tuple[str, ...],
           rides: tuple[str, ...]) -> list[MetricDef]:
    """The enabled metrics that apply to a point's model and ride where ``rides`` says
    (:attr:`MetricDef.rides`), in :data:`METRICS`' order."""
    return [m for n, m in METRICS.items() if n in names
            and m.applies(ctx) and m.rides in rides]


Attached = list[tuple[MetricDef, Instrument]]


def attach(ctx: ProbeContext, specs: list[MetricDef]) -> Attached:
    """Start the instruments of ``specs``, last to first: the first one's reading (cores)
    spans what runs next alone, the others' own reads outside it."""
    attached = [(m, m.instrument()) for m in specs if m.instrument is not None]
    for _, inst in reversed(attached):
        inst.start(ctx)
    return attached


def detach(ctx: ProbeContext, attached: Attached) -> dict[str, dict[str, float]]:
    """Stop the instruments :func:`attach` started, first to last; their readings by name."""
    return {m.name: inst.stop(ctx) for m, inst in attached}


def separate(ctx: ProbeContext, specs: list[MetricDef]) -> dict[str, dict[str, float]]:
    """The readings of the ``separate`` collectors among ``specs`` (untimed batches of their
    own, after the warm-up value), by name."""
    out = {}
    for m in specs:
        if m.separate is not None:
            found = m.separate(ctx)
            out[m.name] = found if isinstance(found, dict) else {"": found}
    return out
