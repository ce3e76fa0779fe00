"""Grid expansion: validity table, worker counts, baselines, start methods, names, cold points."""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections import Counter
from typing import Any

import pytest

from bench.errors import UsageError
from bench.scenarios.grid import (
    PROFILES,
    GridSpec,
    check_scale,
    expand,
    task_size,
    worker_counts,
)
from bench.scenarios.models import COLD, MODELS, STEADY, Point
from bench.scenarios.workloads import BUILTINS, Workload, catalogue, task_args

ALL_METHODS = ("fork", "spawn", "forkserver")
ASYNC_MODELS = {"asyncio_await", "asyncio_gather", "asyncio_create_task", "asyncio_taskgroup"}
BLOCKING_MODELS = {"asyncio_blocking", "to_thread", "thread_pool", "process_pool"}
NAME = re.compile(
    r"(cpu|hash|sleep|async_sleep|http_[a-z_]+)/[a-z_]+(\[(fork|forkserver|spawn)\])?/t\d+(/w\d+)?(/cold)?"
)


def grid(cores: int = 2, methods: tuple[str, ...] = ALL_METHODS,
         python: tuple[int, int] = (3, 11), **spec: Any) -> list[Point]:
    spec.setdefault("profile", "quick")
    return expand(GridSpec(**spec), cores=cores, start_methods=methods, python=python)


def steady(points: list[Point]) -> list[Point]:
    return [p for p in points if p.metric == "steady"]


# ------------------------------------------------------------------ validity table
def test_validity_table() -> None:
    points = steady(grid())
    models_of = {wl: {p.model for p in points if p.workload == wl} for wl in BUILTINS}
    assert models_of["async_sleep"] == {"sequential"} | ASYNC_MODELS
    for wl in ("cpu", "hash", "sleep"):
        assert models_of[wl] == {"sequential"} | BLOCKING_MODELS, wl


def test_every_point_passes_its_models_rule() -> None:
    for p in grid(profile="full"):
        assert MODELS[p.model].accepts(BUILTINS[p.workload]), p.name


@pytest.mark.parametrize("cores", [1, 2, 3, 8])
def test_worker_counts_come_from_profile_factors(cores: int) -> None:
    """The profile's factors of C, each capped at the point's T (no idle workers)."""
    assert set(worker_counts(("1", "C", "2C"), cores)) == {1, cores, 2 * cores}
    points = steady(grid(cores=cores))
    for t in {p.tasks for p in points}:
        want = {min(w, t) for w in (1, cores, 2 * cores)}
        assert set(worker_counts(("1", "C", "2C"), cores, t)) == want
        at_t = [p for p in points if p.tasks == t]
        for model in ("to_thread", "thread_pool"):
            assert {p.workers for p in at_t if p.model == model} == want, (model, t)
        assert {p.workers for p in at_t if p.start_method == "fork"} == want
    assert all(p.workers is None for p in points if not MODELS[p.model].pooled)


def test_worker_counts_resolution() -> None:
    assert worker_counts(("1", "2", "C", "2C", "4C"), 2) == (1, 2, 4, 8)
    assert worker_counts(("C",), 5) == (5,)
    assert worker_counts(("3",), 64) == (3,)


@pytest.mark.parametrize("profile", list(PROFILES))
def test_sequential_baseline_comes_first_for_every_workload_and_task_count(profile: str) -> None:
    points = grid(profile=profile)
    index = {p: i for i, p in enumerate(points)}
    for p in steady(points):
        base = Point(p.workload, "sequential", p.tasks, size=p.size)
        assert base in index, p.name
        assert index[base] <= index[p], p.name


def test_start_methods_swept_or_measured_at_w_equals_c() -> None:
    points = steady(grid(cores=2))  # quick sweeps fork only
    by_method = {sm: {p.workers for p in points if p.start_method == sm} for sm in ALL_METHODS}
    assert by_method == {"fork": {1, 2, 4}, "forkserver": {2}, "spawn": {2}}
    assert {p.start_method for p in points if p.model == "process_pool"} == set(ALL_METHODS)
    assert all(p.start_method is None for p in points if p.model != "process_pool")
    # quick: the other start methods' steady state on cpu work only
    others = {p.workload for p in points if p.start_method in ("forkserver", "spawn")}
    assert others == {"cpu"}
    assert {p.workload for p in points if p.start_method == "fork"} == {"cpu", "hash", "sleep"}

    full = steady(grid(cores=2, profile="full"))
    for sm in ALL_METHODS:
        assert {p.workers for p in full if p.start_method == sm} == {1, 2, 4, 8}


