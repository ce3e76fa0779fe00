"""Execution models and the scenario point where a model meets a workload.

Standard library plus :mod:`bench.scenarios.workloads` and ``cpu_tasks``
only: the measured children import this module, and they may import nothing
else of the harness's dependencies.

A *point* (:mod:`bench.scenarios.points`) is one measured scenario.  A model
is opened once per process (pool
created and warmed, event loop made, the tasks' arguments built, the
workload's ``setup`` run) and then runs batches: one batch submits all T
tasks and waits for all of them, and its wall time is the measured value.

Adding a model is one ``ModelDef`` entry in ``MODELS``.  Its concerns are
separate fields: how its tasks overlap (``overlap``, which the model of the
ideal reads), how its executor is made and warmed (``pool``, a ``PoolDef``),
what must cross to a worker (``crossing``: nothing, pickled, or shareable
between interpreters; pre-flight checks it), and which interpreters offer it
(``offered``, with the reason where one does not).
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

from bench.scenarios import batches, latency, workloads
from bench.scenarios.points import COLD as COLD
from bench.scenarios.points import PHASES as PHASES
from bench.scenarios.points import STEADY as STEADY
from bench.scenarios.points import Point as Point
from bench.scenarios.points import model_label as model_label
from bench.scenarios.pools import INTERPRETERS, PROCESSES, THREADS, PoolDef
from bench.scenarios.workloads import Workload

#: What runs tasks at once (:attr:`ModelDef.overlap`), in the order reports show them:
#: one after another, coroutines on one event loop, W threads, W processes.
OVERLAPS = ("none", "event_loop", "threads", "processes")
#: What must cross from the measuring process to a worker (:attr:`ModelDef.crossing`):
#: nothing (same interpreter), the pickled arguments and results (another process), or
#: objects another interpreter of the same process can load (a subinterpreter).
CROSSINGS = ("nothing", "pickle", "shareable")


# ------------------------------------------------------------------------ models
class Batch(Protocol):
    """An opened model: run batches of the point's tasks, then close.

    ``loop`` is the event loop its batches run on (None when none), ``pids``
    its pool's worker processes (empty without them): the metrics' probes
    (:mod:`bench.scenarios.metrics`) read them.
    """

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The event loop the batches run on, or None."""

    @property
    def pids(self) -> tuple[int, ...]:
        """Process ids of the pool's workers (empty without worker processes)."""

    def run(self) -> list[Any]:
        """Submit all T tasks, wait for all, return their results in order."""

    def run_tasks(self, func: Callable[..., Any], argv: list[tuple[Any, ...]]) -> list[Any]:
        """One batch of other tasks (``func(*a)`` for each ``a``) through the same model."""

    def close(self) -> None:
        """Release the pool and the event loop."""


def since(version: tuple[int, int], what: str) -> Callable[[tuple[int, int]], str]:
    """An ``offered`` rule: the interpreters from ``version`` on have ``what``."""
    def offered(python: tuple[int, int]) -> str:
        return "" if python >= version else (
            f"needs Python {version[0]}.{version[1]}+ ({what})")

    return offered


def _everywhere(python: tuple[int, int]) -> str:
    return ""


#: Event loops a model whose tasks run on one can be measured on: name -> its factory
#: (``"module:function"``, imported only where a point runs on it; "" for asyncio's own).
#: The first is the default loop; every other one adds a variant of each such model.
LOOPS: dict[str, str] = {"asyncio": "", "uvloop": "uvloop:new_event_loop"}
#: The loop every model runs on unless ``--loops`` names others (asyncio's own).
DEFAULT_LOOP = next(iter(LOOPS))


