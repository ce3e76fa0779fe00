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

A reading reads at most :data:`MAX_CORES` (8) cores, whatever the host's
size: at 3 runs of a ~1 ms task a core, about 25 ms a reading, where every
core of a 128-core host would take 2 x 128 x 3 ms a child.  The cores read
are spread evenly over the usable set, from an offset that is the process
id (:func:`cores`): one child reads the same cores before and after its
sweeps, and the next children, whose ids differ, read others, so that over a
run's children every core is read.  The child writes which core gave which
time (``speed_{when}_cores``), so that the noise verdict can judge each core
against its own usual speed: a host whose cores differ for good (performance
and efficiency cores) is the host, not noise.
"""

from __future__ import annotations

import math
import os
import statistics
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

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


def spread_over(allowed: Iterable[int], offset: int, most: int = MAX_CORES) -> list[int]:
    """At most ``most`` of the cores ``allowed``, spread evenly over them from ``offset``.

    The ``k = min(most, n)`` cores at positions ``(offset + i * n // k) % n`` of the
    ``n`` sorted cores, in core order: offsets ``0 .. n - 1`` visit every core.
    """
    cpus = sorted(allowed)
    n = len(cpus)
    k = min(most, n)
    return sorted({cpus[(offset + i * n // k) % n] for i in range(k)})


def cores(offset: int | None = None) -> list[int]:
    """The usable cores to read, at most :data:`MAX_CORES` spread over them ([] without
    affinity control), from ``offset`` (None: this process's id, see :func:`spread_over`)."""
    if not hasattr(os, "sched_getaffinity"):
        return []
    return spread_over(os.sched_getaffinity(0), os.getpid() if offset is None else offset)


def current_core(stat: Path = Path("/proc/thread-self/stat")) -> int | None:
    """The core the calling thread last ran on (Linux ``/proc``), else None."""
    try:
        fields = stat.read_text().rsplit(")", 1)[1].split()
        return int(fields[36])  # field 39, "processor"; fields count from 3 after the name
    except (OSError, IndexError, ValueError):
        return None


#: The core of a reading taken wherever the thread ran (no affinity control).
UNKNOWN_CORE = -1


def on_cores(read: Callable[[], T]) -> dict[int, T]:
    """``read()`` once on each of :func:`cores`, the calling thread pinned to it in turn:
    core -> what it read, in the order read.

    The core the thread was on comes last, and the thread's affinity is
    restored afterwards, so that it goes on where the kernel had put it
    rather than on whichever core was read last (other threads and processes
    are untouched: on Linux an affinity set through pid 0 is the calling
    thread's).  Without affinity control, one ``read()`` wherever the thread
    runs, under :data:`UNKNOWN_CORE`.
    """
    which = cores()
    if not which:
        return {UNKNOWN_CORE: read()}
    allowed = os.sched_getaffinity(0)
    here = current_core()
    order = [c for c in which if c != here] + ([here] if here in allowed else [])
    out: dict[int, T] = {}
    try:
        for cpu in order:
            os.sched_setaffinity(0, {cpu})
            if cpu in which:
                out[cpu] = read()
    except OSError:  # a core taken away meanwhile: what was read stands
        pass
    finally:
        os.sched_setaffinity(0, allowed)
    return out or {UNKNOWN_CORE: read()}


def on_each_core(read: Callable[[], T]) -> list[T]:
    """What :func:`on_cores` read, in the order read, without the cores."""
    return list(on_cores(read).values())


def core_readings(runs: int = READING_RUNS) -> dict[int, float]:
    """One :func:`reading` per core of :func:`cores` (see :func:`on_cores`): core -> seconds,
    in the order read."""
    return on_cores(lambda: reading(runs))


#: The moments of a child's two readings: just before its timed sweeps, just after them.
WHEN = ("start", "end")


def metadata(when: str, readings: Mapping[int, float]) -> dict[str, Any]:
    """A reading of every core (core -> seconds, :func:`core_readings`) as the run metadata
    a child writes (``when``: one of :data:`WHEN`): ``speed_{when}_s``, the median core's
    seconds, ``speed_{when}_spread``, the slowest core's over the fastest's (1.0 with one
    core), and ``speed_{when}_cores``, each core's seconds (``"0:0.00101,8:0.00163"``:
    core, colon, seconds; comma-separated).  :func:`bench.results.store.speed_readings`
    reads the first two back, :func:`core_seconds` the third."""
    times = list(readings.values())
    return {f"speed_{when}_s": statistics.median(times),
            f"speed_{when}_spread": max(times) / min(times),
            f"speed_{when}_cores": ",".join(f"{c}:{t:.6g}" for c, t in readings.items())}


def core_seconds(meta: Mapping[str, Any], when: str) -> dict[int, float]:
    """Each core's seconds of the reading ``when`` in a run's metadata (see
    :func:`metadata`); {} for a run without them (files from before these keys) or with
    a value that does not parse."""
    text = meta.get(f"speed_{when}_cores")
    if not isinstance(text, str) or not text:
        return {}
    out: dict[int, float] = {}
    for item in text.split(","):
        core, _, seconds = item.partition(":")
        try:
            c, t = int(core), float(seconds)
        except ValueError:
            return {}
        if not (t > 0 and math.isfinite(t)):
            return {}
        out[c] = t
    return out
