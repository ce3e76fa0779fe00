"""Settle the child's other threads before a value's clock starts.

A group's points share one child: its own threads (thread pools, the loop's
executor, the native thread pools of BLAS or OpenMP that the sequential and
threaded models call) and every worker process of its open pools (each with
native pools of its own).  Native pools keep their threads spinning for a
while after each call before they sleep (OpenBLAS about 0.1 s here): a batch
started then would share the cores with the threads of the point measured
just before it.  So before each value, :func:`settle` waits until no thread
of the child but the measuring one, and no thread of any open pool's
workers, is running or runnable (state ``R`` in ``/proc``).  An idle pool's
threads and workers sleep, so on work without native pools this returns at
the first look.

Standard library only: the measured child imports it.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable
from pathlib import Path

#: Seconds between two looks at the threads' states while some still run.
POLL_S = 0.001
#: Seconds to wait at most for the threads to settle (a thread that never sleeps:
#: the value is taken anyway, and counted as unsettled).
TIMEOUT_S = 1.0


def _state(stat: Path) -> str:
    try:
        text = stat.read_text()
    except OSError:  # the thread ended meanwhile
        return ""
    return text.rpartition(")")[2].split(maxsplit=1)[0]


def running(pids: Iterable[int], proc: Path = Path("/proc")) -> list[int]:
    """The threads of ``pids`` (this process's included) that run or wait for a core.

    The calling thread is left out.  Threads of processes that ended are skipped.
    """
    me = threading.get_native_id()
    busy: list[int] = []
    for pid in {os.getpid(), *pids}:
        try:
            tasks = list((proc / str(pid) / "task").iterdir())
        except OSError:
            continue
        busy.extend(int(t.name) for t in tasks
                    if int(t.name) != me and _state(t / "stat") == "R")
    return busy


def settle(pids: Iterable[int], timeout: float = TIMEOUT_S) -> tuple[float, bool]:
    """Wait until no other thread of this process or of ``pids`` runs.

    Returns
    -------
    waited, settled
        Seconds spent waiting, and whether the threads did settle within ``timeout``
        (False: some thread still ran when it ran out).
    """
    pids = tuple(pids)
    t0 = time.perf_counter()
    while running(pids):
        if time.perf_counter() - t0 > timeout:
            return time.perf_counter() - t0, False
        time.sleep(POLL_S)
    return time.perf_counter() - t0, True
