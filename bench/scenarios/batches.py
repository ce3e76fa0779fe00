"""How one batch runs its tasks: the strategies the models (:mod:`bench.scenarios.models`)
are made of, each a coroutine ``(func, argv, loop) -> results`` run on the model's loop.

Standard library plus :mod:`bench.scenarios.workloads` only: the measured children
import this module, and a multi-loop model's pool workers run :func:`loop_chunk`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

#: A batch as one coroutine: (function, every task's arguments, loop) -> results.
Strategy = Callable[[Callable[..., Any], list[tuple[Any, ...]], asyncio.AbstractEventLoop],
                    Awaitable[list[Any]]]
Argv = list[tuple[Any, ...]]


def _coros(func: Callable[..., Any], argv: Argv) -> list[Coroutine[Any, Any, Any]]:
    return [func(*a) for a in argv]


async def await_each(func: Callable[..., Any], argv: Argv,
                     loop: asyncio.AbstractEventLoop) -> list[Any]:
    """Await each coroutine in turn."""
    return [await c for c in _coros(func, argv)]


async def gather(func: Callable[..., Any], argv: Argv,
                 loop: asyncio.AbstractEventLoop) -> list[Any]:
    """``asyncio.gather`` of every coroutine."""
    return list(await asyncio.gather(*_coros(func, argv)))


async def create_task(func: Callable[..., Any], argv: Argv,
                      loop: asyncio.AbstractEventLoop) -> list[Any]:
    """A task for every coroutine, then await each."""
    tasks = [asyncio.create_task(c) for c in _coros(func, argv)]
    return [await t for t in tasks]


async def taskgroup(func: Callable[..., Any], argv: Argv,
                    loop: asyncio.AbstractEventLoop) -> list[Any]:
    """Every coroutine in one ``asyncio.TaskGroup``."""
    async with asyncio.TaskGroup() as tg:  # type: ignore[attr-defined,unused-ignore]
        tasks = [tg.create_task(c) for c in _coros(func, argv)]
    return [t.result() for t in tasks]


def bounded(limit: int) -> Strategy:
    """``asyncio.gather`` of every coroutine, ``limit`` at a time past one
    ``asyncio.Semaphore`` (made in the batch: a semaphore binds to its loop)."""
    async def run(func: Callable[..., Any], argv: Argv,
                  loop: asyncio.AbstractEventLoop) -> list[Any]:
        gate = asyncio.Semaphore(limit)

        async def one(*a: Any) -> Any:
            async with gate:
                return await func(*a)

        return list(await asyncio.gather(*(one(*a) for a in argv)))

    return run


async def blocking(func: Callable[..., Any], argv: Argv,
                   loop: asyncio.AbstractEventLoop) -> list[Any]:
    """A blocking call inside each coroutine, run with gather (the anti-pattern)."""
    async def inside(*a: Any) -> Any:
        return func(*a)  # blocks the event loop

    return list(await asyncio.gather(*(inside(*a) for a in argv)))


async def to_thread(func: Callable[..., Any], argv: Argv,
                    loop: asyncio.AbstractEventLoop) -> list[Any]:
    """``asyncio.to_thread`` for every task (the loop's default executor)."""
    return list(await asyncio.gather(*(asyncio.to_thread(func, *a) for a in argv)))


def in_executor(executor: cf.Executor) -> Strategy:
    """``run_in_executor`` on ``executor`` for every task."""
    async def run(func: Callable[..., Any], argv: Argv,
                  loop: asyncio.AbstractEventLoop) -> list[Any]:
        futs = [loop.run_in_executor(executor, func, *a) for a in argv]
        return list(await asyncio.gather(*futs))

    return run


def loops_in_workers(executor: cf.Executor, workers: int) -> Strategy:
    """The T coroutines split into ``workers`` shares, in order, each gathered on the event
    loop of one pool worker (:func:`loop_chunk`): W event loops in W processes."""
    async def run(func: Callable[..., Any], argv: Argv,
                  loop: asyncio.AbstractEventLoop) -> list[Any]:
        n = min(workers, len(argv))  # as even as they go: T = 9, W = 4 is 2, 2, 2, 3
        shares = [argv[k * len(argv) // n:(k + 1) * len(argv) // n] for k in range(n)]
        futs = [loop.run_in_executor(executor, loop_chunk, func, share) for share in shares]
        return [r for part in await asyncio.gather(*futs) for r in part]

    return run


_worker_loop: asyncio.AbstractEventLoop | None = None


def loop_chunk(func: Callable[..., Any], argv: Argv) -> list[Any]:
    """In a pool worker: gather ``func(*a)`` for each ``a`` on the worker's own event loop
    (made once, so that a client the workload keeps per loop lives across batches)."""
    global _worker_loop
    if _worker_loop is None:
        _worker_loop = asyncio.new_event_loop()
    return _worker_loop.run_until_complete(gather(func, argv, _worker_loop))
