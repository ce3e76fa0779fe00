"""Does a live-report redraw slow the measured work?  Paired, cycle by cycle.

Usage: python scripts/live_overhead.py RUN_DIR [--cycles N] [--busy 1,2] [--priority idle|normal]

``busy`` processes (1: a sequential point's core; 2: a pool of W = C on this
2-core host) run a fixed CPU task back to back, logging each task's start and
duration.  Meanwhile, in each cycle, this script redraws a copy of RUN_DIR's
report the way a live run does (``python -m bench.report.live``, which moves
itself to ``SCHED_IDLE``; ``--priority normal`` skips that, for contrast) and
then waits as long again with no redraw.  Which half comes first alternates
by cycle.  A task counts for the half it started in.  Each cycle gives one
paired ratio (median task time while drawing / median task time without),
and the figure printed is the median of the cycles' ratios with its
distribution-free 95 % interval (the rounds' rule of :mod:`bench.results.stats`).
Also printed: the share of a quick run's sweep that had a redraw running,
from its run.json and the redraw's measured length, which bounds what the
redraws can cost the run as a whole.  Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.results.stats import median_interval

TASK = 20_000


def worker(log: str, stop_at: float) -> None:
    import cpu_tasks

    with Path(log).open("w", encoding="utf-8") as out:
        while (t0 := time.perf_counter()) < stop_at:
            cpu_tasks.cpu(0, TASK)
            out.write(f"{time.monotonic()} {time.perf_counter() - t0}\n")


def redraw(run_dir: Path, priority: str) -> float:
    """Seconds one redraw took (at the asked priority)."""
    cmd = [sys.executable, "-m", "bench.report.live", str(run_dir)]
    if priority == "normal":
        cmd = [sys.executable, "-c", "import sys; from bench.report.live import redraw; "
               "from pathlib import Path; redraw(Path(sys.argv[1]))", str(run_dir)]
    t0 = time.monotonic()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.monotonic() - t0


def measure(run_dir: Path, cycles: int, busy: int, priority: str) -> tuple[list[float], float]:
    """Per-cycle ratios (drawing / not drawing) and the redraws' median length."""
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "run"
        shutil.copytree(run_dir, copy)
        length = redraw(copy, priority)  # warms the imports, and sizes the halves
        half = max(1.0, length * 1.2)
        stop_at = float("inf")  # the workers run until terminated: a starved redraw is long
        logs = [str(Path(tmp) / f"w{i}.log") for i in range(busy)]
        procs = [mp.get_context("fork").Process(target=worker, args=(log, stop_at))
                 for log in logs]
        for p in procs:
            p.start()
        time.sleep(1.0)
        halves: list[tuple[float, float, bool, int]] = []
        lengths = []
        for c in range(cycles):
            for drawing in ((True, False) if c % 2 == 0 else (False, True)):
                t0 = time.monotonic()
                if drawing:
                    lengths.append(redraw(copy, priority))
                else:
                    time.sleep(half)
                halves.append((t0, time.monotonic(), drawing, c))
        for p in procs:
            p.terminate()
            p.join()
        tasks = [tuple(map(float, line.split())) for log in logs
                 for line in Path(log).read_text().splitlines()]
    ratios = []
    for c in range(cycles):
        med = {}
        for t0, t1, drawing, cyc in halves:
            if cyc != c:
                continue
            inside = [d for t, d in tasks if t0 <= t - d < t1]
            if inside:
                med[drawing] = statistics.median(inside)
        if len(med) == 2:
            ratios.append(med[True] / med[False])
    return ratios, statistics.median(lengths)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--cycles", type=int, default=12)
    parser.add_argument("--busy", default="1,2")
    parser.add_argument("--priority", choices=("idle", "normal"), default="idle")
    args = parser.parse_args(argv)
    manifest = json.loads((args.run_dir / "run.json").read_text())
    sweep = manifest.get("sweep", {})
    progress = manifest.get("progress", {})
    for busy in map(int, args.busy.split(",")):
        ratios, length = measure(args.run_dir, args.cycles, busy, args.priority)
        iv = median_interval(np.array(ratios))
        print(f"{busy} busy process(es), redraw at {args.priority} priority: measured tasks "
              f"took {iv.centre:.3f}x as long while a redraw ran (95 % CI {iv.low:.3f}-"
              f"{iv.high:.3f}, {len(ratios)} paired cycles); one redraw took {length:.1f} s")
        if sweep.get("wall_s"):
            # a live run redraws after each planned round, then at most every 30 s
            redraws = progress.get("planned_rounds", 0) + sweep["wall_s"] / 30.0
            share = min(1.0, redraws * length / sweep["wall_s"])
            print(f"  a run like {args.run_dir.name} ({sweep['wall_s']:.0f} s sweep) has a "
                  f"redraw running at most {share:.0%} of its sweep (<= {redraws:.0f} redraws): "
                  f"a slowdown of the run as a whole of at most "
                  f"{share * (iv.centre - 1):+.1%} (upper CI {share * (iv.high - 1):+.1%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
