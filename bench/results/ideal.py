"""The model of the ideal: the best time any schedule could reach, per resource and overlap.

Every stage that compares a measurement with the ideal reads this module:
the summary's ``ideal_s``, ``efficiency``, ``karp_flatt`` and the Amdahl fit,
the charts' ideal lines and heatmap scale, the findings, and comparisons.

A batch runs T tasks of one task's time d each.  What the ideal is depends on
two spec fields and the measuring host, never on a workload's or model's name:

- the workload's resource (:data:`bench.scenarios.workloads.RESOURCES`): ``cpu_gil``
  (Python bytecode, holding the GIL), ``cpu_nogil`` (CPU work that releases
  the GIL), ``blocking_wait`` (a blocking call that waits), ``async_wait``
  (an awaitable that waits without blocking the loop);
- the model's overlap (:data:`OVERLAPS`): ``none``, ``event_loop``,
  ``threads`` or ``processes``;
- the measuring interpreter (GIL on or off) and its C usable cores.

The rules (ideal time; the ideal parallelism is T*d / ideal time):

============== ============================= ==========================================
overlap        resource                      ideal time
============== ============================= ==========================================
none           any                           T*d (one after another)
event_loop     async_wait                    d (all wait at once)
event_loop     other                         T*d (nothing yields to the loop)
threads        blocking_wait                 ceil(T/W)*d (waves of W waits, no core)
threads        cpu_nogil; cpu_gil, no GIL    CPU-limited (below)
threads        cpu_gil with the GIL          T*d (one thread runs Python at a time)
processes      blocking_wait                 ceil(T/W)*d
processes      cpu_gil, cpu_nogil            CPU-limited (below)
threads or     async_wait                    NaN (not a combination the grid makes)
processes
============== ============================= ==========================================

CPU-limited, W workers on C cores: ``max(ceil(T/W), T/C) * d``.  This is a
true lower bound on any schedule: some worker runs at least ceil(T/W) tasks,
one after another, and the C cores have T*d of work to do.  It is also
reachable (preemptive scheduling of the workers' task chains on C cores,
McNaughton's rule), so no measurement can beat it except by noise or by a
task that runs faster in the worker than in the baseline.  For W <= C it is
ceil(T/W)*d (waves of W); for W > C the cores time-slice and it tends to
T*d/C.  The ideal parallelism is therefore ``min(T / ceil(T/W), C)``.

Efficiency = ideal time / measured time (equivalently measured speedup /
ideal parallelism): 1 at best everywhere, whatever the resource.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from bench.scenarios.models import MODELS, OVERLAPS
from bench.scenarios.workloads import BUILTINS, RESOURCES

#: The values of :attr:`bench.scenarios.workloads.Workload.resource`.
_CPU = ("cpu_gil", "cpu_nogil")

def _check(resource: str, overlap: str, tasks: int, cores: int) -> None:
    if resource not in RESOURCES:
        raise ValueError(f"unknown resource {resource!r}; expected one of {', '.join(RESOURCES)}")
    if overlap not in OVERLAPS:
        raise ValueError(f"unknown overlap {overlap!r}; expected one of {', '.join(OVERLAPS)}")
    if tasks < 1 or cores < 1:
        raise ValueError(f"tasks ({tasks}) and cores ({cores}) must be at least 1")


def _workers(workers: int | None) -> int:
    if workers is None:
        return 1
    if workers < 1:
        raise ValueError(f"workers ({workers}) must be at least 1")
    return int(workers)


def _waves(tasks: int, workers: int) -> float:
    """T / ceil(T/W): the parallelism of T equal tasks run in waves of W."""
    return tasks / math.ceil(tasks / workers)


def runs_in_parallel(resource: str, overlap: str, *, gil: bool) -> bool:
    """Whether the model's workers can run the resource's CPU work at the same time.

    True for CPU work (``cpu_gil``, ``cpu_nogil``) on processes, and on
    threads when the work releases the GIL or the interpreter has none;
    False otherwise (waits need no core; an event loop runs one coroutine).
    """
    if resource not in _CPU:
        return False
    if overlap == "processes":
        return True
    return overlap == "threads" and (resource == "cpu_nogil" or not gil)


def ideal_parallelism(resource: str, overlap: str, *, tasks: int, workers: int | None,
                      cores: int, gil: bool) -> float:
    """The ideal speedup over running the T tasks one after another.

    Parameters
    ----------
    resource
        What a task spends its time on: one of :data:`RESOURCES`.
    overlap
        What runs tasks at once: one of :data:`OVERLAPS`.
    tasks
        T, tasks per batch (>= 1).
    workers
        W, the pool's workers; ``None`` for models without workers (counts as 1).
    cores
        C, usable cores of the measuring host (>= 1).
    gil
        Whether the measuring interpreter runs with the GIL.

    Returns
    -------
    float
        T*d / ideal time, between 1 and T; NaN for a combination the grid
        never makes (an async wait run by threads or processes).

    Raises
    ------
    ValueError
        For an unknown resource or overlap, or counts below 1.

    Examples
    --------
    >>> ideal_parallelism("cpu_gil", "processes", tasks=16, workers=4, cores=2, gil=True)
    2.0
    >>> ideal_parallelism("blocking_wait", "threads", tasks=5, workers=4, cores=2, gil=True)
    2.5
    """
    _check(resource, overlap, tasks, cores)
    w = _workers(workers)
    if overlap == "none":
        return 1.0
    if overlap == "event_loop":  # W: a limit on the calls in flight
        return (_waves(tasks, w) if workers else float(tasks)) if resource == "async_wait" \
            else 1.0
    if resource == "async_wait":  # W loops in W processes overlap all their waits
        return float(tasks) if overlap == "processes" else math.nan
    if resource == "blocking_wait":
        return _waves(tasks, w)
    if not runs_in_parallel(resource, overlap, gil=gil):
        return 1.0
    return min(_waves(tasks, w), float(cores))


def ideal_time(resource: str, overlap: str, *, tasks: int, workers: int | None, cores: int,
               gil: bool, d: float) -> float:
    """The best batch time any schedule could reach: T*d / :func:`ideal_parallelism`.

    Parameters
    ----------
    resource, overlap, tasks, workers, cores, gil
        As for :func:`ideal_parallelism`.
    d
        One task's time in seconds (the sequential median / T).

    Returns
    -------
    float
        Seconds; NaN when ``d`` is not > 0 (or not a number) or the
        combination has no ideal.
    """
    p = ideal_parallelism(resource, overlap, tasks=tasks, workers=workers, cores=cores, gil=gil)
    if not d > 0 or math.isnan(p):
        return math.nan
    return tasks * d / p


def efficiency(measured_s: float, ideal_s: float) -> float:
    """Ideal time / measured time: 1 at best; NaN when either is not > 0."""
    if not measured_s > 0 or not ideal_s > 0:
        return math.nan
    return ideal_s / measured_s


def scaling_parallelism(resource: str, overlap: str, *, tasks: int, workers: int | None,
                        cores: int, gil: bool) -> int | None:
    """p = min(W, C, T) where Karp-Flatt and the Amdahl fit mean something, else None.

    They mean something where the ideal speedup is p itself: CPU-bound work
    run by workers that truly run in parallel (processes; threads on
    ``cpu_nogil`` or without the GIL), W <= C, p >= 2 and T a multiple of p
    (whole waves).  :func:`scaling_reason` says why not elsewhere.

    Parameters
    ----------
    resource, overlap, tasks, workers, cores, gil
        As for :func:`ideal_parallelism`.

    Returns
    -------
    int or None
        p, or None where a serial fraction would measure the model of the
        ideal rather than the code.
    """
    return None if scaling_reason(resource, overlap, tasks=tasks, workers=workers,
                                  cores=cores, gil=gil) else min(_workers(workers), cores, tasks)


def scaling_reason(resource: str, overlap: str, *, tasks: int, workers: int | None,
                   cores: int, gil: bool) -> str:
    """Why Karp-Flatt and the Amdahl fit do not apply to a point ("" where they do).

    Parameters
    ----------
    resource, overlap, tasks, workers, cores, gil
        As for :func:`ideal_parallelism`.

    Returns
    -------
    str
        A short reason in words, empty where :func:`scaling_parallelism` gives p.
    """
    _check(resource, overlap, tasks, cores)
    w = _workers(workers)
    if resource not in _CPU:
        return "waits need no core"
    if overlap in ("none", "event_loop"):
        return "no workers run the tasks in parallel"
    if not runs_in_parallel(resource, overlap, gil=gil):
        return "the GIL runs one thread's Python at a time"
    p = min(w, cores, tasks)
    if w > cores:
        return "W > C: the cores time-slice"
    if p < 2:
        return "p = 1"
    if tasks % p:
        return "uneven waves: T is not a multiple of p"
    return ""


def karp_flatt(speedup: float, p: float | None) -> float:
    """Karp-Flatt serial fraction e = (1/S - 1/p) / (1 - 1/p).

    Parameters
    ----------
    speedup
        S, the measured speedup over sequential.
    p
        The parallelism, normally :func:`scaling_parallelism`; ``None`` or
        p <= 1 gives NaN.

    Returns
    -------
    float
        e; 0 for a perfectly parallel point, NaN where it means nothing.
    """
    if p is None or not p > 1 or not speedup > 0:
        return math.nan
    return (1 / speedup - 1 / p) / (1 - 1 / p)


# ------------------------------------------------------------------ summary frames
def _count(value: Any) -> int | None:
    """A worker count from a frame cell: None for <NA>, NaN or None."""
    return None if value is None or pd.isna(value) else int(value)


def gil_of(row: pd.Series) -> bool:
    """Whether the children that measured the point ``row`` (a summary row) ran with the GIL:
    its own ``gil`` cell, True where none was recorded."""
    return bool(row.get("gil", True))


def resource_of(frame: pd.DataFrame, workload: str) -> str | None:
    """A workload's resource: the frame's ``resource`` column, else its spec; None if unknown.

    A workload of the user's that declares none ("") has no ideal either.
    """
    found: str | None = None
    if "resource" in frame.columns:  # NumPy, not pandas indexing: called once per point drawn
        rows = frame["resource"].to_numpy()[frame["workload"].to_numpy() == workload]
        found = next((str(r) for r in rows if isinstance(r, str)), None)
    if found is None:
        work = BUILTINS.get(workload)
        found = work.resource if work is not None else None
    return found if found in RESOURCES else None


def point_parallelism(frame: pd.DataFrame, *, workload: str, model: str, tasks: int,
                      workers: Any, cores: int, gil: bool) -> float:
    """:func:`ideal_parallelism` of one point, its specs read from ``frame`` or the registries.

    Parameters
    ----------
    frame
        A summary frame: its ``resource`` column is read when present (else
        the workload's spec).
    workload, model
        The point's workload and model names.
    tasks, cores
        T and C.
    workers
        W as stored in a frame (<NA> or NaN for models without workers).
    gil
        Whether the point's children ran with the GIL (:func:`gil_of` its row).

    Returns
    -------
    float
        The ideal parallelism; NaN for an unknown workload or model.
    """
    resource, spec = resource_of(frame, workload), MODELS.get(model)
    if resource is None or spec is None:
        return math.nan
    return ideal_parallelism(resource, spec.overlap, tasks=int(tasks), workers=_count(workers),
                             cores=int(cores), gil=gil)


def _rows(frame: pd.DataFrame) -> list[tuple[str | None, str | None, int, int | None, int, bool]]:
    """(resource, overlap, T, W, C, gil) per row; None where a spec is unknown."""
    gils = frame["gil"].astype(bool) if "gil" in frame.columns else [True] * len(frame)
    resources = frame["resource"] if "resource" in frame.columns else [
        w.resource if (w := BUILTINS.get(str(n))) is not None else None
        for n in frame["workload"]]
    overlaps = [m.overlap if (m := MODELS.get(str(n))) is not None else None
                for n in frame["model"]]
    return [(None if r is None or pd.isna(r) or r not in RESOURCES else str(r), o, int(t),
             _count(w), int(c), bool(g))
            for r, o, t, w, c, g in zip(resources, overlaps, frame["tasks"], frame["workers"],
                                        frame["cores"], gils, strict=True)]


def frame_parallelism(frame: pd.DataFrame) -> list[float]:
    """:func:`ideal_parallelism` of every row of a summary-like frame (NaN for unknown specs).

    Reads the columns ``workload`` (or ``resource``), ``model``, ``tasks``,
    ``workers``, ``cores`` and, when present, ``gil``.
    """
    return [math.nan if r is None or o is None else
            ideal_parallelism(r, o, tasks=t, workers=w, cores=c, gil=g)
            for r, o, t, w, c, g in _rows(frame)]


def frame_scaling(frame: pd.DataFrame) -> list[int | None]:
    """:func:`scaling_parallelism` of every row of a summary-like frame (None for unknown specs)."""
    return [None if r is None or o is None else
            scaling_parallelism(r, o, tasks=t, workers=w, cores=c, gil=g)
            for r, o, t, w, c, g in _rows(frame)]


#: Resources whose tasks keep a core busy while they run (the others wait).
BUSY_RESOURCES = ("cpu_gil", "cpu_nogil")


def frame_cores(frame: pd.DataFrame) -> list[float]:
    """The ideal ``cores`` metric of every row: cores kept busy by an ideal schedule.

    CPU work keeps ideal-parallelism cores busy (T*d of CPU over the ideal
    time: 1 for threads under the GIL, min(W, C, T)-like for processes);
    waiting work keeps none busy (0).  NaN for unknown specs.
    """
    return [math.nan if r is None or o is None else
            ideal_parallelism(r, o, tasks=t, workers=w, cores=c, gil=g)
            if r in BUSY_RESOURCES else 0.0
            for r, o, t, w, c, g in _rows(frame)]
