"""The measured child: the project's only ``pyperf.Runner``.

Run as ``python -m bench._child --point JSON --meta JSON <pyperf options>``.
pyperf owns this process's argv and re-runs it as its worker processes.
Imports the standard library, pyperf and ``cpu_tasks`` (through
``bench.models``) only.

The timed value is the wall time of ``loops`` batches.  The model (pool,
event loop) is opened once per worker process before the first clock starts
and reused by warm-ups and values, so pool start-up never lands in a
steady-state value.  The task results are checked once per point, in the
pyperf master process, against the sequential answer.
"""

from __future__ import annotations

import argparse
import atexit
import fnmatch
import json
import math
import os
import signal
import sys
import time
from typing import Any

import pyperf

import cpu_tasks
from bench.models import MODELS, Batch, Point, cold_start, expected_results

_opened: dict[str, Batch] = {}


def _batch(point: Point) -> Batch:
    batch = _opened.get(point.name)
    if batch is None:
        batch = _opened[point.name] = MODELS[point.model].open(point)
        atexit.register(batch.close)
    return batch


def time_steady(loops: int, point: Point) -> float:
    """pyperf time function: ``loops`` warm batches, in seconds."""
    batch = _batch(point)  # opened (and warmed) before the clock starts
    t0 = time.perf_counter()
    for _ in range(loops):
        batch.run()
    return time.perf_counter() - t0


def time_cold(loops: int, point: Point) -> float:
    """pyperf time function: ``loops`` fresh pools, each creation + first batch."""
    return sum(cold_start(point) for _ in range(loops))


def verify(point: Point) -> float:
    """Fail the point when the model's results differ from the sequential ones.

    Returns
    -------
    float
        Seconds one warm batch of the model took (to choose pyperf's loops).
    """
    want = expected_results(point)
    batch = MODELS[point.model].open(point)
    try:
        batch.run()  # the first batch after the warm-up is not representative
        t0 = time.perf_counter()
        got = batch.run()
        elapsed = time.perf_counter() - t0
    finally:
        batch.close()
    if got != want:
        right = sum(g == w for g, w in zip(got, want, strict=False))
        raise SystemExit(f"concbench: {point.name} returned wrong results "
                         f"({len(got)} values, {right} of {len(want)} right)")
    return elapsed


def inject_fault(point: Point, spec: str) -> None:
    """Testing aid: fail this point on purpose when ``CONCBENCH_FAULT`` names it.

    ``spec`` is ``NAME=KIND`` or ``GLOB=KIND`` (e.g. ``cpu/sequential/*=hang``;
    in a glob, ``[fork]`` is a character set: write ``[[]fork]``) with KIND one of
    ``raise``, ``exit``, ``segv``, ``hang`` or ``kill_worker`` (a process pool
    worker is killed mid-batch, so the pool breaks).  Runs in the pyperf master
    process only; pyperf strips the variable from its workers' environment.
    """
    pattern, _, kind = spec.rpartition("=")
    if point.name != pattern and not fnmatch.fnmatchcase(point.name, pattern):
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

        from bench.models import make_executor, warm

        executor = make_executor(point)
        warm(executor, point.workers or 1)
        if isinstance(executor, cf.ProcessPoolExecutor):
            for victim in list(executor._processes.values()):
                victim.kill()
                victim.join()
        executor.submit(cpu_tasks.worker_id).result()  # raises BrokenProcessPool


def _forward(cmd: list[str], args: argparse.Namespace) -> None:
    cmd.extend(["--point", args.point, "--meta", args.meta])


def main() -> None:
    """Measure one point with pyperf."""
    runner = pyperf.Runner(program_args=("-m", "bench._child"), add_cmdline_args=_forward)
    runner.argparser.add_argument("--point", required=True, help="the point, as JSON")
    runner.argparser.add_argument("--meta", default="{}", help="metadata to record, as JSON")
    runner.argparser.add_argument(
        "--verified", action="store_true",
        help="the point's results were checked in an earlier round: skip the check")
    args = runner.parse_args()
    point = Point.from_json(args.point)
    metadata: dict[str, Any] = json.loads(args.meta)
    if not args.worker:
        fault = os.environ.get("CONCBENCH_FAULT")
        if fault:
            inject_fault(point, fault)
        if point.metric == "cold":
            args.loops = args.loops or 1  # one fresh pool per value
        elif not args.verified:
            batch_s = verify(point)
            if not args.loops:
                # enough batches per value to last --min-time, instead of
                # pyperf's calibration run (a whole extra worker process)
                args.loops = max(1, math.ceil(args.min_time / max(batch_s, 1e-6)))
    func = time_cold if point.metric == "cold" else time_steady
    runner.bench_time_func(point.name, func, point, metadata=metadata)


if __name__ == "__main__":
    main()
    sys.exit(0)
