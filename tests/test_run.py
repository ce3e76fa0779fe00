"""Real sweeps through pyperf children: results.json, run.json, failures, --resume, --python."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import platform
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pyperf
import pytest

from bench import store
from bench.cli import main
from bench.grid import PROFILES, GridSpec, task_size
from bench.host import FORMAT_VERSION
from bench.interpreter import Interpreter
from bench.models import Point
from bench.runner import RunConfig, measure_point, plan

REPO = Path(__file__).resolve().parent.parent
SMOKE = PROFILES["smoke"]
GRID = ("--profile", "smoke", "--workloads", "sleep",
        "--models", "sequential,thread_pool,process_pool", "--start-methods", "fork",
        "--tasks", "2", "--workers", "2", "--work-scale", "0.2")
SPEC = GridSpec(profile="smoke", workloads=("sleep",),
                models=("sequential", "thread_pool", "process_pool"), start_methods=("fork",),
                tasks=(2,), workers=(2,), work_scale=0.2)


@dataclass
class Sweep:
    code: int
    err: str
    run_dir: Path


def run_main(*argv: str) -> tuple[int, str]:
    """``concbench ARGV`` in-process; exit code and stderr (usable in any fixture scope)."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, err.getvalue()


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> Sweep:
    """One tiny real sweep, three points, shared by the tests that read its files."""
    out = tmp_path_factory.mktemp("sweep")
    code, err = run_main("run", *GRID, "--output-dir", str(out), "--name", "t", "--no-report")
    return Sweep(code, err, out / "t")


def benchmarks(run_dir: Path) -> dict[str, pyperf.Benchmark]:
    suite = pyperf.BenchmarkSuite.load(str(run_dir / store.RESULTS))
    return {b.get_name(): b for b in suite.get_benchmarks()}


pytestmark = pytest.mark.slow


def test_sweep_measures_every_point(sweep: Sweep) -> None:
    assert sweep.code == 0, sweep.err
    assert "3 points measured, 0 failed" in sweep.err
    assert "Traceback" not in sweep.err
    _, points = plan(RunConfig(grid=SPEC))
    assert [p.name for p in points] == ["sleep/sequential/t2", "sleep/thread_pool/t2/w2",
                                        "sleep/process_pool[fork]/t2/w2"]
    assert list(benchmarks(sweep.run_dir)) == [p.name for p in points]


def test_results_metadata(sweep: Sweep, interp: Interpreter) -> None:
    size = task_size("sleep", 0.2 * SMOKE.work_scale)
    for name, bench in benchmarks(sweep.run_dir).items():
        meta = bench.get_metadata()
        point = Point.from_json(json.dumps({
            "workload": meta["workload"], "model": meta["model"], "tasks": meta["tasks"],
            "workers": meta.get("workers"), "start_method": meta.get("start_method"),
            "size": meta["task_size"], "metric": meta["metric"]}))
        assert point.name == name  # the metadata alone rebuilds the point
        assert meta["workload"] == "sleep"
        assert meta["tasks"] == 2
        assert meta["task_size"] == pytest.approx(size)
        assert meta["task_unit"] == "s"
        assert meta["metric"] == "steady"
        assert meta["concbench_format"] == FORMAT_VERSION
        assert meta["profile"] == "smoke"
        assert meta["run_name"] == "t"
        assert meta["work_scale"] == 0.2
        for key, value in interp.record.items():
            assert meta[f"host_{key}"] == value, key
        assert meta["host_usable_cores"] >= 1
        assert meta["host_python_version"] == platform.python_version()
        if meta["model"] == "sequential":
            assert "workers" not in meta
        else:
            assert meta["workers"] == 2
        if meta["model"] == "process_pool":
            assert meta["start_method"] == "fork"
        else:
            assert "start_method" not in meta


def test_values_follow_the_smoke_profile(sweep: Sweep) -> None:
    size = task_size("sleep", 0.2 * SMOKE.work_scale)
    for name, bench in benchmarks(sweep.run_dir).items():
        assert bench.get_nrun() == 2, name  # --processes 2
        values = bench.get_values()
        assert len(values) == 10, name  # 2 processes x --values 5, warm-ups left out
        assert all(v > 0 for v in values)
        if "sequential" in name:
            assert min(values) >= 2 * size  # two sleeps, one after the other


