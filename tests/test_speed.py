"""The host's speed: readings of every core beside every round, and the run's verdict on
them.  Simulation tests with known truth.

A shared host's cores each run at one of two speeds, flipping on their own
(``bench.measure.speed``): at a moment one core may be 1.4x slower than the
other, and the host as a whole may be slower in some rounds than in others.
The verdict must call such a run noisy, and a host that holds its speed quiet
nearly always (the false-alarm rate).
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import numpy as np
import pytest

from bench.measure import noise, speed
from bench.results.aggregate import tidy
from bench.results.store import read_suite, speed_readings
from bench.scenarios.models import Point
from tests.factory import make_benchmark, write_results

FAST, SLOW = 1.0e-3, 1.4e-3  # the fixed task's two levels on the project's host


def host_speeds(rng: np.random.Generator, shape: tuple[int, ...],
                slow_share: float = 0.4) -> np.ndarray:
    """Readings of the fixed task's seconds: fast or slow level, with 2 % jitter."""
    level = np.where(rng.random(shape) < slow_share, SLOW, FAST)
    return np.asarray(level * np.exp(rng.normal(0.0, 0.02, shape)))


PROBE = {"load1": 0.1, "busy_cores": 0.0, "calibration_s": FAST}


def readings(rng: np.random.Generator, n: int, slow_share: float,
             cores: int = 2) -> list[noise.Reading]:
    """``n`` readings of ``cores`` cores whose speeds flip each on its own."""
    per_core = host_speeds(rng, (n, cores), slow_share)
    return [noise.Reading(float(np.median(r)), float(r.max() / r.min())) for r in per_core]


def test_cores_at_different_speeds_make_a_run_noisy() -> None:
    rng = np.random.default_rng(11)
    verdict = noise.assess(PROBE, PROBE, readings(rng, 400, slow_share=0.4))
    assert verdict["noisy"]
    assert verdict["speed_readings"] == 400
    # two cores, each slow 40 % of the time: apart in 2 x 0.4 x 0.6 = 48 % of readings
    assert verdict["cores_apart_share"] == pytest.approx(0.48, abs=0.08)
    apart = [r for r in verdict["reasons"] if "different speeds at the same moment" in r]
    assert len(apart) == 1
    found = re.search(r"was (\d\.\d\d)x slower", apart[0])
    assert found is not None
    assert float(found.group(1)) == pytest.approx(SLOW / FAST, rel=0.06)


def test_a_host_whose_speed_changes_between_rounds_is_noisy() -> None:
    """Both cores slow together in some rounds: not apart, but the rounds differ."""
    rng = np.random.default_rng(12)
    level = np.where(rng.random(60) < 0.4, SLOW, FAST)
    together = [noise.Reading(float(t), 1.01) for t in level]
    verdict = noise.assess(PROBE, PROBE, together)
    assert verdict["noisy"]
    assert verdict["cores_apart_share"] == 0.0
    assert verdict["speed_spread"] == pytest.approx(SLOW / FAST, rel=0.01)
    assert any("changed between rounds" in r for r in verdict["reasons"])


def test_a_steady_host_is_quiet_and_a_brief_burst_does_not_make_it_noisy() -> None:
    rng = np.random.default_rng(13)
    steady = readings(rng, 60, slow_share=0.0)
    verdict = noise.assess(PROBE, PROBE, steady)
    assert not verdict["noisy"]
    assert verdict["speed_spread"] < noise.MAX_SPEED_SPREAD
    # three readings with one core slow (5 %, under MAX_APART_SHARE): a burst, not the run
    brief = steady[:-3] + [noise.Reading(FAST * 1.2, SLOW / FAST)] * 3
    assert not noise.assess(PROBE, PROBE, brief)["noisy"]
    few = noise.assess(PROBE, PROBE, readings(rng, noise.MIN_SPEED_READINGS - 1, 0.5))
    assert not few["noisy"]
    assert "speed_spread" not in few  # too few readings are not judged


def test_the_false_alarm_rate_of_the_speed_verdict_on_a_steady_host() -> None:
    """Cores that hold one speed (2 % jitter): 40 readings are called noisy in < 1 % of runs."""
    rng = np.random.default_rng(5)
    alarms = sum(noise.assess(PROBE, PROBE, readings(rng, 40, 0.0))["noisy"]
                 for _ in range(300))
    assert alarms / 300 < 0.01


def test_core_readings_read_every_core_and_restore_the_affinity() -> None:
    if not hasattr(os, "sched_setaffinity"):
        pytest.skip("no CPU affinity control on this platform")
    allowed = os.sched_getaffinity(0)
    values = speed.core_readings(runs=2)
    assert len(values) == min(len(allowed), speed.MAX_CORES)
    assert all(v > 0 for v in values.values())
    assert os.sched_getaffinity(0) == allowed
    assert sorted(values) == speed.cores()  # which core gave each time
    summary = speed.metadata("start", values)
    assert speed.core_seconds(summary, "start") == pytest.approx(values, rel=1e-5)
    assert summary["speed_start_s"] == pytest.approx(float(np.median(list(values.values()))))
    assert summary["speed_start_spread"] >= 1.0
    # what a child writes, its run metadata reads back, in the order it was taken
    both = {**summary, **speed.metadata("end", dict(reversed(values.items())))}
    assert speed_readings(both) == [(summary["speed_start_s"],
                                          summary["speed_start_spread"])] * 2


