"""The history gate: the file, host and work matching, abstaining, and its error rates.

Simulation with known truth: runs whose figures drift run to run (log-normal,
the whole host moving at once plus each point on its own); a run of the same
code must raise a false alarm in at most ``alpha`` of the checks, and a
1.25x scaling regression (the process pool slower, the sequential time not)
must be flagged.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from bench.cli import main
from bench.errors import UsageError
from bench.gate import history
from bench.results.aggregate import load
from bench.scenarios.models import Point
from tests.factory import HOST, make_benchmark, write_results

SEQ = Point("cpu", "sequential", 4, size=1000.0)
POOL = Point("cpu", "process_pool", 4, workers=2, start_method="fork", size=1000.0)
THREADS = Point("cpu", "thread_pool", 4, workers=2, size=1000.0)
POINTS = {SEQ: 0.040, POOL: 0.022, THREADS: 0.041}


def write_run(path: Path, rng: np.random.Generator, *, drift: float = 0.08,
              own: float = 0.02, slow: dict[Point, float] | None = None,
              size: float = 1000.0, **host: object) -> Path:
    """A run of 6 rounds: the host's speed this run (``drift``), each point's own
    wobble (``own``), and ``slow`` factors for a regression."""
    host_speed = math.exp(rng.normal(0, drift))
    benches = []
    for p, base in POINTS.items():
        point = Point(p.workload, p.model, p.tasks, p.workers, p.start_method, size)
        level = base * host_speed * math.exp(rng.normal(0, own)) * (slow or {}).get(p, 1.0)
        values = list(level * np.exp(rng.normal(0, 0.01, 6)))
        benches.append(make_benchmark(point, values, runs=6, host={**HOST, **host}))
    return write_results(path / "results.json", benches)


def history_of(tmp: Path, rng: np.random.Generator, n: int, **kw: object) -> list[dict]:
    return [history.entry(load(write_run(tmp / f"h{i}", rng, **kw))) for i in range(n)]


def test_entries_hold_medians_speedups_work_and_the_host_key(tmp_path: Path) -> None:
    e = history.entry(load(write_run(tmp_path, np.random.default_rng(0))))
    assert set(e["host"]) == set(history.HOST_KEY)
    assert e["host"]["cpu_model"] == HOST["host_cpu_model"]
    seq, pool = e["points"][SEQ.name], e["points"][POOL.name]
    assert seq["speedup"] is None  # the baseline has no speedup of its own
    assert pool["speedup"] == pytest.approx(seq["median_s"] / pool["median_s"], rel=0.05)
    assert pool["work"][:2] == ["cpu", "process_pool"]


def test_append_creates_keeps_and_rejects_foreign_files(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    path = tmp_path / "h.json"
    for i in range(4):
        n = history.append(path, load(write_run(tmp_path / f"r{i}", rng)), keep=3)
    assert n == 3
    assert len(history.load_history(path)) == 3
    (tmp_path / "x.json").write_text(json.dumps({"runs": []}))
    with pytest.raises(UsageError, match="not a concbench history"):
        history.load_history(tmp_path / "x.json")
    with pytest.raises(UsageError):
        history.load_history(tmp_path / "missing.json")


def test_too_little_history_abstains(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    past = history_of(tmp_path, rng, 3)
    res = history.check(past, load(write_run(tmp_path / "cur", rng, slow={POOL: 3.0})))
    assert not res.tests
    assert res.exit_code() == 0
    assert set(res.abstained) == {p.name for p in POINTS}


def test_other_hosts_and_other_work_are_not_used(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    past = (history_of(tmp_path / "a", rng, 6, host_cpu_model="Other CPU")
            + history_of(tmp_path / "b", rng, 6, size=2000.0))
    res = history.check(past, load(write_run(tmp_path / "cur", rng)))
    assert res.other_hosts == 6
    assert not res.tests  # the same host's runs measured other work: nothing to judge


def test_a_scaling_regression_fails_and_says_which_figure(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    past = history_of(tmp_path, rng, 10)
    res = history.check(past, load(write_run(tmp_path / "cur", rng, slow={POOL: 1.25})))
    flagged = {(t.name, t.metric) for t in res.regressed}
    assert (POOL.name, "speedup") in flagged
    assert (SEQ.name, "time") not in flagged
    assert res.exit_code() == 1


def test_the_visibility_sentences_are_honest(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    res = history.check(history_of(tmp_path, rng, 10, drift=0.10),
                        load(write_run(tmp_path / "cur", rng)))
    by = {(t.name, t.metric): t for t in res.tests}
    seq_time, pool_speed = by[(SEQ.name, "time")], by[(POOL.name, "speedup")]
    # the whole host drifts: times see far less than speedups, which cancel it
    assert seq_time.visible > pool_speed.visible
    assert "run to run here" in seq_time.sentence()
    assert res.visibility()[0].startswith(tuple(p.name for p in POINTS))


def _rates(rng: np.random.Generator, sims: int, slow: float) -> tuple[float, float]:
    """Share of checks with any alarm, and of checks flagging the pool's speedup."""
    any_alarm = pool = 0
    level = 0.05 / 5  # 3 times + 2 speedups judged
    for _ in range(sims):
        host = rng.normal(0, 0.08, 11)
        own = rng.normal(0, 0.02, (11, 3))
        times = np.exp(np.log([0.040, 0.022, 0.041]) + host[:, None] + own)
        times[10, 1] *= slow
        speed = times[:, [0]] / times[:, 1:]
        any_alarm += any(history.predict(series[:10], series[10], 0.10, level).regressed
                         for series in (*times.T, *(1 / speed).T))
        pool += history.predict(1 / speed[:10, 0], 1 / speed[10, 0], 0.10, level).regressed
    return any_alarm / sims, pool / sims


