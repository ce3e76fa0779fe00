"""Execution models and the scenario point where a model meets a workload.

Standard library plus :mod:`bench.scenarios.workloads` and ``cpu_tasks``
only: the measured children import this module, and they may import nothing
else of the harness's dependencies.

A *point* is one measured scenario: workload x model x task count x worker
count (x start method) x task size.  A model is opened once per process (pool
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
import multiprocessing
import os
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import cpu_tasks
from bench.scenarios import workloads
from bench.scenarios.workloads import Workload

#: Seconds a warm-up barrier waits for all workers before giving up.
WARM_TIMEOUT = 60.0

#: What a point times: warm batches of an opened model, or a pool's cold start
#: (creation plus the first batch, a fresh pool per value).
STEADY, COLD = "steady", "cold"
PHASES = (STEADY, COLD)
#: What runs tasks at once (:attr:`ModelDef.overlap`), in the order reports show them:
#: one after another, coroutines on one event loop, W threads, W processes.
OVERLAPS = ("none", "event_loop", "threads", "processes")
#: What must cross from the measuring process to a worker (:attr:`ModelDef.crossing`):
#: nothing (same interpreter), the pickled arguments and results (another process), or
#: objects another interpreter of the same process can load (a subinterpreter).
CROSSINGS = ("nothing", "pickle", "shareable")


def model_label(model: str, start_method: str | None = "") -> str:
    """``process_pool[fork]`` for a model measured per start method, else the model's name."""
    return f"{model}[{start_method}]" if start_method else model


