"""The host's CPU speed now: the time of one fixed task on each core (standard library and
``cpu_tasks``).

A shared host's cores do not run at one speed.  On the project's 2-core host
the fixed task below takes about 1.0 ms or about 1.4 ms on a core, each core
flipping between the two on its own, in stretches of 0.1 s to tens of seconds
(another tenant on the physical core's sibling, most likely): at a given
moment one core may run 1.4x slower than the other, and a process's speed
depends on which core the kernel put it on.  A round's times follow it, and a
probe before and after the sweep cannot see it.  So every measured child
(:mod:`bench.measure.child`) takes a reading on each of its cores just before
its timed sweeps and again just after, outside every timed value; the noise
probes (:mod:`bench.measure.noise`) use the same task.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import cpu_tasks

T = TypeVar("T")

#: Iterations of ``cpu_tasks.cpu`` in the fixed task (about 1 ms on the project's host).
CALIBRATION_SIZE = 20_000
#: Runs of the fixed task per core in one reading.
READING_RUNS = 3
#: Cores read at most (spread over the usable ones), so that a large host's reading stays short.
MAX_CORES = 8


def task_times(window: float = 0.0, runs: int = 1) -> list[float]:
    """Seconds of each run of the fixed task, back to back: ``runs`` runs, then more until
    ``window`` seconds have passed."""
    times: list[float] = []
    end = time.perf_counter() + window
    while len(times) < runs or time.perf_counter() < end:
        t0 = time.perf_counter()
        cpu_tasks.cpu(0, CALIBRATION_SIZE)
        times.append(time.perf_counter() - t0)
    return times


def reading(runs: int = READING_RUNS) -> float:
    """The speed of the core this thread runs on now: the median seconds of ``runs`` runs."""
    return statistics.median(task_times(runs=runs))


def cores() -> list[int]:
    """The usable cores to read, at most :data:`MAX_CORES` spread over them ([] without
    affinity control)."""
    if not hasattr(os, "sched_getaffinity"):
        return []
    allowed = sorted(os.sched_getaffinity(0))
    return allowed[:: max(1, len(allowed) // MAX_CORES)][:MAX_CORES]


def current_core(stat: Path = Path("/proc/thread-self/stat")) -> int | None:
    """The core the calling thread last ran on (Linux ``/proc``), else None."""
    try:
        fields = stat.read_text().rsplit(")", 1)[1].split()
        return int(fields[36])  # field 39, "processor"; fields count from 3 after the name
    except (OSError, IndexError, ValueError):
        return None


def on_each_core(read: Callable[[], T]) -> list[T]:
    """``read()`` once on each of :func:`cores`, the calling thread pinned to it in turn.

    The core the thread was on comes last, and the thread's affinity is
    restored afterwards, so that it goes on where the kernel had put it
    rather than on whichever core was read last (other threads and processes
    are untouched: on Linux an affinity set through pid 0 is the calling
    thread's).  Without affinity control, one ``read()`` wherever the thread runs.
    """
    which = cores()
    if not which:
        return [read()]
    allowed = os.sched_getaffinity(0)
    here = current_core()
    order = [c for c in which if c != here] + ([here] if here in allowed else [])
    out: list[T] = []
    try:
        for cpu in order:
            os.sched_setaffinity(0, {cpu})
            if cpu in which:
                out.append(read())
    except OSError:  # a core taken away meanwhile: what was read stands
        pass
    finally:
        os.sched_setaffinity(0, allowed)
    return out or [read()]


def core_readings(runs: int = READING_RUNS) -> list[float]:
    """One :func:`reading` per usable core (see :func:`on_each_core`)."""
    return on_each_core(lambda: reading(runs))


#: The moments of a child's two readings: just before its timed sweeps, just after them.
WHEN = ("start", "end")


def metadata(when: str, readings: list[float]) -> dict[str, float]:
    """A reading of every core as the run metadata a child writes (``when``: one of
    :data:`WHEN`): ``speed_{when}_s``, the median core's seconds, and
    ``speed_{when}_spread``, the slowest core's over the fastest's (1.0 with one core).
    :func:`bench.results.store.speed_readings` reads them back."""
    return {f"speed_{when}_s": statistics.median(readings),
            f"speed_{when}_spread": max(readings) / min(readings)}