@pytest.mark.parametrize("command", ["stats", "check"])
def test_pyperf_reads_the_results(sweep: Sweep, command: str) -> None:
    out = subprocess.run([sys.executable, "-m", "pyperf", command,
                          str(sweep.run_dir / store.RESULTS)],
                         capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    for name in benchmarks(sweep.run_dir):
        assert name in out.stdout


def test_manifest(sweep: Sweep, interp: Interpreter) -> None:
    manifest = store.read_manifest(sweep.run_dir)
    assert manifest["format"] == FORMAT_VERSION
    assert manifest["name"] == "t"
    assert manifest["status"] == "complete"
    assert manifest["host"] == interp.record
    assert [(p["name"], p["status"], p["reason"]) for p in manifest["points"]] == [
        (name, "done", "") for name in benchmarks(sweep.run_dir)]
    assert RunConfig.from_dict(manifest["settings"]).grid == SPEC
    assert set(manifest["noise"]) >= {"noisy", "reasons", "before", "after"}
    assert store.load_results(sweep.run_dir).get_benchmark_names() == list(
        benchmarks(sweep.run_dir))
    assert (sweep.run_dir.parent / store.LATEST).resolve() == sweep.run_dir.resolve()


@pytest.mark.parametrize("until_s", [600.0, 0.0])
def test_unstable_points_are_measured_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             until_s: float) -> None:
    """Every point counts as unstable (threshold below 0): one more round each, in time."""
    monkeypatch.setattr("bench.aggregate.STABLE_HALF_WIDTH", -1.0)
    monkeypatch.setitem(PROFILES, "smoke", dataclasses.replace(
        SMOKE, resample_rounds=1, resample_until_s=until_s, resample_process_s=0.05))
    code, err = run_main("run", *GRID, "--output-dir", str(tmp_path), "--name", "r",
                         "--no-report")
    assert code == 0, err
    rounds = 2 if until_s else 1
    assert err.count("CI \N{PLUS-MINUS SIGN}") == (3 if until_s else 0)
    for name, bench in benchmarks(tmp_path / "r").items():
        runs = bench.get_runs()
        assert len(runs) == 2 * rounds, name  # each round: the profile's 2 processes
        assert len({run.get_loops() for run in runs}) == 1, name  # values stay comparable
        first, last = len(runs[0].values), len(runs[-1].values)
        assert first == 5, name
        if until_s:  # 50 ms of values per process: more than --values 5 of short batches
            assert last >= 5
            assert last * runs[-1].get_loops() * min(bench.get_values()) >= 0.04
    manifest = store.read_manifest(tmp_path / "r")
    assert {p["rounds"] for p in manifest["points"]} == {rounds}
    assert manifest["status"] == "complete"


