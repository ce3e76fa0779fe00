"""Run a grid: plan it, measure it in rounds (:mod:`bench.measure.sweep`), finish or resume it.

Ctrl-C or SIGTERM ends the running child's whole process group and leaves the
results file and the manifest valid; ``--resume`` measures the group-rounds
still missing, with the run's original settings.
"""

from __future__ import annotations

import datetime as dt
import resource
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pyperf

from bench.errors import UsageError, WorkloadFailed
from bench.measure import live, noise, services
from bench.measure.budget import Budget, duration, planned_floor
from bench.measure.config import RunConfig, check_budget, check_timeout
from bench.measure.interpreter import Interpreter, resolve_all
from bench.measure.manifest import merge_noise, new_manifest, read_for_resume, reset_statuses
from bench.measure.preflight import Verdict, preflight
from bench.measure.progress import Progress
from bench.measure.race import Race
from bench.measure.rounds import groups
from bench.measure.signals import interruptible, no_signals
from bench.measure.sweep import RunResult, Sweep
from bench.results import store
from bench.scenarios import footprint
from bench.scenarios.grid import (
    PROFILES,
    Profile,
    asked,
    check_scale,
    expand,
    task_sizes,
    too_long,
    validate,
)
from bench.scenarios.models import LOOPS, MODELS, Point, absent
from bench.scenarios.workloads import Workload, missing


def default_name() -> str:
    """A timestamped run name."""
    return dt.datetime.now().strftime("run-%Y%m%d-%H%M%S")


@dataclass
class Plan:
    """What a run will measure, where, and what it leaves out."""

    #: The interpreters that run the children, by tag (``Point.python``; "" in a run of one).
    interps: dict[str, Interpreter]
    points: list[Point]
    #: Points no model of the run can measure, by name: why.
    not_applicable: dict[str, str] = field(default_factory=dict)
    #: Lines for the user about the grid (a work scale some workloads ignore).
    notes: list[str] = field(default_factory=list)
    #: What its largest child holds at once (estimated; :mod:`bench.scenarios.footprint`).
    footprint: footprint.Footprint = field(default_factory=footprint.Footprint)
    #: The models the grid asks for that an interpreter does not offer, one line each
    #: (``asyncio_eager: Python 3.11.7 does not offer it: it needs ...``).
    absent: list[str] = field(default_factory=list)

    @property
    def interp(self) -> Interpreter:
        """The first interpreter: the one a run of several compares the others with."""
        return next(iter(self.interps.values()))

    def manifest(self, config: RunConfig) -> dict[str, Any]:
        """The manifest of a fresh run of this plan."""
        return new_manifest(config, self.interps, self.points, self.not_applicable)


def plan(config: RunConfig, cwd: str | None = None, *, scale_check: bool = True) -> Plan:
    """Resolve the interpreter, pre-flight the user's workloads, expand the grid.

    ``cwd`` is the children's working directory (None: this process's).
    ``scale_check`` refuses a work scale that changes no point's work
    (``concbench ab`` checks its sides against each other instead).  Nothing
    of this process is changed: the run's workloads live in its own catalogue
    and travel with its points.

    Raises
    ------
    UsageError
        A bad grid value, a ``--python`` that does not run, a workload that
        cannot be imported or checked, process pools asked for explicitly on a
        workload whose arguments or results do not pickle, a work scale that
        changes nothing, a plan whose largest child cannot fit the host's open-file
        limit or memory.
    WorkloadFailed
        A user's workload raised in the sequential reference.
    """
    interps = resolve_all(config.python, config.paths)
    works = config.catalogue()
    declared = [works[d["name"]] for d in config.declared]
    for interp in interps.values():
        interp.cwd = cwd
        _check_offered(config, interp, works)
    notes = []
    for name in config.grid.models:  # named, offered by some interpreters only: say so
        lacking = [i for i in interps.values() if name in absent(i.version)]
        if len(lacking) == len(interps):
            raise UsageError(f"--models {name}: Python {lacking[0].record['python_version']} "
                             f"does not offer it: it {absent(lacking[0].version)[name]}")
        if lacking:
            notes.append(f"{name} is measured only where it is offered: Python "
                         f"{', '.join(str(i.record['python_version']) for i in lacking)} "
                         f"does not offer it: it {absent(lacking[0].version)[name]}")
    if scale_check:
        same = check_scale(config.grid, works)
        if same:
            notes.append(f"--work-scale {config.grid.work_scale:g} leaves the work of "
                         f"{', '.join(same)} unchanged")
    chosen = set(config.grid.workloads) if config.grid.workloads else {w.name for w in declared}
    skipped: dict[str, str] = {}
    kept, unoffered = [], []
    for name, interp in interps.items():
        checked = _preflight(interp, [w for w in declared if w.name in chosen], config, works)
        why_not = absent(interp.version)
        unoffered += [f"{m.name}: Python {interp.record['python_version']} does not offer it: "
                      f"it {why_not[m.name]}" for m in asked(config.grid, works)
                      if m.name in why_not]
        for p in expand(config.grid, cores=int(interp.record["usable_cores"]),
                        start_methods=str(interp.record["start_methods"]).split(","),
                        python=interp.version, catalogue=works):
            p = replace(p, python=name)
            model = MODELS[p.model]
            why = checked.get(p.workload, {}).get(model.crossing, "")
            if why and model.pool is not None:
                skipped[p.name] = f"{model.pool.label} cannot run it: {why}"
            elif (lack := missing(p.work)) and p.workload in config.grid.workloads:
                raise UsageError(f"workload {p.workload!r} {lack}")
            elif why := lack or too_long(p):
                skipped[p.name] = why
            else:
                kept.append(p)
    held = footprint.largest(groups(kept).values())
    footprint.check(held, resource.getrlimit(resource.RLIMIT_NOFILE)[1],
                    footprint.available_mb())
    return Plan(interps, kept, skipped, notes, held, unoffered)


