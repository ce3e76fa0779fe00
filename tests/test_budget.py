"""The run's time budget: the whole command, what is kept for the report, the revised end."""

from __future__ import annotations

import pytest

from bench.measure import budget as budget_mod
from bench.measure.budget import REPORT_PER_POINT_S, REPORT_S, Budget, duration
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


def test_the_start_says_how_long_and_until_when(clock: Clock) -> None:
    text = Budget(clock.now, 165.0).announce(54)
    assert text.startswith("this run takes about 2 min 45 s, until about ")
    assert "54 planned group-rounds" in text


def test_a_revised_end_only_when_the_planned_rounds_will_overrun(clock: Clock) -> None:
    b = Budget(clock.now, 100.0, reserve=5.0)
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
