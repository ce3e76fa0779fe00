"""The report of a run in progress: redraws one at a time, at idle priority, saying how far."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pyperf
import pytest

from bench.measure import live
from bench.report import live as drawer
from bench.report.status import progress_text, run_status
from bench.results import store
from bench.scenarios.models import Point
from tests.factory import make_benchmark, write_results
from tests.test_run import GRID, run_main


def test_a_live_report_is_kept_when_asked_or_when_the_run_is_long() -> None:
    assert live.wanted(None, live.AUTO_MIN_BUDGET_S)
    assert not live.wanted(None, 150.0)
    assert live.wanted(True, 0.0)
    assert not live.wanted(False, 3600.0)


def test_one_redraw_at_a_time_and_stop_ends_it(tmp_path: Path) -> None:
    # a stand-in drawer that takes a while: `python -c ...` ignores the module arguments
    slow = tmp_path / "slow.py"
    slow.write_text("import time; time.sleep(30)\n", encoding="utf-8")
    report = live.LiveReport(tmp_path, python=sys.executable)
    report.python = sys.executable
    started = []
    real_popen = live.subprocess.Popen

    def popen(cmd: list[str], **kw: object) -> object:
        started.append(cmd)
        return real_popen([sys.executable, str(slow)], **kw)  # type: ignore[call-overload]

    live.subprocess.Popen = popen  # type: ignore[assignment,misc]
    try:
        assert report.update()
        assert not report.update()  # still drawing: skipped, not queued
        assert report.busy()
        proc = report.proc
        assert proc is not None
        assert os.getpgid(proc.pid) == proc.pid
        report.stop()
        assert proc.returncode is not None
        assert not report.busy()
        assert report.update(at_most_every=60.0) is False  # began less than 60 s ago
        report.last -= 61.0
        assert report.update(at_most_every=60.0)
        report.stop()
    finally:
        live.subprocess.Popen = real_popen  # type: ignore[misc]
    assert started[0][1:3] == ["-m", "bench.report.live"]
    assert started[0][3] == str(tmp_path)
    assert report.started == 2


def test_the_drawer_moves_to_the_idle_class() -> None:
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through its exit code
        got = drawer.idle_priority()
        ok = (os.sched_getscheduler(0) == os.SCHED_IDLE if got == "SCHED_IDLE"
              else os.nice(0) >= 19 if got == "nice 19" else False)
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


@pytest.mark.parametrize(("progress", "says"), [
    ({"group_rounds_done": 27, "planned_group_rounds": 54, "planned_rounds": 6,
      "extra_group_rounds": 0, "updated": "2026-12-03 08:41:02"},
     "27 of 54 planned group-rounds done (round 4 of 6); results as of 2026-12-03 08:41:02"),
    ({"group_rounds_done": 54, "planned_group_rounds": 54, "planned_rounds": 6,
      "extra_group_rounds": 7, "updated": "x"},
     "all 54 planned group-rounds done, 7 extra so far"),
])
def test_progress_in_words(progress: dict[str, object], says: str) -> None:
    assert says in progress_text(progress)


@pytest.mark.parametrize("bad", [None, {}, {"group_rounds_done": "x"}, [1, 2]])
def test_progress_that_cannot_be_read_says_nothing(bad: object) -> None:
    assert progress_text(bad) == ""


@pytest.mark.slow
@pytest.mark.alone  # the redraws run in the idle scheduling class: a busy host starves them
def test_a_live_run_redraws_its_page_after_each_round(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A real smoke run with --live-report: real redraws, each let finish before the next."""
    pages: list[str] = []

    class Waiting(live.LiveReport):
        def update(self, *, at_most_every: float = 0.0) -> bool:
            if self.proc is not None:
                self.proc.wait(timeout=120)  # let the last redraw finish, then read its page
                pages.append((self.run_dir / "index.html").read_text(encoding="utf-8"))
            return super().update(at_most_every=at_most_every)

    monkeypatch.setattr(live, "LiveReport", Waiting)
    code, err = run_main("run", *GRID, "--no-metrics", "--output-dir", str(tmp_path),
                         "--name", "r",
                         "--no-report", "--live-report")
    assert code == 0, err
    run_dir = tmp_path / "r"
    assert len(pages) == 6 - 1  # one redraw per planned round; the last one is stopped
    seen = []
    for k, page in enumerate(pages, 1):
        assert page.rstrip().endswith("</html>")
        # a redraw reads the results when it gets to run: at least the rounds that asked for it
        found = re.search(r"Still measuring: (\d+ of|all) 6 planned group-rounds done", page)
        assert found is not None, page[:2000]
        seen.append(6 if found.group(1) == "all" else int(found.group(1).split()[0]))
        assert seen[-1] >= k
    assert seen == sorted(seen)
    assert not (run_dir / drawer.DRAFT).exists() or not any((run_dir / drawer.DRAFT).iterdir())
    manifest = store.read_manifest(run_dir)
    assert manifest["status"] == "complete"
    assert manifest["progress"]["group_rounds_done"] == 6


