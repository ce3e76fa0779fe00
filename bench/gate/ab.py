"""Same-job A/B: two variants of a grid measured in the same rounds (``concbench ab A B``).

A variant is what differs between the two sides: ``python=PATH`` (the
interpreter that runs the children), ``path=DIR`` (a source tree put first
on the children's import path: base and head checked out side by side) or
``scale=X`` (every task's size times X: a known slowdown, for testing the
gate).  Both sides expand the same grid; their points are paired by all
that names them (workload, model, start method, tasks, workers, metric,
interpreter, task size; under ``scale`` the n-th size with the n-th size).
The same variant on both sides is an A/A: two arms measured apart, whose
verdicts should find nothing (what it fails is a false alarm of the gate).

Each round measures every group of points twice, once per side, one child
right after the other, and which side goes first alternates from group to
group and round to round (A B, B A, A B ...: ABBA), so a drift of the host or
an order effect falls on both sides alike.  After the profile's planned
rounds, groups holding a point the gate cannot decide yet
(:func:`bench.gate.paired.decide`) get extra rounds, both sides again, while
the job's time and round limits allow.

The run directory holds one ordinary run directory per side (``a/`` and
``b/``, each with its ``results.json`` and ``run.json``, written after every
child) and ``ab.json``: the variants, the gate's settings and the point pairs.
Children run in an empty working directory, so the folder ``concbench ab``
is started from cannot shadow a variant's modules; it comes last on their
import path.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import secrets
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pyperf

from bench.errors import UsageError
from bench.gate.match import paired_log_ratios
from bench.gate.paired import decide, looks, next_look
from bench.measure.config import RunConfig
from bench.measure.progress import Progress
from bench.measure.rounds import GroupKey, group_key, round_order
from bench.measure.runner import plan, session
from bench.measure.sweep import RunResult, Sweep
from bench.results import stats, store
from bench.results.aggregate import tidy
from bench.scenarios.grid import PROFILES, Profile, same_work
from bench.scenarios.models import Point

AB_FILE = store.AB_FILE
SIDES = ("a", "b")
KINDS = ("python", "path", "scale")


@dataclass(frozen=True)
class Variant:
    """One side of an A/B job: what it changes (``kind``) and to what (``value``)."""

    kind: str
    value: str

    def __str__(self) -> str:
        return f"{self.kind}={self.value}"


def parse_variant(text: str) -> Variant:
    """Parse ``python=PATH``, ``path=DIR`` or ``scale=X``.

    Raises
    ------
    UsageError
        Another form, a folder that does not exist, a scale that is not a
        positive number.
    """
    kind, sep, value = str(text).partition("=")
    if not sep or kind not in KINDS or not value:
        raise UsageError(f"variant {text!r}: expected python=PATH, path=DIR or scale=X")
    if kind == "path":
        if not Path(value).is_dir():
            raise UsageError(f"variant {text!r}: no such folder")
        value = str(Path(value).resolve())
    if kind == "scale":
        try:
            scale = float(value)
        except ValueError:
            scale = math.nan
        if not (math.isfinite(scale) and scale > 0):
            raise UsageError(f"variant {text!r}: the scale must be a number > 0")
    return Variant(kind, value)


def side_config(config: RunConfig, variant: Variant, side: str, run_dir: Path,
                cwd: str) -> RunConfig:
    """The run settings of one side: the shared ones, changed as ``variant`` says."""
    out = replace(config, name=side, output_dir=str(run_dir), paths=list(config.paths))
    if variant.kind == "python":
        out.python = variant.value
    elif variant.kind == "path":
        out.paths.insert(0, variant.value)
    else:
        out.grid = replace(config.grid, work_scale=config.grid.work_scale * float(variant.value))
    out.paths.append(cwd)
    return out


def _identity(p: Point) -> tuple[Any, ...]:
    return p.workload, p.model, p.start_method, p.tasks, p.workers, p.metric, p.python


def pair_points(a: list[Point], b: list[Point], *, scaled: bool = False
                ) -> tuple[list[tuple[Point, Point]], list[str], list[str]]:
    """Pair the two sides' points by all that names them, in A's order.

    Workload, model (its event loop included), start method, tasks, workers,
    metric, interpreter and task size; under ``scale=`` (``scaled``) the size
    by its rank among the sizes of the side's points that agree on the rest
    (the smallest with the smallest), whatever order the sides list them in.
    Returns the pairs and the names of the points only one side has.
    """
    def keyed(points: list[Point]) -> dict[tuple[Any, ...], Point]:
        sizes: dict[tuple[Any, ...], list[float]] = {}
        for p in points:
            sizes.setdefault(_identity(p), []).append(p.size)
        return {(*_identity(p), sorted(sizes[_identity(p)]).index(p.size) if scaled
                 else p.size): p for p in points}

    ka, kb = keyed(a), keyed(b)
    pairs = [(p, kb[k]) for k, p in ka.items() if k in kb]
    return (pairs, [p.name for k, p in ka.items() if k not in kb],
            [p.name for k, p in kb.items() if k not in ka])


@dataclass
class ABConfig:
    """Everything ``concbench ab`` was asked to do."""

    run: RunConfig
    a: Variant
    b: Variant
    max_slowdown: float = 0.10
    alpha: float = 0.05
    #: Seconds from the first child after which no extra round starts (0: the profile's).
    max_time: float = 0.0
    #: Most rounds a point gets (0: the profile's).
    max_rounds: int = 0

    @property
    def profile(self) -> Profile:
        """The profile both sides run."""
        return PROFILES[self.run.grid.profile]

    def looks(self) -> int:
        """How many times the job may decide a point (the level is split over them)."""
        return looks(self.profile.rounds, self.limits()[1])

    def limits(self) -> tuple[float, int]:
        """The job's time and round limits, profile defaults filled in."""
        profile = self.profile
        max_time = self.max_time or (2 * profile.budget_s if profile.budget_s else 120.0)
        # 3x the planned rounds, not a race's most rounds: a job's looks stay few
        max_rounds = self.max_rounds or 3 * profile.rounds
        return max_time, max(max_rounds, profile.rounds)


