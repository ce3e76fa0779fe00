"""What a run was asked to do (``RunConfig``), and the metadata every benchmark carries."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import bench
from bench.errors import UsageError
from bench.measure.host import git_commit
from bench.measure.interpreter import Interpreter
from bench.results.store import FORMAT_VERSION
from bench.scenarios.grid import DEFAULT_POINT_TIMEOUT, GridSpec
from bench.scenarios.metrics import METRICS
from bench.scenarios.models import Point
from bench.scenarios.profiles import DELTA, UNTIL
from bench.scenarios.workloads import Workload, catalogue


@dataclass
class RunConfig:
    """Everything ``concbench run`` was asked to do; stored for ``--resume``."""

    grid: GridSpec = field(default_factory=GridSpec)
    #: ``--python``: one interpreter or several, comma-separated (None: this one).
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
    #: Seconds the whole command may take (None: the profile's ``budget_s``).
    budget: float | None = None
    #: Redraw the report after each round (None: when the budget is a few minutes or more).
    live: bool | None = None
    #: Metrics collected beside time in the planned rounds (:mod:`bench.scenarios.metrics`);
    #: None: every metric.
    metrics: list[str] | None = None
    #: ``--service``: the loopback service's spec (canonical text) for every workload that
    #: calls one; "" for each one's own.
    service: str = ""
    #: ``--until``: "decided" races to decisions, "stable" extends the widest intervals
    #: ("": the profile's :attr:`Profile.until`).
    until: str = ""
    #: ``--delta``: the equivalence margin of the decisions (0.05: within 5 %).
    delta: float = DELTA

    def metric_names(self) -> list[str]:
        """The metrics this run collects (every one when not chosen)."""
        return list(METRICS) if self.metrics is None else list(self.metrics)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready settings."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        """Inverse of :meth:`to_dict`."""
        grid = dict(data.get("grid", {}))
        for key in ("workloads", "models", "tasks", "workers", "start_methods", "sizes", "loops"):
            grid[key] = tuple(grid.get(key, ()))
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        fields["grid"] = GridSpec(**grid)
        return cls(**fields)

    def catalogue(self) -> dict[str, Workload]:
        """The run's workloads: the built-ins and the declared ones (a fresh dict), each that
        calls a service calling the run's ``service`` where one is given."""
        works = catalogue(Workload.from_dict(d) for d in self.declared)
        if not self.service:
            return works
        return {n: replace(w, service=self.service) if w.service else w for n, w in works.items()}


def settings(*, profile: str | None = None, workload: Sequence[str] | None = (),
             path: Sequence[str] | None = (), workloads: Sequence[str] | None = (),
             sizes: Sequence[float] | None = (), models: Sequence[str] | None = (),
             tasks: Sequence[int] | None = (), workers: Sequence[int] | None = (),
             start_methods: Sequence[str] | None = (), loops: Sequence[str] | None = (),
             work_scale: float | None = None, python: str | None = None,
             metrics: Sequence[str] | None = None, budget: float | None = None,
             live: bool | None = None, output_dir: str | Path | None = None,
             name: str | None = None, point_timeout: float | None = None,
             service: str | None = None, arrivals: str | None = None,
             until: str | None = None, delta: float | None = None) -> RunConfig:
    """The :class:`RunConfig` that ``concbench run``'s options of the same names describe
    (None or empty: the option's default), declared workloads (``[tool.concbench]``)
    included: what the command line and :func:`bench.run` both measure.

    ``workload`` holds the user's ``[NAME=]module:function`` references; they name what
    to measure, as ``workloads`` does: a declaring table's other entries join only when
    named.  ``metrics``: the metrics collected beside time (None: every one; empty: none).
    ``service``: the loopback service's spec for the workloads named by reference and
    every one that calls a service (None: each its own); ``arrivals``: ``poisson:RATE``, open loop.
    ``until``: "decided" (race) or "stable" (None: the profile's); ``delta``: the
    equivalence margin (None: 5 %).
    """
    from bench.scenarios.user import declared, from_refs

    user = declared(list(workload or ()), list(path or ()), Path.cwd())
    named = tuple(w.name for w in from_refs(list(workload or ())))
    names = (tuple(dict.fromkeys((*(workloads or ()), *named)))
             or tuple(w.name for w in user.workloads))
    grid = GridSpec(profile=profile or "quick", workloads=names, models=tuple(models or ()),
                    tasks=tuple(tasks or ()), workers=tuple(workers or ()),
                    start_methods=tuple(start_methods or ()),
                    work_scale=1.0 if work_scale is None else work_scale,
                    sizes=tuple(sizes or ()), loops=tuple(loops or ()),
                    arrivals=arrivals or "")
    text = _service_text(service)
    if until not in (None, "", *UNTIL):
        raise UsageError(f"--until {until!r}: expected one of {', '.join(UNTIL)}")
    if delta is not None and not (math.isfinite(delta) and 0 < delta < 1):
        raise UsageError(f"--delta must be a margin between 0% and 100%, got {delta:g}")
    return RunConfig(grid=grid, python=python, budget=budget, service=text,
                     until=until or "", delta=DELTA if delta is None else delta,
                     metrics=None if metrics is None else list(metrics), live=live,
                     output_dir=str(output_dir or "reports"), name=name or "",
                     point_timeout=DEFAULT_POINT_TIMEOUT if point_timeout is None
                     else point_timeout,
                     declared=[(replace(w, service=text) if text and w.name in named else w)
                               .to_dict() for w in user.workloads], paths=user.paths)


def _service_text(service: str | None) -> str:
    """``--service``'s canonical text ("" for none).

    Raises
    ------
    UsageError
        Not a service spec (:func:`bench.scenarios.service.parse`).
    """
    if service is None:
        return ""
    from bench.scenarios import service as spec

    try:
        return spec.parse(service).to_text()
    except ValueError as exc:
        raise UsageError(f"--service: {exc}") from None


def check_budget(budget: float | None) -> None:
    """Refuse a ``--budget`` that is not a finite number >= 0."""
    if budget is not None and not (math.isfinite(budget) and budget >= 0):
        raise UsageError(f"--budget must be a finite number of seconds >= 0, got {budget}")


def check_timeout(timeout: float) -> None:
    """Refuse a ``--point-timeout`` that is not a finite number > 0."""
    if not (isinstance(timeout, (int, float)) and math.isfinite(timeout) and timeout > 0):
        raise UsageError(f"--point-timeout must be a finite number > 0, got {timeout}")


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
        "native_threads": point.native_threads,
    }
    if point.work.resource:  # pyperf metadata strings cannot be empty
        meta["resource"] = point.work.resource
    if point.workers is not None:
        meta["workers"] = point.workers
    if point.start_method is not None:
        meta["start_method"] = point.start_method
    if point.python:
        meta["python"] = point.python
    return meta
