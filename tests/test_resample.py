"""Re-measurement of unstable points (bench.refine.Refiner), on hand-made benchmarks."""

from __future__ import annotations

import math

import pytest

from bench.models import Point
from bench.refine import Refiner, Round, plan_round
from bench.runner import Outcome
from tests.factory import make_benchmark

POINT = Point("cpu", "process_pool", 4, 2, "fork", 1000.0)
OTHER = Point("cpu", "thread_pool", 4, 2, None, 1000.0)
STEADY = [0.0100, 0.0101, 0.0099, 0.0100, 0.0102, 0.0098, 0.0100, 0.0101, 0.0099, 0.0100]
SPREAD = [0.010, 0.014, 0.008, 0.012, 0.016, 0.009, 0.013, 0.007, 0.015, 0.011]
#: Less spread than SPREAD, still unstable (CI half-width well above 5 %).
NEAR = [0.010, 0.0112, 0.0092, 0.0108, 0.0095, 0.0104, 0.0090, 0.0110, 0.0097, 0.0106]


def outcome(values: list[float], point: Point = POINT, ok: bool = True,
            seconds: float = 1.0) -> Outcome:
    return Outcome(point, ok, "" if ok else "boom", seconds,
                   make_benchmark(point, values, runs=2) if ok else None)


def test_unstable_point_is_measured_again_and_runs_join() -> None:
    r = Refiner(rounds=1, deadline=100.0)
    first = outcome(SPREAD)
    assert r.consider(first) > 0.05
    assert r.next(0.0) is first
    width = r.merge(first, outcome(STEADY))
    assert first.benchmark is not None
    assert len(first.benchmark.get_values()) == len(SPREAD) + len(STEADY)
    assert first.seconds == 2.0
    assert r.done == {POINT.name: 1}
    assert width == r.width[POINT.name]
    assert r.next(0.0) is None  # its one round is spent, even if still unstable


def test_point_queues_again_while_unstable_and_rounds_remain() -> None:
    r = Refiner(rounds=3, deadline=100.0)
    first = outcome(SPREAD)
    r.consider(first)
    for _ in range(3):
        assert r.next(0.0) is first
        r.merge(first, outcome(SPREAD))
    assert r.next(0.0) is None
    assert r.done[POINT.name] == 3


def test_a_point_that_becomes_stable_leaves_the_queue() -> None:
    r = Refiner(rounds=3, deadline=100.0)
    first = outcome([*STEADY[:4], 0.02, 0.005])  # unstable on 6 values
    r.consider(first)
    assert r.next(0.0) is first
    width = r.merge(first, outcome(STEADY * 3))
    assert width <= 0.05
    assert r.next(0.0) is None


def test_stable_and_failed_points_are_left_alone() -> None:
    r = Refiner(rounds=3, deadline=100.0)
    assert r.consider(outcome(STEADY)) <= 0.05
    assert math.isnan(r.consider(outcome([], ok=False)))
    assert len(r) == 0
    assert r.next(0.0) is None


def test_unstable_cold_points_are_measured_again_too() -> None:
    r = Refiner(rounds=1, deadline=100.0)
    cold = outcome(SPREAD, point=Point("cpu", "process_pool", 4, 2, "fork", 1000.0, "cold"))
    r.consider(cold)
    assert r.next(0.0) is cold


def test_no_rounds_in_a_profile_without_them() -> None:
    r = Refiner(rounds=0, deadline=100.0)
    r.consider(outcome(SPREAD))
    assert r.next(0.0) is None


def test_closest_to_stable_goes_first() -> None:
    r = Refiner(rounds=1, deadline=100.0)
    far, near = outcome(SPREAD), outcome(NEAR, point=OTHER)
    assert r.consider(far) > r.consider(near) > 0.05
    assert r.next(0.0) is near
    assert r.next(0.0) is far


def test_every_unstable_point_gets_a_round_before_any_gets_two() -> None:
    r = Refiner(rounds=3, deadline=100.0)
    far, near = outcome(SPREAD), outcome(NEAR, point=OTHER)
    r.consider(far)
    r.consider(near)
    assert r.next(0.0) is near
    r.merge(near, outcome(NEAR, point=OTHER))  # still unstable: queued for a 2nd round
    assert r.next(0.0) is far
    assert r.next(0.0) is near


def test_no_round_starts_that_would_end_after_the_deadline() -> None:
    r = Refiner(rounds=1, deadline=10.0)
    costly, cheap = outcome(NEAR, seconds=5.0), outcome(SPREAD, point=OTHER, seconds=1.0)
    r.consider(costly)
    r.consider(cheap)
    assert r.next(6.0) is cheap  # the closer point's round would end at 11 s
    assert r.next(9.5) is None  # nothing fits any more
    assert r.next(4.0) is costly  # still queued: it fits from an earlier time


def test_failed_round_ends_the_rounds_and_keeps_the_values() -> None:
    r = Refiner(rounds=3, deadline=100.0)
    first = outcome(SPREAD)
    r.consider(first)
    assert r.next(0.0) is first
    assert math.isnan(r.merge(first, outcome([], ok=False)))
    assert first.benchmark is not None
    assert len(first.benchmark.get_values()) == len(SPREAD)
    assert r.next(0.0) is None


def test_round_plan_fills_each_process_with_values() -> None:
    # 10 values in 2 runs of 5, median 10 ms, 1 loop: 0.3 s per process = 30 values
    plan = plan_round(outcome(STEADY), process_s=0.3)
    assert (plan.values, plan.loops) == (30, 1)
    assert plan.seconds == pytest.approx(1.0 + 2 * 25 * 0.010)
    assert plan.child_args() == ["--values", "30", "--loops", "1", "--verified"]
    three = Outcome(POINT, True, "", 1.0, make_benchmark(POINT, STEADY, runs=2, loops=3))
    assert plan_round(three, process_s=0.3).values == 10  # a value is 3 batches of 10 ms
    # never fewer values than the first round had, nor extra cost then
    assert plan_round(outcome(STEADY), process_s=0.0) == Round(5, 1, 1.0)


def test_rounds_are_planned_once_from_the_first_round() -> None:
    r = Refiner(rounds=2, deadline=100.0, process_s=0.3)
    first = outcome(SPREAD)
    r.consider(first)
    planned = r.plan[POINT.name]
    assert r.next(0.0) is first
    r.merge(first, outcome(SPREAD * 3, seconds=2.0))
    assert r.plan[POINT.name] == planned
