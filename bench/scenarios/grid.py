"""The scenario grid: profiles, validity rules, expansion into points.

The grid is data: workloads x models x task counts x worker counts
(x start method for process pools), filtered by which workload x model pairs
exist and what the measuring interpreter offers.  Defaults scale with the
usable cores C of the host (never ``os.cpu_count()`` alone).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

from bench.errors import UsageError
from bench.scenarios import latency, service
from bench.scenarios.models import COLD, DEFAULT_LOOP, LOOPS, MODELS, ModelDef, Point, loop_variant
from bench.scenarios.profiles import LESSON_MODELS as LESSON_MODELS
from bench.scenarios.profiles import PROFILES as PROFILES
from bench.scenarios.profiles import Profile as Profile
from bench.scenarios.workloads import BUILTINS, Workload

_T = TypeVar("_T")

#: Seconds before a point's child is killed, unless --point-timeout says otherwise.
DEFAULT_POINT_TIMEOUT = 300.0


def worker_counts(factors: Iterable[str], cores: int, tasks: int | None = None
                  ) -> tuple[int, ...]:
    """Resolve ``"1"``, ``"C"``, ``"2C"`` ... against the usable cores.

    With ``tasks``, no count exceeds it: W > T workers would only add idle ones (at
    C = 64, quick's T = 16 is measured at W = 1 and 16, not 64 and 128).
    """
    out: set[int] = set()
    for f in factors:
        w = int(f[:-1] or 1) * cores if f.endswith("C") else int(f)
        out.add(w if tasks is None else min(w, tasks))
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
    #: Event loops (keys of ``LOOPS``; empty: the default one): every other loop adds
    #: a variant of each model whose tasks run on a loop, ``asyncio_gather[uvloop]``.
    loops: tuple[str, ...] = ()
    #: Open-loop arrivals (``poisson:RATE``) for the models that can send calls so; "":
    #: every batch submits all its calls at once.
    arrivals: str = ""


def _check_names(kind: str, given: Sequence[str], known: Iterable[str]) -> None:
    known = sorted(known)
    for name in given:
        if name not in known:
            raise UsageError(f"unknown {kind} {name!r} (choose from {', '.join(known)})")


def _check_counts(kind: str, values: Sequence[int]) -> None:
    for v in values:
        if v < 1:
            raise UsageError(f"--{kind} values must be whole numbers >= 1, got {v}")


Catalogue = Mapping[str, Workload]


def validate(spec: GridSpec, start_methods: Sequence[str], catalogue: Catalogue) -> None:
    """Raise :class:`UsageError` for names and values the grid cannot take."""
    if spec.profile not in PROFILES:
        raise UsageError(f"unknown profile {spec.profile!r} (choose from {', '.join(PROFILES)})")
    _check_names("workload", spec.workloads, catalogue)
    _check_names("model", spec.models, MODELS)
    _check_names("event loop", spec.loops, LOOPS)
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
    work = BUILTINS[workload]
    return _sized(work.default_size * scale, work.whole_units)


def _sized(size: float, whole: bool) -> float:
    return max(1.0, float(round(size))) if whole else size  # whole units, never zero work


def task_sizes(work: Workload, scale: float, sizes: Sequence[float] = ()) -> tuple[float, ...]:
    """The sizes a run measures ``work`` at.

    Sizes asked for (``--sizes``) and a user's declared sizes are measured as
    given; a profile's scale applies only to a built-in workload's defaults,
    rounded to whole units where the workload has them.
    """
    if sizes:
        return _unique([_sized(s, work.whole_units) for s in sizes])
    if work.builtin:
        return tuple(_unique([_sized(s * scale, work.whole_units) for s in work.sizes]))
    return tuple(work.sizes)


def same_work(spec: GridSpec, catalogue: Catalogue, other_scale: float) -> list[str]:
    """The workloads of the grid whose sizes are the same at ``other_scale`` as at ``spec``'s.

    ``--work-scale`` scales only the built-in workloads' default sizes (sizes
    given with ``--sizes`` or declared are measured as given), and rounding to
    whole units can undo it (2 MiB x 1.25 is 2 MiB again).
    """
    if spec.profile not in PROFILES:
        return []
    profile = PROFILES[spec.profile]
    names = _unique(spec.workloads) or profile.workloads
    return [wl for wl in names if wl in catalogue
            and task_sizes(catalogue[wl], profile.work_scale * spec.work_scale, spec.sizes)
            == task_sizes(catalogue[wl], profile.work_scale * other_scale, spec.sizes)]


def check_scale(spec: GridSpec, catalogue: Catalogue) -> list[str]:
    """Refuse a ``--work-scale`` that changes no point's work; name the workloads it leaves.

    Returns
    -------
    list of str
        The workloads the scale leaves unchanged while it changes others
        (for a note); empty when it changes every one.

    Raises
    ------
    UsageError
        The scale changes the work of no workload of the grid.
    """
    if spec.work_scale == 1.0:
        return []
    same = same_work(spec, catalogue, 1.0)
    names = _unique(spec.workloads) or PROFILES[spec.profile].workloads
    if same and len(same) == len([n for n in names if n in catalogue]):
        raise UsageError(f"--work-scale {spec.work_scale:g} changes no point's work: "
                         f"{_scale_why(same, catalogue, spec)}")
    return same


def _scale_why(names: Sequence[str], catalogue: Catalogue, spec: GridSpec) -> str:
    """Why the scale leaves ``names`` as they are, in one clause per workload."""
    parts = []
    for wl in names:
        work = catalogue[wl]
        parts.append(f"{wl} (its sizes are measured as given)"
                     if spec.sizes or not work.builtin
                     else f"{wl} (whole {work.unit}: the scaled size rounds back)")
    return ("; ".join(parts) + "; --work-scale multiplies the built-in workloads' default "
            "sizes only")


def expand(
    spec: GridSpec,
    *,
    cores: int,
    start_methods: Sequence[str],
    python: tuple[int, int],
    catalogue: Catalogue = BUILTINS,
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
    catalogue
        The run's workloads by name (:func:`bench.scenarios.workloads.catalogue`);
        each point carries its workload's spec.

    Returns
    -------
    list of Point
        Sequential baselines come first for every workload and task count
        measured, so every speedup has its denominator.
    """
    validate(spec, start_methods, catalogue)
    profile = PROFILES[spec.profile]
    scale = spec.work_scale * profile.work_scale
    workloads = _unique(spec.workloads) or profile.workloads
    models = [m for m in asked(spec, catalogue) if m.baseline or _runs(m, python)]
    tasks = _unique(spec.tasks) or profile.tasks
    # workers asked for are measured as given; a profile's are capped at each T
    workers_at = {t: _unique(spec.workers) or worker_counts(profile.worker_factors, cores, t)
                  for t in tasks}
    methods = _unique(spec.start_methods) or (
        tuple(m for m in profile.start_methods if m in start_methods) or tuple(start_methods[:1])
    )
    sweep = set(spec.start_methods or profile.sweep_start_methods) | {methods[0]}

    works = [catalogue[wl] for wl in workloads]
    if spec.workloads and spec.models:  # both named: a model that can run none is a mistake
        for m in (MODELS[name] for name in _unique(spec.models)):
            if not any(m.accepts(w) for w in works):
                kinds = sorted({"async" if w.is_async else "sync" for w in works})
                raise UsageError(f"model {m.name!r} cannot run the {' or '.join(kinds)} workload"
                                 f"{'s' * (len(workloads) > 1)} {', '.join(map(repr, workloads))} "
                                 "(drop it from --models)")
    _check_loops(spec, models, works, python)
    base = next(m for m in MODELS.values() if m.baseline)
    points: list[Point] = []
    for work in works:
        sizes = task_sizes(work, scale, spec.sizes)
        sized = len(sizes) > 1
        # the methods' order, never a set's: point order must not depend on hash seeds
        ms = methods if spec.start_methods or profile.every_start_method(work) else tuple(
            sm for sm in methods if sm in sweep)
        for size in sizes:
            for t in tasks:
                points.append(Point(work.name, base.name, t, size=size, sized=sized, spec=work))
            for m in models:
                if m.baseline or not m.accepts(work):
                    continue
                for t in tasks:
                    ws = workers_at[t]
                    at_c = (min(cores, t),) if min(cores, t) in ws else ws
                    points.extend(_variants(m, work, t, size, ws, ms, sweep, at_c, sized))
    if spec.cold if spec.cold is not None else profile.cold:
        ws = workers_at[max(tasks)]
        w_cold = min(cores, max(tasks)) if min(cores, max(tasks)) in ws else max(ws)
        for work in works:
            if profile.cold_starts(work):
                points.extend(_cold_points(models, work, max(tasks), w_cold, methods,
                                           task_sizes(work, scale, spec.sizes)[-1]))
    return [_native(p, cores) for p in _open_loop(points, spec.arrivals)]


