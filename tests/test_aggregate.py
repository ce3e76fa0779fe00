"""Aggregation on small hand-made results: medians, CIs, speedups, ideals, stability.

The values are chosen so that every figure is known: one task's sequential
time d is 0.1 s for ``cpu`` and 0.01 s for the sleeps, and most points have
constant values, whose interval collapses onto them.  Each point's six
values are six rounds (six pyperf runs of one value).
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from bench.results import aggregate
from bench.results.aggregate import amdahl, load, summary_columns
from bench.results.ideal import karp_flatt
from bench.scenarios.models import Point
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
    return write_results(path, [make_benchmark(p, v, runs=6, **extra)
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
    assert sorted(seq["run"].unique()) == list(range(6))  # six pyperf runs of one value
    assert data.host["usable_cores"] == 2
    assert data.host["cpu_model"] == "Test CPU 3000"


def test_summary_columns_in_documented_order(tmp_path: Path) -> None:
    s = load(write_hand_made(tmp_path / "results.json")).summary
    assert list(s.columns) == summary_columns()
    assert len(s) == len(HAND_MADE)


def test_medians_and_constant_cis(summary: pd.DataFrame) -> None:
    r = summary.loc["cpu/sequential/t4"]  # six rounds of one value each
    assert r["median_s"] == pytest.approx(0.40)
    assert r["n"] == 6
    assert r["rounds"] == 6
    assert (r["ci_low_s"], r["ci_high_s"]) == pytest.approx((0.38, 0.42))  # 6 rounds: extremes
    p = summary.loc["cpu/process_pool[fork]/t4/w2"]
    assert (p["median_s"], p["ci_low_s"], p["ci_high_s"]) == pytest.approx((0.2, 0.2, 0.2))
    assert p["stdev_s"] == pytest.approx(0.0)
    assert p["ci_half_pct"] == pytest.approx(0.0, abs=1e-9)
    assert bool(p["stable"])


def test_spread_point_is_unstable(summary: pd.DataFrame) -> None:
    r = summary.loc["cpu/process_pool[spawn]/t4/w2"]
    assert r["median_s"] == pytest.approx(0.3)
    assert (r["ci_low_s"], r["ci_high_s"]) == pytest.approx((min(SPREAD), max(SPREAD)))
    assert r["ci_half_pct"] > 100 * aggregate.STABLE_HALF_WIDTH
    assert not bool(r["stable"])


def test_speedups_efficiencies_and_ideals(summary: pd.DataFrame) -> None:
    expected = {  # name: (speedup, efficiency, ideal_s)
        "cpu/process_pool[fork]/t4/w2": (2.0, 1.0, 0.2),
        "cpu/process_pool[fork]/t4/w4": (1.6, 0.8, 0.2),  # W > C: C cores at most
        "cpu/process_pool[fork]/t4/w1": (1.0, 1.0, 0.4),
        "cpu/thread_pool/t4/w2": (1.0, 1.0, 0.4),  # GIL-bound threads: ideal is T*d
        "cpu/asyncio_blocking/t4": (1.0, 1.0, 0.4),
        "hash/to_thread/t4/w2": (1.6, 0.8, 0.04),  # GIL released: ceil(T/W)*d
        "sleep/to_thread/t4/w2": (2.0, 1.0, 0.02),
        "sleep/asyncio_blocking/t4": (1.0, 1.0, 0.04),
        "async_sleep/asyncio_gather/t4": (0.04 / 0.011, 0.01 / 0.011, 0.01),
        "async_sleep/asyncio_await/t4": (1.0, 1.0, 0.04),
    }
    for name, (speedup, eff, ideal) in expected.items():
        r = summary.loc[name]
        assert (r["speedup"], r["efficiency"], r["ideal_s"]) == pytest.approx(
            (speedup, eff, ideal)), name
        assert r["ideal_ratio"] == pytest.approx(r["median_s"] / ideal), name
        assert r["efficiency"] <= 1.0 + 1e-9, name


def test_speedup_cis(summary: pd.DataFrame) -> None:
    seq = summary.loc["cpu/sequential/t4"]
    assert (seq["speedup"], seq["speedup_ci_low"], seq["speedup_ci_high"]) == (1.0, 1.0, 1.0)
    r = summary.loc["cpu/process_pool[fork]/t4/w2"]  # baseline spread, model constant
    assert r["speedup"] == pytest.approx(2.0)
    assert (r["speedup_ci_low"], r["speedup_ci_high"]) == pytest.approx((0.38 / 0.2, 0.42 / 0.2))
    const = summary.loc["sleep/to_thread/t4/w2"]
    assert (const["speedup_ci_low"], const["speedup_ci_high"]) == pytest.approx((2.0, 2.0))


def test_karp_flatt_only_where_it_means_something(summary: pd.DataFrame) -> None:
    assert summary.loc["cpu/process_pool[fork]/t4/w2", "karp_flatt"] == pytest.approx(0.0)
    for name in ("cpu/process_pool[fork]/t4/w4",  # W > C
                 "cpu/process_pool[fork]/t4/w1",  # p = 1
                 "cpu/thread_pool/t4/w2",  # threads under the GIL
                 "sleep/to_thread/t4/w2"):  # not CPU-bound
        assert math.isnan(summary.loc[name, "karp_flatt"]), name
    assert karp_flatt(1.0, 2) == pytest.approx(1.0)


def test_cold_points_have_no_speedup_or_ideal(summary: pd.DataFrame) -> None:
    r = summary.loc["cpu/process_pool[fork]/t4/w2/cold"]
    assert r["metric"] == "cold"
    assert r["median_s"] == pytest.approx(0.3)
    assert math.isnan(r["speedup"])
    assert math.isnan(r["ideal_s"])
    assert math.isnan(r["efficiency"])


def test_amdahl_fit(summary: pd.DataFrame) -> None:
    fit = amdahl(summary.reset_index())
    row = fit[(fit["model"] == "process_pool") & (fit["start_method"] == "fork")].iloc[0]
    assert row["points"] == 1  # W = 2 only: W = 1 has p = 1, W = 4 > C
    assert row["serial_fraction"] == pytest.approx(0.0)
    assert fit[fit["model"] == "thread_pool"].empty  # GIL-bound threads: no fit


def test_speedup_pairs_rounds_and_cancels_drift(tmp_path: Path) -> None:
    """Rounds at half speed slow baseline and model alike: the paired speedup stays exact."""
    base = Point("cpu", "sequential", 4, size=CPU)
    pool = Point("cpu", "process_pool", 4, 2, "fork", CPU)
    slow = [1, 2, 1, 2, 1, 2, 1, 2]
    path = write_results(tmp_path / "r.json", [
        make_benchmark(base, [0.4 * k for k in slow], runs=8),
        make_benchmark(pool, [0.2 * k for k in slow], runs=8),
    ])
    s = load(path).summary.set_index("name")
    assert s.loc[pool.name, "ci_half_pct"] > 20  # the time itself drifted
    assert (s.loc[pool.name, "speedup_ci_low"], s.loc[pool.name, "speedup_ci_high"]) == \
        pytest.approx((2.0, 2.0))


def test_too_few_rounds_are_never_stable(tmp_path: Path) -> None:
    path = write_results(tmp_path / "r.json", [
        make_benchmark(Point("sleep", "sequential", 4, size=SLEEP), [0.04] * 10, runs=5)])
    r = load(path).summary.iloc[0]
    assert r["rounds"] == 5
    assert r["n"] == 10
    assert math.isnan(r["ci_low_s"])
    assert math.isnan(r["ci_high_s"])
    assert r["ci_half_pct"] == math.inf
    assert not bool(r["stable"])


def test_tidy_rounds_come_from_run_metadata(tmp_path: Path) -> None:
    p = Point("sleep", "sequential", 4, size=SLEEP)
    path = write_results(tmp_path / "r.json", [make_benchmark(p, [0.04] * 4, runs=4, rounds=2)])
    data = load(path)
    assert list(data.tidy["run"]) == [0, 1, 2, 3]
    assert list(data.tidy["round"]) == [0, 0, 1, 1]
    assert data.summary.iloc[0]["rounds"] == 2


def test_empty_frame_gives_empty_summary() -> None:
    empty = aggregate.summarize(pd.DataFrame(columns=["name", "value_s"]))
    assert empty.empty
    assert list(empty.columns) == summary_columns()


def test_load_accepts_run_directory(tmp_path: Path) -> None:
    write_hand_made(tmp_path / "results.json")
    assert len(load(tmp_path).summary) == len(HAND_MADE)
