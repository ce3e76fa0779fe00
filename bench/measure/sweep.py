"""One session of a run: round children one at a time, each one's values saved as it ends.

A round measures every point once: one child (:mod:`bench.measure.child`, started by
:mod:`bench.measure.launch`) per group of points sharing a workload, a task count and
a task size, the groups in a seeded pseudo-random order (:mod:`bench.measure.rounds`).
Children run one at a time (never two at once: they would share the cores
they measure).  A point that fails, crashes its child or hangs is recorded as
failed with its reason; the rest of its group is measured again without it,
and the sweep goes on.  After every child the results file and the manifest
are rewritten atomically.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyperf

from bench.measure import launch
from bench.measure.config import RunConfig, point_metadata, run_metadata
from bench.measure.interpreter import Interpreter
from bench.measure.manifest import DONE, FAILED, PENDING, final_status
from bench.measure.progress import Progress
from bench.measure.rounds import ExtraRounds, GroupKey, baseline_of, group_key, groups, round_order
from bench.results import store
from bench.scenarios.grid import PROFILES, Profile
from bench.scenarios.models import STEADY, Point


@dataclass
class Outcome:
    """What became of one point."""

    point: Point
    ok: bool
    reason: str = ""


@dataclass
class RunResult:
    """The end of a sweep."""

    run_dir: Path
    outcomes: list[Outcome]
    interrupted: bool = False

    @property
    def failed(self) -> list[Outcome]:
        """Points that did not complete."""
        return [o for o in self.outcomes if not o.ok]


class Sweep:
    """The state of one session of a run: benchmarks on disk, rounds, failures."""

    def __init__(self, config: RunConfig, run_dir: Path, interp: Interpreter,
                 points: Sequence[Point], manifest: dict[str, Any],
                 benchmarks: list[pyperf.Benchmark], progress: Progress) -> None:
        self.config, self.run_dir, self.interp = config, run_dir, interp
        self.manifest, self.progress = manifest, progress
        self.profile: Profile = PROFILES[config.grid.profile]
        self.points = list(points)
        self.grid = groups(points)
        self.entries = {e["name"]: e for e in manifest["points"]}
        self.bench: dict[str, pyperf.Benchmark] = {b.get_name(): b for b in benchmarks}
        self.shared = run_metadata(interp, config)
        #: Seconds each group's last child took, and how many points it measured.
        self.costs: dict[GroupKey, tuple[float, int]] = {}

    # ------------------------------------------------------------- bookkeeping
    def rounds_of(self, name: str) -> set[int]:
        """The rounds a point has values from."""
        b = self.bench.get(name)
        return set() if b is None else {int(r.get_metadata().get("round", i))
                                        for i, r in enumerate(b.get_runs())}

    def failed(self) -> set[str]:
        """The names of the points that failed."""
        return {n for n, e in self.entries.items() if e["status"] == FAILED}

    def _loops(self, name: str) -> int | None:
        b = self.bench.get(name)
        return int(b.get_runs()[0].get_loops()) if b is not None else None

    def _job(self, round_: int, points: Sequence[Point]) -> dict[str, Any]:
        loops = {p.name: n for p in points if (n := self._loops(p.name))}
        return {
            "round": round_, "seed": self.config.seed, "values": self.profile.values,
            "warmups": self.profile.warmups, "min_time": self.profile.min_time,
            "loops": loops, "verify": [p.name for p in points if p.name not in self.bench],
            "meta": {p.name: point_metadata(p, self.shared) for p in points},
        }

    def _save(self, touched: Sequence[Point]) -> None:
        if self.bench:  # pyperf writes no empty suite: nothing measured yet, nothing to save
            store.save_results(self.run_dir / store.RESULTS, self.bench.values())
        for p in touched:  # only once the values are on disk does the manifest say so
            entry = self.entries[p.name]
            entry["rounds"] = len(self.rounds_of(p.name))
            if entry["status"] != FAILED and entry["rounds"]:
                entry["status"] = DONE
        store.write_manifest(self.run_dir, self.manifest)

    def _fail(self, name: str, reason: str) -> None:
        entry = self.entries[name]
        entry["status"], entry["reason"] = FAILED, reason

    # ---------------------------------------------------------------- measuring
    def measure(self, label: str, round_: int, points: Sequence[Point]) -> None:
        """One group-round: a child, again without the point that crashed or hung it."""
        todo = [p for p in points if p.name not in self.failed()]
        self.progress.begin(label)
        seconds, lines = 0.0, []
        while todo:
            result = launch.run_child(self.interp, self._job(round_, todo), list(todo),
                                      self.config.point_timeout, self.config.name)
            seconds += result.seconds
            for name, reason in result.failures.items():
                self._fail(name, reason)
                lines.append(f"FAILED {name}: {reason}")
            for b in result.benchmarks:
                if b.get_name() in self.bench:
                    self.bench[b.get_name()].add_runs(b)
                else:
                    self.bench[b.get_name()] = b
            self._save(todo)
            if result.culprit is None:
                break
            todo = [p for p in todo if p.name not in self.failed()]
        self.costs[group_key(points[0])] = (seconds, len(points))
        self.progress.end(label, sum(round_ in self.rounds_of(p.name) for p in points), lines)

    def planned(self) -> None:
        """The profile's planned rounds, skipping group-rounds already on disk."""
        keys = list(self.grid)
        total = self.profile.rounds * len(keys)
        done = sum(self._has(k, r) for r in range(self.profile.rounds) for k in keys)
        self.progress.start(total, done_before=done)
        for r in range(self.profile.rounds):
            for n, key in enumerate(round_order(keys, self.config.seed, r), 1):
                if not self._has(key, r):
                    label = (f"round {r + 1}/{self.profile.rounds} \N{MIDDLE DOT} "
                             f"{n}/{len(keys)} {group_label(key)}")
                    self.measure(label, r, self.grid[key])
        for key, members in self.grid.items():
            self._make_up(key, members)

    def _make_up(self, key: GroupKey, members: Sequence[Point]) -> None:
        """Planned rounds a point lacks while its group has them (it failed, then --resume).

        Each make-up round is a fresh round of the group: the short points and
        the baseline, so that it gives paired speedups (the whole group when the
        baseline is the one short of rounds).
        """
        base = baseline_of(members)
        while True:
            dead = self.failed()
            short = [p for p in members if p.name not in dead
                     and len(self.rounds_of(p.name)) < self.profile.rounds]
            if not short:
                return
            if base is not None and base in short:
                short = [p for p in members if p.name not in dead]
            elif base is not None and base.name not in dead:
                short = [base, *short]
            round_ = self.next_round(members)
            before = {p.name: len(self.rounds_of(p.name)) for p in short}
            self.measure(f"make-up round {round_ + 1} \N{MIDDLE DOT} {group_label(key)}",
                         round_, short)
            if all(len(self.rounds_of(n)) == k for n, k in before.items()):
                return  # nothing measured (every point failed): stop

    def next_round(self, members: Sequence[Point]) -> int:
        """The first round number none of ``members`` has yet."""
        return max((max(self.rounds_of(p.name), default=-1) for p in members), default=-1) + 1

    def close(self, interrupted: bool) -> None:
        """Write the manifest's final status (call with signals ignored)."""
        self.manifest["status"] = final_status(self.manifest, interrupted)
        store.write_manifest(self.run_dir, self.manifest)

    def result(self, interrupted: bool) -> RunResult:
        """What became of every point the sweep reached."""
        outcomes = [Outcome(p, e["status"] == DONE, e["reason"])
                    for p in self.points if (e := self.entries[p.name])["status"] != PENDING]
        return RunResult(self.run_dir, outcomes, interrupted)

    def _has(self, key: GroupKey, round_: int) -> bool:
        return any(round_ in self.rounds_of(p.name) for p in self.grid[key])

    def extra(self, deadline: float) -> None:
        """Extra rounds where the intervals are widest, while the profile's time allows."""
        if self.profile.max_rounds <= self.profile.rounds:
            return
        from bench.results.aggregate import STABLE_HALF_WIDTH, widths  # pandas, scipy: only here

        chooser = ExtraRounds(STABLE_HALF_WIDTH, self.profile.max_rounds, self.costs)
        first = True
        while True:
            width = widths(list(self.bench.values()))
            rounds = {n: len(self.rounds_of(n)) for n in self.entries}
            pick = chooser.next(self.grid, width, rounds, self.failed(),
                                deadline - time.monotonic())
            if pick is None:
                return
            key, todo = pick
            if first:
                self.progress.note("extra rounds where intervals are widest, "
                                   "while the profile's time allows")
                first = False
            round_ = self.next_round(self.grid[key])
            wide = max(width.get(p.name, math.inf) for p in todo)
            self.measure(f"extra round {round_ + 1} \N{MIDDLE DOT} {group_label(key)} "
                         f"(widest \N{PLUS-MINUS SIGN}{wide:.1%})", round_, todo)


def group_label(key: GroupKey) -> str:
    """``cpu T=16 size=1e+05`` (and the metric, for cold points): a group in progress lines."""
    workload, tasks, size, metric = key
    return f"{workload} T={tasks} size={size:g}" + ("" if metric == STEADY else f" {metric}")
