"""Pools: how a pooled model's executor is made and warmed (``ModelDef.pool``).

Standard library plus ``cpu_tasks`` and :mod:`bench.scenarios.workloads` only:
the measured children import this module.  A ``PoolDef`` makes a fresh,
cold executor of exactly W workers for a point and proves, before any
timing, that W distinct workers exist: a barrier task per worker for thread
and process pools, a barrier made of two cross-interpreter queues for
interpreter pools (3.14+), where a ``threading.Barrier`` cannot cross.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import cpu_tasks
from bench.errors import one_line
from bench.scenarios import workloads
from bench.scenarios.points import Point

#: Seconds a warm-up barrier waits for all workers before giving up.
WARM_TIMEOUT = 60.0


@dataclass(frozen=True)
class PoolDef:
    """How a pooled model's executor is made and warmed.

    ``make(point)`` returns a fresh, cold executor of exactly ``point.workers``
    workers; ``warm(executor, W)`` proves that W distinct workers exist and
    returns their ids (``"pid:..."``).  ``forks``: its workers are forked
    processes, opened before any thread of the same child exists.

    The rest is what a pool holds, for the plan (:mod:`bench.scenarios.footprint`) and
    the native thread pools' setting: file descriptors per pool and per worker,
    megabytes per worker by start method (a floor: the measuring process's own
    footprint, measured here with nothing imported but the harness), and whether each
    worker's native pools get C / W threads (``native_share``, as loky does) rather
    than the libraries' default.
    """

    label: str
    #: What its workers are, in the findings' words ("processes reached 1.8x").
    workers: str
    make: Callable[[Point], cf.Executor]
    warm: Callable[[cf.Executor, int], set[str]]
    per_start_method: bool = False
    forks: bool = False
    fds_per_pool: int = 0
    fds_per_worker: int = 0
    #: Megabytes a worker adds, by start method ("": any).
    worker_mb: Mapping[str, float] = field(default_factory=dict)
    #: Its workers are processes of their own: each worker's native pools get C / W threads.
    native_share: bool = False

    def mb_per_worker(self, start_method: str | None) -> float:
        """Megabytes one worker adds under ``start_method``."""
        return self.worker_mb.get(start_method or "", self.worker_mb.get("", 0.0))


def _process_pool(point: Point) -> cf.Executor:
    # the start method always explicit; the initializer keeps the barrier warm() waits on
    workers = point.workers or 1
    ctx = multiprocessing.get_context(point.start_method)
    return cf.ProcessPoolExecutor(
        workers, mp_context=ctx, initializer=workloads.worker_init,
        initargs=(ctx.Barrier(workers), point.work.setup, point.native_threads),
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
                failed = next((exc for f in futs if f.done() and (exc := f.exception())), None)
                if failed is not None:
                    raise RuntimeError(f"an interpreter worker failed to start: "
                                       f"{one_line(failed, root=True)}")
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


# Descriptors and megabytes measured on the project's host (3.11): a ProcessPoolExecutor
# holds 6 descriptors and 2 per worker; a worker's private memory (USS) was 2-3 MB forked,
# 5 MB from a forkserver and 9 MB spawned, its RSS 13-16 MB: the estimates round up.
THREADS = PoolDef("thread pools", "threads", _thread_pool, warm, worker_mb={"": 0.1})
PROCESSES = PoolDef("process pools", "processes", _process_pool, warm, per_start_method=True,
                    forks=True, fds_per_pool=6, fds_per_worker=2,
                    worker_mb={"fork": 4.0, "forkserver": 16.0, "spawn": 16.0},
                    native_share=True)
INTERPRETERS = PoolDef("interpreter pools", "subinterpreters", _interpreter_pool,
                       warm_interpreters, worker_mb={"": 20.0})
