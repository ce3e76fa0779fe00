"""The model of the ideal: every resource under every overlap, GIL and free-threaded hosts."""

from __future__ import annotations

import itertools
import math

import pandas as pd
import pytest

from bench.results import ideal
from bench.results.ideal import (
    OVERLAPS,
    RESOURCES,
    frame_parallelism,
    frame_scaling,
    ideal_parallelism,
    ideal_time,
    karp_flatt,
    scaling_parallelism,
    scaling_reason,
)
from bench.scenarios.models import MODELS
from bench.scenarios.workloads import BUILTINS


def par(resource: str, overlap: str, t: int, w: int | None, c: int = 2,
        gil: bool = True) -> float:
    return ideal_parallelism(resource, overlap, tasks=t, workers=w, cores=c, gil=gil)


def scal(resource: str, overlap: str, t: int, w: int | None, c: int = 2,
         gil: bool = True) -> int | None:
    return scaling_parallelism(resource, overlap, tasks=t, workers=w, cores=c, gil=gil)


def test_specs_use_the_known_kinds() -> None:
    assert ideal.RESOURCES == RESOURCES
    assert {w.resource for w in BUILTINS.values()} <= set(RESOURCES)
    assert {m.overlap for m in MODELS.values()} <= set(OVERLAPS)


# (resource, overlap, T, W, C, gil) -> ideal parallelism
CASES = [
    # overlap none: one after another, whatever the resource
    *[(r, "none", 16, None, 2, g, 1.0) for r in RESOURCES for g in (True, False)],
    # event loop: only async waits overlap
    ("async_wait", "event_loop", 16, None, 2, True, 16.0),
    ("async_wait", "event_loop", 1, None, 2, True, 1.0),
    ("blocking_wait", "event_loop", 16, None, 2, True, 1.0),
    ("cpu_gil", "event_loop", 16, None, 2, False, 1.0),
    ("cpu_nogil", "event_loop", 16, None, 2, True, 1.0),
    # blocking waits under pools: waves of W, no core needed
    ("blocking_wait", "threads", 16, 4, 2, True, 4.0),
    ("blocking_wait", "threads", 16, 16, 2, True, 16.0),
    ("blocking_wait", "threads", 5, 4, 2, True, 2.5),      # waves: ceil(5/4) = 2
    ("blocking_wait", "threads", 4, 8, 2, True, 4.0),      # T < W
    ("blocking_wait", "processes", 16, 8, 2, True, 8.0),
    # CPU work on processes: CPU-limited, with or without the GIL
    *[(r, "processes", 16, 1, 2, g, 1.0) for r in ("cpu_gil", "cpu_nogil") for g in (True, False)],
    *[(r, "processes", 16, 2, 2, g, 2.0) for r in ("cpu_gil", "cpu_nogil") for g in (True, False)],
    ("cpu_gil", "processes", 16, 4, 2, True, 2.0),         # W > C: time-sliced at T/C
    ("cpu_gil", "processes", 3, 4, 2, True, 2.0),          # T < W, W > C: 3 tasks on 2 cores
    ("cpu_gil", "processes", 5, 4, 2, True, 2.0),          # W > C: T/C bounds, not the waves
    ("cpu_gil", "processes", 5, 2, 2, True, 5 / 3),        # waves: ceil(5/2) = 3
    ("cpu_gil", "processes", 4, 3, 4, True, 2.0),          # waves: ceil(4/3) = 2
    ("cpu_gil", "processes", 1, 4, 2, True, 1.0),          # T = 1
    ("cpu_nogil", "processes", 64, 16, 8, True, 8.0),
    # CPU work on threads: the interpreter decides for GIL-holding work
    ("cpu_gil", "threads", 16, 2, 2, True, 1.0),
    ("cpu_gil", "threads", 16, 4, 2, True, 1.0),
    ("cpu_gil", "threads", 16, 2, 2, False, 2.0),          # free-threaded: threads scale
    ("cpu_gil", "threads", 16, 4, 2, False, 2.0),
    ("cpu_gil", "threads", 5, 2, 2, False, 5 / 3),
    ("cpu_nogil", "threads", 16, 2, 2, True, 2.0),
    ("cpu_nogil", "threads", 16, 4, 2, True, 2.0),
    ("cpu_nogil", "threads", 2, 4, 8, True, 2.0),          # T < W
]


@pytest.mark.parametrize(("resource", "overlap", "t", "w", "c", "gil", "expected"), CASES)
def test_ideal_parallelism(resource: str, overlap: str, t: int, w: int | None, c: int,
                           gil: bool, expected: float) -> None:
    assert par(resource, overlap, t, w, c, gil) == pytest.approx(expected)
    assert ideal_time(resource, overlap, tasks=t, workers=w, cores=c, gil=gil,
                      d=0.01) == pytest.approx(t * 0.01 / expected)


