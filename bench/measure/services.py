"""The loopback services of a run: started before its first round, stopped when it ends.

One service (:class:`bench.measure.loopback.Service`) per distinct spec among the
points' workloads; a child whose workload declares one gets the service's address
in its environment (:data:`bench.scenarios.service.ENV`).  A service that cannot
start fails its points, with the reason; the others are measured.  Every service
stops when the run ends, however it ends (its process also ends by itself when
this one dies: it watches a pipe from here).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from bench.errors import one_line
from bench.measure.loopback import Service
from bench.scenarios import service
from bench.scenarios.points import Point


@dataclass
class Running:
    """The run's services: each spec's environment for its children, or why it is missing."""

    env: dict[str, dict[str, str]] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    handles: dict[str, Service] = field(default_factory=dict)

    def for_point(self, point: Point) -> dict[str, str]:
        """The environment a child measuring ``point`` adds (empty without a service)."""
        return self.env.get(point.work.service, {})

    def record(self) -> dict[str, dict[str, Any]]:
        """What each service did (for the manifest): its address, loop and counters."""
        out: dict[str, dict[str, Any]] = {}
        for spec, handle in self.handles.items():
            with contextlib.suppress(Exception):
                stats = handle.stats()
                out[spec] = {**stats, "url": handle.url, "spec": service.parse(spec).to_text(),
                             "cpu_us_per_request": stats["cpu_s"] / max(stats["requests"], 1)
                             * 1e6}
        for spec, why in self.failed.items():
            out[spec] = {"failed": why}
        return out


@contextlib.contextmanager
def started(specs: Iterable[str]) -> Iterator[Running]:
    """Start one service per distinct spec of ``specs`` ("" for none); stop them all on the
    way out."""
    running = Running()
    try:
        for spec in dict.fromkeys(s for s in specs if s):
            try:
                handle = Service(service.parse(spec))
                running.handles[spec] = handle
                handle.start()
                running.env[spec] = handle.env()
            except (RuntimeError, OSError, ValueError) as exc:
                running.failed[spec] = f"the loopback service ({spec}) did not start: " \
                    f"{one_line(exc)}"
        yield running
    finally:
        for handle in running.handles.values():
            handle.stop()