# ------------------------------------------------------------------------ points
@dataclass(frozen=True)
class Point:
    """One scenario of the grid.

    ``metric`` is :data:`STEADY` (warm batches) or :data:`COLD` (pool creation
    plus the first batch, a fresh pool per value).  ``spec`` is the point's
    workload spec: points carry it, so no catalogue shared by the process
    decides what a point runs (None: the built-in workload of that name).
    """

    workload: str
    model: str
    tasks: int
    workers: int | None = None
    start_method: str | None = None
    size: float = 0.0
    metric: str = STEADY
    #: The grid sweeps this workload over several sizes: the name says which.
    sized: bool = False
    spec: Workload | None = field(default=None, compare=False, repr=False)

    @property
    def name(self) -> str:
        """Stable readable name, e.g. ``cpu/process_pool[fork]/t16/w2`` (``.../s1e+04``)."""
        parts = [self.workload, model_label(self.model, self.start_method), f"t{self.tasks}"]
        if self.workers is not None:
            parts.append(f"w{self.workers}")
        if self.sized:
            parts.append(f"s{self.size:g}")
        if self.metric != STEADY:
            parts.append(self.metric)
        return "/".join(parts)

    @property
    def work(self) -> Workload:
        """The point's workload spec."""
        return self.spec if self.spec is not None else workloads.BUILTINS[self.workload]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields, the workload spec included (for run.json and the child's job)."""
        data = asdict(self)
        data["spec"] = self.work.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Point:
        """Inverse of :meth:`to_dict` (a missing spec: the built-in workload of that name)."""
        fields_ = dict(data)
        spec = fields_.pop("spec", None)
        return cls(**fields_, spec=None if spec is None else Workload.from_dict(spec))


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


@dataclass(frozen=True)
class PoolDef:
    """How a pooled model's executor is made and warmed.

    ``make(point)`` returns a fresh, cold executor of exactly ``point.workers``
    workers; ``warm(executor, W)`` proves that W distinct workers exist and
    returns their ids (``"pid:..."``).  ``forks``: its workers are forked
    processes, opened before any thread of the same child exists.
    """

    label: str
    #: What its workers are, in the findings' words ("processes reached 1.8x").
    workers: str
    make: Callable[[Point], cf.Executor]
    warm: Callable[[cf.Executor, int], set[str]]
    per_start_method: bool = False
    forks: bool = False


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

    @property
    def pooled(self) -> bool:
        """Whether it runs tasks on a pool of W workers."""
        return self.pool is not None

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


#: A batch as one coroutine: (function, every task's arguments, loop) -> results.
Strategy = Callable[[Callable[..., Any], list[tuple[Any, ...]], asyncio.AbstractEventLoop],
                    Awaitable[list[Any]]]


class _Sequential:
    """One task after another; an async function's coroutines each run to the end in turn."""

    def __init__(self, point: Point) -> None:
        work = point.work
        workloads.set_up(work.setup)
        self.func = workloads.function(work)
        self.argv = workloads.task_args(work, point.tasks, point.size)
        self.loop = asyncio.new_event_loop() if work.is_async else None
        self.pids: tuple[int, ...] = ()

    def run(self) -> list[Any]:
        return self.run_tasks(self.func, self.argv)

    def run_tasks(self, func: Callable[..., Any], argv: list[tuple[Any, ...]]) -> list[Any]:
        if self.loop is None:
            return [func(*a) for a in argv]
        return [self.loop.run_until_complete(func(*a)) for a in argv]

    def close(self) -> None:
        if self.loop is not None:
            self.loop.close()


class _OnLoop:
    """A model whose batch is one coroutine run on a loop made at open."""

    def __init__(self, point: Point, strategy: Strategy,
                 executor: cf.Executor | None = None, default: bool = False,
                 pids: tuple[int, ...] = (), task_factory: Any = None) -> None:
        work = point.work
        self.pids = pids
        workloads.set_up(work.setup)
        self.func = workloads.function(work)
        self.argv = workloads.task_args(work, point.tasks, point.size)
        self.strategy = strategy
        self.executor = executor
        self.loop = asyncio.new_event_loop()
        if task_factory is not None:
            self.loop.set_task_factory(task_factory)
        if default and executor is not None:
            self.loop.set_default_executor(executor)

    def run(self) -> list[Any]:
        return self.run_tasks(self.func, self.argv)

    def run_tasks(self, func: Callable[..., Any], argv: list[tuple[Any, ...]]) -> list[Any]:
        return self.loop.run_until_complete(self.strategy(func, argv, self.loop))

    def close(self) -> None:
        if self.executor is not None:
            self.executor.shutdown(wait=True)
        self.loop.close()


Argv = list[tuple[Any, ...]]


def _coros(func: Callable[..., Any], argv: Argv) -> list[Coroutine[Any, Any, Any]]:
    return [func(*a) for a in argv]


async def _await_each(func: Callable[..., Any], argv: Argv,
                      loop: asyncio.AbstractEventLoop) -> list[Any]:
    return [await c for c in _coros(func, argv)]


async def _gather(func: Callable[..., Any], argv: Argv,
                  loop: asyncio.AbstractEventLoop) -> list[Any]:
    return list(await asyncio.gather(*_coros(func, argv)))


async def _create_task(func: Callable[..., Any], argv: Argv,
                       loop: asyncio.AbstractEventLoop) -> list[Any]:
    tasks = [asyncio.create_task(c) for c in _coros(func, argv)]
    return [await t for t in tasks]


async def _taskgroup(func: Callable[..., Any], argv: Argv,
                     loop: asyncio.AbstractEventLoop) -> list[Any]:
    async with asyncio.TaskGroup() as tg:  # type: ignore[attr-defined,unused-ignore]
        tasks = [tg.create_task(c) for c in _coros(func, argv)]
    return [t.result() for t in tasks]


async def _blocking(func: Callable[..., Any], argv: Argv,
                    loop: asyncio.AbstractEventLoop) -> list[Any]:
    async def inside(*a: Any) -> Any:
        return func(*a)  # the anti-pattern: blocks the event loop

    return list(await asyncio.gather(*(inside(*a) for a in argv)))


async def _to_thread(func: Callable[..., Any], argv: Argv,
                     loop: asyncio.AbstractEventLoop) -> list[Any]:
    return list(await asyncio.gather(*(asyncio.to_thread(func, *a) for a in argv)))


def _in_executor(executor: cf.Executor) -> Strategy:
    async def run(func: Callable[..., Any], argv: Argv,
                  loop: asyncio.AbstractEventLoop) -> list[Any]:
        futs = [loop.run_in_executor(executor, func, *a) for a in argv]
        return list(await asyncio.gather(*futs))

    return run


def _process_pool(point: Point) -> cf.Executor:
    # the start method always explicit; the initializer keeps the barrier warm() waits on
    workers = point.workers or 1
    ctx = multiprocessing.get_context(point.start_method)
    return cf.ProcessPoolExecutor(
        workers, mp_context=ctx, initializer=workloads.worker_init,
        initargs=(ctx.Barrier(workers), point.work.setup),
    )


def _thread_pool(point: Point) -> cf.Executor:
    workers = point.workers or 1
    return cf.ThreadPoolExecutor(
        workers, initializer=cpu_tasks.barrier_init, initargs=(threading.Barrier(workers),)
    )


def _interpreter_pool(point: Point) -> cf.Executor:
    # a worker's interpreter imports the workload (and its setup) from PYTHONPATH:
    # it does not inherit this process's sys.path
    setup = point.work.setup
    return cf.InterpreterPoolExecutor(  # type: ignore[attr-defined,no-any-return,unused-ignore]
        point.workers or 1, initializer=workloads.set_up if setup else None,
        initargs=(setup,) if setup else ())


def make_executor(point: Point) -> cf.Executor:
    """A fresh, cold pool of exactly ``point.workers`` workers, made by the model's ``pool``."""
    pool = MODELS[point.model].pool
    if pool is None:
        raise ValueError(f"model {point.model!r} has no pool")
    return pool.make(point)


def warm(executor: cf.Executor, workers: int) -> set[str]:
    """Run one barrier task per worker so that all W workers exist.

    ThreadPoolExecutor and forkserver/spawn process pools start workers
    lazily; without this their start-up would land inside timed batches.
    """
    futs = [executor.submit(cpu_tasks.barrier_wait, WARM_TIMEOUT) for _ in range(workers)]
    ids = {f.result(timeout=WARM_TIMEOUT * 2) for f in futs}
    if len(ids) != workers:
        raise RuntimeError(f"warm-up reached {len(ids)} workers, expected {workers}")
    return ids


def warm_interpreters(executor: cf.Executor, workers: int) -> set[str]:
    """:func:`warm` for an interpreter pool: a barrier made of two cross-interpreter queues.

    A ``threading.Barrier`` cannot cross interpreters; each task reports in on one
    queue and waits on the other until all W have, so W distinct interpreters
    (each in its own worker thread) must exist when they return.
    """
    from concurrent import interpreters  # type: ignore[attr-defined,unused-ignore]

    arrived, release = interpreters.create_queue(), interpreters.create_queue()
    futs = [executor.submit(cpu_tasks.queue_gate, arrived, release, WARM_TIMEOUT)
            for _ in range(workers)]
    deadline = time.monotonic() + WARM_TIMEOUT
    try:
        for _ in range(workers):
            while True:
                failed = next((f for f in futs if f.done() and f.exception()), None)
                if failed is not None:
                    raise RuntimeError(f"an interpreter worker failed to start: "
                                       f"{crossing_error(failed.exception())}")
                try:
                    arrived.get(timeout=0.05)
                    break
                except interpreters.QueueEmpty:
                    if time.monotonic() > deadline:
                        raise RuntimeError("warm-up of the interpreter pool timed out") from None
    finally:
        for _ in range(workers):
            release.put(None)
    ids = {f.result(timeout=WARM_TIMEOUT) for f in futs}
    if len(ids) != workers:
        raise RuntimeError(f"warm-up reached {len(ids)} interpreters, expected {workers}")
    return ids


def crossing_error(exc: BaseException | None) -> str:
    """What went wrong in another interpreter, in one line (its cause's last line first)."""
    seen: list[str] = []
    while exc is not None:
        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
        text = next((ln for ln in lines if "Error" in ln and ":" in ln), lines[0] if lines
                    else type(exc).__name__)
        seen.append(text if ":" in text else f"{type(exc).__name__}: {text}")
        exc = exc.__cause__
    return seen[-1] if seen else "unknown error"


def _pooled(default: bool) -> Callable[[Point], Batch]:
    def open_(point: Point) -> Batch:
        model = MODELS[point.model]
        assert model.pool is not None
        executor = model.pool.make(point)
        ids = model.pool.warm(executor, point.workers or 1)
        pids = tuple(sorted({int(i.split(":")[0]) for i in ids} - {os.getpid()}))
        strategy = _to_thread if default else _in_executor(executor)
        return _OnLoop(point, strategy, executor, default=default, pids=pids)

    return open_


def _plain(strategy: Strategy, task_factory: str = "") -> Callable[[Point], Batch]:
    # the task factory by name: asyncio.eager_task_factory exists on 3.12+ only
    return lambda point: _OnLoop(point, strategy, task_factory=getattr(asyncio, task_factory)
                                 if task_factory else None)


THREADS = PoolDef("thread pools", "threads", _thread_pool, warm)
PROCESSES = PoolDef("process pools", "processes", _process_pool, warm, per_start_method=True,
                    forks=True)
INTERPRETERS = PoolDef("interpreter pools", "subinterpreters", _interpreter_pool,
                       warm_interpreters)

MODELS: dict[str, ModelDef] = {
    m.name: m
    for m in (
        ModelDef("sequential", True, True, _Sequential,
                 "plain loop, one task after another (the baseline)", baseline=True),
        ModelDef("asyncio_await", True, False, _plain(_await_each),
                 "await each coroutine in turn"),
        ModelDef("asyncio_gather", True, False, _plain(_gather),
                 "asyncio.gather of all coroutines", overlap="event_loop"),
        ModelDef("asyncio_create_task", True, False, _plain(_create_task),
                 "create_task for all, then await each", overlap="event_loop"),
        ModelDef("asyncio_eager", True, False, _plain(_create_task, "eager_task_factory"),
                 "create_task for all with asyncio.eager_task_factory, then await each",
                 overlap="event_loop", offered=since((3, 12), "asyncio.eager_task_factory")),
        ModelDef("asyncio_taskgroup", True, False, _plain(_taskgroup),
                 "asyncio.TaskGroup", overlap="event_loop",
                 offered=since((3, 11), "asyncio.TaskGroup")),
        ModelDef("asyncio_blocking", False, True, _plain(_blocking),
                 "blocking call inside coroutines run with gather (anti-pattern)"),
        ModelDef("to_thread", False, True, _pooled(default=True),
                 "asyncio.to_thread, loop default executor = ThreadPoolExecutor(W)",
                 overlap="threads", pool=THREADS),
        ModelDef("thread_pool", False, True, _pooled(default=False),
                 "run_in_executor on ThreadPoolExecutor(W)", overlap="threads", pool=THREADS,
                 cold=True),
        ModelDef("process_pool", False, True, _pooled(default=False),
                 "run_in_executor on ProcessPoolExecutor(W)", overlap="processes",
                 pool=PROCESSES, crossing="pickle", cold=True),
        ModelDef("interpreter_pool", False, True, _pooled(default=False),
                 "run_in_executor on InterpreterPoolExecutor(W): one interpreter per worker "
                 "thread, each with its own GIL", overlap="processes", pool=INTERPRETERS,
                 crossing="shareable", cold=True,
                 offered=since((3, 14), "concurrent.futures.InterpreterPoolExecutor")),
    )
}


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
        strategy = _in_executor(executor)
        loop.run_until_complete(strategy(func, argv, loop))
        elapsed = time.perf_counter() - t0
    finally:
        if executor is not None:
            executor.shutdown(wait=True)
        loop.close()
    return elapsed
