"""Measure the regression gate itself: false alarms (A/A) and detection (A/B).

Makes ``--pairs + 1`` smoke runs at work scale 1.0 and ``--pairs`` at a
slower scale (1.25 by default), interleaved (base, slow, base, slow, ...) so
that drift of the host hits both kinds alike, then forms pairs:

* A/A: consecutive base runs ``(b[i], b[i+1])`` -> ``--pairs`` pairs, plus
  every pair of base runs as a second, correlated estimate;
* A/B: ``(b[i], s[i])`` -> ``--pairs`` pairs with a known slowdown.

* A/B over all pairs: every base run against every slow run.

A pair "alarms" when ``concbench check`` would exit 1.  The rates are printed
for the gate's defaults and a few neighbouring settings, for both metrics, and
for the previous rule (rank test + ratio of medians only, without the CI and
stability conditions) for comparison.  Runs are kept in ``--dir``; a second
call reuses those already there.  ``--reuse DIR`` measures nothing: it
evaluates the ``base*`` and ``slow*`` runs already in ``DIR`` (offline).

Usage::

    .venv/bin/python scripts/gate_aa.py --pairs 20 --dir /tmp/gate_aa > /tmp/gate_aa.log
    .venv/bin/python scripts/gate_aa.py --reuse /tmp/gate_aa      # no new measurement
"""

from __future__ import annotations

import argparse
import itertools
import subprocess
import sys
import time
from pathlib import Path

from bench.gate.check import check_runs
from bench.results.aggregate import RunData, load
from bench.results.store import RESULTS

SETTINGS = {"time": [(0.002, 0.10), (0.002, 0.05), (0.01, 0.10), (0.05, 0.10), (0.002, 0.15),
                      (0.002, 0.20)],
            "speedup": [(0.002, 0.10)]}
Pair = tuple[RunData, RunData]


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


class Tally:
    """Counts over a set of pairs, for the gate's rule and the previous one."""

    def __init__(self) -> None:
        self.pairs = self.alarms = self.alarms_old = 0
        self.points = self.bad = self.bad_old = self.unsure = 0

    def add(self, base: RunData, cur: RunData, metric: str, alpha: float, mx: float) -> None:
        """Gate one pair and count its verdicts."""
        # A/B pairs differ in work scale on purpose: match points by name, not by work
        res = check_runs(base, cur, metric=metric, alpha=alpha, max_slowdown=mx, match_work=False)
        old = [t for t in res.tests if t.significant and t.slowdown > 1 + mx]
        self.pairs += 1
        self.alarms += res.exit_code
        self.alarms_old += bool(old)
        self.points += len(res.tests)
        self.bad += len(res.regressed)
        self.bad_old += len(old)
        self.unsure += len(res.inconclusive)

    def share(self, old: bool = False) -> str:
        """Alarmed pairs as ``k/n = p %``."""
        k = self.alarms_old if old else self.alarms
        return f"{k:>3}/{self.pairs:<3} = {k / self.pairs:6.1%}"


def run_dirs(args: argparse.Namespace) -> tuple[list[Path], list[Path]]:
    """The base and slow run directories: measured (``--dir``) or found (``--reuse``)."""
    if args.reuse is not None:
        base = sorted(d for d in args.reuse.glob("base*") if (d / RESULTS).is_file())
        slow = sorted(d for d in args.reuse.glob("slow*") if (d / RESULTS).is_file())
        if len(base) < 2 or not slow:
            raise SystemExit(f"gate_aa: {args.reuse} needs 2+ base* and 1+ slow* run dirs")
        print(f"gate_aa: reusing {len(base)} base runs and {len(slow)} slow runs in "
              f"{args.reuse} (nothing measured)", flush=True)
        return base, slow
    n = args.pairs
    print(f"gate_aa: {n + 1} base runs and {n} runs at scale {args.slow} in {args.dir}",
          flush=True)
    base_dirs, slow_dirs = [], []
    for i in range(n + 1):
        base_dirs.append(measure(args.dir, f"base{i:02d}", 1.0, args.profile))
        if i < n:
            slow_dirs.append(measure(args.dir, f"slow{i:02d}", args.slow, args.profile))
    return base_dirs, slow_dirs


def main() -> int:
    """Measure (or reuse), pair, and print the rates."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pairs", type=int, default=20)
    ap.add_argument("--slow", type=float, default=1.25, help="work scale of the slow runs")
    ap.add_argument("--profile", default="smoke")
    ap.add_argument("--dir", type=Path, default=Path("/tmp/gate_aa"))
    ap.add_argument("--reuse", type=Path, default=None, metavar="DIR",
                    help="evaluate the runs already in DIR; measure nothing")
    args = ap.parse_args()
    base_dirs, slow_dirs = run_dirs(args)
    base = [load(d) for d in base_dirs]
    slow = [load(d) for d in slow_dirs]
    n = min(len(base) - 1, len(slow))
    groups: dict[str, list[Pair]] = {
        "aa": list(itertools.pairwise(base))[:n],
        "aa_all": list(itertools.combinations(base, 2)),
        "ab": list(zip(base[:n], slow[:n], strict=True)),
        "ab_all": list(itertools.product(base, slow)),
    }
    print(f"\n{'metric':8} {'alpha':>6} {'max':>4} | {'A/A false alarms':>18} "
          f"{'all A/A pairs':>20} {'incon.':>7} | {'A/B detected':>18} {'all A/B pairs':>20}"
          f" {'points':>7}")
    for metric, settings in SETTINGS.items():
        for alpha, mx in settings:
            t = {k: Tally() for k in groups}
            for key, pairs in groups.items():
                for b, c in pairs:
                    t[key].add(b, c, metric, alpha, mx)
            for old in (False, True):
                label = "previous rule" if old else ""
                incon = "" if old else f"{t['aa_all'].unsure / t['aa_all'].points:7.1%}"
                pts = (t["ab_all"].bad_old if old else t["ab_all"].bad) / t["ab_all"].points
                print(f"{metric:8} {alpha:>6g} {mx:>4.0%} | {t['aa'].share(old)} "
                      f"{t['aa_all'].share(old)} {incon:>7} | {t['ab'].share(old)} "
                      f"{t['ab_all'].share(old)} {pts:>7.1%} {label}", flush=True)
    print("\nA pair alarms when any point regresses (concbench check exits 1). Designated "
          "pairs: consecutive base runs (A/A) and base[i] vs slow[i] (A/B); 'all': every "
          "pair of base runs, every base run vs every slow run. 'incon.': share of A/A points "
          "found inconclusive (unstable); 'points': share of A/B points that regressed. "
          "'previous rule': rank test + ratio of medians only.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
