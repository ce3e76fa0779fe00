"""Faults injected on purpose, for the tests: ``CONCBENCH_FAULT`` names the points to fail.

Standard library plus the models (the measured child imports it, as its ``__main__``'s
import, so spawn and forkserver workers do too).
"""

from __future__ import annotations

import fnmatch
import os
import signal
import time

import cpu_tasks
from bench.scenarios.models import Point


def inject_fault(point: Point, spec: str) -> None:
    """Testing aid: fail this point on purpose when ``CONCBENCH_FAULT`` names it.

    ``spec`` is ``NAME=KIND`` or ``GLOB=KIND`` (e.g. ``cpu/sequential/*=hang``;
    in a glob, ``[fork]`` is a character set: write ``[[]fork]``) with KIND one of
    ``raise``, ``exit``, ``segv``, ``hang`` or ``kill_worker`` (a process pool
    worker is killed mid-batch, so the pool breaks), or several of them joined
    by ``;`` (the first that names the point applies).  Applied when the point
    is opened.
    """
    for one in spec.split(";"):
        pattern, _, kind = one.rpartition("=")
        if point.name == pattern or fnmatch.fnmatchcase(point.name, pattern):
            break
    else:
        return
    if kind == "raise":
        raise RuntimeError(f"injected fault in {point.name}")
    if kind == "exit":
        os._exit(3)
    if kind == "segv":
        os.kill(os.getpid(), signal.SIGSEGV)
    if kind == "hang":
        time.sleep(3600)
    if kind == "kill_worker":
        import concurrent.futures as cf

        from bench.scenarios.models import make_executor
        from bench.scenarios.pools import warm

        executor = make_executor(point)
        warm(executor, point.workers or 1)
        if isinstance(executor, cf.ProcessPoolExecutor):
            for victim in list(executor._processes.values()):
                victim.kill()
                victim.join()
        executor.submit(cpu_tasks.worker_id).result()  # raises BrokenProcessPool