def test_a_reading_is_the_median_of_its_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[int] = []
    monkeypatch.setattr(speed, "task_times",
                        lambda runs: asked.append(runs) or [5.0, 1.0, 2.0, 9.0, 3.0])
    assert speed.reading(5) == 3.0
    assert asked == [5]


def test_task_times_runs_the_fixed_task_as_asked() -> None:
    assert len(speed.task_times(runs=3)) == 3
    t0 = time.perf_counter()
    times = speed.task_times(window=0.05)
    assert time.perf_counter() - t0 >= 0.05
    assert len(times) >= 2
    assert all(t > 0 for t in times)


def test_readings_reach_the_tidy_frame(tmp_path: Path) -> None:
    """Each value carries its round's speed (the mean of its child's two readings)."""
    rng = np.random.default_rng(21)
    host = host_speeds(rng, (6,), slow_share=0.5)
    seq = Point("cpu", "sequential", 4, size=2000.0)
    meta = [{"speed_start_s": float(s), "speed_end_s": float(s) * 1.1,
             "speed_start_spread": 1.0, "speed_end_spread": 1.0} for s in host]
    path = write_results(tmp_path / "results.json",
                         [make_benchmark(seq, [0.05] * 18, runs=6, run_metadata=meta),
                          make_benchmark(Point("cpu", "sequential", 16, size=2000.0), [0.2] * 6)])
    df = tidy(read_suite(path))
    mine = df[df["tasks"] == 4].groupby("round")["speed_s"].agg(["first", "nunique", "size"])
    assert list(mine["size"]) == [3] * 6
    assert set(mine["nunique"]) == {1}
    assert mine["first"].to_numpy() == pytest.approx(host * 1.05)
    assert df[df["tasks"] == 16]["speed_s"].isna().all()  # a file without readings


def test_a_large_hosts_reading_spreads_over_at_most_max_cores(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(speed.os, "sched_getaffinity", lambda pid: set(range(16)))
    assert speed.cores(offset=0) == list(range(0, 16, 2))
    assert speed.cores(offset=1) == list(range(1, 16, 2))
    assert speed.cores() == speed.cores(offset=speed.os.getpid())  # one child, one set
    monkeypatch.setattr(speed.os, "sched_getaffinity", lambda pid: {3, 5})
    assert speed.cores() == [3, 5]


def test_round_readings_count_each_child_once() -> None:
    """Two children (rounds), each measuring two points: two pairs of readings each."""
    seq, pool = (Point("cpu", "sequential", 4, size=2000.0),
                 Point("cpu", "thread_pool", 4, 2, size=2000.0))
    meta = [{"date": f"2026-12-04 10:0{r}", "speed_start_s": 1e-3 + r * 1e-4,
             "speed_start_spread": 1.0 + r / 10, "speed_end_s": 1.1e-3 + r * 1e-4,
             "speed_end_spread": 1.05} for r in range(2)]
    benchmarks = [make_benchmark(p, [0.05, 0.05], runs=2, run_metadata=meta)
                  for p in (seq, pool)]
    got = noise.round_readings(benchmarks)
    want = [(1e-3, 1.0), (1.1e-3, 1.05), (1.1e-3, 1.1), (1.2e-3, 1.05)]
    assert sorted((r.seconds, r.spread) for r in got) == [pytest.approx(w) for w in want]
    assert all(r.cores == () for r in got)  # written before each core's seconds were
    assert noise.round_readings([make_benchmark(seq, [0.05])]) == []  # a file without them


def test_current_core_reads_the_processor_field(tmp_path: Path) -> None:
    stat = tmp_path / "stat"
    fields = ["S"] + ["0"] * 35 + ["3"] + ["0"] * 10  # field 39 is the 37th after the name
    stat.write_text("1234 (a (tricky) name) " + " ".join(fields))
    assert speed.current_core(stat) == 3
    assert speed.current_core(tmp_path / "missing") is None


def test_the_readings_leave_the_thread_where_the_kernel_had_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The core the thread was on is read last (it goes on there, not on the last core read),
    and the thread's affinity is restored.  The thread "was on" the first core, which a plain
    loop would read first; the kernel's own moves of the thread, which any check of the
    core it runs on would race with, are left out."""
    if not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2:
        pytest.skip("needs CPU affinity control and two usable cores")
    allowed = os.sched_getaffinity(0)
    first = min(allowed)
    monkeypatch.setattr(speed, "current_core", lambda *args: first)
    try:
        order = list(speed.core_readings(runs=1))
        assert order[-1] == first
        assert sorted(order) == sorted(speed.cores())
        assert os.sched_getaffinity(0) == allowed
    finally:
        os.sched_setaffinity(0, allowed)