def _open_loop(points: list[Point], arrivals: str) -> list[Point]:
    """With ``arrivals``, the points of the models that can send their calls at scheduled
    times (:attr:`ModelDef.open_loop`), each so; the others are left out."""
    if not arrivals:
        return points
    try:
        latency.arrival_offsets(arrivals, 1)
    except ValueError as exc:
        raise UsageError(f"--arrivals: {exc}") from None
    kept = [replace(p, arrivals=arrivals) for p in points
            if MODELS[p.model].open_loop and p.metric != COLD]
    if not kept:
        able = ", ".join(m for m, d in MODELS.items() if d.open_loop and not d.variant_of)
        raise UsageError(f"--arrivals {arrivals}: no model of the plan sends its calls at "
                         f"scheduled times (those that can: {able}, on async workloads)")
    return kept


def asked(spec: GridSpec, catalogue: Catalogue) -> list[ModelDef]:
    """The models a grid asks for, wherever offered: those of ``models`` (every one when none
    is named), each on every loop of ``loops``, that run a workload of the grid."""
    named = (_unique(spec.models) or PROFILES[spec.profile].models
             or tuple(m for m, d in MODELS.items() if not d.variant_of))
    names = _unique((*named, *(loop_variant(m, loop) for m in named for loop in spec.loops)))
    works = [catalogue[w] for w in _unique(spec.workloads) or PROFILES[spec.profile].workloads]
    return [MODELS[m] for m in names if m in MODELS and any(MODELS[m].accepts(w) for w in works)]


