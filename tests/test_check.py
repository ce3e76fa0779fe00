"""The regression gate: statistics on synthetic samples, exit codes, Markdown, JUnit, bad input.

The gate's unit is the round: hand-made runs spread their values over rounds
(``make_benchmark(..., runs=R)``: one round per run) and the gate sees one
per-round median per round.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from bench.errors import UsageError
from bench.gate.check import check_runs, parse_slowdown
from bench.gate.check_report import run_check
from bench.gate.stats import (
    bh_adjust,
    gate,
    mann_whitney_greater,
    min_p_value,
    rounds_needed,
    slowdown_ci,
)
from bench.results import store
from bench.results.aggregate import load
from bench.scenarios.models import Point
from tests.factory import HOST, make_benchmark, write_results

SEQ = Point("cpu", "sequential", 4, size=1000.0)
POOL = Point("cpu", "process_pool", 4, workers=2, start_method="fork", size=1000.0)
THREADS = Point("cpu", "thread_pool", 4, workers=2, size=1000.0)
COLD = Point("cpu", "process_pool", 4, workers=2, start_method="fork", size=1000.0,
             metric="cold")
POINTS = (SEQ, POOL, THREADS, COLD)
BASE_S = {SEQ: 0.040, POOL: 0.022, THREADS: 0.041, COLD: 0.060}


def noisy(median: float, n: int, seed: int) -> list[float]:
    """``n`` lognormal values around ``median`` (3 % spread), reproducible."""
    rng = np.random.default_rng(seed)
    return list(median * np.exp(rng.normal(0.0, 0.03, n)))


def write_run(path: Path, *, seed: int, scale: dict[Point, float] | None = None,
              points: tuple[Point, ...] = POINTS, rounds: int = 8, per_round: int = 3,
              **host: object) -> Path:
    """A results file whose points have BASE_S medians times ``scale``, over ``rounds`` rounds."""
    scale = scale or {}
    benches = [make_benchmark(p, noisy(BASE_S[p] * scale.get(p, 1.0), rounds * per_round,
                                       seed + i),
                              runs=rounds, host={**HOST, **host})
               for i, p in enumerate(points)]
    return write_results(path, benches)


# ----------------------------------------------------------------- statistics
def test_mann_whitney_detects_a_shift() -> None:
    base, cur = np.array(noisy(1.0, 10, 1)), np.array(noisy(1.3, 10, 2))
    assert mann_whitney_greater(cur, base) < 1e-4
    assert mann_whitney_greater(base, cur) > 0.99


def test_mann_whitney_same_distribution_is_not_significant() -> None:
    assert mann_whitney_greater(np.array(noisy(1.0, 10, 3)), np.array(noisy(1.0, 10, 4))) > 0.01


def test_mann_whitney_unequal_sizes() -> None:
    p = mann_whitney_greater(np.array(noisy(1.3, 7, 5)), np.array(noisy(1.0, 15, 6)))
    assert p < 1e-3


def test_mann_whitney_ties() -> None:
    base = np.array([1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 2.0, 3.0])
    cur = np.array([3.0, 3.0, 3.0, 4.0, 4.0, 4.0, 4.0, 5.0, 5.0])
    p = mann_whitney_greater(cur, base)
    assert 0 < p < 1e-3
    assert mann_whitney_greater(base, base.copy()) > 0.4


def test_mann_whitney_constant_samples() -> None:
    assert mann_whitney_greater(np.ones(5), np.ones(8)) == 1.0
    with pytest.raises(ValueError, match="at least one"):
        mann_whitney_greater(np.array([]), np.ones(3))


def test_bh_adjust_matches_the_definition() -> None:
    p = [0.01, 0.04, 0.03, 0.20]
    # sorted: 0.01*4/1, 0.03*4/2, 0.04*4/3, 0.2*4/4, then running minimum from the top
    assert bh_adjust(p) == pytest.approx([0.04, 0.0533333, 0.0533333, 0.20], rel=1e-5)
    assert bh_adjust([]).size == 0


def test_slowdown_ci_covers_the_true_ratio_and_groups_by_shape() -> None:
    cur = {"a": np.array(noisy(1.5, 10, 7)), "b": np.array(noisy(2.0, 10, 8)),
           "c": np.array(noisy(1.0, 6, 9)), "one": np.array([2.0])}
    base = {"a": np.array(noisy(1.0, 10, 10)), "b": np.array(noisy(1.0, 10, 11)),
            "c": np.array(noisy(1.0, 12, 12)), "one": np.array([1.0, 1.0])}
    ci = slowdown_ci(cur, base)
    for name, true in (("a", 1.5), ("b", 2.0), ("c", 1.0)):
        assert ci[name][0] < true < ci[name][1]
    assert all(np.isnan(ci["one"]))  # one round gives no interval


def test_gate_flags_known_regressions_only() -> None:
    base = {f"p{i}": np.array(noisy(1.0, 10, 20 + i)) for i in range(10)}
    cur = {f"p{i}": np.array(noisy(1.0, 10, 40 + i)) for i in range(10)}
    cur["p3"] = np.array(noisy(1.3, 10, 60))   # a clear regression
    cur["p5"] = np.array(noisy(1.05, 10, 61))  # real, but under the threshold
    tests = {t.name: t for t in gate(cur, base, max_slowdown=0.10, alpha=0.002)}
    assert [n for n, t in tests.items() if t.regressed] == ["p3"]
    assert tests["p3"].verdict == "REGRESSED"
    assert 1.2 < tests["p3"].slowdown < 1.4
    assert tests["p3"].slowdown_low > 1.1
    assert not tests["p5"].regressed


def test_gate_needs_significance_not_just_a_big_ratio() -> None:
    base = {"x": np.array([1.0, 3.0, 1.2, 2.8, 1.1, 2.9, 1.3, 3.1])}
    cur = {"x": np.array([2.0, 4.0, 1.0, 3.0, 1.2, 3.2, 1.4, 3.3])}
    [t] = gate(cur, base, max_slowdown=0.10, alpha=0.002)
    assert t.slowdown > 1.1
    assert not t.underpowered
    assert not t.regressed
    assert t.verdict == "not significant"


def test_min_p_value_and_rounds_needed() -> None:
    assert min_p_value(3, 3) == pytest.approx(0.05)
    assert min_p_value(5, 5) == pytest.approx(1 / 252)
    assert min_p_value(0, 4) == 1.0
    assert rounds_needed(0.002) == 6
    assert rounds_needed(0.05) == 4
    # the exact test's smallest p-value is what min_p_value says
    assert mann_whitney_greater(np.array([4.0, 5, 6]), np.array([1.0, 2, 3])) == pytest.approx(
        min_p_value(3, 3))


def test_too_few_rounds_is_inconclusive_not_a_silent_pass() -> None:
    base, cur = {"x": np.array([1.0, 1.01, 0.99])}, {"x": np.array([2.0, 2.02, 1.98])}
    [t] = gate(cur, base, max_slowdown=0.10, alpha=0.002)
    assert t.slowdown == pytest.approx(2.0)
    assert t.underpowered
    assert t.inconclusive
    assert not t.regressed
    assert t.verdict == "inconclusive: too few rounds (3 vs 3) for alpha 0.002"
    # at an alpha the rounds can reach, the same numbers are tested (not underpowered)
    [t] = gate(cur, base, max_slowdown=0.10, alpha=0.06)
    assert not t.underpowered
    assert t.regressed


# ------------------------------------------------------------ parse_slowdown
@pytest.mark.parametrize(("text", "expected"), [
    ("10%", 0.10), ("0.1", 0.10), ("1.1x", 0.10), (" 25 % ", 0.25), ("0", 0.0),
    ("1x", 0.0), ("1.25X", 0.25), ("5e-2", 0.05), ("899%", 8.99),
])
def test_parse_slowdown(text: str, expected: float) -> None:
    assert parse_slowdown(text) == pytest.approx(expected)


@pytest.mark.parametrize("text", ["", "abc", "10%%", "-5%", "0.9x", "10x", "900%", "9",
                                  "nan", "inf", "1.1y"])
def test_parse_slowdown_refuses_junk(text: str) -> None:
    with pytest.raises(UsageError, match="--max-slowdown"):
        parse_slowdown(text)


# --------------------------------------------------------------- exit codes
def test_same_code_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = write_run(tmp_path / "a.json", seed=1), write_run(tmp_path / "b.json", seed=100)
    assert run_check(a, b) == 0
    out = capsys.readouterr().out
    assert "no regression in 4 points" in out
    # what two runs cannot tell, without a drift figure no run measured: the runs are
    # recorded ones of no particular host
    (limits,) = [line for line in out.splitlines() if line.startswith("limits:")]
    assert "check --history" in limits
    assert not re.search(r"\d+ ?[-\N{EN DASH}] ?\d+ ?%", limits), limits


def test_slower_run_fails_and_names_points(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    a = write_run(tmp_path / "a.json", seed=1)
    b = write_run(tmp_path / "b.json", seed=100, scale={POOL: 1.5, THREADS: 1.3})
    md, junit = tmp_path / "out" / "check.md", tmp_path / "out" / "check.xml"
    assert run_check(a, b, markdown=md, junit=junit) == 1
    assert "2 of 4 points regressed" in capsys.readouterr().out

    text = md.read_text()
    rows = [line for line in text.splitlines() if "REGRESSED" in line]
    assert len(rows) == 2
    assert any("process\\_pool\\[fork\\]" in r for r in rows)
    assert any("thread\\_pool" in r for r in rows)

    root = ET.parse(junit).getroot()
    suite = root.find("testsuite")
    assert suite is not None
    assert suite.get("tests") == "4"
    assert suite.get("failures") == "2"
    failed = {c.get("name") for c in suite.iter("testcase") if c.find("failure") is not None}
    assert failed == {POOL.name, THREADS.name}


def test_threshold_decides(tmp_path: Path) -> None:
    a = write_run(tmp_path / "a.json", seed=1)
    b = write_run(tmp_path / "b.json", seed=100, scale={POOL: 1.5})
    assert run_check(a, b, max_slowdown=0.6) == 0
    assert run_check(a, b, max_slowdown=0.2) == 1


def test_step_summary_is_appended(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    a = write_run(tmp_path / "a.json", seed=1)
    b = write_run(tmp_path / "b.json", seed=100, scale={POOL: 1.5})
    assert run_check(a, b) == 1
    text = summary.read_text()
    assert text.startswith("earlier step\n")
    assert "concbench check: 1 of 4 points regressed" in text


# ----------------------------------------------------- hosts and --metric speedup
def test_other_host_warns_and_speedup_cancels_machine_speed(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = write_run(tmp_path / "a.json", seed=1)
    slow_machine = dict.fromkeys(POINTS, 1.6)
    b = write_run(tmp_path / "b.json", seed=100, scale=slow_machine, host_usable_cores=4,
                  host_cpu_model="Slow CPU 1")
    md = tmp_path / "check.md"
    assert run_check(a, b, markdown=md) == 1
    err = capsys.readouterr().err
    assert "usable_cores: 2 vs 4" in err
    assert "--metric speedup" in err
    assert "--metric speedup" in md.read_text()
    assert run_check(a, b, metric="speedup") == 0


def test_speedup_drop_is_a_regression_and_skips_sequential_and_cold(tmp_path: Path) -> None:
    a = write_run(tmp_path / "a.json", seed=1)
    b = write_run(tmp_path / "b.json", seed=100, scale={POOL: 1.5})
    res = check_runs(load(a), load(b), metric="speedup")
    assert [t.name for t in res.regressed] == [POOL.name]
    assert set(res.skipped) == {SEQ.name, COLD.name}
    assert res.regressed[0].slowdown == pytest.approx(1.5, rel=0.1)


def test_fail_on_undecided_fails_the_inconclusive_points_in_junit_too(tmp_path: Path) -> None:
    a = write_run(tmp_path / "a.json", seed=1, rounds=2, per_round=30)
    b = write_run(tmp_path / "b.json", seed=100, rounds=2, per_round=30, scale={POOL: 1.5})
    junit = tmp_path / "c.xml"
    assert run_check(a, b, junit=junit, fail_on_undecided=True) == 1
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("4", "4", "0")
    assert run_check(a, b, junit=junit) == 0
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("failures"), suite.get("skipped")) == ("0", "4")


def test_unequal_round_counts(tmp_path: Path) -> None:
    a = write_run(tmp_path / "a.json", seed=1, rounds=12)
    b = write_run(tmp_path / "b.json", seed=100, rounds=6, scale={POOL: 1.5})
    res = check_runs(load(a), load(b))
    assert [t.name for t in res.regressed] == [POOL.name]
    assert {(t.n_base, t.n_cur) for t in res.tests} == {(12, 6)}


def test_the_unit_is_the_round_not_the_value(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    # 60 values per point but only 2 rounds each: a 50 % slowdown is plain in the values,
    # yet 2 vs 2 rounds cannot reach alpha; the gate says so instead of passing or failing
    a = write_run(tmp_path / "a.json", seed=1, rounds=2, per_round=30)
    b = write_run(tmp_path / "b.json", seed=100, rounds=2, per_round=30, scale={POOL: 1.5})
    md, junit = tmp_path / "c.md", tmp_path / "c.xml"
    assert run_check(a, b, markdown=md, junit=junit) == 0
    out = capsys.readouterr().out
    assert "no regression in 4 points, 4 inconclusive (too few rounds)" in out
    assert "inconclusive: too few rounds (2 vs 2) for alpha 0.002" in out
    assert "needs at least 6 vs 6" in out
    assert "too few rounds (2 vs 2)" in md.read_text()
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("4", "0", "4")
    res = check_runs(load(a), load(b))
    assert {(t.n_base, t.n_cur) for t in res.tests} == {(2, 2)}
    [pool] = [t for t in res.tests if t.name == POOL.name]
    assert pool.slowdown == pytest.approx(1.5, rel=0.05)


def test_speedup_pairs_each_point_with_its_baseline_in_the_same_round(tmp_path: Path) -> None:
    # the host drifts by up to 2x between rounds; the pool runs 0.5x the sequential time in
    # every round of the baseline and 0.75x in the current run: a 1.5x drop of the speedup.
    # Paired per round, the drift cancels; batch times alone cannot see it.
    def run(path: Path, pool_share: float, seed: int) -> Path:
        rng = np.random.default_rng(seed)
        drift = np.exp(rng.uniform(0.0, np.log(2.0), 8))
        seq, pool = [], []
        for f in drift:
            seq += noisy(0.040 * f, 3, int(rng.integers(1 << 30)))
            pool += noisy(0.040 * f * pool_share, 3, int(rng.integers(1 << 30)))
        return write_values(path, {SEQ: seq, POOL: pool}, runs=8)

    a, b = run(tmp_path / "a.json", 0.5, 1), run(tmp_path / "b.json", 0.75, 2)
    res = check_runs(load(a), load(b), metric="speedup")
    assert [t.name for t in res.regressed] == [POOL.name]
    assert res.regressed[0].slowdown == pytest.approx(1.5, rel=0.05)
    assert res.regressed[0].n_cur == 8


# ------------------------------------------------- points whose work differs
def test_smoke_sized_run_is_not_comparable_not_a_regression(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # a smoke run's tasks are 0.2x the size: its batches are ~5x faster (the current run
    # here) or its baseline ~5x faster; neither is a regression, both are "not comparable"
    small = {p: Point(p.workload, p.model, p.tasks, p.workers, p.start_method,
                      size=p.size * 0.2, metric=p.metric) for p in POINTS}
    full = write_run(tmp_path / "full.json", seed=1)
    smoke = write_values(tmp_path / "smoke.json", {
        small[SEQ]: noisy(0.008, 24, 3), small[POOL]: noisy(0.0045, 24, 4),
        THREADS: noisy(0.041, 24, 5)}, runs=8)
    md, junit = tmp_path / "c.md", tmp_path / "c.xml"
    assert run_check(smoke, full, markdown=md, junit=junit) == 0
    out = capsys.readouterr().out
    assert f"not comparable {SEQ.name}: task size 200 vs 1000 iterations" in out
    assert "no regression in 1 points, 2 not comparable (work differs)" in out
    res = check_runs(load(smoke), load(full))
    assert [t.name for t in res.tests] == [THREADS.name]
    assert res.not_comparable == {SEQ.name: "task size 200 vs 1000 iterations",
                                  POOL.name: "task size 200 vs 1000 iterations"}
    assert res.left_out == {"baseline": [], "current": [COLD.name]}
    assert "Not comparable (same name, different work" in md.read_text()
    cases = {c.get("name"): c for c in ET.parse(junit).getroot().iter("testcase")}
    skipped = cases[POOL.name].find("skipped")
    assert skipped is not None
    assert skipped.get("message") == "not comparable: task size 200 vs 1000 iterations"


def test_only_points_of_other_work_in_common(tmp_path: Path) -> None:
    big = Point("cpu", "sequential", 4, size=5000.0)
    a = write_values(tmp_path / "a.json", {SEQ: noisy(0.04, 24, 1)}, runs=8)
    b = write_values(tmp_path / "b.json", {big: noisy(0.2, 24, 2)}, runs=8)
    with pytest.raises(UsageError, match=r"no comparable point.*task size 1000 vs 5000"):
        run_check(a, b)


def test_left_out_points_are_listed(tmp_path: Path) -> None:
    a = write_run(tmp_path / "a.json", seed=1)
    b = write_run(tmp_path / "b.json", seed=100, points=(SEQ, POOL))
    junit, md = tmp_path / "j.xml", tmp_path / "c.md"
    assert run_check(a, b, junit=junit, markdown=md) == 0
    skipped = [c.get("name") for c in ET.parse(junit).getroot().iter("testcase")
               if c.find("skipped") is not None]
    assert sorted(skipped) == sorted([THREADS.name, COLD.name])
    assert "Only in the baseline" in md.read_text()


# ----------------------------------------------------------------- bad input
def test_missing_and_broken_files(tmp_path: Path) -> None:
    a = write_run(tmp_path / "a.json", seed=1)
    with pytest.raises(UsageError, match="no such file"):
        run_check(a, tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(UsageError, match="not valid JSON"):
        run_check(bad, a)


def test_no_common_point(tmp_path: Path) -> None:
    a = write_run(tmp_path / "a.json", seed=1, points=(SEQ,))
    b = write_run(tmp_path / "b.json", seed=2, points=(POOL,))
    with pytest.raises(UsageError, match="no point in common"):
        run_check(a, b)


def test_speedup_without_any_speedup_point(tmp_path: Path) -> None:
    a = write_run(tmp_path / "a.json", seed=1, points=(SEQ, COLD))
    with pytest.raises(UsageError, match="--metric time"):
        run_check(a, a, metric="speedup")


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"metric": "ram"}, "--metric"), ({"alpha": 0.0}, "--alpha"), ({"alpha": 1.5}, "--alpha"),
    ({"max_slowdown": -0.1}, "--max-slowdown"), ({"max_slowdown": float("nan")}, "--max-slowdown"),
])
def test_bad_options(tmp_path: Path, kwargs: dict[str, object], match: str) -> None:
    a = write_run(tmp_path / "a.json", seed=1)
    with pytest.raises(UsageError, match=match):
        run_check(a, a, **kwargs)  # type: ignore[arg-type]


def test_unwritable_output(tmp_path: Path) -> None:
    a = write_run(tmp_path / "a.json", seed=1)
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(UsageError, match="cannot write"):
        run_check(a, a, junit=blocker / "j.xml")


# ------------------------------------- noise-aware rule: CI low end, unstable points
def clustered(median: float, seed: int, spread: float = 0.15, rounds: int = 8) -> list[float]:
    """3 values per round from ``rounds`` rounds whose levels spread by ``spread``: unstable."""
    rng = np.random.default_rng(seed)
    levels = median * np.exp(rng.normal(0.0, spread, rounds))
    return [v for lv in levels for v in lv * np.exp(rng.normal(0.0, 0.01, 3))]


def test_gate_needs_the_ci_low_end_above_the_threshold() -> None:
    # ratio of medians 1.2 > 1.1, significant, but the values spread so widely that
    # the CI reaches below 1.1: slower, not a regression
    base = {"x": np.linspace(0.8, 1.2, 40)}
    cur = {"x": np.linspace(0.8, 1.6, 40)}
    [t] = gate(cur, base, max_slowdown=0.10, alpha=0.05)
    assert t.significant
    assert t.slowdown > 1.1 > t.slowdown_low
    assert not t.regressed
    assert not t.inconclusive
    assert t.verdict == "slower, CI overlaps threshold"


def test_gate_unstable_point_is_inconclusive_and_stable_one_regresses() -> None:
    base = {"swing": np.array(noisy(1.0, 10, 1)), "clear": np.array(noisy(1.0, 10, 2))}
    cur = {"swing": np.array(noisy(1.6, 10, 3)), "clear": np.array(noisy(1.3, 10, 4))}
    tests = {t.name: t for t in gate(cur, base, max_slowdown=0.10, alpha=0.002,
                                     unstable_base={"swing"})}
    assert tests["clear"].regressed
    assert tests["clear"].unstable_in == ""
    swing = tests["swing"]
    assert swing.significant
    assert swing.slowdown_low > 1.1
    assert not swing.regressed
    assert swing.inconclusive
    assert swing.unstable_in == "baseline"
    assert swing.verdict == "inconclusive: unstable point"


def write_values(path: Path, values: dict[Point, list[float]], runs: int = 8) -> Path:
    """A results file with the given values per point, split over ``runs`` rounds."""
    return write_results(path, [make_benchmark(p, v, runs=runs) for p, v in values.items()])


def test_clustered_run_shift_does_not_alarm(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    # POOL's rounds disagree by ~15 % in each run (unstable), and the current run sits
    # 60 % higher as a whole: the gate lists it as inconclusive instead of failing
    a = write_values(tmp_path / "a.json", {SEQ: noisy(0.04, 24, 1), POOL: clustered(0.02, 2)})
    b = write_values(tmp_path / "b.json", {SEQ: noisy(0.04, 24, 3), POOL: clustered(0.032, 4)})
    md, junit = tmp_path / "c.md", tmp_path / "c.xml"
    assert run_check(a, b, markdown=md, junit=junit) == 0
    out = capsys.readouterr().out
    assert "no regression in 2 points, 1 inconclusive (unstable)" in out
    assert f"inconclusive {POOL.name}" in out
    text = md.read_text()
    assert "inconclusive: unstable point" in text
    assert "| unstable in |" in text
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("2", "0", "1")
    [case] = [c for c in suite.iter("testcase") if c.get("name") == POOL.name]
    skipped = case.find("skipped")
    assert skipped is not None
    assert "inconclusive" in (skipped.get("message") or "")


def test_clear_regression_of_a_stable_point_still_fails(tmp_path: Path) -> None:
    a = write_values(tmp_path / "a.json", {SEQ: noisy(0.04, 24, 1), POOL: clustered(0.02, 2)})
    b = write_values(tmp_path / "b.json", {SEQ: noisy(0.052, 24, 3), POOL: clustered(0.02, 4)})
    res = check_runs(load(a), load(b))
    assert [t.name for t in res.regressed] == [SEQ.name]
    assert res.exit_code == 1
    assert not res.inconclusive


def test_noisy_run_is_named_in_the_warning_and_markdown(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = write_run(tmp_path / "base" / store.RESULTS, seed=1)
    b = write_run(tmp_path / "cur" / store.RESULTS, seed=100)
    store.write_manifest(tmp_path / "cur", {
        "format": 1, "name": "cur", "settings": {}, "status": "complete", "points": [],
        "noise": {"noisy": True, "reasons": ["other work kept 1.00 cores busy"]}})
    md = tmp_path / "c.md"
    assert run_check(a.parent, b, markdown=md) == 0
    err = capsys.readouterr().err
    assert "the current run was measured on a noisy host (other work kept 1.00 cores busy)" in err
    assert "baseline run" not in err
    assert "> **Warning:** the current run was measured on a noisy host" in md.read_text()
