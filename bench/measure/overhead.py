"""Where a sweep's wall time went: the children's phases, added up, and the one line that
says it (``run.json``'s ``overhead`` record)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bench.measure import launch

#: The children's phases the sweep adds up (see :func:`bench.measure.child.main`).
PHASES = ("open", "verify", "probes", "speed", "settle", "sweeps", "timed", "write", "main")

def _ratio(wall: float, timed: float) -> float | None:
    return round(wall / timed, 3) if timed > 0 else None


@dataclass
class Overhead:
    """Where a sweep's wall time went: its timed regions and what surrounds them.

    ``timed`` is the seconds inside the clock (values and warm-ups); the
    children's ``main`` less their ``sweeps``, ``open``, ``probes`` (the metrics'
    untimed batches), ``speed`` (the host's speed readings), ``settle`` (waiting, before a
    value, for the threads of the points before it to sleep) and ``write`` is the
    rest of a child's own work; ``children`` less ``main`` is the start-up of
    the interpreters and their imports; ``wall`` less ``children`` is the
    parent's own bookkeeping (saving results, choosing extra rounds).
    """

    wall: float = 0.0
    children: float = 0.0
    count: int = 0
    phases: dict[str, float] = field(default_factory=lambda: dict.fromkeys(PHASES, 0.0))

    def add(self, result: launch.ChildResult) -> None:
        """Count one child."""
        self.children += result.seconds
        self.count += 1
        for key in PHASES:
            self.phases[key] += result.phases.get(key, 0.0)

    def to_dict(self) -> dict[str, Any]:
        """The record in ``run.json``: seconds by phase, and the ratio."""
        p = self.phases
        return {
            "wall_s": round(self.wall, 3), "timed_s": round(p["timed"], 3),
            "ratio": _ratio(self.wall, p["timed"]),
            # the metrics' probe batches are measurements too, not the harness's overhead
            "ratio_without_probes": _ratio(self.wall - p["probes"], p["timed"]),
            "children": self.count,
            "child_startup_s": round(self.children - p["main"], 3),
            "open_s": round(p["open"], 3),
            "probes_s": round(p["probes"], 3),
            "speed_readings_s": round(p["speed"], 3),
            "settle_s": round(p["settle"], 3),
            "untimed_in_sweeps_s": round(p["sweeps"] - p["timed"], 3),
            "write_s": round(p["write"], 3),
            "parent_s": round(self.wall - self.children, 3),
        }

    def merge(self, earlier: dict[str, Any] | None) -> dict[str, Any]:
        """This session's record added to an earlier session's (``--resume``)."""
        mine = self.to_dict()
        if not earlier:
            return mine
        out: dict[str, Any] = {k: round(float(earlier.get(k) or 0) + float(v or 0), 3)
                               for k, v in mine.items() if not k.startswith("ratio")}
        out["children"] = int(out["children"])
        out["ratio"] = _ratio(out["wall_s"], out["timed_s"])
        out["ratio_without_probes"] = _ratio(out["wall_s"] - out["probes_s"], out["timed_s"])
        return out


def describe_overhead(record: dict[str, Any]) -> str:
    """One line: ``sweep 152 s wall over 98 s timed (ratio 1.55): ...``."""
    if not record.get("ratio"):
        return f"sweep {record.get('wall_s', 0):.0f} s wall, nothing timed"
    parts = [f"{record[k]:.1f} s {what}" for k, what in (
        ("child_startup_s", f"starting {record['children']} children"),
        ("open_s", "opening points (pools, checks)"),
        ("probes_s", "probing metrics"),
        ("speed_readings_s", "reading the host's speed"),
        ("settle_s", "waiting for other threads to settle"),
        ("untimed_in_sweeps_s", "between values"),
        ("write_s", "writing round files"),
        ("parent_s", "in the runner")) if record.get(k)]
    bare = record.get("ratio_without_probes")
    without = (f"; {bare:.2f} without probing metrics" if record.get("probes_s") and bare
               else "")
    return (f"sweep {record['wall_s']:.0f} s wall over {record['timed_s']:.0f} s timed "
            f"(ratio {record['ratio']:.2f}{without}): " + ", ".join(parts))
