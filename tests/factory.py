"""Hand-made concbench results for tests: no timing involved.

``make_benchmark`` builds a pyperf benchmark carrying the same metadata a real
run writes (see docs/results-format.md), each pyperf run with its ``round``;
``write_results`` saves a suite.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pyperf

from bench.results.store import save_results
from bench.scenarios.models import Point

HOST: dict[str, Any] = {
    "host_cpu_model": "Test CPU 3000",
    "host_logical_cores": 2,
    "host_cpu_affinity": 2,
    "host_cgroup_cpu_quota": 0.0,
    "host_usable_cores": 2,
    "host_python_version": "3.11.7",
    "host_python_implementation": "CPython",
    "host_python_build": "main test build",
    "host_gil_enabled": 1,
    "host_start_methods": "fork,spawn,forkserver",
    "host_platform": "Linux-test",
    "host_hostname": "testhost",
}


def make_benchmark(point: Point, values: Sequence[float], *, runs: int = 1,
                   rounds: int | None = None, host: dict[str, Any] | None = None,
                   run_metadata: Sequence[dict[str, Any]] = (),
                   **extra: Any) -> pyperf.Benchmark:
    """A benchmark for ``point`` whose values are ``values`` split over ``runs`` runs.

    The runs are spread over ``rounds`` rounds in order (run metadata
    ``round``); by default every run is a round of its own.  A ``round`` given
    in ``extra`` is the round of every run; ``run_metadata[i]`` is added to run i's.
    """
    fixed = extra.pop("round", None)
    meta: dict[str, Any] = {
        "name": point.name, "unit": "second", "loops": 1,
        "concbench_format": 1, "concbench_version": "0.1.0",
        "workload": point.workload, "model": point.model, "tasks": point.tasks,
        "task_size": point.size, "task_unit": "iterations", "metric": point.metric,
        "work_scale": 1.0, "profile": "test", "run_name": "test",
        **(HOST if host is None else host), **extra,
    }
    if point.workers is not None:
        meta["workers"] = point.workers
    if point.start_method is not None:
        meta["start_method"] = point.start_method
    per = max(1, len(values) // runs)
    chunks = [list(values[i:i + per]) for i in range(0, len(values), per)]
    n_rounds = len(chunks) if rounds is None else rounds
    bench_runs = [pyperf.Run(chunk, warmups=[(1, chunk[0])],
                             metadata={**meta, "round": i * n_rounds // len(chunks)
                                       if fixed is None else fixed,
                                       **(run_metadata[i] if i < len(run_metadata) else {})},
                             collect_metadata=False) for i, chunk in enumerate(chunks)]
    return pyperf.Benchmark(bench_runs)


def make_metric(point: Point, metric: str, readings: Sequence[float], *, unit: str = "integer",
                **extra: Any) -> pyperf.Benchmark:
    """The benchmark a run writes for one of ``point``'s metrics: one reading per round.

    Named ``NAME:metric`` with ``probe`` metadata, as :mod:`bench.measure.child`
    writes it; ``extra`` may hold ``probe_EXTRA`` statistics (every round).
    """
    base = make_benchmark(point, [1.0])
    meta = {**base.get_metadata(), "name": f"{point.name}:{metric}", "probe": metric,
            "unit": unit, **extra}
    runs = [pyperf.Run([float(v)], metadata={**meta, "round": r}, collect_metadata=False)
            for r, v in enumerate(readings)]
    return pyperf.Benchmark(runs)


def quiet_probe(seconds: float = 0.0) -> dict[str, float]:
    """A noise probe of a quiet host, taken at once (stands in for ``noise.probe``)."""
    return {"load1": 0.0, "busy_cores": 0.0, "calibration_s": 1e-3}


def write_results(path: Path, benchmarks: Iterable[pyperf.Benchmark]) -> Path:
    """Save ``benchmarks`` as a results file at ``path``; return ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    save_results(path, benchmarks)
    return path


def fake_child(interp: Any, job: dict[str, Any], points: Sequence[Point],
               timeout: float, run_name: str = "", env: Any = None) -> Any:
    """Stands in for :func:`bench.measure.launch.run_child`: instant values, one run per point.

    Each benchmark carries the job's metadata and round, as a real child writes.
    """
    from bench.measure.launch import ChildResult

    return ChildResult(benchmarks=[
        make_benchmark(p, [1e-3] * 3, **{**job["meta"][p.name], "round": job["round"]})
        for p in points])
