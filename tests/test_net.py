"""Network workloads: call latencies, the limited strategies, the grid's wait limit, the
``--service`` option, the ``calls`` figures, and real runs against the loopback service.

The real runs are few and small: one shared run of aiohttp at T = 120 (six rounds of one
value: the fewest that give a 95 % interval), a user's failing client, the example's own
client, and two runs interrupted to see that their service goes with them.  Nothing here
asserts a speed; the lower bounds are the service's own waits.
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import contextlib
import csv
import dataclasses
import math
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from bench.api import load
from bench.cli import main
from bench.errors import UsageError
from bench.measure.config import settings
from bench.results.calls import CALLS_COLUMNS, calls_frame, cap_findings, knee_sentences, knees
from bench.scenarios import batches, latency, service
from bench.scenarios.grid import MAX_WAIT_S, PROFILES, too_long
from bench.scenarios.models import Point
from bench.scenarios.user import workload_from_table
from bench.scenarios.workloads import BUILTINS

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
#: The smoke profile, shrunk: six rounds (a 95 % interval of a median needs six), one value.
SMALL = dataclasses.replace(PROFILES["smoke"], rounds=6, values=1, warmups=1, probe_s=0.05)
#: The shared run: T calls of LATENCY seconds each (T above aiohttp's pool of 100).
T, LATENCY = 120, 0.005


# ----------------------------------------------------------------- latency.py
def test_percentile_is_the_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert latency.percentile(values, 0.5) == 50.0
    assert latency.percentile(values, 0.99) == 99.0
    assert latency.percentile(values, 1.0) == 100.0
    assert latency.percentile(values, 0.0) == 1.0
    assert latency.percentile([1.0, 2.0, 3.0, 4.0], 0.9) == 4.0  # rank ceil(3.6) = 4
    assert latency.percentile([7.0], 0.99) == 7.0
    assert math.isnan(latency.percentile([], 0.5))


def test_most_at_once_counts_open_intervals() -> None:
    assert latency.most_at_once([0, 1], [1, 2]) == 1  # [0, 1) and [1, 2) only touch
    assert latency.most_at_once([0, 1, 1], [3, 2, 4]) == 3
    assert latency.most_at_once([0, 5, 10], [4, 9, 14]) == 1
    assert latency.most_at_once([0, 0, 0, 6], [5, 5, 5, 7]) == 3
    assert latency.most_at_once([], []) == 0


def _double(x: int) -> int:
    time.sleep(0.001)
    return 2 * x


async def _adouble(x: int) -> int:
    await asyncio.sleep(0.001)
    return 2 * x


@pytest.mark.parametrize("is_async", [False, True])
def test_recorder_times_each_local_call_and_keeps_results_in_order(is_async: bool) -> None:
    rec = latency.Recorder(5)
    func, argv = rec.wrap(_adouble if is_async else _double, [(i,) for i in range(5)],
                          is_async=is_async, remote=False)
    assert [a[0] for a in argv] == list(range(5))  # the call's index leads its arguments
    if is_async:
        async def all_of() -> list[int]:
            return list(await asyncio.gather(*(func(*a) for a in argv)))
        results = asyncio.run(all_of())
    else:
        results = [func(*a) for a in argv]
    assert rec.unwrap(results, remote=False) == [0, 2, 4, 6, 8]
    assert all(rec.submitted <= s < e for s, e in zip(rec.started, rec.ended, strict=True))
    run, since = rec.seconds()
    assert run == sorted(run)
    assert since == sorted(since)
    assert all(r >= 0.001 for r in run)  # each slept a millisecond at least
    assert rec.wall() == pytest.approx(since[-1])


def test_recorder_takes_a_remote_call_s_readings_apart() -> None:
    rec = latency.Recorder(6)
    func, argv = rec.wrap(_double, [(i,) for i in range(6)], is_async=False, remote=True)
    assert argv == [(i,) for i in range(6)]  # a remote call carries no index
    with cf.ThreadPoolExecutor(3) as pool:
        results = list(pool.map(func, *zip(*argv, strict=True)))
    assert all(len(r) == 3 for r in results)  # result, start, end
    assert rec.unwrap(results, remote=True) == [0, 2, 4, 6, 8, 10]
    assert rec.started == [r[1] for r in results]
    assert rec.ended == [r[2] for r in results]
    assert all(rec.submitted <= s < e for s, e in zip(rec.started, rec.ended, strict=True))
    with cf.ThreadPoolExecutor(2) as pool:
        res = pool.submit(asyncio.run, latency.atimed_remote(_adouble, 4)).result()
    assert res[0] == 8
    assert res[1] < res[2]


# ----------------------------------------------------------------- batches.py
class _Gauge:
    inside = 0
    most = 0


async def _gauged(i: int, pause: float) -> int:
    _Gauge.inside += 1
    _Gauge.most = max(_Gauge.most, _Gauge.inside)
    try:
        await asyncio.sleep(pause)
    finally:
        _Gauge.inside -= 1
    return i


@pytest.mark.parametrize(("limit", "tasks"), [(1, 6), (4, 30), (5, 3)])
def test_bounded_lets_at_most_its_limit_in_and_keeps_the_order(limit: int, tasks: int) -> None:
    _Gauge.inside = _Gauge.most = 0
    # later calls sleep less, so they would finish first if the order were the finish order
    argv = [(i, 0.002 * (1 + (tasks - i) % 3)) for i in range(tasks)]

    async def go() -> list[Any]:
        return await batches.bounded(limit)(_gauged, argv, asyncio.get_running_loop())

    assert asyncio.run(go()) == list(range(tasks))
    assert _Gauge.most == min(limit, tasks)  # never more than W, and W do get in
    assert _Gauge.inside == 0


async def _echo(i: int) -> int:
    await asyncio.sleep(0)
    return i


@pytest.mark.parametrize(("tasks", "workers", "sizes"),
                         [(10, 3, [3, 3, 4]), (9, 4, [2, 2, 2, 3]), (16, 12, [1, 1, 2] * 4),
                          (8, 8, [1] * 8), (3, 5, [1, 1, 1]), (0, 3, [])])
def test_loops_in_workers_splits_the_calls_into_w_shares_in_order(
        monkeypatch: pytest.MonkeyPatch, tasks: int, workers: int, sizes: list[int]) -> None:
    shares: list[list[int]] = []
    chunk = batches.loop_chunk

    def recorded(func: Callable[..., Any], argv: list[tuple[Any, ...]]) -> list[Any]:
        shares.append([a[0] for a in argv])
        return chunk(func, argv)

    monkeypatch.setattr(batches, "loop_chunk", recorded)
    monkeypatch.setattr(batches, "_worker_loop", None)
    argv = [(i,) for i in range(tasks)]
    # one thread: the worker's loop is module state, one per process (here, per test)
    with cf.ThreadPoolExecutor(1) as pool:
        async def go() -> list[Any]:
            return await batches.loops_in_workers(pool, workers)(_echo, argv,
                                                                 asyncio.get_running_loop())
        results = asyncio.run(go())
    try:
        assert results == list(range(tasks))
        assert [len(s) for s in shares] == sizes  # min(W, T) shares, as even as they go
        assert [i for s in shares for i in s] == list(range(tasks))
    finally:
        if batches._worker_loop is not None:
            batches._worker_loop.close()


# ----------------------------------------------------------------- grid.too_long
def _served(name: str, spec: str = "latency=100ms") -> Any:
    return dataclasses.replace(BUILTINS[name], service=spec)


@pytest.mark.parametrize(("model", "tasks", "workers", "wait"), [
    ("sequential", 1000, None, 100.0), ("asyncio_gather", 1000, None, 0.0),
    ("asyncio_bounded", 1000, 10, 0.0), ("asyncio_bounded", 2000, 10, 20.0),
    ("asyncio_bounded", 2000, 2000, 0.0), ("multi_loop", 2000, 2, 0.0),
    ("sequential", 100, None, 0.0)])
def test_a_batch_that_would_wait_too_long_on_its_service_is_left_out(
        model: str, tasks: int, workers: int | None, wait: float) -> None:
    work = _served("http_aiohttp" if model != "sequential" else "http_client")
    why = too_long(Point(work.name, model, tasks, workers, spec=work))
    if not wait:
        assert why == ""
        return
    assert f"wait {wait:.0f} s on the service" in why, why
    assert f"({tasks} calls, {workers or 1} at a time)" in why
    assert f"more than {MAX_WAIT_S:.0f} s" in why


def test_pools_wait_in_waves_of_w_and_workloads_without_a_service_never() -> None:
    client = _served("http_client")
    assert too_long(Point(client.name, "thread_pool", 1000, 10, spec=client)) == ""  # 10 s
    assert "wait 20 s" in too_long(Point(client.name, "thread_pool", 1000, 5, spec=client))
    cpu = BUILTINS["cpu"]
    assert too_long(Point("cpu", "sequential", 10**6, spec=cpu)) == ""


# ----------------------------------------------------------------- --service
def test_service_option_gives_the_builtin_clients_that_spec(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    works = settings(service="latency=5ms", workloads=["http_aiohttp"]).catalogue()
    want = service.parse("latency=5ms").to_text()
    assert works["http_aiohttp"].service == want
    assert works["http_client"].service == want
    assert works["cpu"].service == ""
    assert settings(workloads=["http_aiohttp"]).catalogue()["http_aiohttp"].service \
        == BUILTINS["http_aiohttp"].service == "latency=100ms"


def test_a_bad_service_spec_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UsageError) as info:
        settings(service="latency=fast", workloads=["http_aiohttp"])
    assert "\n" not in str(info.value)
    assert str(info.value).startswith("--service: ")
    assert "latency='fast' is not a number of seconds" in str(info.value)
    assert main(["run", "--workloads", "http_aiohttp", "--service", "wait=1s", "--profile",
                 "smoke", "--output-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("concbench: --service: ")
    assert "'wait=1s' is not KEY=VALUE" in err
    assert not any(tmp_path.iterdir())  # refused before anything was made


# ----------------------------------------------------------------- a table's service
def test_a_table_declares_its_service_as_the_spec_s_text() -> None:
    work = workload_from_table("agent", {"func": "m:f", "service": "latency=20ms,p99=50ms"},
                               "pyproject.toml")
    assert work.service == service.parse("latency=20ms,p99=50ms").to_text()
    assert service.parse(work.service).p99 == 0.05
    assert workload_from_table("plain", {"func": "m:f"}, "pyproject.toml").service == ""


@pytest.mark.parametrize(("table", "message"), [
    ({"service": "latency=fast"}, "service: service spec 'latency=fast': latency='fast' is not"),
    ({"service": "p99=1ms,latency=1s"}, "service: p99 0.001 s is below the median latency 1 s"),
    ({"service": 100}, "service must be a string"),
    ({"connection_cap": "m:cap"}, "unknown key 'connection_cap'"),
    ({"needs": "aiohttp"}, "unknown key 'needs'"),
])
def test_a_table_s_bad_service_is_one_line_naming_the_table(table: dict[str, Any],
                                                             message: str) -> None:
    with pytest.raises(UsageError) as info:
        workload_from_table("agent", {"func": "m:f", **table}, "pyproject.toml")
    text = str(info.value)
    assert "\n" not in text
    assert text.startswith("pyproject.toml [tool.concbench.workloads.agent]: "), text
    assert message in text, text


# ----------------------------------------------------------------- results.calls
def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    base = dict.fromkeys(CALLS_COLUMNS, math.nan) | {"python": "", "cap": 0.0,
                                                     "own_p99_s": 0.1}
    return pd.DataFrame([base | r for r in rows], columns=list(CALLS_COLUMNS))


def test_cap_findings_name_the_cap_that_held_the_concurrency_down() -> None:
    frame = _frame([
        {"workload": "w", "model": "asyncio_gather", "tasks": 150, "asked": 150,
         "inflight": 100.0, "cap": 100.0},
        {"workload": "w", "model": "asyncio_bounded", "workers": 150, "tasks": 150,
         "asked": 150, "inflight": 60.0, "cap": 100.0},  # below its cap: still the cap's
        {"workload": "w", "model": "asyncio_bounded", "workers": 10, "tasks": 150,
         "asked": 10, "inflight": 10.0, "cap": 100.0},
        {"workload": "w", "model": "asyncio_gather", "tasks": 1000, "asked": 1000,
         "inflight": 950.0, "cap": 0.0},  # near what was asked
        {"workload": "x", "model": "asyncio_gather", "tasks": 150, "asked": 150,
         "inflight": 40.0, "cap": 0.0, "python": "3.13"},
        {"workload": "x", "model": "asyncio_gather", "tasks": 150, "asked": 150,
         "inflight": 120.0, "cap": 200.0},  # a cap above what was asked is not the cause
        {"workload": "y", "model": "asyncio_gather", "tasks": 150, "asked": 150,
         "inflight": math.nan, "cap": 100.0}])
    found = cap_findings(frame)
    assert found == [
        "w, asyncio_gather, T = 150: its client's connection pool allows 100 connections: "
        "the limit of 150 ran 100 at a time.",
        "w, asyncio_bounded W=150, T = 150: its client's connection pool allows 100 "
        "connections: the limit of 150 ran 60 at a time.",
        "x, asyncio_gather, T = 150 (3.13): the service held at most 40 of the 150 calls "
        "allowed at once: the client, not a cap it declares, kept them fewer.",
        "x, asyncio_gather, T = 150: the service held at most 120 of the 150 calls allowed "
        "at once: the client, not a cap it declares, kept them fewer."]


def _levels(model: str, asked: list[int], high: list[float], low: list[float],
            tasks: int = 1000) -> list[dict[str, Any]]:
    return [{"workload": "w", "model": model, "tasks": tasks if model != "asyncio_gather"
             else a, "workers": a if model != "asyncio_gather" else math.nan, "asked": a,
             "added_p99_ci_high": h, "added_p99_ci_low": lo, "own_p99_s": 0.1}
            for a, h, lo in zip(asked, high, low, strict=True)]


def test_the_knee_is_the_largest_level_before_the_first_past_the_share() -> None:
    # within 10 % of the own p99 (0.1 s): 0.01 s; the knee stops at the first level past it,
    # even where a larger one falls back within
    frame = _frame([
        *_levels("asyncio_gather", [1, 10, 100, 1000], [0.001, 0.005, 0.02, 0.003],
                 [0.0005, 0.002, 0.008, 0.002]),
        *_levels("asyncio_bounded", [10, 100], [0.05, 0.2], [0.001, 0.02]),
        *_levels("asyncio_bounded", [10, 100], [0.05, 0.2], [0.02, 0.03], tasks=100),
        *_levels("thread_pool", [4], [0.001], [0.0001])])
    found = knees(frame).set_index(["model", "tasks"])
    assert found.loc[("asyncio_gather", 0), "knee"] == 10
    assert found.loc[("asyncio_gather", 0), "knee_high"] == 1000
    assert found.loc[("asyncio_gather", 0), "measured"] == "1, 10, 100, 1,000"
    assert math.isnan(found.loc[("asyncio_bounded", 1000), "knee"])
    assert found.loc[("asyncio_bounded", 1000), "knee_high"] == 10
    assert math.isnan(found.loc[("asyncio_bounded", 100), "knee_high"])
    assert found.loc[("thread_pool", 1000), "knee"] == 4
    sentences = knee_sentences(knees(frame))
    assert sentences == [
        "w, asyncio_gather: the knee, the most calls in flight whose added p99's 95 % CI "
        "stays within 10% of the service's own p99, is 10; by the intervals' low ends, up "
        "to 1,000 (levels measured: 1, 10, 100, 1,000).",
        "w, asyncio_bounded, T = 1,000: no level measured is surely within 10% of the "
        "service's own p99; by the intervals' low ends, up to 10 (levels measured: 10, 100).",
        "w, asyncio_bounded, T = 100: the added p99 passed 10% of the service's own p99 at "
        "every level measured (10, 100 in flight)."]  # thread_pool: one level, no sentence


def test_a_level_without_an_interval_is_not_within() -> None:
    frame = _frame(_levels("asyncio_bounded", [10, 100], [math.nan, 0.001],
                           [math.nan, 0.001]))
    (row,) = knees(frame).itertuples()
    assert math.isnan(row.knee)
    assert math.isnan(row.knee_high)


# ----------------------------------------------------------------- the shared real run
@pytest.fixture(scope="module")
def net_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """aiohttp at T = 120 against a 5 ms service: one after another, all at once (its pool
    of 100 caps them), and at most 10 or 120 at once past a semaphore; the report drawn."""
    out = tmp_path_factory.mktemp("net")
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(PROFILES, "smoke", SMALL)
        code = main(["run", "--profile", "smoke", "--workloads", "http_aiohttp",
                     "--tasks", str(T), "--limits", f"10,{T}",
                     "--models", "sequential,asyncio_gather,asyncio_bounded",
                     "--service", f"latency={LATENCY * 1000:g}ms", "--metrics", "calls",
                     "--budget", "0", "-q", "--output-dir", str(out), "--name", "n"])
    assert code == 0
    return out / "n"


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open() as fh:
        return list(csv.DictReader(fh))


def _net(run: Path) -> dict[tuple[str, int], dict[str, str]]:
    """network.csv's rows by model and W (0 for none)."""
    return {(r["model"], int(float(r["workers"] or 0))): r for r in _csv(run / "network.csv")}


