"""Does a numeric point read the same whatever else its child holds?

Usage: python scripts/native_case.py [--rounds 20] [--tasks 4]

Measures ``examples/numeric``'s numpy workload (one 300 x 300 product a task) in rounds
of two children started back to back, in alternating order: one holding only its
sequential point ("alone"), one holding it beside every pool of its group (thread
pools and fork and spawn process pools at W = 1, 2 and 4: "beside"), each child as a
run's would (:func:`bench.measure.launch.run_child`; pools made and warmed first, the
other points interleaved, the child settling other threads before each value).  Both
children time the same loops per value.  A round's ratio (beside's median over alone's)
is taken seconds apart, so the host's drift between moments, which moves the alone point
by itself from minute to minute, mostly cancels; the median ratio comes with the
distribution-free 95 % interval over the rounds (:func:`bench.results.stats.median_interval`).
Also printed: the native pools each model's processes held, and the settling's cost.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path
from typing import Any

import numpy as np

from bench.cli import build_parser, run_config
from bench.measure import launch, runner
from bench.results.stats import median_interval
from bench.scenarios.models import STEADY, Point

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "numeric"
BESIDE = ["--models", "sequential,thread_pool,process_pool", "--start-methods", "fork,spawn",
          "--workers", "1,2,4"]


def _points(tasks: int) -> tuple[runner.Plan, list[Point]]:
    args = build_parser().parse_args(["run", "--profile", "quick", "--tasks", str(tasks),
                                      "--workload", "matmul=matmul:product", "--sizes", "300",
                                      "--path", str(EXAMPLE), *BESIDE])
    planned = runner.plan(run_config(args), str(EXAMPLE))
    return planned, [p for p in planned.points if p.metric == STEADY]


def _job(round_: int, loops: dict[str, int]) -> dict[str, Any]:
    return {"metrics": [], "round": round_, "seed": "native-case", "values": 3, "warmups": 1,
            "min_time": 0.03, "loops": loops, "verify": [] if round_ else list(loops),
            "meta": {}}


def _values(result: launch.ChildResult) -> dict[str, Any]:
    if result.failures:
        raise SystemExit(f"native_case: a point failed: {result.failures}")
    return {b.get_name(): b for b in result.benchmarks}


def main(argv: list[str] | None = None) -> int:
    """Run the rounds and print what they say."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--tasks", type=int, default=4)
    args = parser.parse_args(argv)
    planned, points = _points(args.tasks)
    base = next(p for p in points if p.model == "sequential")
    sides = {"alone": [base], "beside": points}
    loops = {p.name: 2 for p in points}  # the same batches per value in both children
    ratios, settle, held = [], [], {}
    for r in range(args.rounds):
        got = {}
        for side in (("alone", "beside") if r % 2 == 0 else ("beside", "alone")):
            job = _job(r, {p.name: loops[p.name] for p in sides[side]})
            result = launch.run_child(planned.interp, job, sides[side], 600.0)
            got[side] = _values(result)
            if side == "beside":
                settle.append(result.phases.get("settle", 0.0) / result.phases["main"])
        medians = {s: statistics.median(got[s][base.name].get_values()) for s in got}
        ratios.append(medians["beside"] / medians["alone"])
        if r == 0:
            held = {n: b.get_runs()[0].get_metadata().get("native_pools", "")
                    for n, b in got["beside"].items()}
        print(f"round {r}: alone {medians['alone'] * 1e3:.2f} ms, beside "
              f"{medians['beside'] * 1e3:.2f} ms: {ratios[-1]:.3f}x", flush=True)
    for name, pools in held.items():
        print(f"  {name}: {pools}")
    ci = median_interval(np.asarray(ratios))
    print(f"{base.name}, beside / alone, paired by round over {len(ratios)} rounds: median "
          f"{ci.centre:.3f}x (95 % CI {ci.low:.3f}-{ci.high:.3f}); settling took "
          f"{100 * statistics.median(settle):.0f} % of a beside child's time")
    return 0


if __name__ == "__main__":
    sys.exit(main())
