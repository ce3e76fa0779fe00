"""Metrics as specs (issue 18): the registry, every stage that reads it, and real readings.

The hand-made tests check that a metric flows from the results file through
the summary, the report, ``compare`` and the gates, with known values; a toy
metric added as one entry shows up everywhere with no other change.  The
real-run tests share one small run (metrics on) and check each metric's
expected shape on this kind of host, with the tolerances stated beside them;
the ``ab`` test gates memory on a variant that allocates 50 MB more per task.
"""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from bench.gate.ab_report import evaluate
from bench.gate.check import check_runs
from bench.gate.compare import compare_runs
from bench.report.html import write_report
from bench.results import stats
from bench.results.aggregate import load, summary_columns
from bench.results.readings import metric_columns
from bench.scenarios import metrics
from bench.scenarios.grid import PROFILES
from bench.scenarios.metrics import METRICS, MetricDef
from bench.scenarios.models import Point
from tests.conftest import CliResult, Real
from tests.factory import make_benchmark, make_metric, write_results

SEQ = Point("cpu", "sequential", 4, size=4.0)
THR = Point("cpu", "thread_pool", 4, 2, size=4.0)
PROC = Point("cpu", "process_pool", 4, 2, "fork", 4.0)
MB = 1_000_000


def _run(path: Path, *, memory: dict[Point, float] | None = None,
         extra: list[Any] | None = None) -> Path:
    """Three points, six rounds each, with cores and memory readings (known values)."""
    memory = memory or {SEQ: 13 * MB, THR: 13.2 * MB, PROC: 35 * MB}
    cores = {SEQ: 1.0, THR: 1.02, PROC: 1.9}
    benches = []
    for p, t in ((SEQ, 0.4), (THR, 0.4), (PROC, 0.21)):
        benches.append(make_benchmark(p, [t] * 6, runs=6))
        benches.append(make_metric(p, "cores", [cores[p] * (1 + 0.01 * k) for k in range(6)]))
        benches.append(make_metric(p, "memory", [memory[p] + 1000 * k for k in range(6)],
                                   unit="byte"))
    return write_results(path, [*benches, *(extra or [])])


def test_registry_names_and_parse() -> None:
    assert list(METRICS) == ["cores", "lag", "memory", "dispatch", "calls"]
    assert metrics.parse("lag, cores") == ("lag", "cores")
    assert metrics.parse("all") == tuple(METRICS)
    with pytest.raises(ValueError, match="unknown metric 'ram'"):
        metrics.parse("cores,ram")
    assert METRICS["memory"].show(14.7e6) == "memory +14.7 MB"
    assert METRICS["memory"].show(math.nan) == ""


def test_metrics_reach_the_summary(tmp_path: Path) -> None:
    data = load(_run(tmp_path / "r" / "results.json"))
    s = data.summary.set_index("name")
    assert list(data.summary.columns) == summary_columns()
    assert len(data.tidy) == 18  # the metrics' benchmarks are not times
    np.testing.assert_allclose(s.loc[PROC.name, "cores_used"], 1.9 * 1.025)  # median of six
    assert s.loc[PROC.name, "cores_used_ideal"] == 2.0  # cpu on 2 processes, 2 cores
    assert s.loc[THR.name, "cores_used_ideal"] == 1.0  # the GIL
    # memory is what the model adds over sequential in the same round: constant here
    np.testing.assert_allclose(s.loc[PROC.name, ["memory", "memory_ci_low", "memory_ci_high"]],
                               [22 * MB] * 3)
    assert s.loc[SEQ.name, "memory"] == 0.0
    assert s[["lag", "dispatch"]].isna().all().all()  # not collected: NaN, columns kept


