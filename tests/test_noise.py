"""A noisy host is flagged (bench.measure.noise): run.json, the report, check."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import uuid
from html import unescape
from pathlib import Path
from typing import Any

import pyperf
import pytest

from bench import cli
from bench.measure import host, launch, noise, runner, speed
from bench.results import store
from bench.scenarios.grid import PROFILES
from bench.scenarios.models import Point
from tests.factory import fake_child, make_benchmark, quiet_probe, write_results


def probe_(calibration: float = 1e-3, busy: float = 0.0, load: float = 0.1) -> dict[str, float]:
    return {"load1": load, "busy_cores": busy, "calibration_s": calibration}


# ------------------------------------------------------------------ assess
@pytest.mark.parametrize(("after_cal", "noisy"), [
    (1.20e-3, True), (0.80e-3, True), (1.11e-3, True), (0.89e-3, True),
    (1.09e-3, False), (0.91e-3, False), (1.00e-3, False),
])
def test_calibration_drift(after_cal: float, noisy: bool) -> None:
    out = noise.assess(probe_(1e-3), probe_(after_cal))
    assert out["noisy"] is noisy
    assert len(out["reasons"]) == int(noisy)
    assert out["calibration_drift"] == pytest.approx((after_cal - 1e-3) / 1e-3, abs=1e-4)
    if noisy:
        assert "calibration" in out["reasons"][0]
        assert f"{(after_cal - 1e-3) / 1e-3:+.0%}" in out["reasons"][0]


@pytest.mark.parametrize(("before", "after", "whens"), [
    (0.0, 0.0, []),
    (0.24, 0.2, []),
    (0.5, 0.1, ["before"]),
    (0.1, 0.3, ["after"]),
    (1.5, 0.9, ["before", "after"]),
])
def test_busy_cores(before: float, after: float, whens: list[str]) -> None:
    out = noise.assess(probe_(busy=before, load=1.25), probe_(busy=after, load=2.5))
    assert out["noisy"] is bool(whens)
    assert len(out["reasons"]) == len(whens)
    for reason, when in zip(out["reasons"], whens, strict=True):
        assert f"{when} the run" in reason
        assert "load average" in reason


def test_drift_and_busy_together() -> None:
    out = noise.assess(probe_(1e-3, busy=0.9), probe_(2e-3, busy=0.9))
    assert out["noisy"] is True
    assert len(out["reasons"]) == 3
    assert out["before"]["busy_cores"] == 0.9
    assert out["after"]["calibration_s"] == 2e-3


def test_quiet_host() -> None:
    before, after = probe_(1e-3, 0.01), probe_(1.02e-3, 0.02)
    out = noise.assess(before, after)
    assert out == {"noisy": False, "reasons": [], "before": before, "after": after,
                   "calibration_drift": 0.02}
    json.dumps(out)  # stored in run.json


def test_zero_calibration_does_not_crash() -> None:
    out = noise.assess(probe_(0.0), probe_(1e-3))
    assert out["calibration_drift"] == 0.0


# ----------------------------------------------------------- /proc/stat
def _stat(per_cpu: list[tuple[float, float]]) -> str:
    """A /proc/stat text: per CPU (busy, idle) jiffies, the aggregate line first."""
    busy, idle = sum(b for b, _ in per_cpu), sum(i for _, i in per_cpu)
    lines = [f"cpu  {busy:.0f} 0 0 {idle:.0f} 0 0 0 0 0 0"]
    lines += [f"cpu{n} {b:.0f} 0 0 {i:.0f} 0 0 0 0 0 0" for n, (b, i) in enumerate(per_cpu)]
    return "\n".join([*lines, "intr 12345", ""])


def test_cpu_times_per_cpu_from_sample(tmp_path: Path) -> None:
    stat = tmp_path / "stat"
    stat.write_text("cpu  100 5 45 800 50 0 0 0 0 0\n"
                    "cpu0 50 2 20 400 25 0 0 0 0 0\ncpu1 50 3 25 400 25 0 0 0 0 0\n"
                    "intr 12345\n")
    # all but idle and iowait is busy
    assert noise._cpu_times(None, stat) == {0: (72.0, 497.0), 1: (78.0, 503.0)}
    assert noise._cpu_times({1}, stat) == {1: (78.0, 503.0)}


def test_cpu_times_without_iowait(tmp_path: Path) -> None:
    stat = tmp_path / "stat"
    stat.write_text("cpu  10 0 10 80\ncpu0 10 0 10 80\n")
    assert noise._cpu_times(None, stat) == {0: (20.0, 100.0)}


@pytest.mark.parametrize("text", [None, "", "cpu  10 0 10 80\n"])
def test_cpu_times_absent(tmp_path: Path, text: str | None) -> None:
    stat = tmp_path / "stat"
    if text is not None:
        stat.write_text(text)
    assert noise._cpu_times(None, stat) is None


def _watch(monkeypatch: pytest.MonkeyPatch, stat: Path, before: list[tuple[float, float]],
           after: list[tuple[float, float]], affinity: set[int], quota: float | None) -> float:
    """busy_cores over a window in which /proc/stat goes from ``before`` to ``after``."""
    stat.write_text(_stat(before))
    monkeypatch.setattr(noise.time, "sleep", lambda s: stat.write_text(_stat(after)))
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: affinity)
    monkeypatch.setattr(noise.host, "cgroup_quota", lambda: quota)
    return noise.busy_cores(window=0.5, stat=stat)


def test_busy_cores_count_only_the_cores_this_run_may_use(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A large host busy elsewhere is no noise for a run confined to two of its cores."""
    before = [(0.0, 1000.0)] * 8
    after = [(0.0, 1100.0)] * 2 + [(100.0, 1000.0)] * 6  # CPUs 2-7 fully busy
    assert _watch(monkeypatch, tmp_path / "stat", before, after, {0, 1}, None) == 0.0
    assert _watch(monkeypatch, tmp_path / "stat", before, after, {0, 1, 2}, None) \
        == pytest.approx(1.0)


