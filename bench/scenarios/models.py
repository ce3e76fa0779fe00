"""Workloads, execution models and the scenario point they meet in.

Standard library plus ``cpu_tasks`` only: the measured children import this
module, and they may import nothing else of the harness's dependencies.

A *point* is one measured scenario: workload x model x task count x worker
count (x start method).  A model is opened once per process (pool created and
warmed, event loop made) and then runs batches: one batch submits all T
tasks and waits for all of them, and its wall time is the measured value.

Adding a model is one ``ModelDef`` entry in ``MODELS`` with an ``open``
function returning a ``Batch``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import json
import multiprocessing
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import cpu_tasks

#: Seconds a warm-up barrier waits for all workers before giving up.
WARM_TIMEOUT = 60.0


# --------------------------------------------------------------------- workloads
#: What a task spends its time on; the model of the ideal (:mod:`bench.results.ideal`) reads it.
#: ``cpu_gil``: Python bytecode, holding the GIL; ``cpu_nogil``: CPU work in C that
#: releases the GIL; ``blocking_wait``: a blocking call that waits (I/O, sleep);
#: ``async_wait``: an awaitable that waits without blocking the event loop.
RESOURCES = ("cpu_gil", "cpu_nogil", "blocking_wait", "async_wait")


@dataclass(frozen=True)
class Workload:
    """A kind of task: what it does, what it spends time on, its size unit and default size."""

    name: str
    func: Callable[..., Any]
    is_async: bool
    unit: str
    default_size: float
    resource: str
    description: str
    #: Sizes are whole numbers of ``unit`` (never rounded to zero work).
    whole_units: bool = False


WORKLOADS: dict[str, Workload] = {
    w.name: w
    for w in (
        Workload("cpu", cpu_tasks.cpu, False, "iterations", 100_000, "cpu_gil",
                 "the seed's cpu_bound loop (pure Python, holds the GIL)", whole_units=True),
        Workload("hash", cpu_tasks.hash_rounds, False, "MiB", 10, "cpu_nogil",
                 "SHA-256 over a 1 MiB buffer (releases the GIL)", whole_units=True),
        Workload("sleep", cpu_tasks.blocking_sleep, False, "s", 0.003, "blocking_wait",
                 "blocking time.sleep (blocking I/O)"),
        Workload("async_sleep", cpu_tasks.async_sleep, True, "s", 0.003, "async_wait",
                 "await asyncio.sleep (non-blocking I/O)"),
    )
}


# ------------------------------------------------------------------------ points
@dataclass(frozen=True)
class Point:
    """One scenario of the grid.

    ``metric`` is ``"steady"`` (warm batches) or ``"cold"`` (pool creation
    plus the first batch, a fresh pool per value).
    """

    workload: str
    model: str
    tasks: int
    workers: int | None = None
    start_method: str | None = None
    size: float = 0.0
    metric: str = "steady"

    @property
    def name(self) -> str:
        """Stable readable name, e.g. ``cpu/process_pool[fork]/t16/w2``."""
        model = f"{self.model}[{self.start_method}]" if self.start_method else self.model
        parts = [self.workload, model, f"t{self.tasks}"]
        if self.workers is not None:
            parts.append(f"w{self.workers}")
        if self.metric != "steady":
            parts.append(self.metric)
        return "/".join(parts)

    def to_json(self) -> str:
        """Serialise for the child's command line."""
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Point:
        """Inverse of :meth:`to_json`."""
        return cls(**json.loads(text))

    def args(self) -> list[tuple[int, float]]:
        """The ``(i, size)`` arguments of the batch's T tasks."""
        return [(i, self.size) for i in range(self.tasks)]


# ------------------------------------------------------------------------ models
class Batch(Protocol):
    """An opened model: run batches of the point's tasks, then close."""

    def run(self) -> list[Any]:
        """Submit all T tasks, wait for all, return their results in order."""

    def close(self) -> None:
        """Release the pool and the event loop."""


@dataclass(frozen=True)
class ModelDef:
    """An execution model and the rules for where it applies."""

    name: str
    accepts_async: bool
    accepts_sync: bool
    pooled: bool
    open: Callable[[Point], Batch]
    description: str
    per_start_method: bool = False
    min_python: tuple[int, int] = (3, 10)
    #: What runs tasks at once: ``none`` (one after another), ``event_loop``
    #: (coroutines overlap their async waits), ``threads`` or ``processes``
    #: (W workers).  The model of the ideal (:mod:`bench.results.ideal`) reads it.
    overlap: str = "none"

    def accepts(self, workload: Workload) -> bool:
        """Whether this model runs ``workload``."""
        return self.accepts_async if workload.is_async else self.accepts_sync


Strategy = Callable[[Point, asyncio.AbstractEventLoop], Awaitable[list[Any]]]


class _Sequential:
    def __init__(self, point: Point) -> None:
        self.work = WORKLOADS[point.workload]
        self.argv = point.args()
        self.loop = asyncio.new_event_loop() if self.work.is_async else None

    def run(self) -> list[Any]:
        if self.loop is None:
            return [self.work.func(*a) for a in self.argv]
        return [self.loop.run_until_complete(self.work.func(*a)) for a in self.argv]

    def close(self) -> None:
        if self.loop is not None:
            self.loop.close()


class _OnLoop:
    """A model whose batch is one coroutine run on a loop made at open."""

    def __init__(self, point: Point, strategy: Strategy,
                 executor: cf.Executor | None = None, default: bool = False) -> None:
        self.point = point
        self.strategy = strategy
        self.executor = executor
        self.loop = asyncio.new_event_loop()
        if default and executor is not None:
            self.loop.set_default_executor(executor)

    def run(self) -> list[Any]:
        return self.loop.run_until_complete(self.strategy(self.point, self.loop))

    def close(self) -> None:
        if self.executor is not None:
            self.executor.shutdown(wait=True)
        self.loop.close()