def test_signed_intervals_keep_differences() -> None:
    idx = pd.MultiIndex.from_product([["a"], range(6)], names=["name", "round"])
    diffs = pd.Series([-2.0, -1.0, 0.0, 1.0, 2.0, 3.0], index=idx)
    assert stats.grouped_intervals(diffs)["rounds"].iloc[0] == 3  # positive only
    signed = stats.grouped_intervals(diffs, positive=False).iloc[0]
    assert (signed["rounds"], signed["centre"], signed["low"], signed["high"]) == (6, 0.5, -2, 3)
    med = pd.Series([10.0, 11.0, 4.0, 5.0],
                    index=pd.MultiIndex.from_tuples([("p", 0), ("p", 1), ("b", 0), ("b", 1)],
                                                    names=["name", "round"]))
    got = stats.paired_differences(med, {"p": "b", "b": "b"})
    assert got.to_dict() == {("p", 0): 6.0, ("p", 1): 6.0, ("b", 0): 0.0, ("b", 1): 0.0}


def test_report_shows_costs_and_names_a_costly_pick(tmp_path: Path) -> None:
    # the process pool is picked (fastest) while a thread pool equivalent to it (1 % slower
    # every round, within the 5 % margin) costs 20 MB less
    seq, thr = Point("hash", "sequential", 4, size=5.0), Point("hash", "thread_pool", 4, 2,
                                                               size=5.0)
    proc = Point("hash", "process_pool", 4, 2, "fork", 5.0)
    benches = []
    for p, t, mem in ((seq, 0.4, 13 * MB), (thr, 0.2121, 13.1 * MB), (proc, 0.21, 33 * MB)):
        # the rounds' wiggle moves every point alike: their per-round ratios are constant
        wiggle = [t * (1 + 0.06 * (1 if k % 2 else -1)) for k in range(6)]
        benches += [make_benchmark(p, wiggle, runs=6),
                    make_metric(p, "memory", [mem] * 6, unit="byte"),
                    make_metric(p, "dispatch", [40e-6 if p is thr else 200e-6] * 6,
                                unit="second")]
    index = write_report(write_results(tmp_path / "r" / "results.json", benches),
                         tmp_path / "out")
    md = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    assert "memory +20.0 MB, dispatch 200.0 µs per task" in md  # the pick's costs
    assert ("It costs 19.9 MB more memory than thread\\_pool W=2, which is equivalent to it."
            in md)  # Markdown-escaped
    rec = pd.read_csv(tmp_path / "out" / "recommendations.csv")
    assert rec.loc[0, "name"] == proc.name
    assert rec.loc[0, "memory"] == 20 * MB
    assert "memory_ci_low" in pd.read_csv(tmp_path / "out" / "summary.csv").columns
    assert index.exists()


def test_a_toy_metric_is_one_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    toy = MetricDef("toy", "widgets", 1.0, "integer", "a test's own metric",
                    lambda model, on_loop: True, prefix="toy ")
    monkeypatch.setitem(METRICS, "toy", toy)
    extra = [make_metric(p, "toy", [v] * 6) for p, v in ((SEQ, 3.0), (THR, 4.0), (PROC, 7.0))]
    a = _run(tmp_path / "a" / "results.json", extra=extra)
    b = _run(tmp_path / "b" / "results.json", extra=extra)
    s = load(a).summary.set_index("name")
    assert s.loc[PROC.name, "toy"] == 7.0
    assert "toy_ci_high" in metric_columns()
    write_report(a, tmp_path / "report")
    assert "toy 7.00 widgets" in (tmp_path / "report" / "report.md").read_text(encoding="utf-8")
    points = compare_runs([load(a), load(b)]).points
    assert points.loc[points["name"] == PROC.name, "toy"].tolist() == [7.0, 7.0]
    assert check_runs(load(a), load(b), metric="toy").exit_code == 0