@pytest.mark.slow
def test_network_csv_has_a_row_per_steady_point(net_run: Path) -> None:
    steady = [r for r in _csv(net_run / "summary.csv") if r["metric"] == "steady"]
    rows = _csv(net_run / "network.csv")
    assert list(rows[0]) == list(CALLS_COLUMNS)
    assert len(rows) == len(steady) == 4
    assert set(_net(net_run)) == {("sequential", 0), ("asyncio_gather", 0),
                                  ("asyncio_bounded", 10), ("asyncio_bounded", T)}


@pytest.mark.slow
def test_the_calls_in_flight_are_what_was_asked_or_the_cap(net_run: Path) -> None:
    net = _net(net_run)
    seq, gather = net[("sequential", 0)], net[("asyncio_gather", 0)]
    bounded = net[("asyncio_bounded", 10)]
    assert (int(seq["asked"]), float(seq["inflight"])) == (1, 1.0)
    assert int(bounded["asked"]) == 10
    assert 1 < float(bounded["inflight"]) <= 10
    assert int(gather["asked"]) == T
    assert float(gather["cap"]) == 100
    assert 1 < float(gather["inflight"]) <= 100  # aiohttp's pool, whatever gather asks
    assert float(net[("asyncio_bounded", T)]["inflight"]) <= 100
    report = (net_run / "report.md").read_text(encoding="utf-8")
    assert (f"http\\_aiohttp, asyncio\\_gather, T = {T}: its client's connection pool "
            f"allows 100 connections: the limit of {T} ran") in report