def test_start_methods_outside_their_workloads_keep_the_platform_order(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(PROFILES, "quick", dataclasses.replace(
        PROFILES["quick"], sweep_start_methods=("spawn", "fork")))
    hash_pools = [p for p in steady(grid(workloads=("cpu", "hash")))
                  if p.model == "process_pool" and p.workload == "hash"]
    order = list(dict.fromkeys(p.start_method for p in hash_pools))
    assert order == ["fork", "spawn"]  # ALL_METHODS order; forkserver only on cpu


def test_start_methods_limited_to_what_the_platform_offers() -> None:
    points = grid(methods=("spawn",))
    assert {p.start_method for p in points if p.model == "process_pool"} == {"spawn"}
    # the only method there is gets the whole sweep
    assert {p.workers for p in steady(points) if p.start_method == "spawn"} == {1, 2, 4}


def test_requested_start_methods_are_swept() -> None:
    points = steady(grid(start_methods=("spawn",)))
    assert {p.start_method for p in points if p.model == "process_pool"} == {"spawn"}
    assert {p.workers for p in points if p.model == "process_pool"} == {1, 2, 4}
    # on every workload that runs in process pools, whatever the profile's default
    assert {p.workload for p in points if p.model == "process_pool"} == {"cpu", "hash", "sleep"}


@pytest.mark.parametrize(
    ("axis", "value", "attr"),
    [
        ("tasks", (3, 5), "tasks"),
        ("workers", (3,), "workers"),
        ("models", ("sequential", "thread_pool"), "model"),
        ("workloads", ("hash", "async_sleep"), "workload"),
        ("start_methods", ("forkserver",), "start_method"),
    ],
)
def test_restrictions_hold_for_every_steady_point(axis: str, value: tuple[Any, ...],
                                                  attr: str) -> None:
    points = grid(cold=False, **{axis: value})
    assert points
    assert {getattr(p, attr) for p in points} - {None} == set(value)


def test_tasks_restriction_keeps_baselines() -> None:
    points = grid(tasks=(7,), models=("process_pool",), workloads=("cpu",), cold=False)
    assert {p.name for p in points} >= {"cpu/sequential/t7", "cpu/process_pool[fork]/t7/w2"}
    assert {p.tasks for p in points} == {7}


def test_cold_points_respect_workload_restriction() -> None:
    # quick measures cold points; a run restricted to sleep should not measure cpu ones
    points = grid(workloads=("sleep",))
    assert {p.workload for p in points} == {"sleep"}, sorted(
        p.name for p in points if p.workload != "sleep")


def test_cold_points_respect_workers_restriction() -> None:
    points = grid(workers=(1,))
    assert {p.workers for p in points} - {None} == {1}, sorted(
        p.name for p in points if p.workers not in (None, 1))


@pytest.mark.parametrize(
    "spec",
    [
        {"tasks": (4, 4)},
        {"workers": (2, 2)},
        {"models": ("sequential", "thread_pool", "thread_pool")},
        {"workloads": ("sleep", "sleep")},
        {"start_methods": ("fork", "fork")},
    ],
    ids=["tasks", "workers", "models", "workloads", "start_methods"],
)
def test_repeated_values_do_not_duplicate_points(spec: dict[str, Any]) -> None:
    # two points of one name cannot share a pyperf results file
    names = [p.name for p in grid(**spec)]
    assert [n for n, c in Counter(names).items() if c > 1] == []


@pytest.mark.parametrize("profile", list(PROFILES))
def test_names_are_unique_readable_and_stable(profile: str) -> None:
    points = grid(profile=profile)
    names = [p.name for p in points]
    assert len(names) == len(set(names))
    for name in names:
        assert NAME.fullmatch(name), name
    assert [p.name for p in grid(profile=profile)] == names


def test_point_names() -> None:
    assert Point("cpu", "process_pool", 16, 2, "fork").name == "cpu/process_pool[fork]/t16/w2"
    assert Point("async_sleep", "asyncio_gather", 16).name == "async_sleep/asyncio_gather/t16"
    assert Point("cpu", "thread_pool", 4, 1).name == "cpu/thread_pool/t4/w1"
    cold = Point("cpu", "process_pool", 16, 2, "spawn", 100.0, "cold")
    assert cold.name == "cpu/process_pool[spawn]/t16/w2/cold"


def test_point_dict_round_trip_carries_the_workload_spec() -> None:
    p = Point("hash", "process_pool", 4, 2, "spawn", 3.0, "cold")
    assert Point.from_dict(json.loads(json.dumps(p.to_dict()))) == p
    assert task_args(p.work, p.tasks, p.size) == [(0, 3.0), (1, 3.0), (2, 3.0), (3, 3.0)]
    sized = Point("cpu", "sequential", 4, size=1000.0, sized=True)
    assert sized.name == "cpu/sequential/t4/s1000"
    assert Point.from_dict(sized.to_dict()) == sized
    own = Workload("mine", "mod:func", unit="lines", sizes=(10.0,), is_async=True)
    back = Point.from_dict(json.loads(json.dumps(Point("mine", "asyncio_gather", 4,
                                                        spec=own).to_dict())))
    assert back.work == own


def test_asyncio_taskgroup_needs_python_3_11() -> None:
    assert "asyncio_taskgroup" not in {p.model for p in grid(python=(3, 10))}
    assert "asyncio_taskgroup" in {p.model for p in grid(python=(3, 11))}
    # the rest of the async grid is unchanged under 3.10
    old = {p.name for p in grid(python=(3, 10))}
    new = {p.name for p in grid(python=(3, 11)) if p.model != "asyncio_taskgroup"}
    assert old == new


def test_cold_points() -> None:
    cold = [p for p in grid(cores=2) if p.metric == "cold"]
    assert sorted(p.name for p in cold) == [
        "cpu/process_pool[fork]/t16/w2/cold",
        "cpu/process_pool[forkserver]/t16/w2/cold",
        "cpu/process_pool[spawn]/t16/w2/cold",
        "cpu/thread_pool/t16/w2/cold",
    ]
    assert all(p.size == task_size("cpu", PROFILES["quick"].work_scale) for p in cold)
    assert not [p for p in grid(profile="smoke") if p.metric == "cold"]
    assert not [p for p in grid(cold=False) if p.metric == "cold"]
    forced = [p for p in grid(profile="smoke", cold=True) if p.metric == "cold"]
    assert {p.name for p in forced} == {"cpu/thread_pool/t4/w2/cold",
                                        "cpu/process_pool[fork]/t4/w2/cold"}


def test_quick_profile_size() -> None:
    # 4 workloads x 2 task counts; baselines + every valid model; 4 cold points
    points = grid(cores=2)
    per_t_cpu = 1 + 1 + 3 + 3 + (3 + 1 + 1)  # seq, blocking, to_thread, thread_pool, pools
    per_t_other = 1 + 1 + 3 + 3 + 3  # process pools: fork only
    per_t_async = 1 + 4
    assert len(points) == 2 * (per_t_cpu + 2 * per_t_other + per_t_async) + 4


# --------------------------------------------------------------------- sizes
def test_task_size_scales_the_default() -> None:
    assert task_size("cpu", 1.0) == BUILTINS["cpu"].default_size
    assert task_size("cpu", 0.2) == round(0.2 * BUILTINS["cpu"].default_size)
    assert task_size("sleep", 0.5) == pytest.approx(0.0015)
    assert task_size("async_sleep", 2.0) == pytest.approx(0.006)
    assert task_size("hash", 2.0) == 2 * BUILTINS["hash"].default_size
    sizes = {p.workload: p.size for p in grid(profile="smoke", work_scale=0.5)}
    assert sizes["cpu"] == task_size("cpu", 0.5 * PROFILES["smoke"].work_scale)


@pytest.mark.parametrize("workload", list(BUILTINS))
@pytest.mark.parametrize("scale", [0.04, 1e-6])
def test_task_size_never_rounds_to_zero(workload: str, scale: float) -> None:
    # smoke (x0.2) with --work-scale 0.2 gives hash 5 MiB x 0.04 = 0.2 MiB: a zero
    # recorded size while hash_rounds still hashes max(1, int(size)) = 1 MiB
    assert task_size(workload, scale) > 0


# ----------------------------------------------------------------- validation
@pytest.mark.parametrize(
    ("spec", "methods", "message"),
    [
        ({"profile": "huge"}, ALL_METHODS, "unknown profile 'huge'"),
        ({"workloads": ("disk",)}, ALL_METHODS, "unknown workload 'disk'"),
        ({"models": ("greenlet",)}, ALL_METHODS, "unknown model 'greenlet'"),
        ({"tasks": (0,)}, ALL_METHODS, "--tasks values must be whole numbers >= 1"),
        ({"tasks": (-4,)}, ALL_METHODS, "--tasks"),
        ({"workers": (0,)}, ALL_METHODS, "--workers values must be whole numbers >= 1"),
        ({"work_scale": 0.0}, ALL_METHODS, "--work-scale must be > 0"),
        ({"work_scale": -1.0}, ALL_METHODS, "--work-scale must be > 0"),
        ({"work_scale": math.nan}, ALL_METHODS, "--work-scale must be > 0"),
        ({"start_methods": ("vfork",)}, ALL_METHODS, "start method 'vfork' is not available"),
        ({"start_methods": ("fork",)}, ("spawn",), "start method 'fork' is not available"),
    ],
)
def test_invalid_specs_raise_usage_error(spec: dict[str, Any], methods: tuple[str, ...],
                                         message: str) -> None:
    with pytest.raises(UsageError, match=re.escape(message)):
        grid(methods=methods, **spec)


# ------------------------------------------------------- kinds, never names
OWN = Workload("parse", "mod:parse", unit="lines", sizes=(1000.0,), resource="cpu_gil")


@pytest.mark.parametrize("profile", ["quick", "full"])
def test_your_own_workload_gets_every_start_method_and_a_cold_start_per_method(
        profile: str) -> None:
    points = expand(GridSpec(profile=profile, workloads=("parse",)), cores=2,
                    start_methods=("fork", "forkserver", "spawn"), python=(3, 11),
                    catalogue=catalogue([OWN]))
    pools = {p.start_method for p in points if p.model == "process_pool" and p.metric == STEADY}
    cold = {p.start_method for p in points if p.model == "process_pool" and p.metric == COLD}
    assert pools == {"fork", "forkserver", "spawn"}
    assert cold == {"fork", "forkserver", "spawn"}
    assert all(p.work == OWN for p in points)


def test_explicit_start_methods_give_your_workload_cold_starts_too() -> None:
    points = expand(GridSpec(profile="quick", workloads=("parse",), start_methods=("spawn",)),
                    cores=2, start_methods=("fork", "forkserver", "spawn"), python=(3, 11),
                    catalogue=catalogue([OWN]))
    assert "parse/process_pool[spawn]/t16/w2/cold" in {p.name for p in points}


def test_profiles_choose_start_methods_by_resource_not_by_name() -> None:
    """A built-in of another name but the same resource as cpu gets what cpu gets."""
    twin = Workload("cpu2", "cpu_tasks:cpu", "iterations", (1000.0,), "cpu_gil", builtin=True,
                    whole_units=True)
    other = Workload("hash2", "cpu_tasks:hash_rounds", "MiB", (2.0,), "cpu_nogil",
                     builtin=True, whole_units=True)
    points = expand(GridSpec(profile="quick", workloads=("cpu2", "hash2")), cores=2,
                    start_methods=("fork", "forkserver", "spawn"), python=(3, 11),
                    catalogue=catalogue([twin, other]))
    methods = {wl: {p.start_method for p in points if p.workload == wl
                    and p.model == "process_pool"} for wl in ("cpu2", "hash2")}
    assert methods == {"cpu2": {"fork", "forkserver", "spawn"}, "hash2": {"fork"}}
    assert {p.workload for p in points if p.metric == COLD} == {"cpu2"}


def test_a_scale_check_names_what_it_cannot_scale() -> None:
    works = catalogue([OWN])
    assert check_scale(GridSpec(profile="smoke", workloads=("cpu", "hash"), work_scale=1.25),
                       works) == ["hash"]
    assert check_scale(GridSpec(profile="smoke", workloads=("cpu",), work_scale=1.25),
                       works) == []
    with pytest.raises(UsageError, match=r"parse \(its sizes are measured as given\)"):
        check_scale(GridSpec(profile="quick", workloads=("parse",), work_scale=2.0), works)
    assert check_scale(GridSpec(profile="quick", workloads=("parse",)), works) == []