def _break_even_sizes(metric: str) -> list[Any]:
    """``cpu`` at two sizes: the fork pool at W = 2 loses at 1,000 iterations, wins at 10,000,
    and reads 200 µs a task of ``metric``."""
    benches = []
    for size, seq_t, pool_t in ((1e3, 0.004, 0.006), (1e4, 0.04, 0.022)):
        seq = Point("cpu", "sequential", 4, size=size, sized=True)
        pool = Point("cpu", "process_pool", 4, 2, "fork", size, sized=True)
        benches += [make_benchmark(seq, [seq_t] * 6, runs=6),
                    make_benchmark(pool, [pool_t] * 6, runs=6),
                    make_metric(pool, metric, [200e-6] * 6, unit="second")]
    return benches


def test_where_the_report_shows_a_metric_is_its_entry(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bench.report import charts, frames
    from bench.report.drawing import chart_kinds
    from bench.report.findings import findings
    from bench.report.tables import break_even_table
    from bench.results.recommend import break_even

    toy = MetricDef("handoff", "µs", 1e6, "second", "a test's own cost per task",
                    lambda model, on_loop: True, prefix="handoff ", chart="handoff (µs)",
                    lesson=True, break_even=True,
                    finding="Handoff, {workload}, T = {tasks}: a task's trip")
    monkeypatch.setitem(METRICS, toy.name, toy)
    benches = _break_even_sizes("handoff")
    seq, thr = Point("sleep", "sequential", 4, size=0.01), Point("sleep", "thread_pool", 4, 2,
                                                                 size=0.01)
    benches += [make_benchmark(seq, [0.04] * 6, runs=6), make_benchmark(thr, [0.02] * 6, runs=6),
                make_metric(thr, "handoff", [30e-6] * 6, unit="second")]
    s = load(write_results(tmp_path / "r" / "results.json", benches)).summary
    # its chart against workers, drawn from its columns
    assert "handoff" in chart_kinds(s, {"usable_cores": 2})
    chart = charts.render("handoff", s, {"usable_cores": 2}, tmp_path / "charts")
    assert chart.png.exists()
    assert chart.title == "Handoff vs workers, per workload"
    # beside the waiting lesson's bar, in its own sentence, in the break-even row
    assert list(frames.lesson_bars(s, cores=2)["beside"]) == ["handoff 30.00 µs"]
    (said,) = [f for f in findings(s, 2) if f.startswith("Handoff, cpu")]
    assert said.startswith("Handoff, cpu, T = 4: a task's trip (T = 4 task times = ")
    assert said.endswith(": process_pool[fork] W=2 200.00 µs.")
    (row,) = [r for r in break_even_table(s, break_even(s)).itertuples(index=False)
              if r[0] == "cpu"]
    assert row[4].endswith("; a task 10.00 ms, 50\N{MULTIPLICATION SIGN} its handoff (200 µs)")


def test_check_gates_a_metric(tmp_path: Path) -> None:
    base = load(_run(tmp_path / "a" / "results.json"))
    heavier = load(_run(tmp_path / "b" / "results.json",
                        memory={SEQ: 13 * MB, THR: 63 * MB, PROC: 85 * MB}))
    result = check_runs(base, heavier, metric="memory", alpha=0.05)
    assert {t.name for t in result.regressed} == {THR.name, PROC.name}
    assert check_runs(base, base, metric="memory", alpha=0.05).exit_code == 0
    # cores: higher is better, so fewer cores used is the regression
    fewer = load(_run(tmp_path / "c" / "results.json"))
    fewer.probes.loc[fewer.probes["probe"] == "cores", "value"] /= 1.5
    assert {t.name for t in check_runs(base, fewer, metric="cores").regressed} == {
        SEQ.name, THR.name, PROC.name}


def test_counters_ride_on_the_first_measured_value_and_the_heartbeat_on_the_warm_up(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In a real round (in-process): cores and memory are read just outside the clock of each
    point's first measured value, nothing else is read around any timed value, the lag's
    heartbeat runs only during the first batch of a loop-driven point's warm-up value and the
    dispatch probe just after that value's clock stops, the warm-ups all before the first
    measured value; without warm-ups both go back to the probe phase, before every clock."""
    from bench.measure import child

    events: list[tuple[str, ...]] = []
    timing, warm_up = child._time_steady, child._time_warm_up
    attach, detach, separate = metrics.attach, metrics.detach, metrics.separate
    lag_start, lag_stop = metrics._Lag.start, metrics._Lag.stop

    def timed(batch: Any, loops: int) -> float:
        events.append(("clock", str(loops)))
        return timing(batch, loops)

    def warm(batch: Any, loops: int, ctx: Any, specs: Any) -> Any:
        events.append(("warm-up",))
        return warm_up(batch, loops, ctx, specs)

    monkeypatch.setattr(child, "_time_steady", timed)
    monkeypatch.setattr(child, "_time_warm_up", warm)
    monkeypatch.setattr(metrics, "attach", lambda ctx, specs: (
        events.append(("attach", *(m.name for m in specs))), attach(ctx, specs))[1])
    monkeypatch.setattr(metrics, "detach", lambda ctx, att: (
        events.append(("detach", *(m.name for m, _ in att))), detach(ctx, att))[1])
    monkeypatch.setattr(metrics, "separate", lambda ctx, specs: (
        events.append(("separate", *(m.name for m in specs if m.separate))),
        separate(ctx, specs))[1])
    monkeypatch.setattr(metrics._Lag, "start", lambda self, ctx: (
        events.append(("heartbeat",)), lag_start(self, ctx))[1])
    monkeypatch.setattr(metrics._Lag, "stop", lambda self, ctx: (
        events.append(("heartbeat stops",)), lag_stop(self, ctx))[1])
    points = [Point("async_sleep", "sequential", 2, size=0.001),
              Point("async_sleep", "asyncio_gather", 2, size=0.001)]

    def run(warmups: int) -> dict[str, dict[str, dict[str, float]]]:
        events.clear()
        job = child.Job(round=0, seed="s", points=points, values=2, warmups=warmups,
                        min_time=0.0, status=str(tmp_path / "status"),
                        output=str(tmp_path / "round.json"), metrics=list(METRICS),
                        verify=[p.name for p in points], loops={p.name: 3 for p in points})
        probes: dict[str, dict[str, dict[str, float]]] = {}
        status = child._Status(job.status)
        try:
            _, _, _, failed = child.measure(job, status, {}, probes)
        finally:
            status.fh.close()
        assert failed == {}
        for name in (p.name for p in points):
            assert set(probes[name]) == {"cores", "memory", "lag", "dispatch"}, name
            assert probes[name]["cores"][""] > 0
        return probes

    run(warmups=1)
    clocks = [i for i, e in enumerate(events) if e[0] == "clock"]
    # two points on a loop: the rest of each warm-up after its probed batch, two values each
    assert len(clocks) == 2 + 2 * 2
    # the heartbeat: once a point, around one batch of its warm-up, the rest of it timed after
    beats = [i for i, e in enumerate(events) if e[0] == "heartbeat"]
    assert len(beats) == 2
    for i in beats:
        assert events[i - 2:i] == [("warm-up",), ("attach", "lag", "dispatch")]
        assert events[i + 1:i + 5] == [("detach", "lag"), ("heartbeat stops",), ("clock", "2"),
                                       ("separate", "dispatch")]
    first_value = clocks[2]  # the two warm-ups' clocks come first
    assert all(i < first_value for i in beats)
    # around timed values: cores and memory, only round each point's first measured value
    riding = [i for i, e in enumerate(events) if e[0] == "attach" and e[1:] == ("cores", "memory")]
    assert len(riding) == 2
    for i in riding:
        assert events[i + 1] == ("clock", "3")
        assert events[i + 2] == ("detach", "cores", "memory")
        assert i + 1 >= first_value  # after the warm-up sweep
    # no probe phase at all: every metric rides on a value or a warm-up
    assert sorted(e for e in events if e[0] == "attach") == sorted(
        [("attach", "lag", "dispatch")] * 2 + [("attach", "cores", "memory")] * 2)
    assert [e for e in events if e[0] == "separate"] == [("separate", "dispatch")] * 2
    # no warm-up, nowhere for the heartbeat and the dispatch probe: refused, as no profile is
    with pytest.raises(ValueError, match="takes a warm-up value"):
        run(warmups=0)
    assert all(p.warmups >= 1 for p in PROFILES.values())


def test_metric_options_are_checked(cli: Callable[..., CliResult]) -> None:
    bad = cli("run", "--metrics", "cores,ram", "--profile", "smoke")
    assert bad.code == 2
    assert "unknown metric 'ram'" in bad.err
    both = cli("run", "--metrics", "cores", "--no-metrics")
    assert both.code == 2
    assert "not allowed with argument" in both.err
    assert cli("check", "a", "b", "--metric", "ram").code == 2


# ------------------------------------------------------------------------ real runs
def test_real_cores_used(real: Real) -> None:
    # tolerance 0.15 around 1 for one running thread of Python; two processes keep 85 % of
    # the cores the host had free busy (>= 1.7 on an idle 2-core host; the run's noise
    # probes tell how many other work took, e.g. a CPU hog on one of two cores)
    for name in ("cpu/sequential/t16", "cpu/thread_pool/t16/w1", "cpu/thread_pool/t16/w2"):
        assert abs(real.loc[name, "cores_used"] - 1.0) <= 0.15, name
    want = 0.85 * min(2.0, real.free_cores)
    assert real.loc["cpu/process_pool[fork]/t16/w2", "cores_used"] >= want, real.free_cores
    assert real.loc["cpu/process_pool[fork]/t16/w2", "cores_used_ideal"] == 2.0
    # waiting burns (almost) no core: the loop's own work for 16 sleeps, about a quarter
    assert real.loc["async_sleep/asyncio_gather/t16", "cores_used"] < 0.5


def test_real_loop_lag(real: Real) -> None:
    # a blocking call inside coroutines holds the loop for the whole batch: T task times
    # (the batch as the model ran it, its own median), within 25 %, plus how much slower
    # one core of the host ran than another during the run: the warm-up batch and the timed
    # batches ran seconds apart, maybe on different cores (1.4x apart at times here).  The
    # heartbeat thread sends its first beat of the batch once the blocked thread hands it
    # the GIL, a switch interval in: the loop ran that beat about a switch interval less
    # than the whole batch late.  Gather and create_task on async_sleep keep the lag under
    # 1 ms (one task's time would be 4 ms, nothing at all 0).
    whole = real.loc["cpu/asyncio_blocking/t16", "median_s"]
    late = real.loc["cpu/asyncio_blocking/t16", "lag"] + sys.getswitchinterval()
    tolerance = 0.25 + (real.core_spread - 1.0)
    assert abs(late - whole) <= tolerance * whole, (late, whole, real.core_spread)
    for name in ("async_sleep/asyncio_gather/t16", "async_sleep/asyncio_create_task/t16"):
        assert real.loc[name, "lag"] < 1e-3, name
    assert math.isnan(real.loc["cpu/sequential/t16", "lag"])  # no event loop


def test_real_memory_and_dispatch(real: Real) -> None:
    mem = real["memory"]
    for w in (1, 2):
        assert mem[f"cpu/process_pool[fork]/t16/w{w}"] > mem[f"cpu/thread_pool/t16/w{w}"]
    # an interpreter per worker, each with at least 2 MB of its own (memory counts a worker's
    # private pages, USS: 4.1 MB at W = 1, whose one worker runs all 16 tasks, 5.1 MB at
    # W = 2 and 10.2 MB at W = 4 in a fresh clone's quick run here)
    assert mem["cpu/process_pool[fork]/t16/w2"] > mem["cpu/process_pool[fork]/t16/w1"]
    assert mem["cpu/process_pool[fork]/t16/w2"] > 2 * 2e6
    d = real["dispatch"]  # coroutine < thread hop < process hop
    assert (d["async_sleep/asyncio_gather/t16"] < d["cpu/thread_pool/t16/w2"]
            < d["cpu/process_pool[fork]/t16/w2"])


HEAVY = """\
import time


def task(i, size):
    buf = bytearray({alloc})  # held while the task waits: the batch's peak sees it
    time.sleep(size)
    return i + len(buf) * 0
"""


def test_ab_gates_memory(tmp_path: Path) -> None:
    # B allocates 50 MB more per task: ab --metric memory fails it (an A/A job gated on memory
    # passes: tests/test_ab.py::test_an_a_a_job_passes_through_the_python_api)
    for side, alloc in (("light", 0), ("heavy", 50 * MB)):
        (tmp_path / side).mkdir()
        (tmp_path / side / "memwork.py").write_text(HEAVY.format(alloc=alloc))
    cmd = [sys.executable, "-m", "bench", "ab", f"path={tmp_path / 'light'}",
           f"path={tmp_path / 'heavy'}", "--profile", "smoke", "--workload", "memwork:task",
           "--sizes", "0.01", "--models", "sequential,thread_pool", "--tasks", "2",
           "--workers", "2", "--max-rounds", "6", "--metrics", "memory", "--no-report", "-q",
           "--output-dir", str(tmp_path / "runs"), "--name", "ab", "--metric", "memory"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False,
                          cwd=tmp_path)
    result = evaluate(tmp_path / "runs" / "ab", metric="memory")
    assert done.returncode == 1, textwrap.shorten(str(result.tests), 300)
    assert {t.name for t in result.having("regressed")} == {
        "task/sequential/t2", "task/thread_pool/t2/w2"}
    assert "regressed" in done.stdout  # the verdict table names the metric's readings
    assert "task/sequential/t2" in done.stdout


def test_break_even_says_what_dispatch_costs(tmp_path: Path) -> None:
    from bench.report.tables import break_even_table
    from bench.results.recommend import break_even

    benches = _break_even_sizes("dispatch")
    s = load(write_results(tmp_path / "r" / "results.json", benches)).summary
    (row,) = break_even_table(s, break_even(s)).itertuples(index=False)
    # at 10,000 iterations a task takes 10 ms: 50 times what sending it to a worker costs
    assert row[3] == "10000 iterations"
    assert row[4].endswith("; a task 10.00 ms, 50\N{MULTIPLICATION SIGN} its dispatch (200 µs)")


def test_history_gates_a_metric(tmp_path: Path) -> None:
    from bench.gate import history

    rng = np.random.default_rng(3)
    past = []
    for k in range(6):  # six runs of the same code: memory wobbles by about 1 %
        mem = {p: m * (1 + 0.01 * rng.standard_normal()) for p, m in
               ((SEQ, 13 * MB), (THR, 13.2 * MB), (PROC, 35 * MB))}
        past.append(history.entry(load(_run(tmp_path / f"h{k}" / "results.json",
                                            memory=mem))))
    assert past[0]["points"][PROC.name]["metrics"]["memory"] == pytest.approx(35 * MB, rel=0.05)
    same = load(_run(tmp_path / "same" / "results.json"))
    assert not history.check(past, same, metric="memory").regressed
    heavier = load(_run(tmp_path / "heavy" / "results.json",
                        memory={SEQ: 13 * MB, THR: 13.2 * MB, PROC: 85 * MB}))
    result = history.check(past, heavier, metric="memory")
    assert [(t.name, t.metric) for t in result.regressed] == [(PROC.name, "memory")]
    with pytest.raises(Exception, match="--metric 'ram'"):
        history.check(past, same, metric="ram")
