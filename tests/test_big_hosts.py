"""Plans for hosts of 16 to 128 usable cores, simulated: what a child holds, what the run
needs of the host, the worker counts it measures, and the budget's floor.

No point here is measured: the grid is expanded for ``cores=C`` as it would be on such a
host (``usable_cores`` is what the grid reads), and the estimate of
:mod:`bench.scenarios.footprint` is checked against what the host must give.
"""

from __future__ import annotations

import resource

import pytest

from bench.errors import UsageError
from bench.measure.budget import Budget, planned_floor
from bench.measure.rounds import groups
from bench.scenarios import footprint
from bench.scenarios.grid import PROFILES, GridSpec, expand
from bench.scenarios.models import COLD, MODELS

METHODS = ["fork", "forkserver", "spawn"]
BIG = (16, 64, 128)


def _plan(profile: str, cores: int, **axes: object) -> list:
    return expand(GridSpec(profile=profile, **axes), cores=cores,  # type: ignore[arg-type]
                  start_methods=METHODS, python=(3, 11))


@pytest.mark.parametrize("cores", BIG)
@pytest.mark.parametrize("profile", ["quick", "full"])
def test_no_profile_point_times_idle_workers(profile: str, cores: int) -> None:
    points = _plan(profile, cores)
    pooled = [p for p in points if p.workers is not None]
    assert pooled
    assert all(p.workers <= p.tasks for p in pooled)
    # the largest W of each T is T itself or a resolved factor of C
    for t in PROFILES[profile].tasks:
        ws = {p.workers for p in pooled if p.tasks == t and p.metric != COLD}
        assert max(ws) == min(t, 4 * cores)


@pytest.mark.parametrize("cores", BIG)
def test_quick_fits_the_usual_soft_limit_without_raising_it(cores: int) -> None:
    held = footprint.largest(groups(_plan("quick", cores)).values())
    # T = 16 caps W at 16: forkserver and spawn at W = 16, fork at 1, 4 and 16
    assert held.processes == 16 + 16 + 1 + 16
    assert held.descriptors + footprint.FDS_MARGIN <= 1024
    assert held.memory_mb < 1024
    footprint.check(held, 1024, 4096.0)


@pytest.mark.parametrize(("cores", "processes"), [(16, 345), (64, 201), (128, 201)])
def test_full_on_big_hosts_needs_a_raised_limit_and_says_how_much(cores: int,
                                                                  processes: int) -> None:
    held = footprint.largest(groups(_plan("full", cores)).values())
    # T = 64: every start method at W = 1, 2, C, 2C and 4C capped at 64
    assert held.processes == processes
    process_pools = 3 * len({min(w, 64) for w in (1, 2, cores, 2 * cores, 4 * cores)})
    assert held.descriptors == footprint.CHILD_FDS + 6 * process_pools + 2 * processes
    assert held.descriptors < 1024
    assert held.memory_mb > 16 * processes * 2 / 3  # two of three methods start fresh workers
    with pytest.raises(UsageError, match=r"cannot fit.*available"):
        footprint.check(held, 1 << 20, held.memory_mb / 2)


def test_the_issue_plan_that_ran_out_of_descriptors_is_refused_before_it_starts() -> None:
    points = _plan("quick", 64, workers=(64, 128, 256), start_methods=("fork", "spawn"),
                   tasks=(16,), workloads=("cpu",))
    held = footprint.largest(groups(points).values())
    assert held.processes == 2 * (64 + 128 + 256)  # workers asked for are measured as given
    assert held.descriptors > 1024
    with pytest.raises(UsageError) as err:
        footprint.check(held, 1024, None)
    message = str(err.value)
    assert "\n" not in message
    assert "1024" in message
    assert "ulimit -Hn" in message
    assert "--workers" in message


def test_the_soft_limit_is_raised_towards_the_hard_one() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    low = 256 if hard == resource.RLIM_INFINITY else min(256, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (low, hard))
    try:
        record = footprint.raise_nofile(500)
        now = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        assert record["nofile_soft_was"] == low
        assert now == record["nofile_soft"]
        assert now == (500 + footprint.FDS_MARGIN if hard == resource.RLIM_INFINITY
                       else min(500 + footprint.FDS_MARGIN, hard))
        assert footprint.raise_nofile(10)["nofile_soft"] == now  # never lowered
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_a_cold_child_holds_one_pool_at_a_time() -> None:
    points = [p for p in _plan("quick", 64) if p.metric == COLD]
    held = footprint.of_child(points)
    assert points
    assert held.pools == 1
    assert held.processes == max(p.workers for p in points
                                 if MODELS[p.model].pool.fds_per_worker)  # type: ignore[union-attr]


@pytest.mark.parametrize("cores", BIG)
def test_each_workers_native_share_fits_the_cores(cores: int) -> None:
    for p in _plan("full", cores):
        pool = MODELS[p.model].pool
        if pool is not None and pool.native_share:
            assert p.native_threads == max(1, cores // p.workers)
            assert p.native_threads * p.workers <= max(cores, p.workers)
        else:
            assert p.native_threads == 0


@pytest.mark.parametrize("cores", [2, *BIG])
def test_quick_planned_rounds_fit_its_budget(cores: int) -> None:
    profile = PROFILES["quick"]
    points = _plan("quick", cores)
    floor = planned_floor([len(g) for g in groups(points).values()], profile.rounds,
                          profile.warmups + profile.values, profile.min_time)
    budget = Budget.for_run(0.0, profile.budget_s, len(points), profile.probe_s)
    assert 0 < floor < profile.budget_s - budget.reserve
    # fewer points than on 2 cores (W capped at T), so no longer a report
    assert len(points) <= len(_plan("quick", 2))
