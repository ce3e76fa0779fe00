"""The scenario point: where a model meets a workload.

Standard library plus :mod:`bench.scenarios.workloads` only (the measured
children import it).  A *point* is one measured scenario: workload x model x
task count x worker count (x start method) x task size (x interpreter), timed warm
(:data:`STEADY`) or as a pool's cold start (:data:`COLD`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from bench.scenarios import workloads
from bench.scenarios.workloads import Workload

#: What a point times: warm batches of an opened model, or a pool's cold start
#: (creation plus the first batch, a fresh pool per value).
STEADY, COLD = "steady", "cold"
PHASES = (STEADY, COLD)


def model_label(model: str, start_method: str | None = "") -> str:
    """``process_pool[fork]`` for a model measured per start method, else the model's name."""
    return f"{model}[{start_method}]" if start_method else model


# ------------------------------------------------------------------------ points
@dataclass(frozen=True)
class Point:
    """One scenario of the grid.

    ``metric`` is :data:`STEADY` (warm batches) or :data:`COLD` (pool creation
    plus the first batch, a fresh pool per value).  ``spec`` is the point's
    workload spec: points carry it, so no catalogue shared by the process
    decides what a point runs (None: the built-in workload of that name).
    """

    workload: str
    model: str
    tasks: int
    workers: int | None = None
    start_method: str | None = None
    size: float = 0.0
    metric: str = STEADY
    #: The grid sweeps this workload over several sizes: the name says which.
    sized: bool = False
    #: The interpreter's tag (``3.14``) in a run of several (``--python 3.11,3.14``), else "".
    python: str = ""
    #: Open-loop arrivals (``poisson:RATE``): each call sent at its intended time; "" for a
    #: closed loop (every call of a batch submitted at once).
    arrivals: str = ""
    #: Threads each native pool (BLAS, OpenMP, ...) of the point's worker processes may
    #: start (:mod:`bench.scenarios.native`); 0: the library's default.  Not in the name:
    #: a model's setting (:attr:`bench.scenarios.pools.PoolDef.native_share`), not an axis.
    native_threads: int = field(default=0, compare=False)
    spec: Workload | None = field(default=None, compare=False, repr=False)

    @property
    def name(self) -> str:
        """Stable readable name, e.g. ``cpu/process_pool[fork]/t16/w2`` (``.../s1e+04``,
        ``...@3.14`` in a run of several interpreters)."""
        parts = [self.workload, model_label(self.model, self.start_method), f"t{self.tasks}"]
        if self.workers is not None:
            parts.append(f"w{self.workers}")
        if self.sized:
            parts.append(f"s{self.size:g}")
        if self.arrivals:
            parts.append(self.arrivals.replace(":", ""))
        if self.metric != STEADY:
            parts.append(self.metric)
        return "/".join(parts) + (f"@{self.python}" if self.python else "")

    @property
    def work(self) -> Workload:
        """The point's workload spec."""
        return self.spec if self.spec is not None else workloads.BUILTINS[self.workload]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields, the workload spec included (for run.json and the child's job)."""
        data = asdict(self)
        data["spec"] = self.work.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Point:
        """Inverse of :meth:`to_dict` (a missing spec: the built-in workload of that name)."""
        fields_ = dict(data)
        spec = fields_.pop("spec", None)
        return cls(**fields_, spec=None if spec is None else Workload.from_dict(spec))
