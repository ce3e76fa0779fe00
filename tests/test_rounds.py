"""Rounds bookkeeping: groups, the seeded order, and where extra rounds go (no I/O, no clocks)."""

from __future__ import annotations

import math

from bench.measure.rounds import (
    ExtraRounds,
    GroupKey,
    group_key,
    groups,
    round_order,
)
from bench.scenarios.models import Point

SEQ4 = Point("cpu", "sequential", 4, size=10.0)
POOL4 = Point("cpu", "process_pool", 4, 2, "fork", 10.0)
THREAD4 = Point("cpu", "thread_pool", 4, 2, size=10.0)
SEQ16 = Point("cpu", "sequential", 16, size=10.0)
POOL16 = Point("cpu", "process_pool", 16, 2, "fork", 10.0)
COLD16 = Point("cpu", "process_pool", 16, 2, "fork", 10.0, "cold")
SMALL = Point("cpu", "sequential", 4, size=2.0)
GRID = [SEQ4, POOL4, THREAD4, SEQ16, POOL16, COLD16, SMALL]


def test_groups_share_workload_tasks_size_and_metric() -> None:
    g = groups(GRID)
    assert list(g.values()) == [[SEQ4, POOL4, THREAD4], [SEQ16, POOL16], [COLD16], [SMALL]]
    assert group_key(POOL4) == ("cpu", 4, 10.0, "steady")
    assert group_key(COLD16) != group_key(POOL16)  # cold points in a child of their own


def test_round_order_is_seeded_and_changes_between_rounds() -> None:
    keys = list(groups([Point("cpu", "sequential", t, size=1.0) for t in range(1, 9)]))
    assert round_order(keys, "abc", 0) == round_order(keys, "abc", 0)
    orders = {tuple(round_order(keys, "abc", r)) for r in range(6)}
    assert len(orders) > 1
    assert all(sorted(o) == sorted(keys) for o in orders)
    assert round_order(keys, "abc", 0) != round_order(keys, "xyz", 0) or \
        round_order(keys, "abc", 1) != round_order(keys, "xyz", 1)


def _chooser(c4: tuple[float, int] | None = None,
             c16: tuple[float, int] | None = None) -> ExtraRounds:
    """Extra rounds with the last child of the T=4 and T=16 groups costing (seconds, points)."""
    chooser = ExtraRounds(threshold=0.05, max_rounds=8)
    for point, cost in ((SEQ4, c4), (SEQ16, c16)):
        if cost is not None:
            chooser.cost[group_key(point)] = cost
    return chooser


def _widths(pool4: float) -> dict[str, float]:
    """Every point stable but POOL16 (0.30) and POOL4 (``pool4``)."""
    return {SEQ4.name: 0.01, POOL4.name: pool4, THREAD4.name: 0.02,
            SEQ16.name: 0.01, POOL16.name: 0.30, COLD16.name: 0.01, SMALL.name: 0.0}


def _pick(chooser: ExtraRounds, width: dict[str, float]) -> tuple[GroupKey, list[Point]]:
    """The next extra round when every point has 6 rounds and time is plenty."""
    pick = chooser.next(groups(GRID), width, dict.fromkeys(width, 6), failed=[],
                        time_left=100.0)
    assert pick is not None
    return pick


def test_extra_round_goes_to_the_widest_interval_with_its_baseline() -> None:
    chooser = _chooser(c4=(3.0, 3), c16=(2.0, 2))
    key, todo = _pick(chooser, _widths(0.12))
    assert key == group_key(POOL16)
    assert todo == [SEQ16, POOL16]  # the unstable point and its baseline, paired again


def test_a_point_that_can_still_become_stable_goes_before_a_wider_one_that_cannot() -> None:
    chooser = _chooser(c4=(3.0, 3), c16=(2.0, 2))
    # at 6 of 8 rounds: 0.30 is expected at 0.26 by round 8 (hopeless), 0.055 at 0.048
    pick = _pick(chooser, _widths(0.055))
    assert pick[0] == group_key(POOL4)
    assert pick[1] == [SEQ4, POOL4]
    assert chooser.reachable(0.055, 6)
    assert not chooser.reachable(0.30, 6)
    assert chooser.reachable(math.inf, 1)  # no interval yet: rounds are what it needs
    # once nothing can be made stable in time, the widest goes first again
    assert _pick(chooser, _widths(0.12))[0] == group_key(POOL16)


def test_no_extra_round_when_everything_is_stable_or_at_its_limit() -> None:
    chooser = _chooser()
    width = dict.fromkeys((p.name for p in GRID), 0.01)
    rounds = dict.fromkeys(width, 6)
    assert chooser.next(groups(GRID), width, rounds, failed=[], time_left=100.0) is None
    width[POOL4.name] = 0.5
    rounds[POOL4.name] = 8  # max_rounds reached
    assert chooser.next(groups(GRID), width, rounds, failed=[], time_left=100.0) is None


def test_too_few_rounds_count_as_widest() -> None:
    chooser = _chooser()
    width = dict.fromkeys((p.name for p in GRID), 0.01)
    width[THREAD4.name] = math.inf  # fewer rounds than an interval needs
    width[POOL16.name] = 0.4
    rounds = dict.fromkeys(width, 6)
    pick = chooser.next(groups(GRID), width, rounds, failed=[], time_left=100.0)
    assert pick is not None
    assert pick[1] == [SEQ4, THREAD4]


def test_failed_points_get_no_round() -> None:
    chooser = _chooser()
    width = dict.fromkeys((p.name for p in GRID), 0.01)
    width[POOL4.name] = 0.5
    rounds = dict.fromkeys(width, 6)
    assert chooser.next(groups(GRID), width, rounds, failed=[POOL4.name],
                        time_left=100.0) is None


def test_a_round_that_would_overrun_is_passed_over_for_one_that_fits() -> None:
    chooser = _chooser(c4=(50.0, 3), c16=(2.0, 2))
    width = dict.fromkeys((p.name for p in GRID), 0.01)
    width[POOL4.name] = 0.5  # the widest, but its group's child takes ~25 s
    width[POOL16.name] = 0.2
    rounds = dict.fromkeys(width, 6)
    pick = chooser.next(groups(GRID), width, rounds, failed=[], time_left=10.0)
    assert pick is not None
    assert pick[0] == group_key(POOL16)
    assert chooser.estimate(group_key(POOL4), 2) == 50.0 * 3 / 4
    assert chooser.next(groups(GRID), width, rounds, failed=[], time_left=1.0) is None
