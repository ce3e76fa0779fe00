"""Time ``concbench report`` on synthetic results files of 250 to 2,000 benchmarks.

Usage: python scripts/bench_report_speed.py [--benchmarks N,N,...] [--repeat R] [--keep DIR]

The file is a real pyperf results file with concbench's metadata: the points
of a large ``full`` grid (many task and worker counts, every start method,
cold starts), 8 rounds x 5 values each, values drawn around each model's ideal
time.  The figure printed is the wall time of the ``concbench report``
subprocess (interpreter start-up and imports included), the budget being 2 s
for 1,000 points on the project's 2-core host, with a cost that grows no
faster than linearly: each size's line gives its milliseconds per point, and
the last line the growth exponent fitted over the sizes (1.0: linear); the line before
it, the host's speed on each core before each repeat (a slow moment of the host, one
core at 1.4 ms rather than 1.0 ms, makes every report slower alike).  The
sizes are timed in turn within each repeat, so that a slow moment of the host
touches every size alike.  The report draws its figures in forked processes,
one per usable core, so a host whose other core is busy measures slower.
Nothing is asserted.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyperf

from bench.measure import speed
from bench.results.ideal import ideal_time
from bench.results.store import save_results
from bench.scenarios.grid import GridSpec, expand
from bench.scenarios.models import MODELS, Point
from bench.scenarios.workloads import BUILTINS

CORES = 2
HOST = {
    "host_cpu_model": "Synthetic CPU", "host_logical_cores": CORES, "host_cpu_affinity": CORES,
    "host_cgroup_cpu_quota": 0.0, "host_usable_cores": CORES, "host_python_version": "3.11.7",
    "host_python_implementation": "CPython", "host_python_build": "synthetic",
    "host_gil_enabled": 1, "host_start_methods": "fork,spawn,forkserver",
    "host_platform": "Linux-synthetic", "host_hostname": "synthetic",
}


def grid(n: int) -> list[Point]:
    """``n`` points of a large grid: steady points first, then every cold point."""
    spec = GridSpec(profile="full", tasks=(1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128,
                                           192, 256, 384, 512, 768, 1024),
                    workers=(1, 2, 3, 4, 6, 8))
    points = expand(spec, cores=CORES, start_methods=("fork", "forkserver", "spawn"),
                    python=(3, 11))
    cold = [p for p in points if p.metric == "cold"]
    steady = [p for p in points if p.metric == "steady"]
    if len(steady) + len(cold) < n:
        raise SystemExit(f"the grid has only {len(steady) + len(cold)} points")
    return steady[: n - len(cold)] + cold


def benchmark(point: Point, rng: np.random.Generator, d: float = 0.002) -> pyperf.Benchmark:
    """A benchmark of 8 rounds x 5 values around the point's ideal time."""
    ideal = ideal_time(BUILTINS[point.workload].resource, MODELS[point.model].overlap,
                       tasks=point.tasks, workers=point.workers, cores=CORES, gil=True, d=d)
    if point.metric == "cold":
        ideal = point.tasks * d / CORES + 0.05
    meta = {
        "name": point.name, "unit": "second", "loops": 1, "concbench_format": 2,
        "concbench_version": "0.1.0", "workload": point.workload, "model": point.model,
        "tasks": point.tasks, "task_size": point.size,
        "task_unit": BUILTINS[point.workload].unit, "metric": point.metric,
        "work_scale": 1.0, "profile": "full", "run_name": "synthetic-1000", **HOST,
    }
    if point.workers is not None:
        meta["workers"] = point.workers
    if point.start_method is not None:
        meta["start_method"] = point.start_method
    values = ideal * (1.05 + rng.lognormal(0.0, 0.04, size=(8, 5)))
    runs = [pyperf.Run(list(map(float, row)), warmups=[(1, float(row[0]))],
                       metadata={**meta, "round": r}, collect_metadata=False)
            for r, row in enumerate(values)]
    return pyperf.Benchmark(runs)


def generate(path: Path, n: int) -> Path:
    """Write a results file of ``n`` synthetic benchmarks at ``path``."""
    rng = np.random.default_rng(0)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_results(path, [benchmark(p, rng) for p in grid(n)])
    return path


def time_report(results: Path, out_dir: Path) -> float:
    """Seconds of wall time for one ``concbench report`` subprocess."""
    exe = Path(sys.executable).with_name("concbench")
    cmd = [str(exe), "report", str(results), "-o", str(out_dir)]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--benchmarks", default="250,500,1000,2000",
                        help="comma-separated sizes (default: %(default)s)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="write the files and reports here")
    args = parser.parse_args(argv)
    sizes = [int(n) for n in args.benchmarks.split(",")]
    times: dict[int, list[float]] = {n: [] for n in sizes}
    cores: list[list[float]] = []  # the host's speed, read on each core before each repeat
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        files = {n: generate(root / f"results-{n}.json", n) for n in sizes}
        for i in range(args.repeat):
            cores.append(list(speed.core_readings().values()))
            for n in sizes:
                times[n].append(time_report(files[n], root / f"report-{n}-{i}"))
    medians = {n: statistics.median(t) for n, t in times.items()}
    for n in sizes:
        shown = ", ".join(f"{t:.2f}" for t in times[n])
        print(f"concbench report, {n:5d} benchmarks: median {medians[n]:.2f} s wall "
              f"({1e3 * medians[n] / n:.2f} ms per point) over {args.repeat} runs ({shown} s)")
    shown = "; ".join(" ".join(f"{1e3 * t:.2f}" for t in r) for r in cores)
    print(f"host speed before each repeat, a fixed task on each core: {shown} ms "
          "(1.0 fast, 1.4 slow on the project's host: bench.measure.speed)")
    if len(sizes) > 1:
        slope = np.polyfit(np.log(sizes), np.log([medians[n] for n in sizes]), 1)[0]
        print(f"growth: time ~ points^{slope:.2f} from {min(sizes)} to {max(sizes)} points "
              "(1.00 is linear; a fixed start-up cost makes it less)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
