"""The scenario grid: profiles, validity rules, expansion into points.

The grid is data: workloads x models x task counts x worker counts
(x start method for process pools), filtered by which workload x model pairs
exist and what the measuring interpreter offers.  Defaults scale with the
usable cores C of the host (never ``os.cpu_count()`` alone).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from bench.errors import UsageError
from bench.scenarios.models import MODELS, ModelDef, Point
from bench.scenarios.workloads import WORKLOADS

_T = TypeVar("_T")

#: Seconds before a point's child is killed, unless --point-timeout says otherwise.
DEFAULT_POINT_TIMEOUT = 300.0


@dataclass(frozen=True)
class Profile:
    """How much to measure: axes defaults and the rounds of a run.

    A run is ``rounds`` planned rounds (see :mod:`bench.measure.rounds`); in each, every
    point takes ``warmups`` warm-up values and ``values`` values, a value
    lasting at least ``min_time`` seconds (that many batches).  Then, while the
    run has lasted less than ``until_s`` seconds, extra rounds go to the groups
    whose points' 95 % intervals are wider than 5 % of their estimate, until a
    point has ``max_rounds`` rounds.

    ``sweep_start_methods`` lists the start methods measured at every worker
    count; the others are measured at W = C only, and only on the workloads
    in ``start_method_workloads`` when it is not empty (once a pool is warm
    its workers run the same code whatever started them: the start method's
    cost is the cold start, measured per method on its own).
    """

    name: str
    tasks: tuple[int, ...]
    worker_factors: tuple[str, ...]
    rounds: int
    values: int
    warmups: int
    min_time: float
    work_scale: float = 1.0
    sweep_start_methods: tuple[str, ...] = ("fork",)
    start_method_workloads: tuple[str, ...] = ()
    start_methods: tuple[str, ...] = ("fork", "forkserver", "spawn")
    cold: bool = True
    #: Workloads whose pools also get cold-start points (when the run measures them).
    cold_workloads: tuple[str, ...] = ("cpu",)
    #: Built-in workloads measured when none are named (the seed notebook's lessons).
    workloads: tuple[str, ...] = ("cpu", "hash", "sleep", "async_sleep")
    until_s: float = 0.0
    max_rounds: int = 0
    #: Seconds each noise probe (before and after the sweep) watches the host.
    probe_s: float = 0.5
    description: str = ""


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile(
            "smoke", (4,), ("C",), rounds=6, values=3, warmups=1, min_time=0.005,
            work_scale=0.2, start_methods=("fork",), cold=False, probe_s=0.2,
            description="seconds; for tests and the gate's own A/A checks",
        ),
        Profile(
            "quick", (4, 16), ("1", "C", "2C"), rounds=6, values=3, warmups=1, min_time=0.04,
            start_method_workloads=("cpu",), until_s=165.0, max_rounds=16,
            description="the default: every workload and model, about 2-3 minutes on 2 cores",
        ),
        Profile(
            "full", (1, 4, 16, 64), ("1", "2", "C", "2C", "4C"), rounds=10, values=5,
            warmups=1, min_time=0.05, sweep_start_methods=("fork", "forkserver", "spawn"),
            until_s=3600.0, max_rounds=30,
            description="thorough: more task counts, worker counts, rounds and values",
        ),
    )
}


def worker_counts(factors: Iterable[str], cores: int) -> tuple[int, ...]:
    """Resolve ``"1"``, ``"C"``, ``"2C"`` ... against the usable cores."""
    out: set[int] = set()
    for f in factors:
        out.add(int(f[:-1] or 1) * cores if f.endswith("C") else int(f))
    return tuple(sorted(out))


@dataclass(frozen=True)
class GridSpec:
    """Everything that decides which points a run measures."""

    profile: str = "quick"
    workloads: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    tasks: tuple[int, ...] = ()
    workers: tuple[int, ...] = ()
    start_methods: tuple[str, ...] = ()
    work_scale: float = 1.0
    cold: bool | None = None
    #: Task sizes, as given, for every workload measured (empty: each workload's own).
    sizes: tuple[float, ...] = ()


def _check_names(kind: str, given: Sequence[str], known: Iterable[str]) -> None:
    known = sorted(known)
    for name in given:
        if name not in known:
            raise UsageError(f"unknown {kind} {name!r} (choose from {', '.join(known)})")


def _check_counts(kind: str, values: Sequence[int]) -> None:
    for v in values:
        if v < 1:
            raise UsageError(f"--{kind} values must be whole numbers >= 1, got {v}")


def validate(spec: GridSpec, start_methods: Sequence[str]) -> None:
    """Raise :class:`UsageError` for names and values the grid cannot take."""
    if spec.profile not in PROFILES:
        raise UsageError(f"unknown profile {spec.profile!r} (choose from {', '.join(PROFILES)})")
    _check_names("workload", spec.workloads, WORKLOADS)
    _check_names("model", spec.models, MODELS)
    _check_counts("tasks", spec.tasks)
    _check_counts("workers", spec.workers)
    for size in spec.sizes:
        if not (size > 0 and math.isfinite(size)):
            raise UsageError(f"--sizes values must be > 0 and finite, got {size}")
    if not (spec.work_scale > 0 and math.isfinite(spec.work_scale)):
        raise UsageError(f"--work-scale must be > 0 and finite, got {spec.work_scale}")
    for sm in spec.start_methods:
        if sm not in start_methods:
            raise UsageError(
                f"start method {sm!r} is not available here "
                f"(this platform offers {', '.join(start_methods)})"
            )


def task_size(workload: str, scale: float) -> float:
    """A built-in workload's default size in its unit, scaled."""
    return _sized(WORKLOADS[workload].default_size * scale, WORKLOADS[workload].whole_units)