@dataclass(frozen=True)
class ModelDef:
    """An execution model and the rules for where it applies."""

    name: str
    accepts_async: bool
    accepts_sync: bool
    open: Callable[[Point], Batch]
    description: str
    #: What runs tasks at once, one of :data:`OVERLAPS`: ``none`` (one after another),
    #: ``event_loop`` (coroutines overlap their async waits), ``threads`` or
    #: ``processes`` (W workers, each with its own GIL: processes or subinterpreters).
    #: The model of the ideal (:mod:`bench.results.ideal`) reads it.
    overlap: str = "none"
    #: How its executor is made and warmed (None: no pool).
    pool: PoolDef | None = None
    #: What must cross to a worker, one of :data:`CROSSINGS`.
    crossing: str = "nothing"
    #: ``(major, minor) -> ""`` where an interpreter offers the model, else why not.
    offered: Callable[[tuple[int, int]], str] = _everywhere
    #: The baseline every speedup divides: one task after another, measured the same way.
    baseline: bool = False
    #: Its pool's cold start (creation + first batch) is worth its own points.
    cold: bool = False
    #: Its tasks run on an event loop: it gets a variant per other loop (:data:`LOOPS`).
    on_loop: bool = False
    #: The event loop its batches run on (a key of :data:`LOOPS`).
    loop: str = DEFAULT_LOOP
    #: For a loop variant (``asyncio_gather[uvloop]``): the model it varies, on the default loop.
    variant_of: str = ""
    #: Without a pool, W bounds its calls in flight (a semaphore): it gets the W axis.
    limited: bool = False
    #: Its colour in every chart (a matplotlib colour; its variants get shades of it).
    colour: str = ""

    @property
    def pooled(self) -> bool:
        """Whether it runs tasks on a pool of W workers."""
        return self.pool is not None

    @property
    def open_loop(self) -> bool:
        """Whether it can send its calls at scheduled times (``--arrivals``): its coroutines
        overlap on one loop, none held back by a limit."""
        return self.overlap == "event_loop" and not self.takes_workers

    @property
    def takes_workers(self) -> bool:
        """Whether it is measured at worker counts W: a pool's workers, or a limit's calls."""
        return self.pool is not None or self.limited

    @property
    def w_bounds_calls(self) -> bool:
        """Whether W bounds its calls in flight (a semaphore; a pool whose workers each run
        one call at a time), rather than T (W event loops in a pool's workers hold them all)."""
        return self.limited or (self.pool is not None and not self.accepts_async)

    def in_flight(self, tasks: int, workers: int | None) -> int:
        """How many of a batch's ``tasks`` calls it lets run at once: 1 without overlap, W
        where W bounds them, else all T."""
        if self.overlap == "none":
            return 1
        return min(workers or 1, tasks) if self.w_bounds_calls else tasks

    @property
    def per_start_method(self) -> bool:
        """Whether it is measured once per process start method."""
        return self.pool is not None and self.pool.per_start_method

    @property
    def forks(self) -> bool:
        """Whether its workers are forked processes."""
        return self.pool is not None and self.pool.forks

    def accepts(self, workload: Workload) -> bool:
        """Whether this model runs ``workload``."""
        return self.accepts_async if workload.is_async else self.accepts_sync


class _Tasks:
    """What every opened model holds: the point's task function and arguments (its setup
    run), and a :class:`~bench.scenarios.latency.Recorder` while a metric times its calls."""

    loop: asyncio.AbstractEventLoop | None

    def __init__(self, point: Point, pids: tuple[int, ...] = (), remote: bool = False) -> None:
        work = point.work
        workloads.set_up(work.setup)
        self.func = workloads.function(work)
        self.argv = workloads.task_args(work, point.tasks, point.size)
        self.is_async, self.remote, self.pids = work.is_async, remote, pids
        self.offsets = latency.arrival_offsets(point.arrivals, point.tasks)
        #: Set by the ``calls`` metric's instrument for the one batch it reads.
        self.recorder: latency.Recorder | None = None

    def run(self) -> list[Any]:
        rec, func, argv = self.recorder, self.func, self.argv
        if rec is not None:
            func, argv = rec.wrap(func, argv, is_async=self.is_async, remote=self.remote)
        if self.offsets:  # open loop: each call waits for its intended send, then starts
            func, argv = latency.scheduled(func, argv, self.offsets, rec)
        out = self.run_tasks(func, argv)
        return out if rec is None else rec.unwrap(out, self.remote)

    def run_tasks(self, func: Callable[..., Any], argv: list[tuple[Any, ...]]) -> list[Any]:
        raise NotImplementedError