def test_a_a_false_alarms_stay_under_alpha_and_a_scaling_regression_is_seen() -> None:
    rng = np.random.default_rng(6)
    false_alarms, _ = _rates(rng, 1500, 1.0)
    assert false_alarms <= 0.05
    _, detected = _rates(rng, 300, 1.25)
    assert detected >= 0.8


def test_cli_history_append_and_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(7)
    hist = tmp_path / "history.json"
    for i in range(6):
        assert main(["history", "append", str(hist),
                     str(write_run(tmp_path / f"r{i}", rng).parent)]) == 0
    same = write_run(tmp_path / "same", rng)
    slow = write_run(tmp_path / "slow", rng, slow={POOL: 2.0})
    md = tmp_path / "out" / "h.md"
    assert main(["check", "--history", str(hist), str(same)]) == 0
    assert main(["check", "--history", str(hist), str(slow), "--markdown", str(md),
                 "--junit", str(tmp_path / "h.xml")]) == 1
    out = capsys.readouterr().out
    assert "REGRESSED" in out
    assert "run to run here" in out
    assert "REGRESSED" in md.read_text()
    assert "<failure" in (tmp_path / "h.xml").read_text()


@pytest.mark.parametrize("argv", [
    ["check", "--history", "H.json", "a", "b"],
    ["check", "only-one-run"],
    ["history", "append", "H.json"],
    ["check", "--history", "missing.json", "x"],
])
def test_cli_mistakes_are_one_line_and_exit_2(tmp_path: Path, argv: list[str],
                                              capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("concbench: ")


def test_cli_history_honours_metric_and_fail_on_undecided(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(8)
    hist = tmp_path / "history.json"
    for i in range(6):
        main(["history", "append", str(hist), str(write_run(tmp_path / f"r{i}", rng).parent)])
    slow = write_run(tmp_path / "slow", rng, slow={POOL: 2.0})
    capsys.readouterr()
    # the pool's time and speedup both regressed: each --metric judges one figure of each
    for metric in ("time", "speedup"):
        junit = tmp_path / f"{metric}.xml"
        assert main(["check", "--history", str(hist), str(slow), "--metric", metric,
                     "--junit", str(junit)]) == 1
        figures = {c.split("(")[-1].rstrip(")") for c in
                   re.findall(r'testcase classname="[^"]*" name="([^"]*)"', junit.read_text())}
        assert figures == {metric}, (metric, figures)
    # a point the history cannot judge (other work: another size) is undecided
    other = write_run(tmp_path / "other", rng, size=3000.0)
    assert main(["check", "--history", str(hist), str(other)]) == 0
    assert main(["check", "--history", str(hist), str(other), "--fail-on-undecided"]) == 1