@pytest.mark.slow
def test_a_batch_takes_at_least_its_waves_of_the_service_s_latency(net_run: Path) -> None:
    summary = {r["name"]: r for r in _csv(net_run / "summary.csv") if r["metric"] == "steady"}
    # the sequential baseline is measured: T calls of 5 ms, far below the wait limit
    assert float(summary[f"http_aiohttp/sequential/t{T}"]["median_s"]) >= T * LATENCY
    assert float(summary[f"http_aiohttp/asyncio_bounded/t{T}/w10"]["median_s"]) \
        >= math.ceil(T / 10) * LATENCY
    assert float(summary[f"http_aiohttp/asyncio_gather/t{T}"]["median_s"]) >= LATENCY
    manifest = load(net_run)
    assert not manifest.failed


@pytest.mark.slow
def test_every_calls_reading_is_finite_and_the_throughput_ci_holds_its_median(
        net_run: Path) -> None:
    summary = load(net_run).summary
    steady = summary[summary["metric"] == "steady"]
    calls = [c for c in steady.columns if c == "calls" or c.startswith("calls_")]
    assert len(calls) >= 13
    values = steady[calls].astype(float).to_numpy()
    assert values.size
    assert all(math.isfinite(v) for v in values.ravel()), steady[calls]
    frame = calls_frame(summary)
    assert len(frame) == 4
    for r in frame.itertuples():
        assert r.throughput_ci_low <= r.throughput <= r.throughput_ci_high, r
        assert r.added_p99_ci_low <= r.added_p99_s <= r.added_p99_ci_high, r
        assert r.own_p99_s == pytest.approx(LATENCY)
        assert r.throughput <= r.asked / LATENCY * 1.05  # at most `asked` calls per 5 ms


