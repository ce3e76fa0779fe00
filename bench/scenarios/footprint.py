"""What a run's children hold at once, estimated before it runs: pools, descriptors, memory.

A group's child opens every steady point of its group before the first clock
starts (:mod:`bench.measure.child`), so it holds all their pools at once; a
cold group's child opens one pool at a time.  The largest child bounds what
the run needs of the host: file descriptors (each process pool holds a few,
and two per worker) and memory (each worker's own, by start method).  The
figures per pool and per worker are fields of each model's
:class:`~bench.scenarios.pools.PoolDef`; no model is named here.

The runner says the estimate at the start, raises the descriptors' soft limit
towards the hard one where the plan needs more (children inherit it), and
refuses a plan that cannot fit (:func:`check`).
"""

from __future__ import annotations

import resource
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.errors import UsageError
from bench.scenarios.models import COLD, MODELS, Point
from bench.scenarios.pools import PoolDef

#: Descriptors of the child itself (standard streams, its status and job files, the pipes
#: of its event loops) and of the loops' and pools' bookkeeping beyond the per-pool counts.
CHILD_FDS = 32
#: Megabytes of the child itself (an interpreter with the harness and the workload imported).
CHILD_MB = 40.0
#: Descriptors kept free beyond the estimate when the soft limit is raised.
FDS_MARGIN = 64


@dataclass(frozen=True)
class Footprint:
    """What one child holds at once (or the largest of a run's children)."""

    pools: int = 0
    #: Worker processes of its pools.
    processes: int = 0
    #: Worker threads of its pools (native threads not counted).
    threads: int = 0
    descriptors: int = CHILD_FDS
    memory_mb: float = CHILD_MB

    def describe(self) -> str:
        """``12 pools, 11 worker processes and 12 worker threads: about 60 descriptors and
        140 MB``."""
        def n(count: int, one: str, many: str) -> str:
            return f"{count} {one if count == 1 else many}"

        return (f"{n(self.pools, 'pool', 'pools')}, "
                f"{n(self.processes, 'worker process', 'worker processes')} and "
                f"{n(self.threads, 'worker thread', 'worker threads')}: about "
                f"{self.descriptors} file descriptors and {self.memory_mb:.0f} MB")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (for ``run.json``)."""
        return asdict(self)


def of_child(points: Sequence[Point]) -> Footprint:
    """What the child of one group holds at once: every steady point's pool, or the largest
    cold point's (a cold child opens one fresh pool at a time)."""
    pooled = [(p, pool) for p in points if (pool := MODELS[p.model].pool) is not None]
    steady = [(p, pool) for p, pool in pooled if p.metric != COLD]
    if steady or not pooled:
        return _holding(steady)
    return max((_holding([one]) for one in pooled), key=lambda f: (f.descriptors, f.memory_mb))


def _holding(held: Sequence[tuple[Point, PoolDef]]) -> Footprint:
    """What a child holding the pools of ``held`` at once needs."""
    return Footprint(
        pools=len(held),
        processes=sum(p.workers or 1 for p, pool in held if pool.fds_per_worker),
        threads=sum(p.workers or 1 for p, pool in held if not pool.fds_per_worker),
        descriptors=CHILD_FDS + sum(pool.fds_per_pool + pool.fds_per_worker * (p.workers or 1)
                                    for p, pool in held),
        memory_mb=CHILD_MB + sum(pool.mb_per_worker(p.start_method) * (p.workers or 1)
                                 for p, pool in held))


def largest(groups: Iterable[Sequence[Point]]) -> Footprint:
    """The largest child of a run, field by field (each field's own largest child)."""
    fps = [of_child(g) for g in groups] or [Footprint()]
    return Footprint(max(f.pools for f in fps), max(f.processes for f in fps),
                     max(f.threads for f in fps), max(f.descriptors for f in fps),
                     max(f.memory_mb for f in fps))


def available_mb(meminfo: Path = Path("/proc/meminfo")) -> float | None:
    """The host's available memory (``MemAvailable``), MB; None where it cannot be read."""
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def check(fp: Footprint, hard_fds: int, memory_mb: float | None) -> None:
    """Refuse a plan whose largest child cannot fit the host.

    Raises
    ------
    UsageError
        Its descriptors exceed the hard limit ``hard_fds`` (``ulimit -Hn``; the soft one
        is raised as far as that), or its memory exceeds ``memory_mb`` available.
    """
    fix = "ask for fewer --workers, --start-methods or --models"
    if hard_fds != resource.RLIM_INFINITY and fp.descriptors > hard_fds:
        raise UsageError(f"the plan cannot fit: its largest child would hold {fp.describe()}, "
                         f"over this host's hard limit of {hard_fds} open files (ulimit -Hn); "
                         f"{fix}")
    if memory_mb is not None and fp.memory_mb > memory_mb:
        raise UsageError(f"the plan cannot fit: its largest child would hold {fp.describe()}, "
                         f"over the {memory_mb:.0f} MB this host has available; {fix}")


def raise_nofile(needed: int) -> dict[str, int]:
    """Raise this process's soft limit on open files to hold ``needed`` (and a margin), as
    far as the hard limit allows; children started afterwards inherit it.

    Returns
    -------
    dict
        ``nofile_soft`` (now), ``nofile_hard``, ``nofile_soft_was`` (before), for the run's
        record (``-1``: unlimited).
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = needed + FDS_MARGIN
    new = soft
    if soft != resource.RLIM_INFINITY and soft < want:
        new = want if hard == resource.RLIM_INFINITY else min(want, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
    return {"nofile_soft": int(new), "nofile_hard": int(hard), "nofile_soft_was": int(soft)}