@dataclass
class ABRun:
    """The end of an A/B job."""

    run_dir: Path
    sides: dict[str, RunResult]
    #: (A name, B name) of every paired point.
    pairs: list[tuple[str, str]]
    interrupted: bool = False
    only: dict[str, list[str]] = field(default_factory=dict)


class _Job:
    """Two sweeps, one per side, driven round by round."""

    def __init__(self, config: ABConfig, sweeps: dict[str, Sweep],
                 pairs: list[tuple[Point, Point]], progress: Progress) -> None:
        self.config, self.sweeps, self.progress = config, sweeps, progress
        self.pairs = pairs
        self.profile = config.profile
        #: Each A group and its B group, in a fixed order.
        self.groups: dict[GroupKey, GroupKey] = {}
        for pa, pb in pairs:
            self.groups.setdefault(group_key(pa), group_key(pb))
        self.index = {key: i for i, key in enumerate(self.groups)}

    def measure_pair(self, key: GroupKey, round_: int, label: str) -> None:
        """One group-round on both sides, one child right after the other.

        B goes first in the group's every other round, and neighbouring groups
        start on opposite sides: over any two rounds, each side goes first
        once (ABBA), whatever order the round shuffles the groups into.
        """
        order = [("a", key), ("b", self.groups[key])]
        flip = (round_ + self.index[key]) % 2 == 1
        for side, k in (order[::-1] if flip else order):
            self.sweeps[side].measure(f"{label} \N{MIDDLE DOT} {side.upper()}", round_,
                                      self.sweeps[side].grid[k])

    def planned(self) -> None:
        keys = list(self.groups)
        rounds = self.profile.rounds
        self.progress.start(2 * rounds * len(keys))
        for r in range(rounds):
            for g, key in enumerate(round_order(keys, self.config.run.seed, r)):
                self.measure_pair(key, r, f"round {r + 1}/{rounds} \N{MIDDLE DOT} "
                                          f"{g + 1}/{len(keys)} {key[0]} T={key[1]}")

    def log_ratios(self) -> dict[str, np.ndarray]:
        """Per-round log(B / A) of every paired point both sides measured and neither failed."""
        dead = self.sweeps["a"].failed() | self.sweeps["b"].failed()
        med = [stats.round_medians(tidy(pyperf.BenchmarkSuite(list(sw.bench.values()))))
               for sw in self.sweeps.values()]
        return paired_log_ratios(med[0], med[1], [(pa.name, pb.name) for pa, pb in self.pairs
                                                if pa.name not in dead and pb.name not in dead])

    def extra(self, deadline: float, max_rounds: int) -> None:
        """Batches of extra rounds for groups holding an undecided point, while limits allow.

        A group gets the rounds up to the next look in a row
        (:func:`~bench.gate.paired.next_look`) before the job looks at its points again:
        the number of looks, which the level is split over, stays bounded.
        """
        first = True
        n_looks = self.config.looks()
        while True:
            tests = decide(self.log_ratios(), max_slowdown=self.config.max_slowdown,
                           alpha=self.config.alpha, looks=n_looks, planned=self.profile.rounds)
            open_ = {t.name for t in tests if t.verdict == "undecided"}
            fits = []
            for key in self.groups:
                n_open = sum(p.name in open_ for p in self.sweeps["a"].grid[key])
                done = self._next_round(key)
                if n_open and done < max_rounds and self._cost(key) <= deadline - time.monotonic():
                    fits.append((done, -n_open, key))
            if not fits:
                return
            done, n_open, key = min(fits)
            if first:
                self.progress.note(f"extra rounds for {len(open_)} undecided point(s), "
                                   "while the job's time allows")
                first = False
            for r in range(done, next_look(self.profile.rounds, done, max_rounds)):
                if r > done and self._cost(key) > deadline - time.monotonic():
                    break
                self.measure_pair(key, r, f"extra round {r + 1} \N{MIDDLE DOT} {key[0]} "
                                          f"T={key[1]} ({-n_open} undecided)")

    def _cost(self, key: GroupKey) -> float:
        """Seconds the last pair of children of a group took."""
        return (self.sweeps["a"].costs.get(key, (0.0, 0))[0]
                + self.sweeps["b"].costs.get(self.groups[key], (0.0, 0))[0])

    def _next_round(self, key: GroupKey) -> int:
        a, b = self.sweeps["a"], self.sweeps["b"]
        members = [*a.grid[key], *b.grid[self.groups[key]]]
        return 1 + max((max(s.rounds_of(p.name), default=-1)
                        for s in (a, b) for p in members if p.name in s.entries), default=-1)