# ----------------------------------------------------------------- a client's wrong answer
BAD_CLIENT = """
import aiohttp
from bench.scenarios import service

async def nope(i, size):
    async with aiohttp.ClientSession() as session:
        async with session.get(service.url() + "/nope") as answer:
            if answer.status != 200:
                raise RuntimeError(f"call {i}: HTTP {answer.status} from /nope")
            return answer.status
"""


@pytest.mark.slow
def test_a_client_that_gets_a_wrong_answer_fails_with_the_reason(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "badnet.py").write_text(textwrap.dedent(BAD_CLIENT))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(PROFILES, "smoke", SMALL)
    code = main(["run", "--workload", "badnet:nope", "--path", str(tmp_path), "--service",
                 "latency=10ms", "--profile", "smoke", "--models", "sequential,asyncio_gather",
                 "--tasks", "4", "--output-dir", str(tmp_path / "out"), "--name", "b", "-q"])
    err = capsys.readouterr().err
    assert code == 1, err
    # pre-flight calls it with the service running: the user's traceback, then one line
    assert "RuntimeError: call 0: HTTP 404 from /nope" in err
    assert err.strip().splitlines()[-1] == (
        "concbench: workload 'nope' raised RuntimeError in the sequential reference, before "
        "anything was measured"), err
    assert not (tmp_path / "out" / "b" / "results.json").exists()  # refused before measuring


