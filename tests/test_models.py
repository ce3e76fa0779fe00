"""Execution models: right results for every valid workload, warm pools, cold starts."""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import sys
import threading
import time

import pytest

import cpu_tasks
from bench.scenarios import models
from bench.scenarios.models import (
    MODELS,
    Point,
    cold_start,
    expected_results,
    make_executor,
)
from bench.scenarios.pools import warm
from bench.scenarios.workloads import BUILTINS as ALL

#: The built-ins that run without a loopback service (the network clients: test_net.py).
BUILTINS = {n: w for n, w in ALL.items() if not w.service}

#: Tiny task sizes: every model x workload pair runs in milliseconds.
SIZES = {"cpu": 2_000.0, "hash": 1.0, "compress": 16.0, "sleep": 0.001, "async_sleep": 0.001}
TASKS = 5
WORKERS = 2
START_METHODS = multiprocessing.get_all_start_methods()
SYNC = [w for w in BUILTINS if not BUILTINS[w].is_async]


def point(workload: str, model: str, *, tasks: int = TASKS, start_method: str | None = None,
          workers: int = WORKERS, size: float | None = None, metric: str = "steady") -> Point:
    pooled = MODELS[model].takes_workers
    return Point(workload, model, tasks, workers if pooled else None, start_method,
                 SIZES[workload] if size is None else size, metric)


def run_batches(p: Point, batches: int = 2) -> tuple[list[list[object]], float]:
    """Open the model, run ``batches`` batches, close; results and the last batch's time."""
    batch = MODELS[p.model].open(p)
    try:
        results = []
        for _ in range(batches):
            t0 = time.perf_counter()
            results.append(batch.run())
            elapsed = time.perf_counter() - t0
    finally:
        batch.close()
    return results, elapsed


HERE = sys.version_info[:2]
VALID = [(m, w) for m in MODELS for w in BUILTINS
         if m != "process_pool" and not MODELS[m].offered(HERE) and MODELS[m].accepts(BUILTINS[w])]


@pytest.mark.parametrize(("model", "workload"), VALID, ids=[f"{w}-{m}" for m, w in VALID])
def test_model_returns_the_sequential_results(model: str, workload: str) -> None:
    p = point(workload, model)
    want = expected_results(p)
    results, _ = run_batches(p)
    assert results == [want, want]  # the opened model is reused batch after batch


@pytest.mark.parametrize("start_method", START_METHODS)
def test_process_pool_returns_the_sequential_results(start_method: str) -> None:
    for workload in SYNC:
        p = point(workload, "process_pool", start_method=start_method)
        results, _ = run_batches(p)
        assert results == [expected_results(p)] * 2, workload


def test_validity_rules_of_the_models() -> None:
    for name, model in MODELS.items():
        for workload in BUILTINS.values():
            accepted = model.accepts(workload)
            if name == "sequential":
                assert accepted
            elif ((name.startswith("asyncio_") and name != "asyncio_blocking")
                  or name == "multi_loop"):  # W event loops in W processes
                assert accepted == workload.is_async, (name, workload.name)
            else:
                assert accepted == (not workload.is_async), (name, workload.name)


@pytest.mark.parametrize("workload", list(BUILTINS))
def test_expected_results_are_distinct_per_task(workload: str) -> None:
    # a model that drops, repeats or reorders tasks cannot match them
    results = expected_results(point(workload, "sequential", tasks=6))
    assert len(results) == 6
    assert len(set(results)) == 6


def test_workloads_answer_like_the_seed() -> None:
    assert cpu_tasks.cpu(3, 1000) == (3, cpu_tasks.cpu_bound(3, 1000))
    assert cpu_tasks.cpu_bound(3, 1000) == sum((i * i) % 4 for i in range(1000))
    assert cpu_tasks.blocking_sleep(7, 0.0) == 7
    assert cpu_tasks.hash_rounds(1, 1) != cpu_tasks.hash_rounds(2, 1)


# ------------------------------------------------------------ concurrency shape
# Sleeps guarantee lower bounds; a busy host only adds delay, so upper bounds compare
# models measured here and now (the fastest of a few batches), never a fixed time.
def fastest_batch(p: Point, batches: int = 3) -> float:
    """Seconds of the fastest of ``batches`` batches of one opened model."""
    batch = MODELS[p.model].open(p)
    try:
        times = []
        for _ in range(batches):
            t0 = time.perf_counter()
            batch.run()
            times.append(time.perf_counter() - t0)
    finally:
        batch.close()
    return min(times)