def _check_offered(config: RunConfig, interp: Interpreter, works: dict[str, Workload]) -> None:
    """Refuse what ``interp`` cannot measure: a start method, a loop; a model named with
    ``--models`` that no interpreter of the run offers is refused by the caller."""
    version = interp.record["python_version"]
    validate(config.grid, str(interp.record["start_methods"]).split(","), works)
    offered = str(interp.record.get("event_loops", "asyncio")).split(",")
    for loop in config.grid.loops:
        if loop not in offered:
            module = LOOPS[loop].partition(":")[0]
            raise UsageError(f"--loops {loop}: Python {version} cannot import {module} "
                             f"({interp.executable} -m pip install {module})")


def _preflight(interp: Interpreter, works: list[Workload], config: RunConfig,
               catalogue: dict[str, Workload]) -> dict[str, dict[str, str]]:
    """Pre-flight the user's workloads; learn sync or async; why a pool cannot run one.

    Returns, per workload, the reasons by crossing (``ModelDef.crossing``) that leave
    the models whose work crosses that way out.

    What pre-flight learns goes into ``catalogue`` (a run's own dict).
    """
    if not works:
        return {}
    scale = config.grid.work_scale * PROFILES[config.grid.profile].work_scale \
        if config.grid.profile in PROFILES else 1.0
    sizes = [min(task_sizes(w, scale, config.grid.sizes)) for w in works]
    models = [MODELS[m] for m in config.grid.models or MODELS]
    crossings = tuple(sorted({m.crossing for m in models if m.pool is not None
                              and not m.offered(interp.version)} - {"nothing"}))
    refused: dict[str, dict[str, str]] = {}
    for v in _preflight_served(interp, works, sizes, config.point_timeout, crossings):
        if v.status == "raises":
            raise WorkloadFailed(v.message, v.details)
        if v.status != "ok":
            raise UsageError(v.message)
        catalogue[v.name] = replace(catalogue[v.name], is_async=v.is_async)
        for m in models:  # a model named with --models that cannot run it: a mistake
            why = v.refused.get(m.crossing)
            if why and m.pool is not None and m.name in config.grid.models:
                raise UsageError(f"workload {v.name!r}: {m.pool.label} cannot run it: {why}")
        refused[v.name] = v.refused
    return refused


def _preflight_served(interp: Interpreter, works: list[Workload], sizes: list[float],
                      timeout: float, crossings: tuple[str, ...]) -> list[Verdict]:
    """Pre-flight ``works``, those that call a loopback service with it running."""
    out: list[Verdict] = []
    for spec in dict.fromkeys(w.service for w in works):
        these = [(w, s) for w, s in zip(works, sizes, strict=True) if w.service == spec]
        with services.started([spec]) as running:
            if spec in running.failed:
                raise UsageError(running.failed[spec])
            here = replace(interp, env={**interp.env, **running.env.get(spec, {})})
            out += preflight(here, [w for w, _ in these], [s for _, s in these], timeout,
                             crossings)
    return out


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
    with interruptible():
        try:
            before = noise.probe(probe_s)
            measure(t0)
            readings = noise.round_readings(b for s in sweeps for b in s.bench.values())
            verdict = noise.assess(before, noise.probe(probe_s), readings)
            for sweep in sweeps:
                sweep.manifest["noise"] = merge_noise(sweep.manifest.get("noise"),
                                                      dict(verdict))
        except KeyboardInterrupt:  # Ctrl-C, or SIGTERM through signals.Terminated
            interrupted = True
        finally:
            with no_signals():
                progress.close()
                for sweep in sweeps:
                    sweep.close(interrupted)
                if closing is not None:
                    closing(interrupted)
    return interrupted


def _fit(profile: Profile, points: Sequence[Point], manifest: dict[str, Any],
         progress: Progress, seconds: float) -> None:
    """Say what the largest child holds and raise the open-file limit it needs (the children
    inherit it; both go to ``manifest``); warn when the planned rounds alone cannot fit
    ``seconds`` (0: no budget)."""
    held = footprint.largest(groups(points).values())
    limits = footprint.raise_nofile(held.descriptors)
    manifest["footprint"] = {**held.to_dict(), **limits}
    raised = (f"; open files: soft limit raised from {limits['nofile_soft_was']} to "
              f"{limits['nofile_soft']}" if limits["nofile_soft"] != limits["nofile_soft_was"]
              else "")
    progress.note(f"its largest child holds {held.describe()} at once{raised}")
    floor = planned_floor([len(g) for g in groups(points).values()], profile.rounds,
                          profile.warmups + profile.values, profile.min_time)
    if seconds and floor > seconds:
        progress.note(f"the planned rounds alone need at least {duration(floor)}, more than "
                      f"the budget of {duration(seconds)}: the run will overrun it")