def _sized(size: float, whole: bool) -> float:
    return max(1.0, float(round(size))) if whole else size  # whole units, never zero work


def task_sizes(workload: str, scale: float, sizes: Sequence[float] = ()) -> tuple[float, ...]:
    """The sizes a run measures ``workload`` at.

    Sizes asked for (``--sizes``) and a user's declared sizes are measured as
    given; a profile's scale applies only to a built-in workload's defaults.
    """
    work = WORKLOADS[workload]
    if sizes:
        return _unique([_sized(s, work.whole_units) for s in sizes])
    if work.builtin:
        return tuple(_unique([_sized(s * scale, work.whole_units) for s in work.sizes]))
    return tuple(work.sizes)


def expand(
    spec: GridSpec,
    *,
    cores: int,
    start_methods: Sequence[str],
    python: tuple[int, int],
) -> list[Point]:
    """Expand a grid spec into the ordered list of points to measure.

    Parameters
    ----------
    spec
        The requested axes; empty axes take the profile's defaults.
    cores
        Usable cores C of the measuring host.
    start_methods
        Process start methods the measuring interpreter offers.
    python
        ``(major, minor)`` of the measuring interpreter.

    Returns
    -------
    list of Point
        Sequential baselines come first for every workload and task count
        measured, so every speedup has its denominator.
    """
    validate(spec, start_methods)
    profile = PROFILES[spec.profile]
    scale = spec.work_scale * profile.work_scale
    workloads = _unique(spec.workloads) or profile.workloads
    models = [MODELS[m] for m in (_unique(spec.models) or tuple(MODELS))]
    models = [m for m in models if m.baseline or _runs(m, python)]
    tasks = _unique(spec.tasks) or profile.tasks
    workers = _unique(spec.workers) or worker_counts(profile.worker_factors, cores)
    methods = _unique(spec.start_methods) or (
        tuple(m for m in profile.start_methods if m in start_methods) or tuple(start_methods[:1])
    )
    sweep = set(spec.start_methods or profile.sweep_start_methods) | {methods[0]}
    at_c = (cores,) if cores in workers else tuple(workers)
    others_on = () if spec.start_methods else profile.start_method_workloads

    if spec.workloads and spec.models:  # both named: a model that can run none is a mistake
        for m in models:
            if not any(m.accepts(WORKLOADS[wl]) for wl in workloads):
                kinds = sorted({"async" if WORKLOADS[wl].is_async else "sync" for wl in workloads})
                raise UsageError(f"model {m.name!r} cannot run the {' or '.join(kinds)} workload"
                                 f"{'s' * (len(workloads) > 1)} {', '.join(map(repr, workloads))} "
                                 "(drop it from --models)")
    base = next(m for m in MODELS.values() if m.baseline)
    points: list[Point] = []
    for wl in workloads:
        work = WORKLOADS[wl]
        sizes = task_sizes(wl, scale, spec.sizes)
        sized = len(sizes) > 1
        # the methods' order, never a set's: point order must not depend on hash seeds
        ms = methods if not others_on or wl in others_on else tuple(
            sm for sm in methods if sm in sweep)
        for size in sizes:
            for t in tasks:
                points.append(Point(wl, base.name, t, size=size, sized=sized))
            for m in models:
                if m.baseline or not m.accepts(work):
                    continue
                for t in tasks:
                    points.extend(_variants(m, wl, t, size, workers, ms, sweep, at_c, sized))
    if spec.cold if spec.cold is not None else profile.cold:
        w_cold = cores if cores in workers else max(workers)
        for wl in workloads:
            if wl in profile.cold_workloads:
                points.extend(_cold_points(models, wl, max(tasks), w_cold, methods,
                                           task_sizes(wl, scale, spec.sizes)[-1]))
    return points


def _unique(values: Sequence[_T]) -> tuple[_T, ...]:
    """Drop repeats, keep the order (``--tasks 4,4`` is one task count)."""
    return tuple(dict.fromkeys(values))


def _runs(model: ModelDef, python: tuple[int, int]) -> bool:
    return python >= model.min_python


def _variants(m: ModelDef, wl: str, t: int, size: float, workers: Sequence[int],
              methods: Sequence[str], sweep: set[str], at_c: Sequence[int],
              sized: bool) -> list[Point]:
    if not m.pooled:
        return [Point(wl, m.name, t, size=size, sized=sized)]
    if not m.per_start_method:
        return [Point(wl, m.name, t, w, size=size, sized=sized) for w in workers]
    out: list[Point] = []
    for sm in methods:
        ws = workers if sm in sweep else at_c
        out.extend(Point(wl, m.name, t, w, sm, size, sized=sized) for w in ws)
    return out


def _cold_points(models: Sequence[ModelDef], wl: str, tasks: int, workers: int,
                 methods: Sequence[str], size: float) -> list[Point]:
    out: list[Point] = []
    for m in models:
        if not m.cold or not m.accepts(WORKLOADS[wl]):
            continue
        for sm in methods if m.per_start_method else (None,):
            out.append(Point(wl, m.name, tasks, workers, sm, size, "cold"))
    return out
