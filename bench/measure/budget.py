"""A run's time budget: the whole command, not only its sweep.

A budget of B seconds, counted from the moment the command started, covers
planning, the two noise probes, the planned rounds, the extra rounds and the
report.  The planned rounds always run (they are what the statistics rest
on); extra rounds run while what is left of the budget still holds the next
child, the closing probe and the report.  The user is told at the start when
the run will end, and told again, once, when the first planned round shows
that the planned rounds alone will overrun it.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass

#: Seconds the report of a run takes to draw, and per point, on the project's 2-core host with
#: its cores at their fast level (``scripts/bench_report_speed.py``): kept aside from the
#: extra rounds, scaled by how much slower the host's cores run than that
#: (:attr:`Budget.slowness`).
REPORT_S = 2.5
REPORT_PER_POINT_S = 0.002
#: The fixed task's seconds (:mod:`bench.measure.speed`) on the project's host's cores at
#: their fast level: a host reading more runs the report that much slower.
FAST_TASK_S = 1.0e-3


#: Seconds a child spends beside its values at the least: its start, imports and the host's
#: speed readings (0.14 s a child in a quick run on the project's host).
CHILD_S = 0.15


def planned_floor(group_sizes: Iterable[int], rounds: int, values_per_point: int,
                  min_time: float) -> float:
    """Seconds the planned rounds take at the least, before any is measured.

    ``group_sizes`` holds the points of each group (one child a round each); every value
    lasts ``min_time`` at least and each child :data:`CHILD_S`.  A floor: batches longer
    than ``min_time``, pools' opening and the metrics' probes come on top.
    """
    return rounds * sum(CHILD_S + n * values_per_point * min_time for n in group_sizes)


def duration(seconds: float) -> str:
    """``2 min 45 s``, ``50 s``, ``1 h 05 min``."""
    s = max(0, round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


@dataclass
class Budget:
    """``seconds`` for the whole command, counted from ``started`` (``time.monotonic``)."""

    started: float
    seconds: float
    #: Seconds kept for what follows the sweep whatever the host's speed (the closing
    #: noise probe), and for the report at the fast level (scaled by ``slowness``).
    after: float = 0.0
    report: float = 0.0
    #: The host's cores' latest speed over the fast level (>= 1; :meth:`host_speed`).
    slowness: float = 1.0

    @classmethod
    def for_run(cls, started: float, seconds: float, points: int, probe_s: float) -> Budget:
        """The budget of a run of ``points`` points whose noise probes watch ``probe_s``."""
        probe = 2 * probe_s + 0.5  # the idle window, the warm-up, the calibration
        return cls(started, seconds, probe, REPORT_S + REPORT_PER_POINT_S * points)

    @property
    def reserve(self) -> float:
        """Seconds kept for what follows the sweep: the closing noise probe, the report."""
        return self.after + self.report * self.slowness

    def host_speed(self, task_s: float) -> None:
        """The fixed task's latest seconds on the host's median core (a child's reading):
        the report's share of the reserve follows it."""
        if task_s > 0 and math.isfinite(task_s):
            self.slowness = max(1.0, task_s / FAST_TASK_S)

    @property
    def deadline(self) -> float:
        """When the last extra round must have ended (``time.monotonic``)."""
        return self.started + self.seconds - self.reserve

    def left(self) -> float:
        """Seconds left for rounds."""
        return self.deadline - time.monotonic()

    def _clock(self, at: float) -> str:
        wall = dt.datetime.now() + dt.timedelta(seconds=at - time.monotonic())
        return wall.strftime("%H:%M:%S")

    def announce(self, planned: int, raced: bool = False) -> str:
        """What the user is told at the start (``raced``: a race to decisions)."""
        end = self.started + self.seconds
        then = ("at most, raced to decisions: a decided rival leaves, the rounds go to the "
                "undecided while the budget allows, and the run ends early once every "
                "question is decided" if raced else
                ", then extra rounds where intervals are widest while the budget allows")
        return (f"this run takes about {duration(self.seconds)}, until about {self._clock(end)}: "
                f"{planned} planned group-rounds{' ' * raced}{then}, then the report")

    def overrun(self, elapsed: float, done: int, planned: int) -> str | None:
        """A revised end when the planned rounds will outlast the budget, else None.

        ``done`` of ``planned`` group-rounds took ``elapsed`` seconds.
        """
        if done <= 0 or done >= planned:
            return None
        projected = time.monotonic() + elapsed * (planned - done) / done + self.reserve
        if projected <= self.started + self.seconds:
            return None
        return (f"the planned rounds need more than the budget on this host: the run will end "
                f"at about {self._clock(projected)}, after "
                f"{duration(projected - self.started)} (no extra rounds)")
