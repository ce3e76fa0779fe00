"""Print the measuring core's headline figures from one run.

Usage: python scripts/core_figures.py [RESULTS.json | RUN_DIR]   (default reports/latest)

- cpu/process_pool at W=2 vs cpu/sequential, same task count (>= 4): floor 1.6x
- cpu/thread_pool at W=2 vs cpu/sequential: ceiling 1.15x
- async_sleep/asyncio_gather of T tasks, in single sleeps: ceiling 1.3
- sleep/asyncio_blocking of T tasks, in single sleeps: floor 0.9 * T
A single sleep is the sequential median / T of the same workload, measured the
same way.  Exit 1 when a figure misses its bound.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

import bench


def _row(s: pd.DataFrame, workload: str, model: str, workers: int | None,
         start_method: str = "") -> pd.Series:
    q = (s.workload == workload) & (s.model == model) & (s.metric == "steady") & (s.tasks >= 4)
    if workers is not None:
        q &= s.workers == workers
    if start_method:
        q &= s.start_method == start_method
    rows = s[q].sort_values("tasks")
    if rows.empty:
        raise SystemExit(f"no {workload}/{model} point with >= 4 tasks in this run")
    return rows.iloc[-1]


def main(argv: list[str]) -> int:
    path = Path(argv[0]) if argv else Path("reports/latest")
    data = bench.load(path)
    s = data.summary
    seq = {(r.workload, r.tasks): r.median_s for r in s[s.model == "sequential"].itertuples()}
    checks = []
    pp = _row(s, "cpu", "process_pool", 2, "fork")
    checks.append((f"cpu/process_pool[fork] W=2 T={pp.tasks} speedup", pp.speedup, ">=", 1.6))
    tp = _row(s, "cpu", "thread_pool", 2)
    checks.append((f"cpu/thread_pool W=2 T={tp.tasks} speedup", tp.speedup, "<=", 1.15))
    g = _row(s, "async_sleep", "asyncio_gather", None)
    one = seq[("async_sleep", g.tasks)] / g.tasks
    checks.append((f"async_sleep/asyncio_gather T={g.tasks} in single sleeps",
                   g.median_s / one, "<=", 1.3))
    b = _row(s, "sleep", "asyncio_blocking", None)
    one = seq[("sleep", b.tasks)] / b.tasks
    checks.append((f"sleep/asyncio_blocking T={b.tasks} in single sleeps",
                   b.median_s / one, ">=", 0.9 * b.tasks))
    print(f"run: {data.path}  host: {data.host.get('cpu_model')}, "
          f"C={data.host.get('usable_cores')}, Python {data.host.get('python_version')}")
    failed = 0
    for label, value, op, bound in checks:
        ok = value >= bound if op == ">=" else value <= bound
        failed += not ok
        print(f"{'ok  ' if ok else 'MISS'} {label}: {value:.3f} (bound {op} {bound:g})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