def _coros(point: Point) -> list[Coroutine[Any, Any, Any]]:
    func = WORKLOADS[point.workload].func
    return [func(*a) for a in point.args()]


async def _await_each(point: Point, loop: asyncio.AbstractEventLoop) -> list[Any]:
    return [await c for c in _coros(point)]


async def _gather(point: Point, loop: asyncio.AbstractEventLoop) -> list[Any]:
    return list(await asyncio.gather(*_coros(point)))


async def _create_task(point: Point, loop: asyncio.AbstractEventLoop) -> list[Any]:
    tasks = [asyncio.create_task(c) for c in _coros(point)]
    return [await t for t in tasks]


async def _taskgroup(point: Point, loop: asyncio.AbstractEventLoop) -> list[Any]:
    async with asyncio.TaskGroup() as tg:  # type: ignore[attr-defined,unused-ignore]
        tasks = [tg.create_task(c) for c in _coros(point)]
    return [t.result() for t in tasks]


async def _blocking(point: Point, loop: asyncio.AbstractEventLoop) -> list[Any]:
    func = WORKLOADS[point.workload].func

    async def inside(i: int, size: float) -> Any:
        return func(i, size)  # the anti-pattern: blocks the event loop

    return list(await asyncio.gather(*(inside(*a) for a in point.args())))


async def _to_thread(point: Point, loop: asyncio.AbstractEventLoop) -> list[Any]:
    func = WORKLOADS[point.workload].func
    return list(await asyncio.gather(*(asyncio.to_thread(func, *a) for a in point.args())))


def _in_executor(executor: cf.Executor) -> Strategy:
    async def run(point: Point, loop: asyncio.AbstractEventLoop) -> list[Any]:
        func = WORKLOADS[point.workload].func
        futs = [loop.run_in_executor(executor, func, *a) for a in point.args()]
        return list(await asyncio.gather(*futs))

    return run


def make_executor(point: Point) -> cf.Executor:
    """A fresh, cold pool of exactly ``point.workers`` workers.

    Process pools always get their start method explicitly.  The pool's
    initializer installs the barrier :func:`warm` uses.
    """
    workers = point.workers or 1
    if point.model == "process_pool":
        ctx = multiprocessing.get_context(point.start_method)
        return cf.ProcessPoolExecutor(
            workers, mp_context=ctx, initializer=cpu_tasks.barrier_init,
            initargs=(ctx.Barrier(workers),),
        )
    return cf.ThreadPoolExecutor(
        workers, initializer=cpu_tasks.barrier_init, initargs=(threading.Barrier(workers),)
    )


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


def _pooled(default: bool) -> Callable[[Point], Batch]:
    def open_(point: Point) -> Batch:
        executor = make_executor(point)
        warm(executor, point.workers or 1)
        strategy = _to_thread if default else _in_executor(executor)
        return _OnLoop(point, strategy, executor, default=default)

    return open_


def _plain(strategy: Strategy) -> Callable[[Point], Batch]:
    return lambda point: _OnLoop(point, strategy)


MODELS: dict[str, ModelDef] = {
    m.name: m
    for m in (
        ModelDef("sequential", True, True, False, _Sequential,
                 "plain loop, one task after another (the baseline)"),
        ModelDef("asyncio_await", True, False, False, _plain(_await_each),
                 "await each coroutine in turn"),
        ModelDef("asyncio_gather", True, False, False, _plain(_gather),
                 "asyncio.gather of all coroutines", overlap="event_loop"),
        ModelDef("asyncio_create_task", True, False, False, _plain(_create_task),
                 "create_task for all, then await each", overlap="event_loop"),
        ModelDef("asyncio_taskgroup", True, False, False, _plain(_taskgroup),
                 "asyncio.TaskGroup", min_python=(3, 11), overlap="event_loop"),
        ModelDef("asyncio_blocking", False, True, False, _plain(_blocking),
                 "blocking call inside coroutines run with gather (anti-pattern)"),
        ModelDef("to_thread", False, True, True, _pooled(default=True),
                 "asyncio.to_thread, loop default executor = ThreadPoolExecutor(W)",
                 overlap="threads"),
        ModelDef("thread_pool", False, True, True, _pooled(default=False),
                 "run_in_executor on ThreadPoolExecutor(W)", overlap="threads"),
        ModelDef("process_pool", False, True, True, _pooled(default=False),
                 "run_in_executor on ProcessPoolExecutor(W)", per_start_method=True,
                 overlap="processes"),
    )
}


def supported(model: ModelDef, version: tuple[int, int] | None = None) -> bool:
    """Whether ``model`` runs on the Python ``version`` (default: this one)."""
    return (version or sys.version_info[:2]) >= model.min_python


def expected_results(point: Point) -> list[Any]:
    """The sequential answer for the point's tasks (the reference)."""
    batch = _Sequential(point)
    try:
        return batch.run()
    finally:
        batch.close()


def cold_start(point: Point) -> float:
    """Seconds to create a pool and run its first batch (no warm-up).

    The event loop is made before the clock starts; the pool's shutdown
    happens after it stops.
    """
    loop = asyncio.new_event_loop()
    executor: cf.Executor | None = None
    try:
        t0 = time.perf_counter()
        executor = make_executor(point)
        strategy = _in_executor(executor)
        loop.run_until_complete(strategy(point, loop))
        elapsed = time.perf_counter() - t0
    finally:
        if executor is not None:
            executor.shutdown(wait=True)
        loop.close()
    return elapsed