def test_every_combination_has_a_rule() -> None:
    for r, o, gil in itertools.product(RESOURCES, OVERLAPS, (True, False)):
        for t, w, c in itertools.product((1, 3, 4, 16), (1, 2, 3, 8), (1, 2, 4)):
            p = par(r, o, t, w, c, gil)
            if r == "async_wait" and o == "threads":
                assert math.isnan(p)  # not a combination the grid makes
                continue
            if r == "async_wait" and o == "processes":  # W loops: each overlaps its waits
                assert p == t
                continue
            assert 1.0 <= p <= t
            if r in ("cpu_gil", "cpu_nogil"):
                assert p <= c  # CPU work never beats the cores


def test_ideal_time_reads_the_waves_and_time_slicing() -> None:
    d = 0.01
    # W > C: max(ceil(T/W), T/C) * d, a bound no schedule beats
    assert ideal_time("cpu_gil", "processes", tasks=16, workers=4, cores=2, gil=True,
                      d=d) == pytest.approx(8 * d)
    assert ideal_time("cpu_gil", "processes", tasks=5, workers=4, cores=2, gil=True,
                      d=d) == pytest.approx(2.5 * d)
    assert ideal_time("blocking_wait", "threads", tasks=5, workers=4, cores=1, gil=True,
                      d=d) == pytest.approx(2 * d)
    assert ideal_time("async_wait", "event_loop", tasks=16, workers=None, cores=2, gil=True,
                      d=d) == pytest.approx(d)
    # a limit of W calls in flight (asyncio_bounded): waves of W
    assert ideal_time("async_wait", "event_loop", tasks=16, workers=4, cores=2, gil=True,
                      d=d) == pytest.approx(4 * d)


@pytest.mark.parametrize("d", [0.0, -1.0, math.nan])
def test_ideal_time_without_a_task_time_is_nan(d: float) -> None:
    assert math.isnan(ideal_time("cpu_gil", "none", tasks=4, workers=None, cores=2,
                                 gil=True, d=d))


def test_unknown_kinds_and_bad_counts_raise() -> None:
    with pytest.raises(ValueError, match="unknown resource 'gpu'"):
        par("gpu", "none", 4, None)
    with pytest.raises(ValueError, match="unknown overlap 'fibers'"):
        par("cpu_gil", "fibers", 4, None)
    with pytest.raises(ValueError, match="at least 1"):
        par("cpu_gil", "processes", 0, 2)
    with pytest.raises(ValueError, match="at least 1"):
        par("cpu_gil", "processes", 4, 0)
    with pytest.raises(ValueError, match="unknown resource"):
        scal("gpu", "processes", 4, 2)


def test_nothing_beats_the_ideal() -> None:
    d = 0.005
    for r, o, gil in itertools.product(RESOURCES, OVERLAPS, (True, False)):
        for t, w, c in itertools.product((1, 4, 5, 16), (1, 2, 4, 8), (1, 2, 4)):
            best = ideal_time(r, o, tasks=t, workers=w, cores=c, gil=gil, d=d)
            if math.isnan(best):
                continue
            # the makespan of the natural schedule is never below the ideal
            natural = _simulated_makespan(r, o, t, w, c, gil, d)
            assert natural >= best * (1 - 1e-12), (r, o, t, w, c, gil)
            assert ideal.efficiency(natural, best) <= 1 + 1e-12


