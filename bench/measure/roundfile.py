"""The round's pyperf results file, written by the child (:mod:`bench.measure.child`) once
every pool of its round is closed: pyperf is imported here, so no pool worker inherits it."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyperf

from bench.results import store
from bench.scenarios import metrics

if TYPE_CHECKING:  # the child imports this module once its round is measured
    from bench.measure.child import Job


def _probe_benchmarks(job: Job, probes: dict[str, dict[str, dict[str, float]]],
                      values: dict[str, list[float]], date: str,
                      common: dict[str, Any]) -> list[Any]:
    """One benchmark per point and metric, ``NAME:metric``: the round's reading as one value.

    Its metadata is the point's, plus ``probe`` (the metric), the metric's
    pyperf ``unit`` and its extra statistics as ``probe_EXTRA``.
    """
    out = []
    for point in job.points:
        if not values.get(point.name):
            continue  # the point failed in its sweeps: no round to pair its readings with
        for metric, reading in probes.get(point.name, {}).items():
            spec = metrics.METRICS[metric]
            meta = {**common, **job.meta.get(point.name, {}), "name": f"{point.name}:{metric}",
                    "probe": metric, "unit": spec.pyperf_unit, "round": job.round,
                    "loops": 1, "date": date,
                    **{f"probe_{k}": float(v) for k, v in reading.items() if k}}
            run = pyperf.Run([float(reading[""])], metadata=meta, collect_metadata=False)
            out.append(pyperf.Benchmark([run]))
    return out


def write_results(job: Job, warm: dict[str, list[float]], values: dict[str, list[float]],
                  loops: dict[str, int],
                  probes: dict[str, dict[str, dict[str, float]]] | None = None,
                  speeds: dict[str, float | str] | None = None) -> None:
    """Write the round's pyperf results file (one benchmark per point, one run each).

    Each point's metrics (``probes``) are benchmarks of their own, ``NAME:metric``;
    the host's speed readings (``speeds``) are metadata of every point's run.
    """
    common: dict[str, Any] | None = None
    benchmarks = []
    date = dt.datetime.now().isoformat(" ")
    # the GIL as the batches ran, after the workload's imports: an extension built
    # without free-threading support turns it back on in a free-threaded build
    gil = int(getattr(sys, "_is_gil_enabled", lambda: True)())
    for point in job.points:
        if not values.get(point.name):
            continue
        meta = {**job.meta.get(point.name, {}), "name": point.name, "round": job.round,
                "loops": loops[point.name], "date": date, "gil_enabled": gil, **(speeds or {})}
        run = pyperf.Run(values[point.name],
                         warmups=[(loops[point.name], v) for v in warm[point.name]],
                         metadata={**(common or {}), **meta}, collect_metadata=common is None)
        if common is None:  # pyperf's host metadata, collected once per process
            common = {k: v for k, v in run.get_metadata().items() if k not in meta}
        benchmarks.append(pyperf.Benchmark([run]))
    if probes:
        benchmarks += _probe_benchmarks(job, probes, values, date, common or {})
    if benchmarks:
        store.save_results(Path(job.output), benchmarks)
