"""A failing point is isolated, nothing measured is lost.

Real runs (marked slow) inject each fault of ``bench.measure.faults.inject_fault``
through ``CONCBENCH_FAULT`` into one point of a two-point grid, interrupt a
real sweep with SIGINT/SIGTERM, and finish each run with ``--resume``.
In-process tests (fast) replace the measured child with hand-made
benchmarks to hit the narrow windows a real signal rarely lands in.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from bench import cli
from bench.measure import launch, runner, sweep
from bench.results import store
from bench.scenarios.models import Point
from tests.factory import fake_child, make_benchmark, quiet_probe, write_results

SEQ = "cpu/sequential/t4"
POOL = "cpu/process_pool[fork]/t4/w2"
GRID = ["--profile", "smoke", "--workloads", "cpu", "--models", "sequential,process_pool",
        "--work-scale", "0.2", "--no-metrics"]  # faults in timing; the metrics' own: test_metrics
#: Six points (three sequential, three pool): long enough to interrupt in the middle.
LONG_GRID = [*GRID, "--tasks", "2,4,8"]


# ----------------------------------------------------------------- helpers
def _env(fault: str | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("CONCBENCH_FAULT", None)
    if fault:
        env["CONCBENCH_FAULT"] = fault
    return env


def concbench(args: list[str], cwd: Path, fault: str | None = None,
              timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``python -m bench ARGS`` in a subprocess."""
    return subprocess.run([sys.executable, "-m", "bench", *args], cwd=cwd, env=_env(fault),
                          capture_output=True, text=True, timeout=timeout, check=False)


def unique(prefix: str) -> str:
    """A run name no other run on this host has (other engineers measure here too)."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def our_children(run_name: str) -> list[int]:
    """Live processes of our run: round children, pool workers, forkserver servers.

    Every one of them inherits ``CONCBENCH_RUN=<run name>`` in its environment
    (the run names are unique); zombies have no environment and do not count.
    """
    tag = f"CONCBENCH_RUN={run_name}".encode()
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if tag in (proc / "environ").read_bytes().split(b"\0"):
                pids.append(int(proc.name))
        except OSError:
            continue
    return pids


def assert_no_children(run_name: str) -> None:
    deadline = time.monotonic() + 5
    while our_children(run_name) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = our_children(run_name)
    for pid in left:  # never leave them to the other engineers' measurements
        os.kill(pid, signal.SIGKILL)
    assert not left, f"child processes of {run_name} left running: {left}"


def values_by_name(path: Path) -> dict[str, list[float]]:
    """Each point's values (its metrics' ``NAME:metric`` benchmarks left out)."""
    suite = store.load_results(path)
    return {b.get_name(): list(b.get_values()) for b in suite.get_benchmarks()
            if "probe" not in b.get_metadata()}


def manifest(run_dir: Path) -> dict[str, Any]:
    data = json.loads((run_dir / store.MANIFEST).read_text())
    assert isinstance(data, dict)
    return data


def statuses(run_dir: Path) -> dict[str, str]:
    return {p["name"]: p["status"] for p in manifest(run_dir)["points"]}


def resume_and_check(run_dir: Path, cwd: Path, before: dict[str, list[float]]) -> None:
    """``--resume`` measures what is missing and completes the run; nothing measured is lost.

    The missing points get the run's planned rounds, their baseline measured
    again beside them (a paired speedup needs both in the same round): values
    already on disk stay, first and unchanged.
    """
    res = concbench(["run", "--resume", str(run_dir), "-q", "--no-report"], cwd)
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr
    after = values_by_name(run_dir / store.RESULTS)
    planned = set(statuses(run_dir))
    assert set(after) == planned
    for name, values in before.items():  # kept as they were, first
        assert after[name][:len(values)] == values, name
    m = manifest(run_dir)
    assert m["status"] == "complete"
    assert all(p["status"] == "done" and p["reason"] == "" for p in m["points"])
    assert_no_children(run_dir.name)


# ------------------------------------------------------------ faulty points
def _pool1(t: int) -> str:
    return f"cpu/process_pool[fork]/t{t}/w1"


#: One run, one fault per group (each with a healthy point beside it): the faulty
#: point, its fault, and the words its reason must have.  One worker: killing it
#: breaks the pool for sure (see test_kill_worker_always_breaks_pool).
FAULTS = {
    "cpu/sequential/t1": ("raise", ("RuntimeError", "injected fault")),
    "cpu/sequential/t2": ("exit", ("exit 3",)),
    "cpu/sequential/t3": ("segv", ("SIGSEGV",)),
    _pool1(4): ("kill_worker", ("BrokenProcessPool",)),
    "cpu/sequential/t5": ("hang", ("timed out after 3 s",)),
}


@pytest.mark.slow
def test_faulty_points_are_isolated_then_resumed(tmp_path: Path) -> None:
    """Each fault fails its own point only, with its reason; --resume completes the run
    with the run's own settings (smoke, scale 0.2), not the defaults."""
    name = unique("faults")
    run_dir = tmp_path / "out" / name
    spec = ";".join(f"{p.replace('[', '[[]')}={kind}" for p, (kind, _) in FAULTS.items())
    t0 = time.monotonic()
    res = concbench(["run", *GRID, "--tasks", "1,2,3,4,5", "--workers", "1",
                     "--point-timeout", "3", "--output-dir", str(tmp_path / "out"),
                     "--name", name, "-q", "--no-report"], tmp_path, fault=spec)
    elapsed = time.monotonic() - t0
    assert "Traceback" not in res.stderr
    assert res.returncode == 1, res.stderr
    assert elapsed < 60, "the hung child was not killed by --point-timeout"

    # stderr lists each failed point once, with a reason naming its fault
    failed_lines = [ln for ln in res.stderr.splitlines() if "FAILED" in ln]
    assert len(failed_lines) == len(FAULTS), res.stderr
    for faulty, (_, words) in FAULTS.items():
        (line,) = [ln for ln in failed_lines if f"FAILED {faulty}" in ln]
        for word in words:
            assert word in line, line

    # every other point is measured and on disk; the faulty ones are not
    planned = set(statuses(run_dir))
    assert len(planned) == 10
    healthy = planned - set(FAULTS)
    assert set(values_by_name(run_dir / store.RESULTS)) == healthy

    # the manifest marks each faulty point failed, with its reason
    m = manifest(run_dir)
    entry = {p["name"]: p for p in m["points"]}
    for faulty, (_, words) in FAULTS.items():
        assert entry[faulty]["status"] == "failed"
        for word in words:
            assert word in entry[faulty]["reason"]
    for other in healthy:
        assert entry[other] == {**entry[other], "status": "done", "reason": ""}
    assert m["status"] == "failed"
    assert_no_children(name)

    # resume without the faults: only the failed points are measured, the run completes
    resume_and_check(run_dir, tmp_path, values_by_name(run_dir / store.RESULTS))
    for b in store.load_results(run_dir / store.RESULTS).get_benchmarks():
        meta = b.get_metadata()
        assert (meta["profile"], meta["work_scale"], meta["run_name"]) == ("smoke", 0.2, name)
    assert set(statuses(run_dir)) == planned