def _check_loops(spec: GridSpec, models: Sequence[ModelDef], works: Sequence[Workload],
                 python: tuple[int, int]) -> None:
    """Refuse a loop of ``--loops`` on which no model of the plan runs a workload of it."""
    for loop in _unique(spec.loops):
        if loop == DEFAULT_LOOP or any(m.loop == loop and m.accepts(w)
                                       for m in models for w in works):
            continue
        on_loop = [m.name for m in MODELS.values()
                   if m.on_loop and not m.variant_of and _runs(m, python)]
        why = (f"no workload of the plan runs on an event loop "
               f"({', '.join(w.name for w in works)}: sync)" if not any(w.is_async for w in works)
               else f"no model of the plan runs its tasks on an event loop (those that do here: "
               f"{', '.join(on_loop)})")
        raise UsageError(f"--loops {loop} adds nothing: {why}")


#: Seconds of waiting on its service beyond which a batch is not measured (T calls one
#: after another, or in waves of W, at the service's median latency).
MAX_WAIT_S = 10.0


def too_long(point: Point) -> str:
    """Why ``point`` is left out ("" where it is not): its batch would wait on its loopback
    service for more than :data:`MAX_WAIT_S` (T calls, as many at once as its model lets
    through: 1 without overlap, W with a pool or a limit, all T on event loops)."""
    work, model = point.work, MODELS[point.model]
    if not work.service:
        return ""
    at_once = model.in_flight(point.tasks, point.workers)
    wait = math.ceil(point.tasks / at_once) * service.parse(work.service).latency
    if wait <= MAX_WAIT_S:
        return ""
    return (f"a batch would wait {wait:.0f} s on the service ({point.tasks} calls, {at_once} "
            f"at a time), more than {MAX_WAIT_S:.0f} s")


def _native(point: Point, cores: int) -> Point:
    """The point with its native thread pools' setting: C / W threads per worker for a
    pool whose workers are processes of their own (as loky does), else the default."""
    pool = MODELS[point.model].pool
    if pool is None or not pool.native_share:
        return point
    return replace(point, native_threads=max(1, cores // (point.workers or 1)))


def _unique(values: Sequence[_T]) -> tuple[_T, ...]:
    """Drop repeats, keep the order (``--tasks 4,4`` is one task count)."""
    return tuple(dict.fromkeys(values))


def _runs(model: ModelDef, python: tuple[int, int]) -> bool:
    return not model.offered(python)


def _variants(m: ModelDef, work: Workload, t: int, size: float, workers: Sequence[int],
              methods: Sequence[str], sweep: set[str], at_c: Sequence[int],
              sized: bool) -> list[Point]:
    wl = work.name
    if not m.takes_workers:
        return [Point(wl, m.name, t, size=size, sized=sized, spec=work)]
    if not m.per_start_method:
        return [Point(wl, m.name, t, w, size=size, sized=sized, spec=work) for w in workers]
    out: list[Point] = []
    for sm in methods:
        ws = workers if sm in sweep else at_c
        out.extend(Point(wl, m.name, t, w, sm, size, sized=sized, spec=work) for w in ws)
    return out


def _cold_points(models: Sequence[ModelDef], work: Workload, tasks: int, workers: int,
                 methods: Sequence[str], size: float) -> list[Point]:
    out: list[Point] = []
    for m in models:
        if not m.cold or not m.accepts(work):
            continue
        for sm in methods if m.per_start_method else (None,):
            out.append(Point(work.name, m.name, tasks, workers, sm, size, COLD, spec=work))
    return out
