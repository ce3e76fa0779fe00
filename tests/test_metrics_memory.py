"""The memory metric on real forked pools, with known truth (issue 34, "past 2 cores").

Each worker of the measured pool holds ``N`` bytes of its own (touched in its
initializer), so the point adds about ``W * N``: its workers' private pages
(USS) plus the interpreter pages each worker has written since the fork
(about 2 MB on this host).  That must not move when another pool of four
forked workers is open in the same process, as it did when each worker
counted its PSS (its share of the pages it shares with the parent, which
every forked worker of every open pool divides).
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
from collections.abc import Iterator
from typing import Any

import pytest

from bench.scenarios import metrics, procfs

MB = 1_000_000
#: Bytes each worker of the measured pool holds of its own.
N = 24 * MB
#: Workers of the measured pool.
W = 2
#: How far the reading may be off ``W * N`` (the workers' own interpreter pages included).
TOLERANCE = 0.2

_held: list[bytearray] = []


def _hold(n: int, ready: Any) -> None:
    """A worker's initializer: hold ``n`` bytes, every page written (resident and private),
    then wait at the barrier ``ready`` until every worker and the test hold theirs."""
    _held.append(bytearray(b"\x01") * n)
    ready.wait()


def _forked_pool(workers: int, hold: int) -> tuple[cf.ProcessPoolExecutor, tuple[int, ...]]:
    """A fork pool whose workers each hold ``hold`` bytes, started, and its workers' pids."""
    fork = multiprocessing.get_context("fork")
    ready = fork.Barrier(workers + 1)  # inherited by the forked workers, never pickled
    pool = cf.ProcessPoolExecutor(workers, mp_context=fork, initializer=_hold,
                                  initargs=(hold, ready))
    pool.submit(int)  # a fork pool starts every worker at its first task
    ready.wait(timeout=30)  # every worker's initializer done: all ``hold`` bytes written
    return pool, tuple(pool._processes)


def _added(pids: tuple[int, ...]) -> float:
    """The memory reading of a point with workers ``pids`` minus a baseline's (no workers),
    as the summary pairs them."""
    readings = []
    for ctx in (metrics.ProbeContext(None, None, pids, 1, False),
                metrics.ProbeContext(None, None, (), 1, False)):
        instrument = metrics.METRICS["memory"].instrument
        assert instrument is not None
        inst = instrument()
        inst.start(ctx)
        readings.append(inst.stop(ctx)[""])
    return readings[0] - readings[1]


@pytest.fixture
def measured() -> Iterator[tuple[int, ...]]:
    pool, pids = _forked_pool(W, N)
    yield pids
    pool.shutdown()


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_forked_workers_memory_is_the_points_whatever_else_is_open(
        measured: tuple[int, ...]) -> None:
    if not procfs.held_bytes(measured[0]):
        pytest.skip("no /proc/PID/smaps_rollup on this host")
    alone = _added(measured)
    pss_alone = sum(procfs.rollup_bytes(p, "Pss") for p in measured)
    other, _ = _forked_pool(4, 0)  # another point's pool in the same child
    try:
        beside = _added(measured)
        pss_beside = sum(procfs.rollup_bytes(p, "Pss") for p in measured)
    finally:
        other.shutdown()
    truth = W * N
    assert alone == pytest.approx(truth, rel=TOLERANCE), alone / MB
    assert beside == pytest.approx(truth, rel=TOLERANCE), beside / MB
    assert abs(beside - alone) < 0.02 * truth, (alone / MB, beside / MB)
    # what the old reading (each worker's PSS) would have done: moved with the other pool
    assert pss_alone - pss_beside > 0.05 * truth, (pss_alone / MB, pss_beside / MB)
