"""Which unstable points to measure again, in what order, and until when.

After the sweep has measured every point once, a point whose 95 % CI
half-width exceeds :data:`bench.aggregate.STABLE_HALF_WIDTH` of its median
can be measured again: a *round* is one more pyperf child, whose runs join
the point's.  A round has as many worker processes as the first (fresh
processes at a later time: bursts of other work on a shared host slow whole
stretches of batches) and the same loops per value, and each of its processes
takes values for about ``process_s`` seconds: the points that are unstable
are mostly short batches whose values cost little next to a process's
start-up, so more values per process buy precision cheaply.

The refiner is pure bookkeeping (no I/O): the runner asks it for the next
point, measures, and hands the new outcome back.  Policy:

- a point gets at most ``rounds`` extra rounds; a failing round ends its rounds;
- points with the fewest rounds go first, and among them the one closest to
  the threshold (one round usually suffices, so every unstable point gets
  one before any gets two, and the most points become stable per second);
  after a round a point queues again at its new width;
- no round starts unless it is expected (from the point's first round and
  the values it adds) to end before ``deadline`` (a ``time.monotonic()`` value).
"""

from __future__ import annotations

import heapq
import math
import statistics
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bench.runner import Outcome


@dataclass(frozen=True)
class Round:
    """How a point is measured again: pyperf values per process, loops per value, cost."""

    values: int
    loops: int
    seconds: float

    def child_args(self) -> list[str]:
        """The child's options for this round: values, loops, results already checked."""
        return ["--values", str(self.values), "--loops", str(self.loops), "--verified"]


def plan_round(outcome: Outcome, process_s: float) -> Round:
    """The re-measurement round of a measured point.

    Each process takes at least as many values as in the point's first
    round, and enough to last ``process_s`` seconds; the round is expected to
    cost the first round's seconds plus the time of the added values.
    """
    assert outcome.benchmark is not None
    runs = outcome.benchmark.get_runs()
    base, loops = len(runs[0].values), int(runs[0].get_loops())
    value_s = loops * statistics.median(outcome.benchmark.get_values())
    values = max(base, math.ceil(process_s / value_s)) if value_s > 0 else base
    return Round(values, loops, outcome.seconds + len(runs) * (values - base) * value_s)


@dataclass
class Refiner:
    """Queue of unstable points, with a round limit per point and a deadline."""

    rounds: int
    deadline: float
    #: Seconds of values each process of a round takes.
    process_s: float = 0.0
    #: Extra rounds each point has had.
    done: dict[str, int] = field(default_factory=dict)
    #: Each point's re-measurement round, planned from its first round.
    plan: dict[str, Round] = field(default_factory=dict)
    #: Each point's latest CI half-width, as a share of its median.
    width: dict[str, float] = field(default_factory=dict)
    _queue: list[tuple[int, float, int, Outcome]] = field(default_factory=list)
    _order: int = 0

    def consider(self, outcome: Outcome) -> float:
        """Queue ``outcome``'s point if it is unstable and has rounds left.

        Returns
        -------
        float
            The point's CI half-width as a share of its median (NaN for a
            failed point, which is never refined).
        """
        if not outcome.ok or outcome.benchmark is None:
            return math.nan
        from bench.aggregate import STABLE_HALF_WIDTH, ci_half_width  # pandas, scipy: only here

        name = outcome.point.name
        if name not in self.plan:
            self.plan[name] = plan_round(outcome, self.process_s)
        width = self.width[name] = ci_half_width(outcome.benchmark.get_values())
        rounds = self.done.get(name, 0)
        if width > STABLE_HALF_WIDTH and rounds < self.rounds:
            self._order += 1  # ties keep the sweep's order
            heapq.heappush(self._queue, (rounds, width, self._order, outcome))
        return width

    def __len__(self) -> int:
        return len(self._queue)

    def next(self, now: float) -> Outcome | None:
        """The queued point to measure now, or None when none fits before the deadline."""
        waiting: list[tuple[int, float, int, Outcome]] = []
        chosen = None
        while self._queue:
            item = heapq.heappop(self._queue)
            if now + self.plan[item[-1].point.name].seconds <= self.deadline:
                chosen = item[-1]
                break
            waiting.append(item)  # too long for what is left; a cheaper one may fit
        for item in waiting:
            heapq.heappush(self._queue, item)
        return chosen

    def merge(self, outcome: Outcome, more: Outcome) -> float:
        """Join a new round's runs to ``outcome`` and queue it again if still unstable.

        Returns
        -------
        float
            The point's new CI half-width (NaN when the round failed: its
            values are dropped and the point's rounds end).
        """
        name = outcome.point.name
        self.done[name] = self.done.get(name, 0) + 1
        outcome.seconds += more.seconds
        if not more.ok or more.benchmark is None or outcome.benchmark is None:
            self.done[name] = self.rounds
            return math.nan
        outcome.benchmark.add_runs(more.benchmark)
        return self.consider(outcome)