def _ab_record(config: ABConfig, pairs: list[tuple[Point, Point]],
               only: dict[str, list[str]]) -> dict[str, Any]:
    max_time, max_rounds = config.limits()
    return {
        "format": 1, "name": config.run.name,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "a": str(config.a), "b": str(config.b), "seed": config.run.seed,
        "max_slowdown": config.max_slowdown, "alpha": config.alpha,
        "max_time": max_time, "max_rounds": max_rounds, "looks": config.looks(),
        "planned": config.profile.rounds,
        "settings": config.run.to_dict(), "status": "running",
        "pairs": [[pa.name, pb.name] for pa, pb in pairs], "only": only,
    }


def start(config: ABConfig, progress: Progress, *, force: bool = False) -> ABRun:
    """Plan both sides, then measure them in the same rounds.

    Raises
    ------
    UsageError
        Bad grid values or variants, a side that cannot run, an existing run
        directory without ``force``, sides with no point in common.
    """
    run = config.run
    run.name = run.name or dt.datetime.now().strftime("ab-%Y%m%d-%H%M%S")
    run.seed = run.seed or secrets.token_hex(8)
    if not 0 < config.alpha < 1:
        raise UsageError(f"--alpha must be between 0 and 1, got {config.alpha}")
    if not (math.isfinite(config.max_time) and config.max_time >= 0) or config.max_rounds < 0:
        raise UsageError("--max-time and --max-rounds must be >= 0")
    with tempfile.TemporaryDirectory(prefix="concbench-ab-cwd-") as cwd:
        out = Path(run.output_dir) / run.name
        configs = {s: side_config(run, v, s, out, str(Path.cwd()))
                   for s, v in zip(SIDES, (config.a, config.b), strict=True)}
        _check_scales(config, configs["a"], configs["b"])
        plans = {s: plan(c, cwd=cwd, scale_check=False) for s, c in configs.items()}
        pairs, only_a, only_b = pair_points(plans["a"].points, plans["b"].points,
                                            scaled="scale" in (config.a.kind, config.b.kind))
        if not pairs:
            raise UsageError(f"A ({config.a}) and B ({config.b}) have no point in common")
        only = {"a": only_a, "b": only_b}
        run_dir = store.prepare_run_dir(Path(run.output_dir), run.name, force=force)
        record = _ab_record(config, pairs, only)
        store.atomic_write_text(run_dir / AB_FILE, _json(record))
        sweeps = {}
        for s, c in configs.items():
            side_dir = store.prepare_run_dir(run_dir, s, force=True)
            manifest = plans[s].manifest(c)
            manifest["ab"] = {"side": s, "variant": str(config.a if s == "a" else config.b)}
            store.write_manifest(side_dir, manifest)
            sweeps[s] = Sweep(c, side_dir, plans[s].interps, plans[s].points, manifest, [],
                              progress)
        job = _Job(config, sweeps, pairs, progress)
        max_time, max_rounds = config.limits()

        def measure(t0: float) -> None:
            job.planned()
            job.extra(t0 + max_time, max_rounds)

        def closing(interrupted: bool) -> None:
            record["status"] = "interrupted" if interrupted else "complete"
            store.atomic_write_text(run_dir / AB_FILE, _json(record))

        interrupted = session(list(sweeps.values()), progress, measure, closing)
    return ABRun(run_dir, {s: sw.result(interrupted) for s, sw in sweeps.items()},
                 [(pa.name, pb.name) for pa, pb in pairs], interrupted, only)


