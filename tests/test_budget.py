"""The run's time budget: the whole command, what is kept for the report, the revised end."""

from __future__ import annotations

import io
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from bench.measure import budget as budget_mod
from bench.measure import launch
from bench.measure import runner as runner_mod
from bench.measure.budget import FAST_TASK_S, REPORT_PER_POINT_S, REPORT_S, Budget, duration
from bench.results import store
from bench.scenarios.models import Point
from tests.factory import fake_child, quiet_probe
from tests.test_run import run_main


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(budget_mod.time, "monotonic", c)
    return c


@pytest.mark.parametrize(("seconds", "text"), [(0, "0 s"), (49.6, "50 s"), (165, "2 min 45 s"),
                                               (3600, "1 h 00 min"), (3725, "1 h 02 min")])
def test_duration(seconds: float, text: str) -> None:
    assert duration(seconds) == text


def test_the_report_and_the_closing_probe_are_kept_out_of_the_rounds(clock: Clock) -> None:
    b = Budget.for_run(clock.now, 180.0, points=84, probe_s=0.5)
    assert b.reserve == pytest.approx(2 * 0.5 + 0.5 + REPORT_S + REPORT_PER_POINT_S * 84)
    assert b.deadline == pytest.approx(clock.now + 180.0 - b.reserve)
    clock.now += 100.0
    assert b.left() == pytest.approx(80.0 - b.reserve)
    more = Budget.for_run(clock.now, 180.0, points=1000, probe_s=0.5)
    assert more.reserve > b.reserve  # a larger report takes longer to draw


def test_the_report_reserve_follows_the_hosts_speed(clock: Clock) -> None:
    b = Budget.for_run(clock.now, 180.0, points=84, probe_s=0.5)
    fast = b.reserve
    b.host_speed(2 * FAST_TASK_S)  # cores at half their fast speed: the report takes twice
    assert b.reserve == pytest.approx(fast + REPORT_S + REPORT_PER_POINT_S * 84)
    b.host_speed(0.5 * FAST_TASK_S)  # a faster host keeps the reserve measured here
    assert b.reserve == pytest.approx(fast)
    for bad in (0.0, math.nan, -1.0):
        b.host_speed(bad)
        assert b.reserve == pytest.approx(fast)


def test_the_children_readings_reach_the_budget(tmp_path: Path) -> None:
    """A real smoke group-round: the child's speed reading after its sweeps sets the budget's
    slowness (the runner's sweep passes its readings on)."""
    from bench.measure.config import RunConfig
    from bench.measure.progress import PlainProgress
    from bench.measure.runner import plan
    from bench.measure.sweep import PLANNED, Sweep
    from bench.scenarios.grid import GridSpec

    config = RunConfig(grid=GridSpec(profile="smoke", workloads=("sleep",),
                                     models=("sequential",)),
                       output_dir=str(tmp_path), name="speed", seed="s")
    planned = plan(config)
    sweep = Sweep(config, tmp_path, planned.interps, planned.points, planned.manifest(config),
                  [], PlainProgress(io.StringIO()))
    sweep.budget = Budget(time.monotonic(), 180.0, report=1.0, slowness=123.0)
    key = next(iter(sweep.grid))
    sweep.measure("one", 0, sweep.grid[key], PLANNED)
    (reading,) = {r[-1][0] for b in sweep.bench.values()
                  if (r := store.speed_readings(b.get_runs()[-1].get_metadata()))}
    assert sweep.budget.slowness == pytest.approx(max(1.0, reading / FAST_TASK_S))


def test_the_start_says_how_long_and_until_when(clock: Clock) -> None:
    text = Budget(clock.now, 165.0).announce(54)
    assert text.startswith("this run takes about 2 min 45 s, until about ")
    assert "54 planned group-rounds" in text


def test_a_revised_end_only_when_the_planned_rounds_will_overrun(clock: Clock) -> None:
    b = Budget(clock.now, 100.0, after=5.0)
    clock.now += 10.0  # 9 of 54 group-rounds in 10 s: 50 s more, 65 s in all: fits
    assert b.overrun(10.0, 9, 54) is None
    clock.now += 20.0  # 9 of 54 in 30 s: 150 s more: past the budget
    late = b.overrun(30.0, 9, 54)
    assert late is not None
    assert "after 3 min 05 s (no extra rounds)" in late
    assert b.overrun(30.0, 0, 54) is None
    assert b.overrun(30.0, 54, 54) is None


@pytest.mark.parametrize("value", ["-1", "nan", "inf"])
def test_a_bad_budget_is_a_usage_error(value: str, tmp_path: object) -> None:
    code, err = run_main("run", "--profile", "smoke", "--workloads", "sleep", "--models",
                         "sequential", "--budget", value, "--output-dir", str(tmp_path))
    assert code == 2
    assert err.strip().splitlines() == [
        f"concbench: --budget must be a finite number of seconds >= 0, got {float(value)}"]


def test_resume_cannot_change_the_budget(tmp_path: object) -> None:
    code, err = run_main("run", "--resume", str(tmp_path), "--budget", "60")
    assert code == 2
    assert "--budget cannot change it" in err


def _timed_children(monkeypatch: pytest.MonkeyPatch, clock: Clock, *, checks_s: float) -> None:
    """Children that take 1 s of the fake clock, plus ``checks_s`` checking results in a
    point's first round (reported as the child's ``verify`` phase, as a real child does).
    ``clock`` stands for ``time.monotonic`` everywhere meanwhile (see the fixture)."""

    def child(interp: Any, job: dict[str, Any], points: Sequence[Point], timeout: float,
              run_name: str = "", env: Any = None) -> Any:
        checked = checks_s if job["verify"] else 0.0
        clock.now += 1.0 + checked
        result = fake_child(interp, job, points, timeout, run_name)
        result.seconds, result.phases = 1.0 + checked, {"verify": checked, "main": 1.0 + checked}
        return result

    monkeypatch.setattr(launch, "run_child", child)
    monkeypatch.setattr(runner_mod.noise, "probe", quiet_probe)


@pytest.mark.parametrize(("budget_s", "warned"), [(200, False), (40, True)])
def test_the_revised_end_leaves_out_the_first_rounds_checks(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clock: Clock, budget_s: int,
        warned: bool) -> None:
    """One group, 6 planned rounds: 61 s for the first (60 s of checks) and 1 s each after,
    66 s in all.  Projected from the first round whole it would be 366 s; a budget of 200 s
    holds the rounds, one of 40 s does not."""
    _timed_children(monkeypatch, clock, checks_s=60.0)
    code, err = run_main("run", "--profile", "smoke", "--workloads", "sleep", "--models",
                         "sequential", "--tasks", "1", "--budget", str(budget_s),
                         "--no-metrics", "--no-report", "--output-dir", str(tmp_path),
                         "--name", "r")
    assert code == 0, err
    assert "this run takes about" in err
    assert ("the planned rounds need more than the budget" in err) == warned, err
