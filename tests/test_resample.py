"""Adaptive re-measurement of unstable points (runner._Resampler), on hand-made benchmarks."""

from __future__ import annotations

from bench.models import Point
from bench.runner import Outcome, _Resampler
from tests.factory import make_benchmark

POINT = Point("cpu", "process_pool", 4, 2, "fork", 1000.0)
STEADY = [0.0100, 0.0101, 0.0099, 0.0100, 0.0102, 0.0098, 0.0100, 0.0101, 0.0099, 0.0100]
SPREAD = [0.010, 0.014, 0.008, 0.012, 0.016, 0.009, 0.013, 0.007, 0.015, 0.011]


def outcome(values: list[float], point: Point = POINT, ok: bool = True) -> Outcome:
    return Outcome(point, ok, "" if ok else "boom", 1.0,
                   make_benchmark(point, values, runs=2) if ok else None)


def test_unstable_point_is_measured_again_and_runs_join() -> None:
    r = _Resampler(rounds=1, budget_s=10.0)
    first = outcome(SPREAD)
    assert r.wants(first)
    r.merge(first, outcome(STEADY))
    assert first.benchmark is not None
    assert len(first.benchmark.get_values()) == len(SPREAD) + len(STEADY)
    assert first.seconds == 2.0
    assert r.budget_s == 9.0
    assert not r.wants(first)  # its one round is spent


def test_stable_failed_and_cold_points_are_left_alone() -> None:
    r = _Resampler(rounds=3, budget_s=10.0)
    assert not r.wants(outcome(STEADY))
    assert not r.wants(outcome([], ok=False))
    cold = Point("cpu", "process_pool", 4, 2, "fork", 1000.0, "cold")
    assert not r.wants(outcome(SPREAD, point=cold))


def test_budget_and_profile_without_rounds_stop_resampling() -> None:
    assert not _Resampler(rounds=0, budget_s=10.0).wants(outcome(SPREAD))
    r = _Resampler(rounds=5, budget_s=0.5)
    first = outcome(SPREAD)
    r.merge(first, outcome(SPREAD))  # costs 1 s: the budget is gone
    assert not r.wants(first)


def test_failed_rerun_ends_the_rounds_and_keeps_the_values() -> None:
    r = _Resampler(rounds=3, budget_s=10.0)
    first = outcome(SPREAD)
    r.merge(first, outcome([], ok=False))
    assert first.benchmark is not None
    assert len(first.benchmark.get_values()) == len(SPREAD)
    assert not r.wants(first)
