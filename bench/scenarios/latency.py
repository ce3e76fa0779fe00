"""Each call's latency inside a batch: recorded only in the batch a metric asks for.

Standard library only: the measured children import this module, and pool
workers call :func:`timed_remote` through it.  A :class:`Recorder` holds two
preallocated lists of ``perf_counter_ns`` readings per call (when it was
allowed to start: past the model's semaphore or in its worker, and when it
ended) and the batch's submission time; the batch runs its tasks through
:meth:`Recorder.wrap`, which swaps the task function for one that reads the
clock around it.  The models' timed batches never run through a recorder:
the ``calls`` metric (:mod:`bench.scenarios.metrics`) rides on a warm-up
batch, whose time is discarded.

``CLOCK_MONOTONIC`` (``perf_counter_ns`` on Linux) is one clock for every
process of the host, so a pool worker's readings compare with the parent's.
"""

from __future__ import annotations

import asyncio
import functools
import math
import random
import time
from collections.abc import Callable, Sequence
from typing import Any

ns = time.perf_counter_ns
#: A call that starts later than this after its intended send counts as late (ns).
LATE_NS = 1_000_000


def arrival_offsets(arrivals: str, n: int) -> list[int]:
    """The intended send of each of ``n`` calls, nanoseconds after the batch's start, for an
    open-loop ``poisson:RATE`` (exponential gaps of mean 1 / RATE s, seeded: the same in
    every batch and round); empty for "" (a closed loop: every call submitted at once).

    Raises
    ------
    ValueError
        Anything but ``poisson:RATE`` with RATE > 0 calls a second.
    """
    if not arrivals:
        return []
    kind, _, rate = arrivals.partition(":")
    try:
        per_s = float(rate)
    except ValueError:
        per_s = 0.0
    if kind != "poisson" or not per_s > 0:
        raise ValueError(f"arrivals {arrivals!r}: expected poisson:RATE (calls a second > 0)")
    rng, at, out = random.Random(f"{arrivals}/{n}"), 0.0, []
    for _ in range(n):
        out.append(int(at * 1e9))
        at += rng.expovariate(per_s)
    return out


async def _at(func: Callable[..., Any], due: list[int], i: int, *args: Any) -> Any:
    wait = due[i] - ns()
    if wait > 0:
        await asyncio.sleep(wait / 1e9)
    return await func(*args)


def scheduled(func: Callable[..., Any], argv: list[tuple[Any, ...]], offsets: list[int],
              rec: Recorder | None) -> tuple[Callable[..., Any], list[tuple[Any, ...]]]:
    """The batch's coroutine function and arguments, each call sent at its intended time
    (``offsets`` from now); a recorder counts each call's latency from it."""
    base = ns()
    due = [base + o for o in offsets]
    if rec is not None:
        rec.intended = due
    return functools.partial(_at, func, due), [(i, *a) for i, a in enumerate(argv)]


def timed_remote(func: Callable[..., Any], *args: Any) -> tuple[Any, int, int]:
    """``func(*args)`` in a pool worker, with the clock read around it (results cross back)."""
    t0 = ns()
    out = func(*args)
    return out, t0, ns()


async def atimed_remote(func: Callable[..., Any], *args: Any) -> tuple[Any, int, int]:
    """:func:`timed_remote` for a coroutine function (a multi-loop model's workers)."""
    t0 = ns()
    out = await func(*args)
    return out, t0, ns()


async def _atimed(rec: Recorder, func: Callable[..., Any], i: int, *args: Any) -> Any:
    t0 = ns()
    out = await func(*args)
    rec.started[i], rec.ended[i] = t0, ns()
    return out


def _timed(rec: Recorder, func: Callable[..., Any], i: int, *args: Any) -> Any:
    t0 = ns()
    out = func(*args)
    rec.started[i], rec.ended[i] = t0, ns()
    return out


class Recorder:
    """The clock readings of one batch of ``n`` calls (nanoseconds, ``perf_counter_ns``)."""

    def __init__(self, n: int) -> None:
        self.started = [0] * n
        self.ended = [0] * n
        self.submitted = 0
        #: Each call's intended send, open loop (empty: all submitted at ``submitted``).
        self.intended: list[int] = []

    def wrap(self, func: Callable[..., Any], argv: list[tuple[Any, ...]], *, is_async: bool,
             remote: bool) -> tuple[Callable[..., Any], list[tuple[Any, ...]]]:
        """The batch's task function and arguments, timed: a call's index leads its
        arguments (``remote``: the function returns its readings beside its result, which
        :meth:`unwrap` takes apart)."""
        self.submitted = ns()
        if remote:
            return functools.partial(atimed_remote if is_async else timed_remote, func), argv
        timed = _atimed if is_async else _timed
        return functools.partial(timed, self, func), [(i, *a) for i, a in enumerate(argv)]

    def unwrap(self, results: Sequence[Any], remote: bool) -> list[Any]:
        """The tasks' own results (a remote call's readings stored here)."""
        if not remote:
            return list(results)
        for i, (_, t0, t1) in enumerate(results):
            self.started[i], self.ended[i] = t0, t1
        return [r for r, _, _ in results]

    def seconds(self) -> tuple[list[float], list[float]]:
        """Each call's seconds from its start, and from its submission (its intended send,
        open loop), sorted."""
        run = sorted((e - s) / 1e9 for s, e in zip(self.started, self.ended, strict=True))
        sent = self.intended or [self.submitted] * len(self.ended)
        since = sorted((e - t) / 1e9 for e, t in zip(self.ended, sent, strict=True))
        return run, since

    def late(self) -> int:
        """Calls that started more than :data:`LATE_NS` after their intended send."""
        return sum(s - t > LATE_NS for s, t in zip(self.started, self.intended, strict=False))

    def wall(self) -> float:
        """Seconds from the submission to the last call's end."""
        return (max(self.ended) - self.submitted) / 1e9 if self.ended else 0.0


def percentile(ordered: Sequence[float], q: float) -> float:
    """The ``q`` (0-1) order statistic of sorted values (nearest rank); NaN for none."""
    if not ordered:
        return math.nan
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def most_at_once(starts: Sequence[int], ends: Sequence[int]) -> int:
    """The most intervals ``[start, end)`` open at one moment (calls in flight at once)."""
    events = sorted([(s, 1) for s in starts] + [(e, -1) for e in ends])
    most = now = 0
    for _, step in events:
        now += step
        most = max(most, now)
    return most