def _check_scales(config: ABConfig, a: RunConfig, b: RunConfig) -> None:
    """Refuse two different ``scale=`` under which no workload's work differs between the sides.

    ``scale=`` multiplies the built-in workloads' default sizes only, and
    rounding to whole units can undo it (smoke's ``hash``: 2 MiB x 1.25 is
    2 MiB again): such a job would be an A/A run that passes.  The same scale
    twice is an A/A asked for (the gate's false-alarm check), and a scale
    against another kind of variant differs in that variant.
    """
    if (config.a.kind, config.b.kind) != ("scale", "scale") \
            or a.grid.work_scale == b.grid.work_scale or a.grid.profile not in PROFILES:
        return
    works = a.catalogue()
    same = same_work(a.grid, works, b.grid.work_scale)
    names = [n for n in (a.grid.workloads or PROFILES[a.grid.profile].workloads) if n in works]
    if same and len(same) == len(names):
        raise UsageError(f"A ({config.a}) and B ({config.b}) measure the same work at every "
                         f"point ({', '.join(same)}): scale= multiplies the built-in "
                         "workloads' default sizes only, in whole units where they have them "
                         f"(an A/A is the same variant twice: {config.a} {config.a})")
    if same:
        print(f"concbench: note: A ({config.a}) and B ({config.b}) measure the same work for "
              f"{', '.join(same)}", file=sys.stderr)


def _json(record: dict[str, Any]) -> str:
    return json.dumps(record, indent=2, sort_keys=True) + "\n"