class _Sequential(_Tasks):
    """One task after another; an async function's coroutines each run to the end in turn."""

    def __init__(self, point: Point) -> None:
        super().__init__(point)
        self.loop = asyncio.new_event_loop() if self.is_async else None

    def run_tasks(self, func: Callable[..., Any], argv: list[tuple[Any, ...]]) -> list[Any]:
        if self.loop is None:
            return [func(*a) for a in argv]
        return [self.loop.run_until_complete(func(*a)) for a in argv]

    def close(self) -> None:
        if self.loop is not None:
            self.loop.close()


class _OnLoop(_Tasks):
    """A model whose batch is one coroutine run on a loop made at open."""

    def __init__(self, point: Point, strategy: batches.Strategy,
                 executor: cf.Executor | None = None, default: bool = False,
                 pids: tuple[int, ...] = (), task_factory: Any = None) -> None:
        super().__init__(point, pids, remote=MODELS[point.model].crossing != "nothing")
        self.strategy = strategy
        self.executor = executor
        self.loop = new_loop(MODELS[point.model].loop)
        if task_factory is not None:
            self.loop.set_task_factory(task_factory)
        if default and executor is not None:
            self.loop.set_default_executor(executor)

    def run_tasks(self, func: Callable[..., Any], argv: list[tuple[Any, ...]]) -> list[Any]:
        assert self.loop is not None
        return self.loop.run_until_complete(self.strategy(func, argv, self.loop))

    def close(self) -> None:
        if self.executor is not None:
            self.executor.shutdown(wait=True)
        assert self.loop is not None
        self.loop.close()


def make_executor(point: Point) -> cf.Executor:
    """A fresh, cold pool of exactly ``point.workers`` workers, made by the model's ``pool``."""
    pool = MODELS[point.model].pool
    if pool is None:
        raise ValueError(f"model {point.model!r} has no pool")
    return pool.make(point)


def _default_executor(executor: cf.Executor, workers: int) -> batches.Strategy:
    return batches.to_thread


def _each_in_executor(executor: cf.Executor, workers: int) -> batches.Strategy:
    return batches.in_executor(executor)


def _pooled(strategy: Callable[[cf.Executor, int], batches.Strategy],
            default: bool = False) -> Callable[[Point], Batch]:
    def open_(point: Point) -> Batch:
        model = MODELS[point.model]
        assert model.pool is not None
        executor = model.pool.make(point)
        ids = model.pool.warm(executor, point.workers or 1)
        pids = tuple(sorted({int(i.split(":")[0]) for i in ids} - {os.getpid()}))
        return _OnLoop(point, strategy(executor, point.workers or 1), executor,
                       default=default, pids=pids)

    return open_


def _plain(strategy: batches.Strategy, task_factory: str = "") -> Callable[[Point], Batch]:
    # the task factory by name: asyncio.eager_task_factory exists on 3.12+ only
    return lambda point: _OnLoop(point, strategy, task_factory=getattr(asyncio, task_factory)
                                 if task_factory else None)


def _limited(point: Point) -> Batch:
    return _OnLoop(point, batches.bounded(point.workers or 1))


