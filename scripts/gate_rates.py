"""Measure the gates: false-alarm and detection rates, with 95 % Clopper-Pearson intervals.

Two steps, so that a long collection can be resumed and analysed as it goes::

    python scripts/gate_rates.py collect OUT [--aa 60 --ab 20 --slower 10 --hist 60 --scaling 20]
    python scripts/gate_rates.py analyze OUT [--window 10]

``collect`` runs, from ``examples/gate`` (one extra workload, ``crunch``, in three
versions of its module), in a shuffled order so that the host's drift falls on
every kind alike, and skipping jobs already complete:

* ``aa``: ``concbench ab path=base path=base`` on the smoke profile's grid plus
  ``crunch`` (A/A: any regressed point is a false alarm);
* ``ab``: ``concbench ab scale=1 scale=1.25``, same grid (built-in workloads
  1.25x the work; ``crunch``, a declared workload, keeps its size);
* ``slower``: ``concbench ab path=base path=slower --workloads crunch`` (1.6x
  slower and noisier);
* ``hist``: plain smoke runs of the base tree (the history, and its A/A checks);
* ``scaling``: plain smoke runs of ``pickles`` (process-pool tasks return a
  large list: a scaling regression), started once ``--window`` history runs exist.

``analyze`` re-decides every A/B job from its run directory
(:func:`bench.gate.ab_report.evaluate`) and replays the history gate: each
history run from the ``window + 1``-th on is checked against the ``window``
runs before it, each scaling run against the ``window`` history runs before it.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from scipy import stats

ROOT = Path(__file__).resolve().parents[1]
GATE = ROOT / "examples" / "gate"
GRID = ["--profile", "smoke", "--workloads", "cpu,hash,sleep,async_sleep,crunch"]
COMMANDS: dict[str, list[str]] = {
    "aa": ["ab", "path=base", "path=base", *GRID],
    "ab": ["ab", "scale=1", "scale=1.25", "--path", "base", *GRID],
    "slower": ["ab", "path=base", "path=slower", "--profile", "smoke", "--workloads", "crunch"],
    "hist": ["run", "--path", "base", *GRID],
    "scaling": ["run", "--path", "pickles", *GRID],
}


def plan(counts: dict[str, int], window: int, seed: int) -> list[tuple[str, int]]:
    """The jobs in their order: ``window`` history runs first, then all shuffled."""
    first = [("hist", i) for i in range(min(window, counts["hist"]))]
    rest = [(k, i) for k, n in counts.items() for i in range(n) if (k, i) not in first]
    random.Random(seed).shuffle(rest)
    return first + rest


def collect(out: Path, counts: dict[str, int], window: int, concbench: str, seed: int) -> None:
    """Run the jobs not done yet; append one JSON line per job to ``out/jobs.jsonl``."""
    out.mkdir(parents=True, exist_ok=True)
    done = {(r["kind"], r["index"]) for r in _jobs(out)}
    for kind, i in plan(counts, window, seed):
        if (kind, i) in done:
            continue
        name = f"{kind}-{i:03d}"
        cmd = [concbench, *COMMANDS[kind], "--output-dir", str(out / kind), "--name", name,
               "--force", "-q", "--no-report"]
        t0 = time.time()
        proc = subprocess.run(cmd, cwd=GATE, capture_output=True, text=True, check=False)
        with (out / "log.txt").open("a") as log:
            log.write(f"$ {' '.join(cmd)}\n{proc.stdout}{proc.stderr}\n")
        record = {"kind": kind, "index": i, "name": name, "start": t0, "end": time.time(),
                  "exit": proc.returncode}
        with (out / "jobs.jsonl").open("a") as fh:
            fh.write(json.dumps(record) + "\n")
        print(f"{kind:8} {i:3d} exit {proc.returncode} {record['end'] - t0:5.1f} s", flush=True)


def _jobs(out: Path) -> list[dict[str, Any]]:
    path = out / "jobs.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def rate(k: int, n: int) -> str:
    """``k/n = p % (95 % CI lo-hi %)``, Clopper-Pearson."""
    if n == 0:
        return "0/0"
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="exact")
    return f"{k}/{n} = {100 * k / n:.1f} % (95 % CI {100 * ci.low:.1f}-{100 * ci.high:.1f} %)"


def analyze_ab(out: Path) -> list[str]:
    """False alarms of A/A jobs, detection in A/B and slower jobs."""
    from bench.gate.ab_report import evaluate

    lines = []
    jobs = sorted(_jobs(out), key=lambda r: r["start"])
    verdicts: dict[str, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
    missed: dict[str, list[bool]] = defaultdict(list)  # A/A: the 95 % interval excludes 1
    for r in jobs:
        if r["kind"] in ("aa", "ab", "slower") and r["exit"] in (0, 1):
            res = evaluate(out / r["kind"] / r["name"])
            verdicts[r["kind"]].append((r["name"], {
                t.name: (t.verdict, t.ratio) for t in res.tests}))
            if r["kind"] == "aa":
                for t in res.tests:
                    kind = "extra" if t.rounds > (res.planned or t.rounds) else "planned"
                    missed[kind].append(not t.low <= 1.0 <= t.high)
    aa = verdicts["aa"]
    alarms = sum(any(v == "regressed" for v, _ in tests.values()) for _, tests in aa)
    points = sum(len(tests) for _, tests in aa)
    undecided = sum(v == "undecided" for _, tests in aa for v, _ in tests.values())
    lines.append(f"A/A jobs with a false alarm: {rate(alarms, len(aa))}")
    lines.append(f"A/A points undecided at the end: {rate(undecided, points)}")
    for kind, what in (("planned", "the planned rounds only"), ("extra", "extra rounds")):
        lines.append(f"A/A 95 % ratio intervals that exclude 1, points with {what}: "
                     f"{rate(sum(missed[kind]), len(missed[kind]))}")
    every = missed["planned"] + missed["extra"]
    lines.append("A/A 95 % ratio intervals that exclude 1, all points: "
                 f"{rate(sum(every), len(every))}")
    ab = verdicts["ab"]
    if ab:
        truth: dict[str, list[float]] = defaultdict(list)
        for _, tests in ab:
            for name, (_, ratio) in tests.items():
                truth[name].append(math.log(ratio))
        true = {n: math.exp(sum(v) / len(v)) for n, v in truth.items()}
        for lo, hi, what in ((1.25, 9.0, "slowed >= 1.25x"), (1.2, 1.25, "slowed 1.20-1.25x"),
                             (1.1, 1.2, "slowed 1.10-1.20x"), (0.0, 1.1, "slowed < 1.10x")):
            names = {n for n, t in true.items() if lo <= t < hi}
            hits = sum(tests[n][0] == "regressed" for _, tests in ab for n in names
                       if n in tests)
            total = sum(n in tests for _, tests in ab for n in names)
            lines.append(f"scale=1.25, points {what} ({len(names)} points): regressed in "
                         f"{rate(hits, total)}")
        jobs_fail = sum(any(v == "regressed" for v, _ in tests.values()) for _, tests in ab)
        lines.append(f"scale=1.25 jobs that fail: {rate(jobs_fail, len(ab))}")
    slower = verdicts["slower"]
    if slower:
        fails = sum(any(v == "regressed" for v, _ in tests.values()) for _, tests in slower)
        lines.append("1.6x slower and noisier (crunch): jobs that fail: "
                     f"{rate(fails, len(slower))}")
        lines.append("  " + _check_today(out, [n for n, _ in slower]))
    return lines


def _check_today(out: Path, names: list[str]) -> str:
    """``concbench check`` on the two sides of each slower job: how often it fails."""
    from bench.gate.check import check_runs
    from bench.results.aggregate import load

    fails = 0
    for name in names:
        run = out / "slower" / name
        res = check_runs(load(run / "a"), load(run / "b"))
        fails += bool(res.regressed)
    return f"concbench check (A side vs B side of the same jobs) fails: {rate(fails, len(names))}"


#: The point ``pickles`` slows: its tasks' results cross a process boundary only there.
SCALED = "crunch/process_pool[fork]/t4/w2"


def analyze_history(out: Path, window: int) -> list[str]:
    """Replay the history gate over the plain runs, in the order they were measured.

    Every kind of run whose name starts with ``scaling`` (for example a
    ``scaling40`` folder kept from a first payload size) is scored on its own.
    """
    from bench.gate import history
    from bench.results.aggregate import load

    jobs = sorted((r for r in _jobs(out) if (r["kind"] == "hist"
                                             or r["kind"].startswith("scaling"))
                   and r["exit"] == 0), key=lambda r: r["start"])
    past: list[dict[str, Any]] = []
    aa = [0, 0]
    score: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"hits": [0, 0], "others": [0, 0], "truth": []})
    spread_lines: list[str] = []
    for r in jobs:
        run = load(out / r["kind"] / r["name"])
        if len(past) >= window:
            res = history.check(past[-window:], run)
            bad = {t.name for t in res.regressed}
            if r["kind"] == "hist":
                aa[0] += bool(bad)
                aa[1] += 1
                if not spread_lines:
                    spread_lines = [f"  {s}" for s in res.visibility()[:6]]
            else:
                k = score[r["kind"]]
                k["hits"][0] += SCALED in bad
                k["hits"][1] += 1
                k["others"][0] += bool(bad - {SCALED})
                k["others"][1] += 1
                k["truth"] += [t.slowdown for t in res.tests
                               if t.name == SCALED and t.metric == "speedup"]
        if r["kind"] == "hist":
            past.append(history.entry(run))
    lines = [f"history gate, A/A checks (window {window}): runs with a false alarm: "
             f"{rate(*aa)}"]
    for kind, k in sorted(score.items()):
        gm = math.exp(sum(map(math.log, k["truth"])) / max(1, len(k["truth"])))
        lines.append(f"{kind}: {SCALED} speedup lower by {gm:.3f}x (geometric mean against "
                     f"each run's history); flagged in {rate(*k['hits'])}; runs with another "
                     f"figure flagged: {rate(*k['others'])}")
    return lines + spread_lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("collect")
    c.add_argument("out", type=Path)
    for kind, n in (("aa", 60), ("ab", 20), ("slower", 10), ("hist", 60), ("scaling", 20)):
        c.add_argument(f"--{kind}", type=int, default=n)
    c.add_argument("--window", type=int, default=10)
    c.add_argument("--seed", type=int, default=1)
    c.add_argument("--concbench", default=str(Path(sys.executable).parent / "concbench"))
    a = sub.add_parser("analyze")
    a.add_argument("out", type=Path)
    a.add_argument("--window", type=int, default=10)
    args = p.parse_args(argv)
    if args.cmd == "collect":
        counts = {k: getattr(args, k) for k in COMMANDS}
        collect(args.out.resolve(), counts, args.window, args.concbench, args.seed)
        return 0
    for line in analyze_ab(args.out) + analyze_history(args.out, args.window):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