def _race(config: RunConfig, profile: Profile, progress: Progress, started: float,
          budgeted: bool, manifest: dict[str, Any]) -> Race | None:
    """The race of a run that races its points to decisions (``--until decided``); its
    questions count the seconds to their decisions from ``started`` (the command's start).

    Its looks reach the profile's most rounds only where a budget lets extra rounds run
    (else the planned rounds are all it may read: no level is spent on looks it cannot
    take); a resumed race keeps the questions its manifest recorded (when each was decided).
    """
    if (config.until or profile.until) != "decided":
        return None
    from bench.results.decisions import looks_for

    most = profile.max_rounds if budgeted else profile.rounds
    record = (manifest.get("decisions") or {}).get("questions") or {}
    return Race(looks_for(profile.rounds, most, raced=True), config.delta, progress, started,
                record=dict(record))


def _decisions(config: RunConfig, sweep: Sweep) -> dict[str, Any]:
    """What the report reads its verdicts with: the margin and the looks the run may take
    (a race's record grows as it goes, :meth:`Race.settings`)."""
    if sweep.race is not None:
        return sweep.race.settings()
    from bench.results.decisions import ALPHA, looks_for

    profile = sweep.profile
    looks = looks_for(profile.rounds, profile.max_rounds if sweep.budget else profile.rounds,
                      raced=False)
    return {"until": "stable", "delta": config.delta, "alpha": ALPHA,
            "first_look": looks.first, "last_look": looks.last, "looks": list(looks.counts)}


def execute(config: RunConfig, run_dir: Path, interps: dict[str, Interpreter],
            points: Sequence[Point],
            manifest: dict[str, Any], benchmarks: list[pyperf.Benchmark],
            progress: Progress, started: float | None = None) -> RunResult:
    """Measure the rounds ``manifest`` still lacks, then extra rounds; save after each child.

    ``started`` (``time.monotonic``; None: now) is when the command began:
    the run's budget counts from there.
    """
    sweep = Sweep(config, run_dir, interps, points, manifest, benchmarks, progress)
    seconds = sweep.profile.budget_s if config.budget is None else config.budget
    _fit(sweep.profile, points, manifest, progress, seconds)
    budget = Budget.for_run(time.monotonic() if started is None else started, seconds,
                            len(points), sweep.profile.probe_s)
    sweep.budget = budget if seconds else None
    sweep.race = _race(config, sweep.profile, progress, budget.started, bool(seconds),
                       manifest)
    manifest["decisions"] = _decisions(config, sweep)
    if live.wanted(config.live, seconds):
        sweep.live = live.LiveReport(run_dir)

    def measure(t0: float) -> None:
        began = time.monotonic()
        try:
            with services.started(p.work.service for p in points) as sweep.services:
                sweep.planned()
                sweep.extra()
                manifest["services"] = sweep.services.record()
        finally:
            sweep.overhead.wall = time.monotonic() - began

    return sweep.result(session([sweep], progress, measure))


def start(config: RunConfig, progress: Progress, *, force: bool = False,
          planned: Plan | None = None, started: float | None = None) -> RunResult:
    """Plan (unless ``planned`` is given), create the run directory and measure every point.

    Raises
    ------
    UsageError
        Bad grid values, a ``--python`` that does not run, a workload that
        fails pre-flight, an existing run directory without ``force``.
    WorkloadFailed
        A user's workload raised in the sequential reference.
    """
    check_timeout(config.point_timeout)
    check_budget(config.budget)
    config.name = config.name or default_name()
    config.seed = config.seed or secrets.token_hex(8)
    planned = planned or plan(config)
    run_dir = store.prepare_run_dir(Path(config.output_dir), config.name, force=force)
    manifest = planned.manifest(config)
    store.write_manifest(run_dir, manifest)
    return execute(config, run_dir, planned.interps, planned.points, manifest, [], progress,
                   started)


def resume(run_dir: Path, progress: Progress, started: float | None = None,
           live_report: bool | None = None) -> RunResult:
    """Measure the points a run directory is missing, with its original settings.

    The run's budget counts afresh from ``started`` (None: now);
    ``live_report`` (None: as the run was started) says whether this session
    redraws the report after each round.
    """
    manifest, config, points = read_for_resume(run_dir)
    if live_report is not None:
        config.live = live_report
    check_timeout(config.point_timeout)
    interps = plan(config).interps
    results = run_dir / store.RESULTS
    benchmarks = (list(store.load_results(results).get_benchmarks())
                  if results.exists() else [])
    reset_statuses(manifest, {b.get_name() for b in benchmarks})
    return execute(config, run_dir, interps, points, manifest, benchmarks, progress, started)