@pytest.mark.slow
def test_kill_worker_always_breaks_pool() -> None:
    """The kill_worker fault must break a pool of any size, every time.

    With two workers, the task submitted after the kill may be served by the
    surviving worker before the pool notices the death: the fault then does
    nothing and the point is measured (seen about 1 time in 30).
    """
    script = """
from concurrent.futures.process import BrokenProcessPool
from bench.measure.faults import inject_fault
from bench.scenarios.models import Point
point = Point("cpu", "process_pool", 4, 2, "fork", 2000.0)
spec = point.name.replace("[", "[[]") + "=kill_worker"
survived = 0
for _ in range(150):
    try:
        inject_fault(point, spec)
    except BrokenProcessPool:
        continue
    survived += 1
print(survived)
"""
    out = subprocess.run([sys.executable, "-c", script], env=_env(), capture_output=True,
                         text=True, timeout=120, check=True)
    survived = int(out.stdout.split()[-1])
    assert survived == 0, f"the pool survived kill_worker {survived} times in 150"


# ----------------------------------------------------------------- signals
@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_mid_run_keeps_completed_points(tmp_path: Path, sig: signal.Signals) -> None:
    name = unique(f"sig{sig.name}")
    run_dir = tmp_path / "out" / name
    results = run_dir / store.RESULTS
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench", "run", *LONG_GRID, "--output-dir", str(tmp_path / "out"),
         "--name", name, "-q", "--no-report"],
        cwd=tmp_path, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 90
        seen = 0
        while seen < 1:
            assert proc.poll() is None, "the run ended before it could be interrupted"
            assert time.monotonic() < deadline, "no point completed in 90 s"
            if results.exists():
                # written atomically: whenever it is there, it is whole
                seen = len(json.loads(results.read_text())["benchmarks"])
            time.sleep(0.02)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "Traceback" not in err
    assert proc.returncode == 130, err
    assert "--resume" in err
    assert_no_children(name)

    kept = values_by_name(results)
    m = manifest(run_dir)
    assert m["status"] == "interrupted"
    done = {p["name"] for p in m["points"] if p["status"] == "done"}
    assert 1 <= len(kept) < len(m["points"])
    assert set(kept) <= done
    assert all(p["status"] != "failed" for p in m["points"]), m["points"]

    if sig == signal.SIGINT:  # SIGTERM leaves the same manifest ("interrupted", above)
        resume_and_check(run_dir, tmp_path, kept)
        assert len(values_by_name(results)) == 6