MODELS: dict[str, ModelDef] = {
    m.name: m
    for m in (
        ModelDef("sequential", True, True, _Sequential,
                 "plain loop, one task after another (the baseline)", baseline=True,
                 colour="0.4"),
        ModelDef("asyncio_await", True, False, _plain(batches.await_each),
                 "await each coroutine in turn", on_loop=True, colour="C4"),
        ModelDef("asyncio_gather", True, False, _plain(batches.gather),
                 "asyncio.gather of all coroutines", overlap="event_loop", on_loop=True,
                 colour="C0"),
        ModelDef("asyncio_create_task", True, False, _plain(batches.create_task),
                 "create_task for all, then await each", overlap="event_loop", on_loop=True,
                 colour="C6"),
        ModelDef("asyncio_eager", True, False, _plain(batches.create_task, "eager_task_factory"),
                 "create_task for all with asyncio.eager_task_factory, then await each",
                 overlap="event_loop", offered=since((3, 12), "asyncio.eager_task_factory"),
                 on_loop=True, colour="C8"),
        ModelDef("asyncio_taskgroup", True, False, _plain(batches.taskgroup),
                 "asyncio.TaskGroup", overlap="event_loop", on_loop=True,
                 offered=since((3, 11), "asyncio.TaskGroup"), colour="C5"),
        ModelDef("asyncio_bounded", True, False, _limited,
                 "asyncio.gather of all coroutines, W at a time past an asyncio.Semaphore(W)",
                 overlap="event_loop", on_loop=True, limited=True, colour="navy"),
        ModelDef("asyncio_blocking", False, True, _plain(batches.blocking),
                 "blocking call inside coroutines run with gather (anti-pattern)", colour="C3"),
        ModelDef("to_thread", False, True, _pooled(_default_executor, default=True),
                 "asyncio.to_thread, loop default executor = ThreadPoolExecutor(W)",
                 overlap="threads", pool=THREADS, colour="C1"),
        ModelDef("thread_pool", False, True, _pooled(_each_in_executor),
                 "run_in_executor on ThreadPoolExecutor(W)", overlap="threads", pool=THREADS,
                 cold=True, colour="C9"),
        ModelDef("process_pool", False, True, _pooled(_each_in_executor),
                 "run_in_executor on ProcessPoolExecutor(W)", overlap="processes",
                 pool=PROCESSES, crossing="pickle", cold=True, colour="C2"),
        ModelDef("multi_loop", True, False, _pooled(batches.loops_in_workers),
                 "W event loops in W processes (ProcessPoolExecutor(W)), each gathering its "
                 "share of the T coroutines", overlap="processes", pool=PROCESSES,
                 crossing="pickle", colour="olive"),
        ModelDef("interpreter_pool", False, True, _pooled(_each_in_executor),
                 "run_in_executor on InterpreterPoolExecutor(W): one interpreter per worker "
                 "thread, each with its own GIL", overlap="processes", pool=INTERPRETERS,
                 crossing="shareable", cold=True, colour="teal",
                 offered=since((3, 14), "concurrent.futures.InterpreterPoolExecutor")),
    )
}


def new_loop(name: str) -> asyncio.AbstractEventLoop:
    """A new event loop of kind ``name`` (a key of :data:`LOOPS`)."""
    factory = LOOPS[name]
    if not factory:
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = workloads.resolve(factory)()
    return loop


def loop_variant(model: str, loop: str) -> str:
    """``asyncio_gather[uvloop]``: the name of ``model`` run on ``loop``."""
    return f"{model}[{loop}]"


MODELS.update({
    loop_variant(m.name, loop): replace(m, name=loop_variant(m.name, loop), loop=loop,
                                        variant_of=m.name,
                                        description=f"{m.description}, on {loop}")
    for loop in LOOPS if loop != DEFAULT_LOOP for m in list(MODELS.values()) if m.on_loop
})


def absent(python: tuple[int, int]) -> dict[str, str]:
    """The models an interpreter ``(major, minor)`` does not offer, with the reason."""
    return {name: why for name, m in MODELS.items() if (why := m.offered(python))}


#: The name of the baseline model (the one with ``baseline=True``).
BASELINE = next(m.name for m in MODELS.values() if m.baseline)


def expected_results(point: Point) -> list[Any]:
    """The sequential answer for the point's tasks (the reference)."""
    batch = _Sequential(point)
    try:
        return batch.run()
    finally:
        batch.close()


def cold_start(point: Point) -> float:
    """Seconds to create a pool and run its first batch (no warm-up).

    The event loop and the tasks' arguments are made before the clock
    starts; the pool's shutdown happens after it stops.
    """
    work = point.work
    workloads.set_up(work.setup)
    func, argv = workloads.function(work), workloads.task_args(work, point.tasks, point.size)
    loop = asyncio.new_event_loop()
    executor: cf.Executor | None = None
    try:
        t0 = time.perf_counter()
        executor = make_executor(point)
        strategy = batches.in_executor(executor)
        loop.run_until_complete(strategy(func, argv, loop))
        elapsed = time.perf_counter() - t0
    finally:
        if executor is not None:
            executor.shutdown(wait=True)
        loop.close()
    return elapsed