# ----------------------------------------------------------------- the example's own client
@pytest.mark.slow
def test_the_example_agent_client_measures_its_calls(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(EXAMPLES)
    monkeypatch.setitem(PROFILES, "smoke", dataclasses.replace(SMALL, rounds=2))
    code = main(["run", "--profile", "smoke", "--workloads", "agent", "--service",
                 "latency=20ms", "--tasks", "8", "--models", "sequential,asyncio_gather",
                 "--metrics", "calls", "--budget", "0", "--no-report", "-q",
                 "--output-dir", str(tmp_path), "--name", "a"])
    assert code == 0
    data = load(tmp_path / "a")
    assert not data.failed
    frame = calls_frame(data.summary).set_index("model")
    assert set(frame.index) == {"sequential", "asyncio_gather"}
    gather = frame.loc["asyncio_gather"]
    assert (gather["workload"], gather["asked"], gather["cap"]) == ("agent", 8, 0.0)
    assert 1 < gather["inflight"] <= 8  # one connection per call in flight, no cap
    assert gather["own_p99_s"] == pytest.approx(0.02)
    steady = data.summary[data.summary["metric"] == "steady"].set_index("model")
    assert steady.loc["sequential", "median_s"] >= 8 * 0.02


# ----------------------------------------------------------------- no orphan service
def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = (entry / "stat").read_text()
                ppid = int(stat.rpartition(")")[2].split()[1])
                kids.setdefault(ppid, []).append(int(entry.name))
    return kids


def _descendants(pid: int) -> list[int]:
    kids, out, todo = _children(), [], [pid]
    while todo:
        for k in kids.get(todo.pop(), []):
            out.append(k)
            todo.append(k)
    return out


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


@contextlib.contextmanager
def _network_run(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """A ``concbench run`` long enough (20 calls of 200 ms, one after another) and its
    service's pid once the sweep's own is up; whatever is left of them is killed after."""
    env = {k: v for k, v in os.environ.items() if k != "CONCBENCH_FAULT"}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench", "run", "--profile", "smoke", "--workloads",
         "http_client", "--models", "sequential", "--tasks", "20", "--service", "latency=200ms",
         "--no-metrics", "--no-report", "-q", "--output-dir", str(tmp_path)],
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    seen: set[int] = set()
    try:
        deadline = time.monotonic() + 60
        server, since = 0, 0.0
        while time.monotonic() < deadline and proc.poll() is None:
            kids = _descendants(proc.pid)
            seen.update(kids)
            found = [p for p in kids if "bench.measure.loopback" in _cmdline(p)]
            # pre-flight starts a service of its own for a call or two and stops it: the
            # sweep's is the one that stays (each batch waits 4 s on it)
            if not found or found[0] != server:
                server, since = (found[0] if found else 0), time.monotonic()
            elif time.monotonic() - since > 1.5:
                break
            time.sleep(0.05)
        assert server, proc.stderr.read() if proc.stderr else ""
        assert proc.poll() is None
        seen.update(_descendants(proc.pid))
        yield proc, server
    finally:
        for pid in [proc.pid, *seen]:
            if _alive(pid) and (pid == proc.pid or _cmdline(pid)):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        proc.wait(10)
        if proc.stderr:
            proc.stderr.close()


def _gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return not _alive(pid)


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_ctrl_c_ends_the_run_and_its_service(tmp_path: Path) -> None:
    with _network_run(tmp_path) as (proc, server):
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 130
        err = proc.stderr.read().decode() if proc.stderr else ""
        assert err.strip().splitlines()[-1].startswith("concbench: interrupted"), err
        assert _gone_within(server, 5.0)


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_killed_run_leaves_no_service(tmp_path: Path) -> None:
    with _network_run(tmp_path) as (proc, server):
        proc.kill()
        assert proc.wait(10) == -signal.SIGKILL
        assert _gone_within(server, 5.0)


def test_a_busy_service_is_named_as_the_limit() -> None:
    from bench.results.calls import service_findings

    frame = pd.DataFrame({"workload": ["w", "w"], "model": ["asyncio_gather", "thread_pool"],
                          "tasks": [1000, 1000], "service_us": [90.0, 30.0],
                          "throughput": [10_000.0, 10_000.0]})
    found = service_findings(frame)  # 90 % of a core, then 30 %
    assert len(found) == 1
    assert found[0].startswith("w, asyncio_gather, T = 1000: the loopback service kept 90%")
    assert "the service, not the client, was the limit" in found[0]


def test_the_knee_of_w_loops_runs_over_t() -> None:
    # W loops in W processes hold all T calls at once: their axis is T, at each W
    from bench.results.calls import knees

    frame = pd.DataFrame({
        "workload": "w", "python": "", "model": "multi_loop[fork]", "workers": [2, 2, 2],
        "tasks": [100, 1000, 3000], "asked": [100, 1000, 3000], "own_p99_s": 0.1,
        "added_p99_ci_low": [0.001, 0.002, 0.05], "added_p99_ci_high": [0.002, 0.005, 0.08]})
    found = knees(frame)
    assert len(found) == 1
    row = found.iloc[0]
    assert (row["workers"], row["tasks"], row["knee"], row["knee_high"]) == (2, 0, 1000, 1000)
    assert row["measured"] == "100, 1,000, 3,000"


def test_one_level_of_a_thousand_has_no_knee_sentence() -> None:
    from bench.results.calls import knee_sentences, knees

    frame = pd.DataFrame({
        "workload": "w", "python": "", "model": "asyncio_gather", "workers": [None],
        "tasks": [1000], "asked": [1000], "own_p99_s": 0.1,
        "added_p99_ci_low": [0.5], "added_p99_ci_high": [0.6]})
    assert knee_sentences(knees(frame)) == []  # "1,000" is one level, not two


def test_an_open_loop_run_draws_its_report_without_the_in_flight_chart(tmp_path: Path) -> None:
    # open loop: no calls-in-flight axis (asked is NaN), so no network chart; the table stays
    from bench.report.drawing import chart_kinds
    from bench.results.calls import calls_frame

    summary = pd.DataFrame({
        "name": ["w/asyncio_gather/t10/poisson100"], "workload": "w", "model": "asyncio_gather",
        "cores": 2, "task_size": 1.0, "resource": "async_wait", "gil": True,
        "start_method": [None], "tasks": 10, "workers": [None], "python": "", "metric": "steady",
        "median_s": 0.2, "ci_low_s": 0.19, "ci_high_s": 0.21, "calls": 0.01,
        "calls_ci_low": 0.005, "calls_ci_high": 0.02, **{f"calls_{e}": 0.0 for e in (
            "inflight", "p50", "p50_ci_low", "p50_ci_high", "p90", "max", "own_p99",
            "p99_queued", "late", "client_us", "service_us", "cap")}})
    frame = calls_frame(summary)
    assert frame["asked"].isna().all()
    assert "network" not in chart_kinds(summary.assign(speedup=float("nan"),
                                                       efficiency=float("nan")), {})