# ------------------------------------------------ existing run directories
def test_existing_run_dir_is_not_overwritten(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(launch, "run_child", _must_not_measure)
    run_dir = tmp_path / "out" / "taken"
    write_results(run_dir / store.RESULTS, [make_benchmark(Point("cpu", "sequential", 4,
                                                                 size=2000.0), [1e-3] * 3)])
    (run_dir / store.MANIFEST).write_text('{"format": 1, "settings": {}}\n')
    before = {p.name: p.read_bytes() for p in run_dir.iterdir()}
    code = cli.main(["run", *GRID, "--output-dir", str(tmp_path / "out"), "--name", "taken",
                     "-q", "--no-report"])
    err = capsys.readouterr().err
    assert code == 2
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("concbench:"), err
    assert "--force" in lines[0]
    assert {p.name: p.read_bytes() for p in run_dir.iterdir()} == before


def test_force_overwrites_existing_run_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    _fake_children(monkeypatch)
    run_dir = tmp_path / "out" / "taken"
    old = make_benchmark(Point("hash", "sequential", 4, size=1.0), [1e-3] * 3)
    write_results(run_dir / store.RESULTS, [old])
    code = cli.main(["run", *GRID, "--output-dir", str(tmp_path / "out"), "--name", "taken",
                     "-q", "--no-report", "--force"])
    assert code == 0, capsys.readouterr().err
    assert set(values_by_name(run_dir / store.RESULTS)) == {SEQ, POOL}


# ------------------------------------- signals in the windows between points
def _must_not_measure(*args: object, **kwargs: object) -> None:
    raise AssertionError("this test must not measure anything")


def _fake_children(monkeypatch: pytest.MonkeyPatch) -> None:
    """Replace the pyperf child by a hand-made benchmark (instant); noise probes too."""

    monkeypatch.setattr(launch, "run_child", fake_child)
    monkeypatch.setattr(runner.noise, "probe", quiet_probe)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_during_final_noise_probe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str],
                                         sig: signal.Signals) -> None:
    """A signal after the last point (during the closing noise probe) still ends cleanly."""
    _fake_children(monkeypatch)
    calls = []

    def probe(seconds: float = 0.0) -> dict[str, float]:
        calls.append(1)
        if len(calls) == 2:  # the probe after the sweep
            os.kill(os.getpid(), sig)
            time.sleep(0.5)  # the handler runs here, as in busy_cores' sleep
        return quiet_probe()

    monkeypatch.setattr(runner.noise, "probe", probe)
    run_dir = tmp_path / "out" / "late"
    code = cli.main(["run", *GRID, "--output-dir", str(tmp_path / "out"), "--name", "late",
                     "-q", "--no-report"])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert code == 130, err
    assert set(values_by_name(run_dir / store.RESULTS)) == {SEQ, POOL}
    assert manifest(run_dir)["status"] in ("interrupted", "complete")  # never "running"


def test_interrupt_while_saving_keeps_manifest_consistent(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Ctrl-C while a point's results are being saved: run.json must not claim it done."""
    _fake_children(monkeypatch)
    real_save = store.save_results
    calls = []

    def save(path: Path, benchmarks: Any) -> None:
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        real_save(path, benchmarks)

    monkeypatch.setattr(sweep.store, "save_results", save)
    run_dir = tmp_path / "out" / "saving"
    code = cli.main(["run", *GRID, "--output-dir", str(tmp_path / "out"), "--name", "saving",
                     "-q", "--no-report"])
    capsys.readouterr()
    assert code == 130
    on_disk = set(values_by_name(run_dir / store.RESULTS))
    done = {n for n, s in statuses(run_dir).items() if s == "done"}
    assert on_disk == done, f"run.json says done: {done}, results.json holds: {on_disk}"
    assert manifest(run_dir)["status"] == "interrupted"
