"""One session of a run: round children one at a time, each one's values saved as it ends.

A round measures every point once: one child (:mod:`bench.measure.child`, started by
:mod:`bench.measure.launch`) per group of points sharing a workload, a task count and
a task size, the groups in a seeded pseudo-random order (:mod:`bench.measure.rounds`).
Children run one at a time (never two at once: they would share the cores
they measure).  A point that fails, crashes its child or hangs is recorded as
failed with its reason; the rest of its group is measured again without it,
and the sweep goes on.  In a run of several interpreters each group gets one
child per interpreter, back to back, in the round's order of interpreters.
After every child the results file and the manifest are rewritten atomically.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyperf

from bench.measure import launch
from bench.measure.budget import Budget
from bench.measure.config import RunConfig, point_metadata, run_metadata
from bench.measure.interpreter import Interpreter
from bench.measure.live import MIN_INTERVAL_S, LiveReport
from bench.measure.manifest import DONE, FAILED, PENDING, final_status
from bench.measure.overhead import Overhead
from bench.measure.progress import Progress
from bench.measure.race import Race
from bench.measure.rounds import (
    ExtraRounds,
    GroupKey,
    group_key,
    groups,
    python_order,
    round_order,
    with_partners,
)
from bench.measure.services import Running
from bench.results import store
from bench.scenarios.grid import PROFILES, Profile
from bench.scenarios.models import MODELS, STEADY, Point

#: Kinds of group-round, as the manifest's progress counts them.
PLANNED, EXTRA, MAKE_UP = "planned", "extra", "make-up"


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
    #: Where the sweep's wall time went (:meth:`Overhead.to_dict`; empty: no child ran).
    overhead: dict[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> list[Outcome]:
        """Points that did not complete."""
        return [o for o in self.outcomes if not o.ok]


class Sweep:
    """The state of one session of a run: benchmarks on disk, rounds, failures."""

    def __init__(self, config: RunConfig, run_dir: Path, interps: Mapping[str, Interpreter],
                 points: Sequence[Point], manifest: dict[str, Any],
                 benchmarks: list[pyperf.Benchmark], progress: Progress) -> None:
        #: The interpreters by tag (``Point.python``; "" in a run of one).
        self.config, self.run_dir, self.interps = config, run_dir, dict(interps)
        self.manifest, self.progress = manifest, progress
        self.profile: Profile = PROFILES[config.grid.profile]
        self.points = list(points)
        self.grid = groups(points)
        self.entries = {e["name"]: e for e in manifest["points"]}
        self.bench: dict[str, pyperf.Benchmark] = {b.get_name(): b for b in benchmarks}
        order = ",".join(self.interps)
        self.shared = {tag: {**run_metadata(i, config), **({"interpreters": order} if tag else {})}
                       for tag, i in self.interps.items()}
        #: Seconds each group's last child took, and how many points it measured.
        self.costs: dict[GroupKey, tuple[float, int]] = {}
        self.overhead = Overhead()
        #: Redraws of the report while the run goes on (None: no live report).
        self.live: LiveReport | None = None
        #: The run's budget (None: the planned rounds only, without a deadline); the
        #: children's speed readings reach it (its report reserve).
        self.budget: Budget | None = None
        #: The run's loopback services (none until the session starts them).
        self.services = Running()
        #: The race (``--until decided``; None: extra rounds where intervals are widest).
        self.race: Race | None = None
        self.planned_total, self.rounds_done, self.extra_done = 0, 0, 0

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

    def _job(self, round_: int, points: Sequence[Point], kind: str = MAKE_UP) -> dict[str, Any]:
        loops = {p.name: n for p in points if (n := self._loops(p.name))}
        return {
            # metrics come from the planned rounds (and their make-ups): extra rounds are
            # for the time intervals, and the metrics' probe batches would cost them
            "metrics": [] if kind == EXTRA else self.config.metric_names(),
            "round": round_, "seed": self.config.seed, "values": self.profile.values,
            "warmups": self.profile.warmups, "min_time": self.profile.min_time,
            "loops": loops, "verify": [p.name for p in points if p.name not in self.bench],
            "meta": {p.name: point_metadata(p, self.shared[p.python]) for p in points},
        }

    def _save(self, touched: Sequence[Point]) -> None:
        if self.bench:  # pyperf writes no empty suite: nothing measured yet, nothing to save
            store.save_results(self.run_dir / store.RESULTS, self.bench.values())
        for p in touched:  # only once the values are on disk does the manifest say so
            entry = self.entries[p.name]
            entry["rounds"] = len(self.rounds_of(p.name))
            if entry["status"] != FAILED and entry["rounds"]:
                entry["status"] = DONE
        self.manifest["progress"] = {
            "planned_group_rounds": self.planned_total, "group_rounds_done": self.rounds_done,
            "planned_rounds": self.profile.rounds, "extra_group_rounds": self.extra_done,
            "updated": dt.datetime.now().isoformat(" ", "seconds")}
        if self.race is not None:
            self.manifest["decisions"] = self.race.settings()
        store.write_manifest(self.run_dir, self.manifest)

    def _fail(self, name: str, reason: str) -> None:
        entry = self.entries[name]
        entry["status"], entry["reason"] = FAILED, reason

    # ---------------------------------------------------------------- measuring
    def measure(self, label: str, round_: int, points: Sequence[Point],
                kind: str = MAKE_UP) -> None:
        """One group-round: a child per interpreter, in consecutive children in the round's
        order (:func:`bench.measure.rounds.python_order`), each again without the point
        that crashed or hung it.

        ``kind`` (:data:`PLANNED`, :data:`EXTRA` or :data:`MAKE_UP`) is what the
        manifest's progress counts it as, once its values are saved.
        """
        if kind == EXTRA:
            self.extra_done += 1
        elif kind == PLANNED:
            self.rounds_done += 1
        self.progress.begin(label)
        seconds, lines = 0.0, list[str]()
        key = group_key(points[0])
        for tag in python_order(list(self.interps), self.config.seed, key, round_):
            todo = [p for p in points if p.python == tag]
            seconds += self._children(self.interps[tag], round_, todo, kind, lines)
        self.costs[key] = (seconds, len(points))
        self.progress.end(label, sum(round_ in self.rounds_of(p.name) for p in points), lines)

    def _children(self, interp: Interpreter, round_: int, points: Sequence[Point], kind: str,
                  lines: list[str]) -> float:
        """Measure ``points`` under ``interp``: seconds the children took."""
        todo = [p for p in points if p.name not in self.failed()]
        seconds = 0.0
        if todo and (why := self.services.failed.get(todo[0].work.service)):
            for p in todo:
                self._fail(p.name, why)
            lines.append(f"FAILED {group_label(group_key(todo[0]))}: {why}")
            todo = []
        while todo:
            result = launch.run_child(interp, self._job(round_, todo, kind), list(todo),
                                      self.config.point_timeout, self.config.name,
                                      self.services.for_point(todo[0]))
            seconds += result.seconds
            self.overhead.add(result)
            speeds = next((r for b in result.benchmarks
                           if (r := store.speed_readings(b.get_runs()[-1].get_metadata()))), [])
            if speeds and self.budget is not None:
                self.budget.host_speed(speeds[-1][0])  # the child's reading after its sweeps
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
        return seconds

    def planned(self) -> None:
        """The profile's planned rounds, skipping group-rounds already on disk.

        With a :attr:`budget`, the user is told when the run will end, and told
        again after the first round measured when the planned rounds will
        outlast the budget.
        """
        budget = self.budget
        keys = list(self.grid)
        total = self.profile.rounds * len(keys)
        done = sum(self._has(k, r) for r in range(self.profile.rounds) for k in keys)
        self.planned_total, self.rounds_done = total, done
        self.progress.start(total, done_before=done)
        if budget is not None:
            self.progress.note(budget.announce(total - done, self.race is not None))
        if self.race is not None:  # a resumed race: decide what is on disk first
            for key in keys:
                self.race.update(self._benchmarks(key), [p.name for p in self.grid[key]])
        began, measured, warned = time.monotonic(), 0, budget is None
        checked = self.overhead.phases["verify"]
        for r in range(self.profile.rounds):
            for n, key in enumerate(round_order(keys, self.config.seed, r), 1):
                todo = self._racing(key, r)
                if todo and not self._has(key, r):
                    label = (f"round {r + 1}/{self.profile.rounds} \N{MIDDLE DOT} "
                             f"{n}/{len(keys)} {group_label(key)}")
                    self.measure(label, r, todo, PLANNED)
                    measured += 1
                    self._decide(key, r)
            if self.live is not None and measured:
                self.live.update()
            if not warned and measured and budget is not None:
                warned = True
                # the points' results are checked once, in their first round: not again
                once = self.overhead.phases["verify"] - checked
                late = budget.overrun(time.monotonic() - began - once, measured, total - done)
                if late:
                    self.progress.note(late)
        for key, members in self.grid.items():
            if self.race is None or self.race.racing(members) is None:
                self._make_up(key, members)

    def _racing(self, key: GroupKey, round_: int) -> list[Point]:
        """The points of group ``key`` that planned round ``round_`` measures: every one,
        or in a race past its first look those still racing (none once decided)."""
        members = self.grid[key]
        if self.race is None or round_ < self.race.looks.first:
            return list(members)
        dead = self.failed()
        todo = self.race.racing([p for p in members if p.name not in dead])
        return list(members) if todo is None else todo

    def _decide(self, key: GroupKey, round_: int) -> None:
        """Decide group ``key``'s questions again once the race's first look is near."""
        if self.race is not None and round_ + 1 >= self.race.looks.first:
            self.race.update(self._benchmarks(key), [p.name for p in self.grid[key]])

    def _benchmarks(self, key: GroupKey) -> list[pyperf.Benchmark]:
        """The benchmarks of group ``key``'s live points (a failed point is no pick)."""
        dead = self.failed()
        return [b for p in self.grid[key]
                if p.name not in dead and (b := self.bench.get(p.name)) is not None]

    def _make_up(self, key: GroupKey, members: Sequence[Point]) -> None:
        """Planned rounds a point lacks while its group has them (it failed, then --resume).

        Each make-up round is a fresh round of the group: the short points, the
        baselines and the points' partners under the other interpreters, so that
        it gives paired ratios (the whole group when a baseline is short of rounds).
        """
        while True:
            dead = self.failed()
            alive = [p for p in members if p.name not in dead]
            short = [p for p in alive if len(self.rounds_of(p.name)) < self.profile.rounds]
            if not short:
                return
            if any(MODELS[p.model].baseline and p.metric == STEADY for p in short):
                short = alive
            else:
                short = with_partners(short, alive)
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
        """Write the manifest's final status and overhead record (call with signals ignored).

        A redraw of the live report still drawing is stopped: the final
        report (or the next ``--resume``) draws the page again.
        """
        if self.live is not None:
            self.live.stop()
        if self.overhead.count:
            self.manifest["sweep"] = self.overhead.merge(self.manifest.get("sweep"))
        self.manifest["status"] = final_status(self.manifest, interrupted)
        store.write_manifest(self.run_dir, self.manifest)

    def result(self, interrupted: bool) -> RunResult:
        """What became of every point the sweep reached."""
        outcomes = [Outcome(p, e["status"] == DONE, e["reason"])
                    for p in self.points if (e := self.entries[p.name])["status"] != PENDING]
        return RunResult(self.run_dir, outcomes, interrupted,
                         dict(self.manifest.get("sweep") or {}))

    def _has(self, key: GroupKey, round_: int) -> bool:
        return any(round_ in self.rounds_of(p.name) for p in self.grid[key])

    def extra(self) -> None:
        """Extra rounds where the intervals are widest, while the :attr:`budget` allows
        (none without one)."""
        budget = self.budget
        if budget is None or self.profile.max_rounds <= self.profile.rounds:
            return
        from bench.results.aggregate import STABLE_HALF_WIDTH, widths  # pandas, scipy: only here

        chooser = ExtraRounds(STABLE_HALF_WIDTH, self.profile.max_rounds, self.costs)
        if self.race is not None:
            self._race(chooser, budget)
            return
        first = True
        while True:
            width = widths(list(self.bench.values()))
            rounds = {n: len(self.rounds_of(n)) for n in self.entries}
            pick = chooser.next(self.grid, width, rounds, self.failed(), budget.left())
            if pick is None:
                return
            key, todo = pick
            if first:
                self.progress.note("extra rounds where intervals are widest (first those that "
                                   "can still become stable), while the budget allows")
                first = False
            round_ = self.next_round(self.grid[key])
            wide = max(width.get(p.name, math.inf) for p in todo)
            self.measure(f"extra round {round_ + 1} \N{MIDDLE DOT} {group_label(key)} "
                         f"(widest \N{PLUS-MINUS SIGN}{wide:.1%})", round_, todo, EXTRA)
            if self.live is not None:
                self.live.update(at_most_every=MIN_INTERVAL_S)


    def _race(self, chooser: ExtraRounds, budget: Budget) -> None:
        """Extra rounds for the undecided questions nearest to a decision, while the
        budget allows (:meth:`Race.next`)."""
        assert self.race is not None
        first = True
        while True:
            rounds = {n: len(self.rounds_of(n)) for n in self.entries}
            pick = self.race.next(self.grid, rounds, self.failed(), self.profile.max_rounds,
                                  chooser, budget.left())
            if pick is None:
                return
            if first:
                self.progress.note("extra rounds for the undecided questions, nearest to a "
                                   "decision first, while the budget allows")
                first = False
            key, todo = pick
            round_ = self.next_round(self.grid[key])
            self.measure(f"extra round {round_ + 1} \N{MIDDLE DOT} {group_label(key)} "
                         f"({len(todo)} points racing)", round_, todo, EXTRA)
            self.race.update(self._benchmarks(key), [p.name for p in self.grid[key]])
            if self.live is not None:
                self.live.update(at_most_every=MIN_INTERVAL_S)


def group_label(key: GroupKey) -> str:
    """``cpu T=16 size=1e+05`` (and the metric, for cold points): a group in progress lines."""
    workload, tasks, size, metric = key
    return f"{workload} T={tasks} size={size:g}" + ("" if metric == STEADY else f" {metric}")
