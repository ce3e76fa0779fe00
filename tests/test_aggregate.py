"""Aggregation on small hand-made results: medians, CIs, speedups, ideals, stability.

The values are chosen so that every figure is known: one task's sequential
time d is 0.1 s for ``cpu`` and 0.01 s for the sleeps, and most points have
constant values, whose bootstrap CI collapses onto the median.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bench import aggregate
from bench.aggregate import SUMMARY_COLUMNS, amdahl, ideal_time, karp_flatt, load, parallelism
from bench.models import Point
from tests.factory import make_benchmark, write_results

CPU, SLEEP = 4.0, 0.01
SPREAD = [0.1, 0.2, 0.3, 0.4, 0.5]

#: (point, values): the hand-made run shared by the report's tests.
HAND_MADE: list[tuple[Point, list[float]]] = [
    (Point("cpu", "sequential", 4, size=CPU), [0.40, 0.38, 0.42, 0.40, 0.40, 0.41]),
    (Point("cpu", "asyncio_blocking", 4, size=CPU), [0.40] * 6),
    (Point("cpu", "thread_pool", 4, 1, size=CPU), [0.40] * 6),
    (Point("cpu", "thread_pool", 4, 2, size=CPU), [0.40] * 6),
    (Point("cpu", "process_pool", 4, 1, "fork", CPU), [0.40] * 6),
    (Point("cpu", "process_pool", 4, 2, "fork", CPU), [0.20] * 6),
    (Point("cpu", "process_pool", 4, 4, "fork", CPU), [0.25] * 6),
    (Point("cpu", "process_pool", 4, 2, "spawn", CPU), [*SPREAD, 0.3]),
    (Point("hash", "sequential", 4, size=5), [0.08] * 6),
    (Point("hash", "to_thread", 4, 2, size=5), [0.05] * 6),
    (Point("sleep", "sequential", 4, size=SLEEP), [0.04] * 6),
    (Point("sleep", "asyncio_blocking", 4, size=SLEEP), [0.04] * 6),
    (Point("sleep", "to_thread", 4, 2, size=SLEEP), [0.02] * 6),
    (Point("sleep", "process_pool", 4, 2, "fork", SLEEP), [0.025] * 6),
    (Point("async_sleep", "sequential", 4, size=SLEEP), [0.04] * 6),
    (Point("async_sleep", "asyncio_await", 4, size=SLEEP), [0.04] * 6),
    (Point("async_sleep", "asyncio_gather", 4, size=SLEEP), [0.011] * 6),
    (Point("cpu", "thread_pool", 4, 2, size=CPU, metric="cold"), [0.45] * 6),
    (Point("cpu", "process_pool", 4, 2, "fork", CPU, "cold"), [0.30] * 6),
]


def write_hand_made(path: Path, points: list[tuple[Point, list[float]]] | None = None,
                    **extra: object) -> Path:
    """Save the hand-made run (or ``points``) as a results file at ``path``."""
    return write_results(path, [make_benchmark(p, v, runs=2, **extra)
                                for p, v in (HAND_MADE if points is None else points)])


@pytest.fixture(scope="module")
def summary(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    path = write_hand_made(tmp_path_factory.mktemp("agg") / "results.json")
    return load(path).summary.set_index("name")


def test_tidy_has_one_row_per_value(tmp_path: Path) -> None:
    data = load(write_hand_made(tmp_path / "results.json"))
    assert len(data.tidy) == sum(len(v) for _, v in HAND_MADE)
    seq = data.tidy[data.tidy["name"] == "cpu/sequential/t4"]
    assert seq["workers"].isna().all()
    assert sorted(seq["run"].unique()) == [0, 1]  # two pyperf runs of three values
    assert data.host["usable_cores"] == 2
    assert data.host["cpu_model"] == "Test CPU 3000"


def test_summary_columns_in_documented_order(tmp_path: Path) -> None:
    s = load(write_hand_made(tmp_path / "results.json")).summary
    assert list(s.columns) == list(SUMMARY_COLUMNS)
    assert len(s) == len(HAND_MADE)


def test_medians_and_constant_cis(summary: pd.DataFrame) -> None:
    r = summary.loc["cpu/sequential/t4"]
    assert r["median_s"] == pytest.approx(0.40)
    assert r["n"] == 6
    assert r["ci_low_s"] <= 0.40 <= r["ci_high_s"]
    p = summary.loc["cpu/process_pool[fork]/t4/w2"]
    assert (p["median_s"], p["ci_low_s"], p["ci_high_s"]) == pytest.approx((0.2, 0.2, 0.2))
    assert p["stdev_s"] == pytest.approx(0.0)
    assert p["ci_half_pct"] == pytest.approx(0.0)
    assert bool(p["stable"])


def test_spread_point_is_unstable(summary: pd.DataFrame) -> None:
    r = summary.loc["cpu/process_pool[spawn]/t4/w2"]
    assert r["median_s"] == pytest.approx(0.3)
    assert min(SPREAD) <= r["ci_low_s"] < 0.3 < r["ci_high_s"] <= max(SPREAD)
    assert r["ci_half_pct"] > 100 * aggregate.STABLE_HALF_WIDTH
    assert not bool(r["stable"])


def test_speedups_efficiencies_and_ideals(summary: pd.DataFrame) -> None:
    expected = {  # name: (speedup, efficiency, ideal_s)
        "cpu/process_pool[fork]/t4/w2": (2.0, 1.0, 0.2),
        "cpu/process_pool[fork]/t4/w4": (1.6, 0.8, 0.2),  # W > C: time-sliced at T/C
        "cpu/process_pool[fork]/t4/w1": (1.0, 1.0, 0.4),
        "cpu/thread_pool/t4/w2": (1.0, 0.5, 0.4),  # GIL-bound threads: T*d
        "cpu/asyncio_blocking/t4": (1.0, 1.0, 0.4),
        "hash/to_thread/t4/w2": (1.6, 0.8, 0.04),  # GIL released: ceil(T/W)*d
        "sleep/to_thread/t4/w2": (2.0, 1.0, 0.02),
        "sleep/asyncio_blocking/t4": (1.0, 1.0, 0.04),
        "async_sleep/asyncio_gather/t4": (0.04 / 0.011, 0.04 / 0.011, 0.01),
        "async_sleep/asyncio_await/t4": (1.0, 1.0, 0.04),
    }
    for name, (speedup, eff, ideal) in expected.items():
        r = summary.loc[name]
        assert (r["speedup"], r["efficiency"], r["ideal_s"]) == pytest.approx(
            (speedup, eff, ideal)), name
        assert r["ideal_ratio"] == pytest.approx(r["median_s"] / ideal), name


def test_speedup_cis(summary: pd.DataFrame) -> None:
    seq = summary.loc["cpu/sequential/t4"]
    assert (seq["speedup"], seq["speedup_ci_low"], seq["speedup_ci_high"]) == (1.0, 1.0, 1.0)
    r = summary.loc["cpu/process_pool[fork]/t4/w2"]  # baseline spread, model constant
    assert r["speedup_ci_low"] <= 2.0 <= r["speedup_ci_high"]
    assert r["speedup_ci_low"] >= 0.38 / 0.2
    assert r["speedup_ci_high"] <= 0.42 / 0.2
    const = summary.loc["sleep/to_thread/t4/w2"]
    assert (const["speedup_ci_low"], const["speedup_ci_high"]) == pytest.approx((2.0, 2.0))


def test_karp_flatt(summary: pd.DataFrame) -> None:
    assert summary.loc["cpu/process_pool[fork]/t4/w2", "karp_flatt"] == pytest.approx(0.0)
    assert summary.loc["cpu/process_pool[fork]/t4/w4", "karp_flatt"] == pytest.approx(0.25)
    assert math.isnan(summary.loc["cpu/process_pool[fork]/t4/w1", "karp_flatt"])
    assert karp_flatt(1.0, 2) == pytest.approx(1.0)


def test_cold_points_have_no_speedup_or_ideal(summary: pd.DataFrame) -> None:
    r = summary.loc["cpu/process_pool[fork]/t4/w2/cold"]
    assert r["metric"] == "cold"
    assert r["median_s"] == pytest.approx(0.3)
    assert math.isnan(r["speedup"])
    assert math.isnan(r["ideal_s"])


def test_amdahl_fit(summary: pd.DataFrame) -> None:
    fit = amdahl(summary.reset_index())
    row = fit[(fit["model"] == "process_pool") & (fit["start_method"] == "fork")].iloc[0]
    # w2: 1/S - 1/p = 0 at x = 1/2; w4 (p = 2): 0.125 at x = 1/2 -> s = 0.0625 / 0.5
    assert row["points"] == 2
    assert row["serial_fraction"] == pytest.approx(0.125)


def test_parallelism_and_ideal_time() -> None:
    assert parallelism(pd.NA, 2, 16) == 1
    assert parallelism(8, 2, 16) == 2
    assert parallelism(8, 16, 3) == 3
    assert ideal_time("cpu", "process_pool", 5, 2, 2, 1.0) == 3.0  # ceil(5/2) waves
    assert ideal_time("sleep", "process_pool", 8, 4, 2, 1.0) == 2.0  # sleeping needs no core
    assert math.isnan(ideal_time("cpu", "unknown", 4, 2, 2, 1.0))


def test_median_ci_matches_scipy_bootstrap() -> None:
    rng = np.random.default_rng(7)
    samples = rng.lognormal(0.0, 0.2, size=(3, 41))
    low, high, dist = aggregate._bootstrap(samples)
    assert dist.shape == (3, aggregate.N_RESAMPLES)
    ref = stats.bootstrap((samples,), np.median, axis=1, vectorized=True, n_resamples=4000,
                          method="percentile", rng=np.random.default_rng(1))
    np.testing.assert_allclose(low, ref.confidence_interval.low, rtol=0.03)
    np.testing.assert_allclose(high, ref.confidence_interval.high, rtol=0.03)
    assert (low <= np.median(samples, axis=1)).all()
    assert (np.median(samples, axis=1) <= high).all()


def test_single_value_points_have_a_point_ci() -> None:
    low, high, dist = aggregate._bootstrap(np.array([[0.5], [0.7]]))
    assert list(low) == list(high) == [0.5, 0.7]
    assert (dist[0] == 0.5).all()


def test_empty_frame_gives_empty_summary() -> None:
    empty = aggregate.summarize(pd.DataFrame(columns=["name", "value_s"]))
    assert empty.empty
    assert list(empty.columns) == list(SUMMARY_COLUMNS)


def test_load_accepts_run_directory(tmp_path: Path) -> None:
    write_hand_made(tmp_path / "results.json")
    assert len(load(tmp_path).summary) == len(HAND_MADE)


@pytest.mark.parametrize("shape", [(5,), (4, 7), (3, 2, 6), (2, 3, 1)])
def test_sorting_median_equals_numpy(shape: tuple[int, ...]) -> None:
    x = np.random.default_rng(3).normal(size=shape)
    np.testing.assert_array_equal(aggregate._median(x), np.median(x, axis=-1))
    np.testing.assert_array_equal(aggregate._median(x, axis=0), np.median(x, axis=0))


def test_threaded_bootstrap_equals_one_call(monkeypatch: pytest.MonkeyPatch) -> None:
    samples = np.random.default_rng(5).lognormal(0.0, 0.1, size=(9, 12))
    monkeypatch.setattr(aggregate, "ROWS_PER_THREAD", 2)
    monkeypatch.setattr(aggregate.os, "sched_getaffinity", lambda pid: {0, 1, 2}, raising=False)
    for got, want in zip(aggregate._bootstrap_rows(samples), aggregate._bootstrap(samples),
                         strict=True):
        np.testing.assert_array_equal(got, want)
