"""Workloads measured by concbench, and the helpers pool workers run.

Every function here is module level, picklable and deterministic, so that
``spawn`` and ``forkserver`` pool workers (which import this module by name)
can run it.  The module imports only the standard library.

Each workload takes ``(i, size)``: ``i`` is the task index (it makes every
task's answer distinct, so a model that drops or repeats tasks is caught) and
``size`` is the task size in the workload's own unit (loop iterations, hash
rounds or seconds).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import os
import threading
import time
import zlib
from typing import Any

#: Iterations of the seed notebook's ``cpu_bound`` loop.
SEED_ITERATIONS = 2_000_000

# 1 MiB buffer hashed by ``hash_rounds``; hashlib drops the GIL for buffers
# over 2047 bytes, so threads can run it on several cores at once.
_BUFFER = bytes(range(256)) * 4096



@functools.cache
def _text() -> bytes:
    """1 MiB of text-like bytes (numbers and words, some repetition) for ``compress``.

    Made on first use, not at import: every measured child and pool worker
    imports this module, and building it costs 50 ms.  zlib releases the GIL
    while it compresses.
    """
    text = b" ".join(b"%d:%s" % (i * 7919 % 104729, b"abcdefghij"[i % 10:])
                     for i in range(100_000))
    return (text * (1 + (1 << 20) // len(text)))[: 1 << 20]


def cpu_bound(n: int, iterations: int = SEED_ITERATIONS) -> int:
    """The seed notebook's CPU loop, with the iteration count as a parameter.

    ``cpu_bound(n)`` gives the seed's answer for the same ``n``.
    """
    s = 0
    for i in range(iterations):
        s += (i * i) % (n + 1)
    return s


def cpu(i: int, size: float) -> tuple[int, int]:
    """Pure-Python CPU work holding the GIL: ``(i, cpu_bound(i, size))``.

    ``cpu_bound`` alone gives equal answers for some indices (1 and 3, say),
    so the index travels with the answer.
    """
    return i, cpu_bound(i, int(size))


def hash_rounds(i: int, size: float) -> str:
    """CPU work that releases the GIL: SHA-256 over ``size`` MiB."""
    h = hashlib.sha256(i.to_bytes(8, "little"))
    for _ in range(max(1, int(size))):
        h.update(_BUFFER)
    return h.hexdigest()


def compress(i: int, size: float) -> tuple[int, int]:
    """CPU work in C that releases the GIL: zlib over ``size`` KiB of text-like data.

    Returns ``(i, total compressed bytes)``.
    """
    left, total, r, text = max(1, int(size)) * 1024, 0, 0, _text()
    while left > 0:
        chunk = text[: min(left, len(text))]
        total += len(zlib.compress(i.to_bytes(8, "little") + r.to_bytes(4, "little") + chunk, 6))
        left, r = left - len(chunk), r + 1
    return i, total


def blocking_sleep(i: int, size: float) -> int:
    """Blocking I/O stand-in: ``time.sleep(size)``, returns ``i``."""
    time.sleep(size)
    return i


async def async_sleep(i: int, size: float) -> int:
    """Non-blocking I/O stand-in: ``await asyncio.sleep(size)``, returns ``i``."""
    await asyncio.sleep(size)
    return i


def noop(i: int) -> int:
    """An empty task: what a model's dispatch of one task costs (the ``dispatch`` metric)."""
    return i


async def anoop(i: int) -> int:
    """An empty coroutine: :func:`noop` for the asyncio models."""
    return i


# Pool warm-up: one barrier task per worker proves that all W workers exist.
_barrier: Any = None


def barrier_init(barrier: Any) -> None:
    """Pool initializer: keep the barrier the warm-up tasks wait on."""
    global _barrier
    _barrier = barrier


def barrier_wait(timeout: float) -> str:
    """Wait until every worker holds a warm-up task; return ``"pid:thread"``.

    The barrier only opens once W tasks wait on it at the same time, so W
    distinct workers must exist when it returns.
    """
    if _barrier is None:
        raise RuntimeError("barrier_init was not run in this worker")
    _barrier.wait(timeout)
    return f"{os.getpid()}:{threading.get_ident()}"


def queue_gate(arrived: Any, release: Any, timeout: float) -> str:
    """:func:`barrier_wait` across interpreters: report in, wait for the release; ``"pid:id"``.

    ``arrived`` and ``release`` are ``concurrent.interpreters`` queues (3.14+): the
    caller releases the W tasks only once W of them have reported in.
    """
    from concurrent import interpreters  # type: ignore[attr-defined,unused-ignore]

    me = f"{os.getpid()}:{interpreters.get_current().id}"
    arrived.put(me)
    release.get(timeout=timeout)
    return me


def worker_id(_: int = 0) -> int:
    """Process id of the worker running the call (for tests and checks)."""
    return os.getpid()
