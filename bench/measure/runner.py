"""Run a grid as a series of rounds, saving each child's values as it completes.

A round measures every point once: one child (:mod:`bench.measure.child`, started by
:mod:`bench.measure.launch`) per group of points sharing a workload, a task count and
a task size, the groups in a seeded pseudo-random order (:mod:`bench.measure.rounds`).
Children run one at a time (never two at once: they would share the cores
they measure).  A point that fails, crashes its child or hangs is recorded as
failed with its reason; the rest of its group is measured again without it,
and the sweep goes on.  After every child the results file and the manifest
are rewritten atomically.  Ctrl-C or SIGTERM ends the running child's whole
process group and leaves both files valid; ``--resume`` measures the
group-rounds still missing.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import secrets
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from types import FrameType
from typing import Any

import pyperf

import bench
from bench.errors import UsageError, WorkloadFailed
from bench.measure import noise
from bench.measure.host import git_commit
from bench.measure.interpreter import Interpreter, resolve
from bench.measure.launch import run_child
from bench.measure.preflight import preflight
from bench.measure.progress import Progress
from bench.measure.rounds import ExtraRounds, GroupKey, baseline_of, group_key, groups, round_order
from bench.results import store
from bench.results.store import FORMAT_VERSION
from bench.scenarios import workloads
from bench.scenarios.grid import (
    DEFAULT_POINT_TIMEOUT,
    PROFILES,
    GridSpec,
    Profile,
    expand,
    task_sizes,
)
from bench.scenarios.models import MODELS, Point
from bench.scenarios.workloads import Workload


@dataclass
class RunConfig:
    """Everything ``concbench run`` was asked to do; stored for ``--resume``."""

    grid: GridSpec = field(default_factory=GridSpec)
    python: str | None = None
    output_dir: str = "reports"
    name: str = ""
    point_timeout: float = DEFAULT_POINT_TIMEOUT
    #: Seeds the order of groups in each round and of points in each sweep.
    seed: str = ""
    #: The user's own workloads (:meth:`Workload.to_dict`), as declared.
    declared: list[dict[str, Any]] = field(default_factory=list)
    #: Folders the workloads' modules import from (``--path``, ``[tool.concbench] path``).
    paths: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready settings."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        """Inverse of :meth:`to_dict`."""
        grid = dict(data.get("grid", {}))
        for key in ("workloads", "models", "tasks", "workers", "start_methods", "sizes"):
            grid[key] = tuple(grid.get(key, ()))
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        fields["grid"] = GridSpec(**grid)
        return cls(**fields)


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


def run_metadata(interp: Interpreter, config: RunConfig) -> dict[str, Any]:
    """Metadata shared by every benchmark of a run: settings and the host record."""
    meta: dict[str, Any] = {
        "work_scale": config.grid.work_scale,
        "profile": config.grid.profile,
        "run_name": config.name,
        "concbench_format": FORMAT_VERSION,
        "concbench_version": bench.__version__,
    }
    commit = git_commit()
    if commit:
        meta["git_commit"] = commit
    for key, value in interp.record.items():
        if isinstance(value, (int, float)) or (isinstance(value, str) and value.strip()):
            meta[f"host_{key}"] = value
    return meta


def point_metadata(point: Point, shared: dict[str, Any]) -> dict[str, Any]:
    """The metadata one benchmark carries (str, int and float values only)."""
    meta: dict[str, Any] = {
        **shared,
        "workload": point.workload,
        "model": point.model,
        "tasks": point.tasks,
        "task_size": point.size,
        "task_unit": point.work.unit,
        "workload_func": point.work.func,
        "metric": point.metric,
    }
    if point.work.resource:  # pyperf metadata strings cannot be empty
        meta["resource"] = point.work.resource
    if point.workers is not None:
        meta["workers"] = point.workers
    if point.start_method is not None:
        meta["start_method"] = point.start_method
    return meta


class _Terminated(KeyboardInterrupt):
    """SIGTERM arrived; handled like Ctrl-C."""


@contextlib.contextmanager
def _handlers(new: dict[signal.Signals, Any]) -> Iterator[None]:
    """Install signal handlers for the block, then put the previous ones back (main thread only)."""
    try:
        previous = {sig: signal.signal(sig, handler) for sig, handler in new.items()}
    except ValueError:  # not the main thread: signals are not ours to handle
        yield
        return
    try:
        yield
    finally:
        for sig, old in previous.items():
            if old is not None:
                signal.signal(sig, old)


def _interruptible() -> contextlib.AbstractContextManager[None]:
    """SIGTERM as Ctrl-C during the sweep; after the first signal, both are ignored.

    So that the manifest written on the way out cannot be interrupted by a
    second signal.  Where the command line's entry already handles SIGTERM,
    its handler stays.  The previous handlers are restored at the end.
    """
    def handler(signum: int, frame: FrameType | None) -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise _Terminated

    current = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    if current[signal.SIGTERM] == signal.SIG_DFL:
        current[signal.SIGTERM] = handler
    return _handlers({sig: h for sig, h in current.items() if h is not None})


def _no_signals() -> contextlib.AbstractContextManager[None]:
    """Ignore SIGINT and SIGTERM while the way out writes the manifest (main thread only)."""
    return _handlers({signal.SIGINT: signal.SIG_IGN, signal.SIGTERM: signal.SIG_IGN})


def _merge_noise(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """A resumed run stays noisy if any of its sessions was."""
    if old and old.get("noisy"):
        new["noisy"] = True
        new["reasons"] = [*old.get("reasons", []), *new["reasons"]]
    return new


def new_manifest(config: RunConfig, planned: Plan) -> dict[str, Any]:
    """The manifest of a fresh run: settings, host, every planned point pending, and the
    points no model can measure."""
    interp, points = planned.interp, planned.points
    return {
        "format": FORMAT_VERSION,
        "concbench_version": bench.__version__,
        "name": config.name,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "settings": config.to_dict(),
        "seed": config.seed,
        "host": interp.record,
        "status": "running",
        "points": [{"name": p.name, "point": asdict(p), "status": "pending", "reason": "",
                    "rounds": 0}
                   for p in points],
        "not_applicable": planned.not_applicable,
    }


def default_name() -> str:
    """A timestamped run name."""
    return dt.datetime.now().strftime("run-%Y%m%d-%H%M%S")


@dataclass
class Plan:
    """What a run will measure, where, and what it leaves out."""

    interp: Interpreter
    points: list[Point]
    #: Points no model of the run can measure, by name: why.
    not_applicable: dict[str, str] = field(default_factory=dict)


def plan(config: RunConfig, cwd: str | None = None) -> Plan:
    """Resolve the interpreter, pre-flight the user's workloads, expand the grid.

    ``cwd`` is the children's working directory (None: this process's).

    Raises
    ------
    UsageError
        A bad grid value, a ``--python`` that does not run, a workload that
        cannot be imported or checked, process pools asked for explicitly on a
        workload whose arguments or results do not pickle.
    WorkloadFailed
        A user's workload raised in the sequential reference.
    """
    interp = resolve(config.python, config.paths)
    interp.cwd = cwd
    declared = [Workload.from_dict(d) for d in config.declared]
    workloads.register(declared)
    methods = str(interp.record["start_methods"]).split(",")
    chosen = set(config.grid.workloads) if config.grid.workloads else {w.name for w in declared}
    checked = _preflight(interp, [w for w in declared if w.name in chosen], config)
    points = expand(config.grid, cores=int(interp.record["usable_cores"]),
                    start_methods=methods, python=interp.version)
    skipped: dict[str, str] = {}
    kept = []
    for p in points:
        why = checked.get(p.workload, "")
        if why and MODELS[p.model].overlap == "processes":
            skipped[p.name] = f"process pools cannot run it: {why}"
        else:
            kept.append(p)
    return Plan(interp, kept, skipped)


def _preflight(interp: Interpreter, works: list[Workload], config: RunConfig) -> dict[str, str]:
    """Pre-flight the user's workloads; learn sync or async; why process pools cannot run one."""
    if not works:
        return {}
    scale = config.grid.work_scale * PROFILES[config.grid.profile].work_scale \
        if config.grid.profile in PROFILES else 1.0
    sizes = [min(task_sizes(w.name, scale, config.grid.sizes)) for w in works]
    unpicklable: dict[str, str] = {}
    for v in preflight(interp, works, sizes, config.point_timeout):
        if v.status == "raises":
            raise WorkloadFailed(v.message, v.details)
        if v.status != "ok":
            raise UsageError(v.message)
        workloads.register([replace(workloads.get(v.name), is_async=v.is_async)])
        if v.unpicklable:
            if "process_pool" in config.grid.models:
                raise UsageError(f"workload {v.name!r}: process pools cannot run it: "
                                 f"{v.unpicklable}")
            unpicklable[v.name] = v.unpicklable
    return unpicklable


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
        return {n for n, e in self.entries.items() if e["status"] == "failed"}

    def _loops(self, name: str) -> int | None:
        b = self.bench.get(name)
        return int(b.get_runs()[0].get_loops()) if b is not None else None

    def _job(self, round_: int, points: Sequence[Point]) -> dict[str, Any]:
        loops = {p.name: n for p in points if (n := self._loops(p.name))}
        return {
            "workloads": [w.to_dict() for w in {p.work for p in points}],
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
            if entry["status"] != "failed" and entry["rounds"]:
                entry["status"] = "done"
        store.write_manifest(self.run_dir, self.manifest)

    def _fail(self, name: str, reason: str) -> None:
        entry = self.entries[name]
        entry["status"], entry["reason"] = "failed", reason

    # ---------------------------------------------------------------- measuring
    def measure(self, label: str, round_: int, points: Sequence[Point]) -> None:
        """One group-round: a child, again without the point that crashed or hung it."""
        todo = [p for p in points if p.name not in self.failed()]
        self.progress.begin(label)
        seconds, lines = 0.0, []
        while todo:
            result = run_child(self.interp, self._job(round_, todo), list(todo),
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
        self.progress.end(label, len(points), lines)

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
                             f"{n}/{len(keys)} {_label(key)}")
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
            round_ = self._next_round(members)
            before = {p.name: len(self.rounds_of(p.name)) for p in short}
            self.measure(f"make-up round {round_ + 1} \N{MIDDLE DOT} {_label(key)}",
                         round_, short)
            if all(len(self.rounds_of(n)) == k for n, k in before.items()):
                return  # nothing measured (every point failed): stop

    def _next_round(self, members: Sequence[Point]) -> int:
        return max((max(self.rounds_of(p.name), default=-1) for p in members), default=-1) + 1

    def close(self, interrupted: bool) -> None:
        """Write the manifest's final status (call with signals ignored)."""
        statuses = {e["status"] for e in self.manifest["points"]}
        self.manifest["status"] = ("interrupted" if interrupted or "pending" in statuses
                                   else "failed" if "failed" in statuses else "complete")
        store.write_manifest(self.run_dir, self.manifest)

    def result(self, interrupted: bool) -> RunResult:
        """What became of every point the sweep reached."""
        outcomes = [Outcome(p, e["status"] == "done", e["reason"])
                    for p in self.points if (e := self.entries[p.name])["status"] != "pending"]
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
            round_ = self._next_round(self.grid[key])
            wide = max(width.get(p.name, math.inf) for p in todo)
            self.measure(f"extra round {round_ + 1} \N{MIDDLE DOT} {_label(key)} "
                         f"(widest \N{PLUS-MINUS SIGN}{wide:.1%})", round_, todo)


def _label(key: GroupKey) -> str:
    workload, tasks, size, metric = key
    return f"{workload} T={tasks} size={size:g}" + ("" if metric == "steady" else f" {metric}")


def session(sweeps: Sequence[Sweep], progress: Progress, measure: Callable[[float], None],
            closing: Callable[[bool], None] | None = None) -> bool:
    """One measuring session: ``measure(t0)`` between two noise probes, then the way out.

    SIGTERM counts as Ctrl-C while it measures.  On the way out, with both
    signals ignored, the progress closes, every sweep writes its manifest's
    final status (and the noise verdict, when the session got to the end),
    then ``closing(interrupted)`` runs.  Returns whether it was interrupted.
    """
    probe_s = max(s.profile.probe_s for s in sweeps)
    interrupted = False
    t0 = time.monotonic()
    with _interruptible():
        try:
            before = noise.probe(probe_s)
            measure(t0)
            verdict = noise.assess(before, noise.probe(probe_s))
            for sweep in sweeps:
                sweep.manifest["noise"] = _merge_noise(sweep.manifest.get("noise"),
                                                       dict(verdict))
        except KeyboardInterrupt:  # Ctrl-C, or SIGTERM through _Terminated
            interrupted = True
        finally:
            with _no_signals():
                progress.close()
                for sweep in sweeps:
                    sweep.close(interrupted)
                if closing is not None:
                    closing(interrupted)
    return interrupted


def execute(config: RunConfig, run_dir: Path, interp: Interpreter, points: Sequence[Point],
            manifest: dict[str, Any], benchmarks: list[pyperf.Benchmark],
            progress: Progress) -> RunResult:
    """Measure the rounds ``manifest`` still lacks, then extra rounds; save after each child."""
    sweep = Sweep(config, run_dir, interp, points, manifest, benchmarks, progress)

    def measure(t0: float) -> None:
        sweep.planned()
        sweep.extra(t0 + sweep.profile.until_s)

    return sweep.result(session([sweep], progress, measure))


def _check_timeout(timeout: float) -> None:
    if not (isinstance(timeout, (int, float)) and math.isfinite(timeout) and timeout > 0):
        raise UsageError(f"--point-timeout must be a finite number > 0, got {timeout}")


def start(config: RunConfig, progress: Progress, *, force: bool = False) -> RunResult:
    """Plan, create the run directory and measure every point.

    Raises
    ------
    UsageError
        Bad grid values, a ``--python`` that does not run, a workload that
        fails pre-flight, an existing run directory without ``force``.
    WorkloadFailed
        A user's workload raised in the sequential reference.
    """
    _check_timeout(config.point_timeout)
    config.name = config.name or default_name()
    config.seed = config.seed or secrets.token_hex(8)
    planned = plan(config)
    run_dir = store.prepare_run_dir(Path(config.output_dir), config.name, force=force)
    manifest = new_manifest(config, planned)
    store.write_manifest(run_dir, manifest)
    return execute(config, run_dir, planned.interp, planned.points, manifest, [], progress)


def resume(run_dir: Path, progress: Progress) -> RunResult:
    """Measure the points a run directory is missing, with its original settings."""
    manifest = store.read_manifest(run_dir)
    where = run_dir / store.MANIFEST
    entries = manifest.get("points")
    if not isinstance(entries, list) or not all(
            isinstance(p, dict) and isinstance(p.get("point"), dict) for p in entries):
        raise UsageError(f"{where}: not a concbench run manifest (bad 'points' list)")
    try:
        config = RunConfig.from_dict(manifest["settings"])
        points = [Point(**p["point"]) for p in manifest["points"]]
        names = [p["name"] for p in manifest["points"]]
    except (TypeError, KeyError, ValueError, AttributeError) as exc:
        raise UsageError(f"{where}: malformed settings or points ({exc!r})") from None
    if names != [p.name for p in points]:
        raise UsageError(f"{where}: point names do not match their parameters")
    _check_timeout(config.point_timeout)
    interp = plan(config).interp
    results = run_dir / store.RESULTS
    benchmarks = (list(store.load_results(results).get_benchmarks())
                  if results.exists() else [])
    have = {b.get_name() for b in benchmarks}
    for entry in manifest["points"]:  # the results file is the source of truth; retry failures
        entry["status"] = "done" if entry["name"] in have else "pending"
        entry["reason"] = ""
    if not config.seed:
        raise UsageError(f"{where}: no seed in the settings (written by an older concbench?)")
    return execute(config, run_dir, interp, points, manifest, benchmarks, progress)