def test_failed_point_then_resume(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    argv = ("run", "--profile", "smoke", "--workloads", "sleep",
            "--models", "sequential,asyncio_blocking", "--tasks", "1", "--work-scale", "0.2",
            "--output-dir", str(tmp_path), "--name", "f", "--no-report")
    run_dir = tmp_path / "f"
    monkeypatch.setenv("CONCBENCH_FAULT", "sleep/asyncio_blocking/*=raise")
    code, err = run_main(*argv)
    assert code == 1, err
    assert "1 point measured, 1 failed" in err
    assert "FAILED sleep/asyncio_blocking/t1" in err
    manifest = store.read_manifest(run_dir)
    assert manifest["status"] == "failed"
    statuses = {p["name"]: (p["status"], p["reason"]) for p in manifest["points"]}
    assert statuses["sleep/sequential/t1"] == ("done", "")
    assert statuses["sleep/asyncio_blocking/t1"][0] == "failed"
    assert "injected fault" in statuses["sleep/asyncio_blocking/t1"][1]
    before = benchmarks(run_dir)
    assert list(before) == ["sleep/sequential/t1"]

    # the same name again is refused; --resume measures only what is missing
    assert run_main(*argv)[0] == 2
    monkeypatch.delenv("CONCBENCH_FAULT")
    code, err = run_main("run", "--resume", str(run_dir), "--no-report")
    assert code == 0, err
    assert "1 already measured" in err
    manifest = store.read_manifest(run_dir)
    assert manifest["status"] == "complete"
    assert {p["status"] for p in manifest["points"]} == {"done"}
    after = benchmarks(run_dir)
    assert list(after) == ["sleep/sequential/t1", "sleep/asyncio_blocking/t1"]
    assert after["sleep/sequential/t1"].get_values() == before["sleep/sequential/t1"].get_values()


@pytest.mark.parametrize(
    ("model", "fault", "reason"),
    [("sequential", "exit", "exit 3"),
     ("sequential", "segv", "child killed by SIGSEGV"),
     ("sequential", "hang", "timed out after 2 s"),
     ("process_pool", "kill_worker", "BrokenProcessPool")],
)
def test_measure_point_reports_child_failures(interp: Interpreter, model: str, fault: str,
                                              reason: str) -> None:
    point = (Point("sleep", model, 1, size=0.0001) if model == "sequential"
             else Point("sleep", model, 2, 2, "fork", 0.0001))
    pattern = point.name.replace("[", "[[]")  # a glob: brackets would be a character class
    env = {**interp.env, "CONCBENCH_FAULT": f"{pattern}={fault}"}
    faulty = Interpreter(interp.executable, env, interp.pyperf_args, interp.record)
    outcome = measure_point(point, {"concbench_format": 1}, faulty, SMOKE.pyperf_args,
                            timeout=2.0)
    assert not outcome.ok
    assert outcome.benchmark is None
    assert reason in outcome.reason
    assert outcome.seconds < 30


def other_pythons() -> list[str]:
    here = f"{sys.version_info[0]}.{sys.version_info[1]}"
    found = []
    for version in ("3.12", "3.13", "3.10"):
        if version == here:
            continue
        found += [str(p) for p in sorted(Path("/root/.pyenv/versions").glob(
            f"{version}*/bin/python{version}"))][:1]
    return found


def test_run_under_another_python(tmp_path: Path) -> None:
    pythons = other_pythons()
    if not pythons:
        pytest.skip("no other CPython (3.10, 3.12, 3.13) installed under ~/.pyenv")
    python = pythons[0]
    version = subprocess.run([python, "-c", "import platform; print(platform.python_version())"],
                             capture_output=True, text=True, check=True).stdout.strip()
    code, err = run_main("run", "--profile", "smoke", "--workloads", "sleep",
                         "--models", "sequential", "--tasks", "1", "--work-scale", "0.2",
                         "--python", python, "--output-dir", str(tmp_path), "--name", "p",
                         "--no-report")
    assert code == 0, err
    (bench,) = benchmarks(tmp_path / "p").values()
    assert bench.get_metadata()["host_python_version"] == version
    assert bench.get_metadata()["host_python_executable"] == python
    assert store.read_manifest(tmp_path / "p")["host"]["python_version"] == version


def test_python_3_10_drops_asyncio_taskgroup(capsys: pytest.CaptureFixture[str]) -> None:
    python = next((p for p in other_pythons() if p.endswith("3.10")), None)
    if python is None:
        pytest.skip("no CPython 3.10 installed under ~/.pyenv")
    assert main(["list", "--workloads", "async_sleep", "--python", python]) == 0
    models = {name.split("/")[1] for name in capsys.readouterr().out.split()}
    assert "asyncio_gather" in models
    assert "asyncio_taskgroup" not in models


def test_console_script(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "concbench"
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "bench"]
    ok = subprocess.run([*cmd, "list", "--profile", "smoke", "--workloads", "sleep"],
                        capture_output=True, text=True, timeout=60, check=False, cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    _, points = plan(RunConfig(grid=GridSpec(profile="smoke", workloads=("sleep",))))
    assert ok.stdout.splitlines() == [p.name for p in points]
    bad = subprocess.run([*cmd, "run", "--workers", "0", "--output-dir", str(tmp_path)],
                         capture_output=True, text=True, timeout=60, check=False, cwd=tmp_path)
    assert bad.returncode == 2
    assert bad.stderr.startswith("concbench:")
    assert len(bad.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_measured_child_imports_only_stdlib_pyperf_and_cpu_tasks() -> None:
    code = ("import json, sys, bench._child; "
            "print(json.dumps(sorted(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True, cwd=REPO)
    modules = set(json.loads(out.stdout))
    top = {m.split(".")[0] for m in modules if not m.startswith("_")}  # __main__, shims
    # psutil is pyperf's own optional import
    allowed = set(sys.stdlib_module_names) | {"bench", "cpu_tasks", "pyperf", "psutil"}
    assert top - allowed == set()
    assert {m for m in modules if m.split(".")[0] == "bench"} <= {
        "bench", "bench.models", "bench._child", "bench.errors"}
    for heavy in ("pandas", "matplotlib", "scipy", "numpy", "jinja2", "rich"):
        assert heavy not in top