def _simulated_makespan(resource: str, overlap: str, t: int, w: int, c: int, gil: bool,
                        d: float) -> float:
    """A greedy schedule's time: tasks handed to W workers, CPU shared fairly over C cores."""
    if overlap == "none" or (overlap == "event_loop" and resource != "async_wait"):
        return t * d
    if overlap == "event_loop":  # W calls in flight at a time: waves of W
        return -(-t // w) * d
    if resource == "async_wait":  # W loops, each overlapping its share's waits
        return d
    per_worker = [t // w + (i < t % w) for i in range(w)]
    if resource == "blocking_wait":
        return max(per_worker) * d
    parallel = overlap == "processes" or resource == "cpu_nogil" or not gil
    if not parallel:
        return t * d
    # processor sharing: each busy worker gets min(1, C / busy) of a core
    left = [n * d for n in per_worker if n]
    now = 0.0
    while left:
        rate = min(1.0, c / len(left))
        step = min(left) / rate
        now += step
        left = [x - step * rate for x in left if x - step * rate > 1e-15]
    return now


def test_efficiency_is_nan_without_times() -> None:
    assert math.isnan(ideal.efficiency(0.0, 1.0))
    assert math.isnan(ideal.efficiency(1.0, math.nan))
    assert ideal.efficiency(0.2, 0.1) == pytest.approx(0.5)


# ---------------------------------------------------------------- Karp-Flatt, Amdahl
@pytest.mark.parametrize(("resource", "overlap", "t", "w", "c", "gil", "expected"), [
    ("cpu_gil", "processes", 16, 2, 2, True, 2),
    ("cpu_nogil", "processes", 16, 4, 4, True, 4),
    ("cpu_nogil", "threads", 16, 2, 2, True, 2),
    ("cpu_gil", "threads", 16, 2, 2, False, 2),       # free-threaded host
    ("cpu_gil", "processes", 2, 4, 4, True, 2),       # T < W <= C: p = T
    ("cpu_gil", "threads", 16, 2, 2, True, None),     # GIL-bound threads
    ("cpu_gil", "processes", 16, 4, 2, True, None),   # W > C
    ("cpu_gil", "processes", 16, 1, 2, True, None),   # p = 1
    ("cpu_gil", "processes", 5, 2, 2, True, None),    # uneven waves
    ("cpu_gil", "processes", 4, 3, 4, True, None),
    ("blocking_wait", "threads", 16, 2, 2, True, None),
    ("blocking_wait", "processes", 16, 2, 2, False, None),
    ("async_wait", "event_loop", 16, None, 2, True, None),
    ("cpu_gil", "none", 16, None, 2, False, None),
    ("cpu_nogil", "event_loop", 16, None, 2, True, None),
])
def test_scaling_parallelism_only_where_it_means_something(
        resource: str, overlap: str, t: int, w: int | None, c: int, gil: bool,
        expected: int | None) -> None:
    assert scal(resource, overlap, t, w, c, gil) == expected
    reason = scaling_reason(resource, overlap, tasks=t, workers=w, cores=c, gil=gil)
    assert (reason == "") == (expected is not None)
    if expected is not None:  # where it applies, the ideal speedup is p itself
        assert par(resource, overlap, t, w, c, gil) == expected


def test_scaling_reasons_in_words() -> None:
    assert scaling_reason("cpu_gil", "threads", tasks=4, workers=2, cores=2,
                          gil=True) == "the GIL runs one thread's Python at a time"
    assert scaling_reason("blocking_wait", "threads", tasks=4,
                          workers=2, cores=2, gil=True) == "waits need no core"
    assert "W > C" in scaling_reason("cpu_nogil", "processes", tasks=8, workers=4, cores=2,
                                     gil=True)


def test_karp_flatt() -> None:
    assert karp_flatt(2.0, 2) == pytest.approx(0.0)   # perfectly parallel
    assert karp_flatt(1.0, 2) == pytest.approx(1.0)   # no gain: all serial
    assert karp_flatt(1.6, 2) == pytest.approx(0.25)
    assert karp_flatt(1.9, 4) == pytest.approx((1 / 1.9 - 0.25) / 0.75)
    assert math.isnan(karp_flatt(1.5, None))
    assert math.isnan(karp_flatt(1.5, 1))
    assert math.isnan(karp_flatt(math.nan, 2))


# ------------------------------------------------------------------------ frames
def test_frames_read_resource_and_gil_columns_else_the_specs() -> None:
    frame = pd.DataFrame({
        "workload": ["cpu", "cpu", "sleep", "async_sleep", "mystery"],
        "model": ["thread_pool", "process_pool", "to_thread", "asyncio_gather", "sequential"],
        "tasks": [16, 16, 5, 16, 4],
        "workers": pd.array([4, 4, 4, None, None], dtype="Int64"),
        "cores": [2, 2, 2, 2, 2],
    })
    got = frame_parallelism(frame)
    assert got[:4] == pytest.approx([1.0, 2.0, 2.5, 16.0])
    assert math.isnan(got[4])  # a workload without a spec or resource column
    assert frame_scaling(frame) == [None, None, None, None, None]
    free = frame.assign(gil=False, resource=["cpu_gil", "cpu_gil", "blocking_wait",
                                             "async_wait", "cpu_nogil"])
    assert frame_parallelism(free) == pytest.approx([2.0, 2.0, 2.5, 16.0, 1.0])
    two = free.assign(workers=pd.array([2, 2, 2, None, None], dtype="Int64"))
    assert frame_scaling(two) == [2, 2, None, None, None]
    assert ideal.point_parallelism(free, workload="cpu", model="thread_pool", tasks=16,
                                   workers=2.0, cores=2,
                                   gil=ideal.gil_of(free.iloc[0])) == 2.0
    assert ideal.point_parallelism(frame, workload="cpu", model="thread_pool", tasks=16,
                                   workers=2, cores=2, gil=ideal.gil_of(frame.iloc[0])) == 1.0
    assert math.isnan(ideal.point_parallelism(frame, workload="cpu", model="nope", tasks=4,
                                              workers=None, cores=2, gil=True))