def test_gather_overlaps_async_sleeps() -> None:
    gathered = fastest_batch(point("async_sleep", "asyncio_gather", tasks=8, size=0.05))
    awaited = fastest_batch(point("async_sleep", "asyncio_await", tasks=8, size=0.05), 1)
    assert gathered >= 0.05
    assert awaited >= 8 * 0.05
    assert gathered < awaited / 2  # ideal 1/8: the sleeps overlap


def test_await_each_and_blocking_calls_run_one_after_another() -> None:
    _, elapsed = run_batches(point("async_sleep", "asyncio_await", tasks=4, size=0.03), 1)
    assert elapsed >= 4 * 0.03
    _, elapsed = run_batches(point("sleep", "asyncio_blocking", tasks=4, size=0.03), 1)
    assert elapsed >= 4 * 0.03


def test_thread_pool_waves_follow_the_worker_count() -> None:
    # 4 sleeps of 50 ms: four waves on 1 thread, two on 2 threads, one on 4 threads
    t = {w: fastest_batch(point("sleep", "thread_pool", tasks=4, workers=w, size=0.05))
         for w in (1, 2, 4)}
    assert t[1] >= 0.2
    assert t[2] >= 0.1
    assert t[4] >= 0.05
    assert t[2] < t[1]
    assert t[2] - t[4] < 0.1  # one more wave than one, not two more (that would be 0.1 s)


# ------------------------------------------------------------------- warm-up
def test_warm_thread_pool_starts_every_thread() -> None:
    executor = make_executor(point("sleep", "thread_pool", workers=3))
    try:
        ids = warm(executor, 3)
    finally:
        executor.shutdown(wait=True)
    assert len(ids) == 3
    pids = {i.split(":")[0] for i in ids}
    threads = {i.split(":")[1] for i in ids}
    assert pids == {str(os.getpid())}
    assert len(threads) == 3
    assert str(threading.get_ident()) not in threads


@pytest.mark.parametrize("start_method", START_METHODS)
def test_warm_process_pool_starts_every_process(start_method: str) -> None:
    executor = make_executor(point("cpu", "process_pool", start_method=start_method, workers=2))
    try:
        ids = warm(executor, 2)
        assert isinstance(executor, cf.ProcessPoolExecutor)
        # the pool used the requested start method
        method = executor._mp_context.get_start_method()
        pids = {int(i.split(":")[0]) for i in ids}
        # after warm-up the batch runs on the processes that already exist
        ran_on = {executor.submit(cpu_tasks.worker_id).result() for _ in range(6)}
    finally:
        executor.shutdown(wait=True)
    assert method == start_method
    assert len(pids) == 2
    assert os.getpid() not in pids
    assert ran_on <= pids


def test_warm_notices_missing_workers() -> None:
    executor = cf.ThreadPoolExecutor(1, initializer=cpu_tasks.barrier_init,
                                     initargs=(threading.Barrier(1),))
    try:
        with pytest.raises(RuntimeError, match="reached 1 workers, expected 2"):
            warm(executor, 2)
    finally:
        executor.shutdown(wait=True)


def test_barrier_wait_needs_the_initializer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cpu_tasks, "_barrier", None)
    with pytest.raises(RuntimeError, match="barrier_init"):
        cpu_tasks.barrier_wait(0.1)


# ---------------------------------------------------------------- cold start
@pytest.mark.parametrize(("model", "start_method"),
                         [("thread_pool", None), *(("process_pool", m) for m in START_METHODS)])
def test_cold_start_times_a_fresh_pool_and_shuts_it_down(
        monkeypatch: pytest.MonkeyPatch, model: str, start_method: str | None) -> None:
    """The pool's creation is inside the clock, and the pool is gone when it returns."""
    made: list[cf.Executor] = []

    def slow_to_make(p: Point) -> cf.Executor:
        time.sleep(0.05)  # a pool that takes 50 ms to create
        made.append(real_make(p))
        return made[-1]

    real_make = models.make_executor
    monkeypatch.setattr(models, "make_executor", slow_to_make)
    p = point("cpu", model, start_method=start_method, metric="cold")
    assert cold_start(p) >= 0.05
    assert len(made) == 1
    with pytest.raises(RuntimeError, match="shutdown"):
        made[0].submit(cpu_tasks.worker_id)


def test_cold_start_includes_the_first_batch() -> None:
    p = point("sleep", "thread_pool", tasks=2, workers=2, size=0.05, metric="cold")
    assert cold_start(p) >= 0.05
