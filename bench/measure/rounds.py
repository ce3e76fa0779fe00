"""Rounds: which points each child measures together, in what order, and when to stop.

A run is a series of *rounds*.  A round measures every point of the grid
once; it is made of one child per *group* (the points sharing a workload, a
task count, a task size and a metric: the sequential baseline and every model
compared with it; cold points apart), the groups in a fresh pseudo-random
order seeded from the run's seed.  After the profile's planned rounds, *extra rounds* go where the
intervals are widest among the points that can still become stable in time
(:meth:`ExtraRounds.next`): an extra round is one more child for one group, with
the points of that group whose interval is still wider than the stability
threshold, and the group's baseline again (so the round gives paired
speedups), as long as the profile's time limit allows.

In a run of several interpreters (``--python A,B``) a group is measured by one
child per interpreter, one after the other, in an order rotated from round to
round (:func:`python_order`), so that no interpreter always goes first; an
extra round measures a point's partners under the other interpreters too
(:func:`with_partners`), so every interpreter ratio stays paired by round.

Pure bookkeeping (no I/O, no clocks): the runner asks, measures, and reports
back.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from bench.scenarios.models import MODELS, STEADY, Point

GroupKey = tuple[str, int, float, str]


def group_key(point: Point) -> GroupKey:
    """The group of a point: its workload, task count, task size and metric.

    Cold points (a fresh pool per value, a fresh forkserver server too) are
    measured in a child of their own: no warm pool of theirs may be alive
    when the forkserver server is stopped and started again.
    """
    return point.workload, point.tasks, point.size, point.metric


def groups(points: Sequence[Point]) -> dict[GroupKey, list[Point]]:
    """The grid's groups in the grid's order, each with its points in the grid's order."""
    out: dict[GroupKey, list[Point]] = {}
    for p in points:
        out.setdefault(group_key(p), []).append(p)
    return out


def with_partners(todo: Iterable[Point], members: Sequence[Point]) -> list[Point]:
    """``todo`` and what its values are paired with: the baselines, and in a run of several
    interpreters the same points under every other one (``members``' order).

    A round's speedups pair a point with its interpreter's baseline, and its ratios
    between interpreters pair it with itself under the others: so a round measures
    them together.
    """
    wanted = {replace(p, python="") for p in todo}
    return [p for p in members if replace(p, python="") in wanted
            or (MODELS[p.model].baseline and p.metric == STEADY)]


def python_order(tags: Sequence[str], seed: str, key: GroupKey, round_: int) -> list[str]:
    """The order in which round ``round_`` runs group ``key``'s children, one per interpreter.

    A rotation that moves on by one each round, from a start seeded per group: each
    interpreter goes first as often as the others, and which one comes first in a
    round does not follow the group order's.
    """
    if len(tags) < 2:
        return list(tags)
    shift = (random.Random(f"{seed}/{key}").randrange(len(tags)) + round_) % len(tags)
    return [*tags[shift:], *tags[:shift]]


def round_order(keys: Sequence[GroupKey], seed: str, round_: int) -> list[GroupKey]:
    """The order in which round ``round_`` measures the groups (reproducible from the seed)."""
    order = list(keys)
    random.Random(f"{seed}/{round_}").shuffle(order)
    return order


@dataclass
class ExtraRounds:
    """Chooses the next extra round: the group holding the widest interval.

    ``width`` maps a point's name to its current relative CI half-width (the
    wider of its median's and its speedup's; NaN or inf when it has too few
    rounds); ``rounds`` to the rounds it has.  A point needs more rounds while
    its width exceeds ``threshold`` and it has fewer than ``max_rounds``.
    """

    threshold: float
    max_rounds: int
    #: Seconds each group's last child took, and how many points it measured.
    cost: dict[GroupKey, tuple[float, int]] = field(default_factory=dict)

    def needs(self, width: Mapping[str, float], rounds: Mapping[str, int],
              members: Iterable[Point]) -> list[Point]:
        """The points of one group that would gain from another round."""
        return [p for p in members
                if rounds.get(p.name, 0) < self.max_rounds
                and not width.get(p.name, 0.0) <= self.threshold]

    def estimate(self, key: GroupKey, points: int) -> float:
        """Expected seconds of a child measuring ``points`` points of group ``key``."""
        seconds, measured = self.cost.get(key, (0.0, 1))
        return seconds * (points + 1) / (measured + 1)

    def reachable(self, width: float, rounds: int) -> bool:
        """Whether a point can still become stable before its last round.

        An interval narrows about as ``1 / sqrt(rounds)``: one of relative
        half-width ``width`` after ``rounds`` rounds is expected to be
        ``width * sqrt(rounds / max_rounds)`` at ``max_rounds``.  A point
        without an interval yet (too few rounds) counts as reachable.
        """
        if not math.isfinite(width) or rounds <= 0:
            return True
        return width * math.sqrt(rounds / self.max_rounds) <= self.threshold

    def next(self, grid: Mapping[GroupKey, Sequence[Point]], width: Mapping[str, float],
             rounds: Mapping[str, int], failed: Iterable[str],
             time_left: float) -> tuple[GroupKey, list[Point]] | None:
        """The group and points of the next extra round, or None when none is due or fits.

        The points of the chosen group that need rounds are measured, with the
        group's baselines and the points' partners under the other interpreters added
        (:func:`with_partners`).  Groups holding a
        point that can still become stable within ``max_rounds`` (see
        :meth:`reachable`) come first: on a noisy host, rounds spent on a point
        whose interval cannot reach the threshold in time would be taken from
        one whose interval can.  Within each tier the widest interval goes
        first, fewest rounds first among equals; a group whose child would not
        end within ``time_left`` seconds is passed over.
        """
        dead = set(failed)
        candidates: list[tuple[bool, float, int, GroupKey, list[Point]]] = []
        for key, members in grid.items():
            alive = [p for p in members if p.name not in dead]
            todo = self.needs(width, rounds, alive)
            if not todo:
                continue
            hopeful = [p for p in todo
                       if self.reachable(width.get(p.name, math.inf), rounds.get(p.name, 0))]
            todo = with_partners(todo, alive)
            widest = max(_finite(width.get(p.name, math.inf)) for p in hopeful or todo)
            fewest = min(rounds.get(p.name, 0) for p in todo)
            candidates.append((not hopeful, -widest, fewest, key, todo))
        for _, _, _, key, todo in sorted(candidates, key=lambda c: c[:3]):
            if self.estimate(key, len(todo)) <= time_left:
                return key, todo
        return None


def _finite(x: float) -> float:
    return 1e9 if x != x or x == float("inf") else x
