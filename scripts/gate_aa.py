"""Measure the regression gate itself: false alarms (A/A) and detection (A/B).

Makes ``--pairs + 1`` smoke runs at work scale 1.0 and ``--pairs`` at a
slower scale (1.25 by default), interleaved (base, slow, base, slow, ...) so
that drift of the host hits both kinds alike, then forms pairs:

* A/A: consecutive base runs ``(b[i], b[i+1])`` -> ``--pairs`` pairs, plus
  every pair of base runs as a second, correlated estimate;
* A/B: ``(b[i], s[i])`` -> ``--pairs`` pairs with a known slowdown.

A pair "alarms" when ``concbench check`` would exit 1.  The rates are printed
for the gate's defaults and a few neighbouring settings, for both metrics.
Runs are kept in ``--dir``; a second call reuses those already there.

Usage::

    .venv/bin/python scripts/gate_aa.py --pairs 20 --dir /tmp/gate_aa > /tmp/gate_aa.log
"""

from __future__ import annotations

import argparse
import itertools
import subprocess
import sys
import time
from pathlib import Path

from bench.aggregate import RunData, load
from bench.check import check_runs
from bench.store import RESULTS

SETTINGS = [(0.002, 0.10), (0.002, 0.05), (0.01, 0.10), (0.05, 0.10), (0.002, 0.15)]


def measure(out: Path, name: str, scale: float, profile: str) -> Path:
    """Make one run unless it exists already; return its directory."""
    run_dir = out / name
    if (run_dir / RESULTS).exists():
        return run_dir
    cmd = [sys.executable, "-m", "bench", "run", "--profile", profile, "--output-dir",
           str(out), "--name", name, "--work-scale", str(scale), "--no-report", "-q",
           "--force"]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True)
    print(f"  measured {name} (scale {scale}) in {time.perf_counter() - t0:.1f} s",
          flush=True)
    return run_dir


def rates(pairs: list[tuple[RunData, RunData]], metric: str, alpha: float,
          max_slowdown: float) -> tuple[int, int, int]:
    """(pairs that alarmed, points that regressed, points compared)."""
    alarms = bad = total = 0
    for base, cur in pairs:
        res = check_runs(base, cur, metric=metric, alpha=alpha, max_slowdown=max_slowdown)
        alarms += res.exit_code
        bad += len(res.regressed)
        total += len(res.tests)
    return alarms, bad, total


def main() -> int:
    """Measure, pair, and print the rates."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pairs", type=int, default=20)
    ap.add_argument("--slow", type=float, default=1.25, help="work scale of the slow runs")
    ap.add_argument("--profile", default="smoke")
    ap.add_argument("--dir", type=Path, default=Path("/tmp/gate_aa"))
    args = ap.parse_args()
    n = args.pairs
    print(f"gate_aa: {n + 1} base runs and {n} runs at scale {args.slow} in {args.dir}",
          flush=True)
    base_dirs, slow_dirs = [], []
    for i in range(n + 1):
        base_dirs.append(measure(args.dir, f"base{i:02d}", 1.0, args.profile))
        if i < n:
            slow_dirs.append(measure(args.dir, f"slow{i:02d}", args.slow, args.profile))
    base = [load(d) for d in base_dirs]
    slow = [load(d) for d in slow_dirs]
    aa = list(itertools.pairwise(base))
    aa_all = list(itertools.combinations(base, 2))
    ab = list(zip(base[:n], slow, strict=True))

    print(f"\n{'metric':8} {'alpha':>6} {'max':>5} | {'A/A false alarms':>18} "
          f"{'(all pairs)':>13} {'points':>8} | {'A/B detected':>14} {'points':>8}")
    for metric in ("time", "speedup"):
        for alpha, mx in SETTINGS:
            fa, fa_pts, fa_tot = rates(aa, metric, alpha, mx)
            fa_all, _, _ = rates(aa_all, metric, alpha, mx)
            det, det_pts, det_tot = rates(ab, metric, alpha, mx)
            print(f"{metric:8} {alpha:>6g} {mx:>5.0%} | {fa:>3}/{len(aa)} = {fa / len(aa):4.0%}"
                  f"      {fa_all / len(aa_all):>8.1%} {fa_pts / fa_tot:>8.1%} | "
                  f"{det:>3}/{len(ab)} = {det / len(ab):4.0%} {det_pts / det_tot:>8.1%}",
                  flush=True)
    print("\nA pair alarms when any point regresses (concbench check exits 1); 'points' is "
          "the share of compared points flagged.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