@pytest.mark.slow
def test_a_redraw_of_a_running_run_says_it_is_running(tmp_path: Path) -> None:
    code, err = run_main("run", *GRID, "--no-metrics", "--output-dir", str(tmp_path),
                         "--name", "r",
                         "--no-report")
    assert code == 0, err
    run_dir = tmp_path / "r"
    manifest = store.read_manifest(run_dir)
    manifest["status"] = "running"
    manifest["progress"] = {"group_rounds_done": 2, "planned_group_rounds": 6,
                            "planned_rounds": 6, "extra_group_rounds": 0, "updated": "now"}
    store.write_manifest(run_dir, manifest)
    assert "2 of 6 planned group-rounds" in run_status(run_dir / store.RESULTS).progress
    index = drawer.redraw(run_dir)
    html = index.read_text(encoding="utf-8")
    assert 'id="live-progress"' in html
    assert "2 of 6 planned group-rounds done" in html
    assert "Still measuring" in (run_dir / "report.md").read_text(encoding="utf-8")
    assert not (run_dir / drawer.DRAFT).exists()



def _session(sid: int) -> list[int]:
    """Processes of session ``sid`` that still run (zombies do not count)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            stat = (proc / "stat").read_text() if proc.name.isdigit() else ""
        except OSError:
            continue
        fields = stat.rpartition(")")[2].split()
        if fields and int(fields[3]) == sid and fields[0] not in ("Z", "X"):
            found.append(int(proc.name))
    return found


def _many_points() -> list[pyperf.Benchmark]:
    """A run of 20 points, four rounds each: a redraw's charts take seconds."""
    points = [Point("cpu", "sequential", t, size=5e4) for t in (1, 2, 4, 8)] + [
        Point("cpu", model, t, w, sm, 5e4) for t in (1, 2, 4, 8) for w in (1, 2)
        for model, sm in (("process_pool", "fork"), ("thread_pool", None))]
    return [make_benchmark(p, [0.10, 0.11, 0.09, 0.10], runs=4) for p in points]


def _drawing(sid: int, still: Callable[[], bool]) -> None:
    """Wait until the redraw leading session ``sid`` has forked its drawers."""
    deadline = time.monotonic() + 60
    while len(_session(sid)) < 3:  # the redraw, its chart server, a drawer
        assert still(), "the redraw ended before it forked its drawers"
        assert time.monotonic() < deadline, "the redraw never forked its drawers"
        time.sleep(0.01)


def _redraw_drawing(run_dir: Path) -> tuple[live.LiveReport, int]:
    """A redraw of a many-point run, once its drawers are drawing, and its session's id (its
    own pid: the server and the drawers inherit the session)."""
    write_results(run_dir / store.RESULTS, _many_points())
    report = live.LiveReport(run_dir)
    assert report.update()
    assert report.proc is not None
    _drawing(report.proc.pid, report.busy)
    return report, report.proc.pid


def _assert_gone(sid: int, run_dir: Path) -> None:
    """For 2 s: no process of session ``sid`` runs and nothing draws into the draft folder."""
    watch = time.monotonic() + 2
    while True:
        left, recreated = _session(sid), (run_dir / live.DRAFT).exists()
        if left or recreated or time.monotonic() > watch:
            break
        time.sleep(0.02)
    for pid in left:  # never leave them to the other engineers' measurements
        os.kill(pid, signal.SIGKILL)
    assert not left, f"processes of the stopped redraw still run: {left}"
    assert not recreated, f"{live.DRAFT}/ was drawn into after the redraw was stopped"


@pytest.mark.slow
@pytest.mark.alone  # the redraw runs in the idle scheduling class: a busy host starves it
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc (Linux)")
def test_stopping_a_redraw_ends_its_chart_server_and_drawers(tmp_path: Path) -> None:
    report, sid = _redraw_drawing(tmp_path)
    report.stop()
    _assert_gone(sid, tmp_path)


@pytest.mark.slow
@pytest.mark.alone
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc (Linux)")
def test_a_killed_redraw_takes_its_chart_server_and_drawers_along(tmp_path: Path) -> None:
    report, sid = _redraw_drawing(tmp_path)
    report.proc.kill()  # the redraw alone, as the OOM killer would: its server sees it go
    report.proc.wait()
    deadline = time.monotonic() + 1  # a drawer's chart takes longer than the server's exit
    while _session(sid) and time.monotonic() < deadline:
        time.sleep(0.01)
    report.stop()
    _assert_gone(sid, tmp_path)


def _redraw_of(pid: int) -> int | None:
    """The live redraw ``pid`` started, if one is drawing."""
    for proc in Path("/proc").iterdir():
        try:
            if (proc.name.isdigit() and b"bench.report.live" in (proc / "cmdline").read_bytes()
                    and int((proc / "stat").read_text().rpartition(")")[2].split()[1]) == pid):
                return int(proc.name)
        except OSError:
            continue
    return None


@pytest.mark.slow
@pytest.mark.alone
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc (Linux)")
def test_an_interrupted_run_ends_its_redraw(tmp_path: Path) -> None:
    run = subprocess.Popen([sys.executable, "-m", "bench", "run", *GRID, "--no-metrics",
                            "--output-dir", str(tmp_path), "--name", "r", "--no-report",
                            "--live-report"], stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while (sid := _redraw_of(run.pid)) is None:
            assert run.poll() is None, "the run ended before it redrew its page"
            assert time.monotonic() < deadline, "the run never redrew its page"
            time.sleep(0.01)
        _drawing(sid, lambda: run.poll() is None)
        run.send_signal(signal.SIGTERM)
        assert run.wait(timeout=60) == 130
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    _assert_gone(sid, tmp_path / "r")