def test_busy_cores_scale_a_cgroup_quota_down_to_the_usable_cores(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = [(0.0, 1000.0)] * 8
    after = [(50.0, 1050.0)] * 8  # other work keeps every CPU half busy: 4 cores in all
    assert _watch(monkeypatch, tmp_path / "stat", before, after, set(range(8)), None) \
        == pytest.approx(4.0)
    # a quota of 2 CPUs: C = 2, and the share of the host busy elsewhere scales to it
    assert _watch(monkeypatch, tmp_path / "stat", before, after, set(range(8)), 2.0) \
        == pytest.approx(1.0)


@pytest.mark.parametrize("samples", [[None, None], [{0: (1.0, 10.0)}, {0: (1.0, 10.0)}],
                                     [{0: (5.0, 20.0)}, {0: (1.0, 10.0)}]])
def test_busy_cores_degenerate(monkeypatch: pytest.MonkeyPatch, samples: list[Any]) -> None:
    it = iter(samples)
    monkeypatch.setattr(noise, "_cpu_times", lambda cpus, stat: next(it))
    assert noise.busy_cores(window=0) == 0.0


def test_probe_records_the_load_average(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "getloadavg", lambda: (1.234, 9.0, 9.0))
    assert noise.probe(0.0)["load1"] == 1.23


def test_probe_is_sane() -> None:
    p = noise.probe()
    assert set(p) == {"load1", "busy_cores", "usable_cores", "calibration_s"}
    assert p["usable_cores"] == host.usable_cores(host.affinity_count(), host.cgroup_quota())
    assert all(isinstance(v, float) and math.isfinite(v) for v in p.values())
    assert 0 <= p["busy_cores"] <= (os.cpu_count() or 1) + 0.5
    assert p["calibration_s"] > 0


def test_calibration_reads_the_fast_level_of_a_cpu_whose_speed_flips(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A core that runs the task in 1.0 ms or, in bursts, 1.45 ms reads 1.0 ms however the
    bursts fall (a median reads the level the bursts make commoner)."""
    fast, slow = 1.0e-3, 1.45e-3
    for share_slow in (0.0, 0.3, 0.6, 0.85):
        n = 200
        times = [slow] * int(share_slow * n) + [fast] * (n - int(share_slow * n))
        monkeypatch.setattr(noise.speed, "task_times", lambda window, t=times: list(t))
        assert noise.calibrate(warmup=0.0) == fast
    monkeypatch.setattr(noise.speed, "task_times", lambda window: [slow] * 200)
    assert noise.calibrate(warmup=0.0) == slow  # a CPU slow all along reads slow


def test_calibration_warms_up_before_it_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[float] = []  # the windows the fixed task ran for, in order
    monkeypatch.setattr(noise.speed, "task_times",
                        lambda window: asked.append(window) or [float(len(asked))])
    assert noise.calibrate(warmup=0.05, window=0.25) == 2.0  # the first core's reading
    cores = max(1, len(noise.speed.cores()))
    assert asked == [0.05] + [pytest.approx(0.25 / cores)] * cores  # the window shared out


def test_calibration_reads_the_fastest_core(monkeypatch: pytest.MonkeyPatch) -> None:
    """One core slow all along (another tenant beside it), the other fast: the fast one."""
    fast, slow = 1.0e-3, 1.45e-3
    level = {"now": fast}

    def each(read: Any) -> list[float]:
        out = []
        for lv in (slow, fast, slow):
            level["now"] = lv
            out.append(read())
        return out

    monkeypatch.setattr(noise.speed, "on_each_core", each)
    monkeypatch.setattr(noise.speed, "task_times", lambda window: [level["now"]] * 50)
    assert noise.calibrate(warmup=0.0) == fast


def test_probe_watches_for_the_seconds_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr(noise.time, "sleep", slept.append)
    noise.busy_cores(0.2)
    assert slept == [0.2]


def test_a_run_probes_for_its_profiles_seconds(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[float] = []

    def probe(seconds: float = noise.PROBE_S) -> dict[str, float]:
        asked.append(seconds)
        return quiet_probe()

    monkeypatch.setattr(launch, "run_child", fake_child)
    monkeypatch.setattr(runner.noise, "probe", probe)
    code = cli.main(["run", "--profile", "smoke", "--workloads", "cpu", "--models", "sequential",
                     "--tasks", "4", "--sizes", "100", "--output-dir", str(tmp_path),
                     "--name", "p", "-q", "--no-report"])
    assert code == 0
    assert asked == [PROFILES["smoke"].probe_s] * 2
    # smoke checks the wiring in seconds; the profiles whose numbers are read watch longer
    assert PROFILES["smoke"].probe_s < noise.PROBE_S
    assert PROFILES["quick"].probe_s == PROFILES["full"].probe_s == noise.PROBE_S


# ------------------------------------------------------ a real run's record
@pytest.fixture(scope="module")
def real_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("noise")
    name = f"noise-{uuid.uuid4().hex[:10]}"
    env = {k: v for k, v in os.environ.items() if k != "CONCBENCH_FAULT"}
    res = subprocess.run(
        [sys.executable, "-m", "bench", "run", "--profile", "smoke", "--workloads", "cpu",
         "--models", "sequential", "--work-scale", "0.2", "--output-dir", str(out),
         "--name", name, "-q", "--no-report"],
        cwd=out, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert res.returncode == 0, res.stderr
    return out / name


@pytest.mark.slow
def test_run_records_noise(real_run: Path) -> None:
    manifest = json.loads((real_run / store.MANIFEST).read_text())
    rec = manifest["noise"]
    assert isinstance(rec["noisy"], bool)
    assert rec["noisy"] == bool(rec["reasons"])
    for when in ("before", "after"):
        assert set(rec[when]) == {"load1", "busy_cores", "usable_cores", "calibration_s"}
        assert rec[when]["calibration_s"] > 0
    # every round's child read the host's speed just before and just after its sweeps
    suite = pyperf.BenchmarkSuite.load(str(real_run / store.RESULTS))
    runs = [r.get_metadata() for b in suite.get_benchmarks() for r in b.get_runs()
            if "probe" not in b.get_metadata()]  # the time benchmarks, not the metrics'
    assert runs
    assert all(m[f"speed_{w}_s"] > 0 and m[f"speed_{w}_spread"] >= 1.0
               for m in runs for w in ("start", "end"))
    # and which core gave which time, the cores the child read
    assert all(speed.core_seconds(m, w) for m in runs for w in ("start", "end"))
    children = {(m["date"], m["round"], *(m[f"speed_{w}_{k}"] for w in ("start", "end")
                                          for k in ("s", "spread"))) for m in runs}
    assert rec["speed_readings"] == 2 * len(children) >= noise.MIN_SPEED_READINGS
    readings = noise.round_readings(suite.get_benchmarks())
    assert len(readings) == rec["speed_readings"]
    # the verdict follows the probes and the rounds' readings
    assert rec == noise.assess(rec["before"], rec["after"], readings)


# ------------------------------------------- the verdict reaches report and check
SEQ = Point("cpu", "sequential", 4, size=2000.0)
POOL = Point("cpu", "process_pool", 4, 2, "fork", 2000.0)
REASON = "other work kept 1.50 cores busy before the run (load average 3.10)"


def noisy_run_dir(path: Path, noisy: bool = True) -> Path:
    write_results(path / store.RESULTS, [make_benchmark(SEQ, [1e-3, 1.01e-3, 0.99e-3] * 2),
                                         make_benchmark(POOL, [6e-4, 6.1e-4, 5.9e-4] * 2)])
    verdict = noise.assess(probe_(busy=1.5 if noisy else 0.0, load=3.1), probe_())
    manifest = {"format": 1, "name": path.name, "settings": {}, "status": "complete",
                "points": [], "noise": verdict}
    store.write_manifest(path, manifest)
    return path


def test_report_says_noisy(tmp_path: Path) -> None:
    run_dir = noisy_run_dir(tmp_path / "noisy")
    assert cli.main(["report", str(run_dir), "-o", str(tmp_path / "rep")]) == 0
    html = (tmp_path / "rep" / "index.html").read_text()
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "noisy" in html
    assert REASON in html
    assert "noisy" in md


def test_report_quiet_run_has_no_warning(tmp_path: Path) -> None:
    run_dir = noisy_run_dir(tmp_path / "quiet", noisy=False)
    assert cli.main(["report", str(run_dir), "-o", str(tmp_path / "rep")]) == 0
    html = (tmp_path / "rep" / "index.html").read_text()
    assert "The host was noisy" not in html
    assert REASON not in html


def test_report_says_what_its_intervals_cover(tmp_path: Path) -> None:
    """The Precision section: the times' intervals hold at the host's speed the run read
    (its readings' 10th to 90th percentiles, from run.json), speedups across moments."""
    run_dir = noisy_run_dir(tmp_path / "run", noisy=False)
    speeds = [noise.Reading((10 + i) * 1e-4, 1.05) for i in range(noise.MIN_SPEED_READINGS + 10)]
    manifest = store.read_manifest(run_dir)
    manifest["noise"] = noise.assess(probe_(), probe_(), speeds)
    store.write_manifest(run_dir, manifest)
    fast, slow, _ = noise.speed_spread([r.seconds for r in speeds]) or (0.0, 0.0, 0.0)
    said = (f"its median core ran a fixed task in {fast * 1e3:.2f}\N{EN DASH}{slow * 1e3:.2f} "
            f"ms, 10th to 90th percentile of {len(speeds)} readings")
    assert cli.main(["report", str(run_dir), "-o", str(tmp_path / "rep")]) == 0
    html = unescape((tmp_path / "rep" / "index.html").read_text())
    md = (tmp_path / "rep" / "report.md").read_text()
    for page in (html, md):
        assert "hold at the host's speed during the run" in page
        assert said in page
        assert "the speedups, each model paired with its baseline in the same rounds" in page
    # a run without the readings says what the intervals cover, without a speed
    bare = noisy_run_dir(tmp_path / "bare", noisy=False)
    assert cli.main(["report", str(bare), "-o", str(tmp_path / "rep2")]) == 0
    html = unescape((tmp_path / "rep2" / "index.html").read_text())
    assert "hold at the host's speed during the run. A run at another moment" in html
    assert "10th to 90th percentile" not in html


@pytest.mark.parametrize("which", ["baseline", "current"])
def test_check_says_noisy(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                          which: str) -> None:
    base = noisy_run_dir(tmp_path / "base", noisy=which == "baseline")
    cur = noisy_run_dir(tmp_path / "cur", noisy=which == "current")
    code = cli.main(["check", str(base), str(cur)])
    cap = capsys.readouterr()
    assert code == 0, cap.err
    assert "noisy" in (cap.out + cap.err).lower(), "check does not say the run was noisy"


def test_check_quiet_runs_not_flagged(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = noisy_run_dir(tmp_path / "base", noisy=False)
    cur = noisy_run_dir(tmp_path / "cur", noisy=False)
    assert cli.main(["check", str(base), str(cur)]) == 0
    cap = capsys.readouterr()
    assert "noisy" not in (cap.out + cap.err).lower()
