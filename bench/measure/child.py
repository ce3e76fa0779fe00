"""The measured child: one round of one group of points, in one fresh process.

Run as ``main([JOB.json])`` (:meth:`bench.measure.interpreter.Interpreter.command`).
A *group* is every point that
shares a workload, a task count and a task size: the sequential baseline and
every model compared with it.  The child opens all of them (pools created
and warmed with one barrier task per worker, event loops made), then takes
``warmups + values`` sweeps; each sweep times one value of every point, in a
fresh pseudo-random order.  So a point and its baseline are measured
interleaved, in the same process, at the same moment: their ratio in this
round is a *paired* speedup, and the round (a process at a moment) is the
statistical unit.  Cold points (pool creation + first batch, a fresh pool
per value; a forkserver's server started afresh too) join the sweeps.

A value is the wall time (``time.perf_counter``) of ``loops`` batches divided
by ``loops``; ``loops`` is chosen in the first round from a batch timed while
the point's results are checked against the sequential answer, and reused by
every later round.

The child writes progress lines (``open NAME``, ``run NAME``, ``fail NAME
REASON``, ``done PHASE=SECONDS...``) to the job's status file, so that the runner can tell
which point hung or crashed the process, and the pyperf results file of the
round at the end.  This module imports only the standard library and
:mod:`bench.scenarios.models` (standard library + ``cpu_tasks``) at import time:
spawn and forkserver pool workers import it as their ``__main__``.  pyperf
is imported only once every pool is closed, to build the results file.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from bench.errors import one_line
from bench.measure import settle, speed
from bench.measure.faults import inject_fault
from bench.scenarios import metrics, native, procfs, workloads
from bench.scenarios.models import COLD, MODELS, Batch, Point, cold_start, expected_results


@dataclass
class Job:
    """What one child measures (written by the runner as JSON)."""

    round: int
    seed: str
    points: list[Point]
    values: int
    warmups: int
    min_time: float
    status: str
    output: str
    #: Loops per value of each point, from its first round (absent: choose them).
    loops: dict[str, int] = field(default_factory=dict)
    #: Points whose results to check against the sequential answer.
    verify: list[str] = field(default_factory=list)
    #: Metadata of each point's benchmark (str, int and float values).
    meta: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Metrics to collect beside time (:data:`bench.scenarios.metrics.METRICS` names).
    metrics: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.metrics and self.warmups < 1:  # some ride on it, and never on a timed value
            raise ValueError("a job that collects metrics takes a warm-up value")

    @classmethod
    def read(cls, path: str) -> Job:
        """Load a job file (its points carry their workloads' specs)."""
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        data["points"] = [Point.from_dict(p) for p in data["points"]]
        return cls(**data)


class _Status:
    """Line-buffered progress for the runner; every line is flushed at once."""

    def __init__(self, path: str) -> None:
        self.fh: IO[str] = Path(path).open("a", encoding="utf-8", buffering=1)

    def say(self, *words: str) -> None:
        self.fh.write(" ".join(w.replace("\n", " ") for w in words) + "\n")
        self.fh.flush()


def verify(batch: Batch, point: Point) -> float:
    """Check one warm batch's results against the sequential answer.

    Returns
    -------
    float
        Seconds that batch took (to choose the loops per value).
    """
    want = [] if point.work.check == "none" else expected_results(point)
    batch.run()  # the first batch after the warm-up is not representative
    t0 = time.perf_counter()
    got = batch.run()
    elapsed = time.perf_counter() - t0
    if not workloads.same_results(point.work, got, want):
        right = sum(g == w for g, w in zip(got, want, strict=False))
        raise ValueError(f"wrong results ({len(got)} values, {right} of {len(want)} right)")
    return elapsed


class _Cold:
    """A cold point: every value creates a fresh pool (a fresh forkserver server too), whose
    workers live only inside the value (``pids``: none between values)."""

    pids: tuple[int, ...] = ()

    def __init__(self, point: Point) -> None:
        self.point = point

    def run(self) -> list[Any]:
        return []

    def close(self) -> None:
        pass

    def time(self, loops: int) -> float:
        if self.point.start_method == "forkserver":
            _stop_forkserver()
        return sum(cold_start(self.point) for _ in range(loops))


def _stop_forkserver() -> None:
    """Stop the forkserver server: the next pool pays its start, as a program's first pool does."""
    from multiprocessing import forkserver

    stop = getattr(forkserver._forkserver, "_stop", None)
    if stop is not None:
        stop()


def _time_steady(batch: Batch, loops: int) -> float:
    t0 = time.perf_counter()
    for _ in range(loops):
        batch.run()
    return time.perf_counter() - t0


def _time_warm_up(batch: Batch, loops: int, ctx: metrics.ProbeContext,
                  specs: list[metrics.MetricDef]
                  ) -> tuple[float, dict[str, dict[str, float]], float]:
    """A warm-up value that carries the metrics of ``specs``: their instruments around its
    first batch, their separate collectors once its clock has stopped.

    The instruments start just before that batch's clock and stop just after it.  Returns
    the value (the seconds of its ``loops`` batches, discarded as every warm-up is), the
    readings, and the seconds spent probing outside the value.
    """
    t_attach = time.perf_counter()
    attached = metrics.attach(ctx, specs)
    t0 = time.perf_counter()
    batch.run()
    t1 = time.perf_counter()
    readings = metrics.detach(ctx, attached)
    t2 = time.perf_counter()
    rest = _time_steady(batch, loops - 1)
    t3 = time.perf_counter()
    readings.update(metrics.separate(ctx, specs))
    probing = (t0 - t_attach) + (t2 - t1) + (time.perf_counter() - t3)
    return (t1 - t0) + rest, readings, probing


def _contexts(job: Job, opened: dict[str, Batch | _Cold],
              footprints: dict[str, int]) -> dict[str, metrics.ProbeContext]:
    """What the metrics of each opened steady point see (``footprints``: the bytes of this
    process each point's opening added; the others' are left out of its memory)."""
    by_name = {p.name: p for p in job.points}
    out = {}
    for name, model in opened.items():
        if isinstance(model, _Cold):
            continue
        point = by_name[name]
        others = sum(b for n, b in footprints.items() if n != name and n in opened)
        out[name] = metrics.ProbeContext(model, MODELS[point.model], model.pids, point.tasks,
                                         point.work.is_async, others, point.work)
    return out


def _riders(job: Job, contexts: dict[str, metrics.ProbeContext],
            opened: dict[str, Batch | _Cold],
            where: tuple[str, ...]) -> dict[str, list[metrics.MetricDef]]:
    """Per opened point with any, the metrics read ``where`` (``MetricDef.rides``)."""
    return {name: specs for name, ctx in contexts.items() if name in opened
            and (specs := metrics.wanted(ctx, tuple(job.metrics), where))}


def measure(job: Job, status: _Status,
            phases: dict[str, float] | None = None,
            probes: dict[str, dict[str, dict[str, float]]] | None = None,
            speeds: dict[str, float | str] | None = None,
            ) -> tuple[dict[str, list[float]], dict[str, list[float]], dict[str, int],
                       dict[str, str]]:
    """Open every point of the job, then take its sweeps, its metrics read beside them.

    ``phases`` receives the seconds spent opening the points (pools made and warmed,
    results checked: ``verify``), probing the metrics, taking the sweeps, inside their
    timed regions, settling and reading the host's speed; ``probes``, each point's
    metrics; ``speeds``, the host's speed readings (:func:`bench.measure.speed.metadata`)
    just before and just after the sweeps, outside every timed value.

    Returns
    -------
    warmups, values, loops, failures
        Per point name: warm-up and measured values (seconds per batch), the
        loops per value, and the reason of each point that failed.
    """
    phases = {} if phases is None else phases
    probes = {} if probes is None else probes
    speeds = {} if speeds is None else speeds
    t_open = time.perf_counter()
    opened: dict[str, Batch | _Cold] = {}
    loops: dict[str, int] = {}
    failures: dict[str, str] = {}
    try:
        footprints = _open(job, status, opened, loops, failures, phases)
        t_probes = time.perf_counter()
        phases["open"] = t_probes - t_open
        contexts = _contexts(job, opened, footprints) if job.metrics else {}
        # where each point's metrics are read: around its first measured value, on its warm-up
        riding = _riders(job, contexts, opened, (metrics.VALUE,))
        warming = _riders(job, contexts, opened, (metrics.WARMUP,))
        phases["probes"] = time.perf_counter() - t_probes
        phases["speed"] = _read_speed("start", speeds)
        warm, values = _sweeps(job, status, _Sweeps(opened, loops, failures, contexts,
                                                    riding, warming, probes), phases)
        phases["speed"] += _read_speed("end", speeds)
    finally:
        for model in opened.values():
            _close(model)
    return warm, values, loops, failures


def _open(job: Job, status: _Status, opened: dict[str, Batch | _Cold], loops: dict[str, int],
          failures: dict[str, str], phases: dict[str, float]) -> dict[str, int]:
    """Open every point of ``job`` into ``opened`` (a failed one into ``failures``), check
    the results of those in its ``verify`` and choose each one's ``loops``; returns the bytes
    each point's opening added to this process, where a metric reads them."""
    fault = os.environ.get("CONCBENCH_FAULT", "")
    footprints: dict[str, int] = {}
    footprint = any(metrics.METRICS[m].footprint for m in job.metrics)
    # process pools first: forking while thread pools' threads exist is best avoided
    for point in sorted(job.points, key=lambda p: not MODELS[p.model].forks):
        status.say("open", point.name)
        try:
            if fault:
                inject_fault(point, fault)
            if point.metric == COLD:
                opened[point.name], loops[point.name] = _Cold(point), 1
                continue
            before = procfs.own_bytes() if footprint else 0
            batch = opened[point.name] = MODELS[point.model].open(point)
            if point.work.service and point.name not in job.verify:
                batch.run()  # its clients' connections opened before any clock (verify does)
            t_verify = time.perf_counter()
            batch_s = verify(batch, point) if point.name in job.verify else math.nan
            if point.name in job.verify:
                _record_native(job, point, batch)
            phases["verify"] = phases.get("verify", 0.0) + time.perf_counter() - t_verify
            if footprint:
                footprints[point.name] = max(0, procfs.own_bytes() - before)
            loops[point.name] = job.loops.get(point.name) or max(
                1, math.ceil(job.min_time / max(batch_s, 1e-6)))
        except Exception as exc:
            failures[point.name] = one_line(exc)
            status.say("fail", point.name, failures[point.name])
            _close(opened.pop(point.name, None))
    return footprints


@dataclass
class _Sweeps:
    """The opened points of a round and what their sweeps read beside their values."""

    opened: dict[str, Batch | _Cold]
    loops: dict[str, int]
    failures: dict[str, str]
    contexts: dict[str, metrics.ProbeContext]
    #: The metrics read around each point's first measured value, and on its warm-up.
    riding: dict[str, list[metrics.MetricDef]]
    warming: dict[str, list[metrics.MetricDef]]
    probes: dict[str, dict[str, dict[str, float]]]


def _sweeps(job: Job, status: _Status, run: _Sweeps, phases: dict[str, float],
            ) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Take the job's warm-up and measured sweeps, each in a fresh seeded order; a point
    that fails leaves the round.  Returns each point's warm-up and measured values."""
    warm: dict[str, list[float]] = {name: [] for name in run.opened}
    values: dict[str, list[float]] = {name: [] for name in run.opened}
    t_sweeps, timed, probing, settled = time.perf_counter(), 0.0, 0.0, 0.0
    rng = random.Random(f"{job.seed}/{job.round}/{job.points[0].name}")
    for sweep in range(job.warmups + job.values):
        names = list(run.opened)
        rng.shuffle(names)
        for name in names:
            status.say("run", name)
            settled += _settle(job, name, run.opened)
            try:
                elapsed, took = _value(run, name, sweep, job.warmups)
            except Exception as exc:
                run.failures[name] = one_line(exc)
                status.say("fail", name, run.failures[name])
                _close(run.opened.pop(name))
                warm.pop(name)
                values.pop(name)
                continue
            timed, probing = timed + elapsed, probing + took
            (warm if sweep < job.warmups else values)[name].append(elapsed / run.loops[name])
    # the metrics read on the warm-ups count as probing, not as time between values
    phases["sweeps"] = time.perf_counter() - t_sweeps - probing - settled
    phases["settle"] = settled
    phases["timed"], phases["probes"] = timed, phases["probes"] + probing
    return warm, values


def _value(run: _Sweeps, name: str, sweep: int, warmups: int) -> tuple[float, float]:
    """One value of ``name`` in sweep ``sweep`` (its metrics read around or on it, outside
    its clock): the seconds timed, and the seconds its warm-up's metrics took."""
    model, loops = run.opened[name], run.loops[name]
    read = run.riding.pop(name, None) if sweep == warmups else None
    first = run.warming.pop(name, None) if sweep == 0 else None
    if read is not None:  # counters read just outside the value's clock
        attached = metrics.attach(run.contexts[name], read)
    took = 0.0
    if isinstance(model, _Cold):
        elapsed = model.time(loops)
    elif first is not None:
        elapsed, readings, took = _time_warm_up(model, loops, run.contexts[name], first)
        run.probes.setdefault(name, {}).update(readings)
    else:
        elapsed = _time_steady(model, loops)
    if read is not None:
        run.probes.setdefault(name, {}).update(metrics.detach(run.contexts[name], attached))
    return elapsed, took


def _record_native(job: Job, point: Point, batch: Batch) -> None:
    """Which native thread pools the processes of ``point`` hold, read through its own model
    (so in a pool's worker for a pooled model) once its results are checked: point metadata."""
    reader = native.apools if point.work.is_async else native.pools
    meta = job.meta.setdefault(point.name, {})
    meta["native_pools"] = str(batch.run_tasks(reader, [(0,)])[0])


def _settle(job: Job, name: str, opened: dict[str, Batch | _Cold]) -> float:
    """Wait for every other thread of the child and its pools to sleep before ``name``'s
    value (:mod:`bench.measure.settle`); the wait and any unsettled start are point metadata
    (this round's); returns the seconds waited."""
    pids = [pid for model in opened.values() for pid in model.pids]
    waited, settled = settle.settle(pids)
    meta = job.meta.setdefault(name, {})
    meta["settle_s"] = meta.get("settle_s", 0.0) + waited
    meta["unsettled"] = meta.get("unsettled", 0) + (not settled)
    return waited


def _read_speed(when: str, speeds: dict[str, float | str]) -> float:
    """Read the host's speed on every core into ``speeds``; return the seconds it took."""
    t0 = time.perf_counter()
    speeds.update(speed.metadata(when, speed.core_readings()))
    return time.perf_counter() - t0


def _close(model: Batch | _Cold | None) -> None:
    if model is not None:
        with contextlib.suppress(Exception):
            model.close()


def main(argv: list[str]) -> int:
    """Measure the job named by ``argv[0]``; 0 even when some points failed."""
    t0 = time.perf_counter()
    job = Job.read(argv[0])
    status = _Status(job.status)
    phases: dict[str, float] = {}
    probes: dict[str, dict[str, dict[str, float]]] = {}
    speeds: dict[str, float | str] = {}
    warm, values, loops, _ = measure(job, status, phases, probes, speeds)
    t_write = time.perf_counter()
    from bench.measure.roundfile import write_results  # pyperf only now: no worker inherits it

    write_results(job, warm, values, loops, probes, speeds)
    phases["write"] = time.perf_counter() - t_write
    phases["main"] = time.perf_counter() - t0
    status.say("done", *(f"{k}={v:.6f}" for k, v in phases.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
