"""Real sweeps through round children: results, manifest, rounds, failures, --resume, --python."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import itertools
import json
import os
import platform
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pyperf
import pytest

from bench.cli import main
from bench.measure.config import RunConfig
from bench.measure.interpreter import Interpreter
from bench.measure.launch import ChildResult, run_child
from bench.measure.overhead import Overhead
from bench.measure.runner import plan
from bench.results import store
from bench.results.store import FORMAT_VERSION
from bench.scenarios.grid import PROFILES, GridSpec, task_size
from bench.scenarios.models import Point

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


def benchmarks(run_dir: Path, *, probes: bool = False) -> dict[str, pyperf.Benchmark]:
    """The points' benchmarks of a run (or, with ``probes``, its metrics' ``NAME:metric``)."""
    suite = pyperf.BenchmarkSuite.load(str(run_dir / store.RESULTS))
    return {b.get_name(): b for b in suite.get_benchmarks()
            if ("probe" in b.get_metadata()) == probes}


pytestmark = pytest.mark.slow


def test_sweep_measures_every_point(sweep: Sweep) -> None:
    assert sweep.code == 0, sweep.err
    assert "3 points measured, 0 failed" in sweep.err
    assert "Traceback" not in sweep.err
    points = plan(RunConfig(grid=SPEC)).points
    assert [p.name for p in points] == ["sleep/sequential/t2", "sleep/thread_pool/t2/w2",
                                        "sleep/process_pool[fork]/t2/w2"]
    assert list(benchmarks(sweep.run_dir)) == [p.name for p in points]
    # every metric that applies, one reading per planned round, in the same pyperf file
    probes = benchmarks(sweep.run_dir, probes=True)
    on_loop = points[1:]  # the pools run on an event loop; the plain loop has none: no lag
    assert sorted(probes) == sorted([*(f"{p.name}:{m}" for p in points
                                       for m in ("cores", "memory", "dispatch")),
                                     *(f"{p.name}:lag" for p in on_loop)])
    assert all(len(b.get_runs()) == PROFILES["smoke"].rounds for b in probes.values())


def test_results_metadata(sweep: Sweep, interp: Interpreter) -> None:
    size = task_size("sleep", 0.2 * SMOKE.work_scale)
    for name, bench in benchmarks(sweep.run_dir).items():
        meta = bench.get_metadata()
        point = Point.from_dict(json.loads(json.dumps({
            "workload": meta["workload"], "model": meta["model"], "tasks": meta["tasks"],
            "workers": meta.get("workers"), "start_method": meta.get("start_method"),
            "size": meta["task_size"], "metric": meta["metric"]})))
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
        runs = bench.get_runs()
        assert [r.get_metadata()["round"] for r in runs] == list(range(SMOKE.rounds)), name
        assert len({r.get_loops() for r in runs}) == 1, name  # values stay comparable
        for run in runs:
            assert len(run.values) == SMOKE.values, name
            assert len(run.warmups) == SMOKE.warmups, name
        values = bench.get_values()
        assert all(v > 0 for v in values)
        if "sequential" in name:
            assert min(values) >= 2 * size  # two sleeps, one after the other


def test_a_round_measures_its_group_in_one_process(sweep: Sweep) -> None:
    """Each round's points come from one child: one pyperf run each, same round, same moment."""
    by_round: dict[int, set[str]] = {}
    for name, bench in benchmarks(sweep.run_dir).items():
        for run in bench.get_runs():
            by_round.setdefault(run.get_metadata()["round"], set()).add(name)
    assert set(by_round) == set(range(SMOKE.rounds))
    assert all(names == set(benchmarks(sweep.run_dir)) for names in by_round.values())


@pytest.mark.parametrize("command", ["stats", "check"])
def test_pyperf_reads_the_results(sweep: Sweep, command: str) -> None:
    """pyperf's own tools read the file (what they print about stability is theirs to say)."""
    out = subprocess.run([sys.executable, "-m", "pyperf", command,
                          str(sweep.run_dir / store.RESULTS)],
                         capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    names = set(benchmarks(sweep.run_dir)) | set(benchmarks(sweep.run_dir, probes=True))
    if command == "stats":  # stats describes every benchmark by name
        for name in names:
            assert name in out.stdout
    else:  # check names only the benchmarks it warns about: whatever it names is ours
        lines = out.stdout.splitlines()
        shown = {a for a, b in itertools.pairwise(lines)
                 if b and set(b) == {"-"} and len(b) == len(a)}
        assert shown <= names


def test_the_sweeps_overhead_is_recorded_and_printed(sweep: Sweep) -> None:
    """run.json says where the sweep's wall time went; the last lines say it too."""
    record = store.read_manifest(sweep.run_dir)["sweep"]
    measured = benchmarks(sweep.run_dir).values()
    timed = sum(r.get_loops() * (sum(r.values) + sum(v for _, v in r.warmups))
                for b in measured for r in b.get_runs())
    assert record["timed_s"] == pytest.approx(timed, rel=0.05)  # the clock's own regions
    assert record["children"] == SMOKE.rounds  # one group, one child per round
    assert record["wall_s"] >= record["timed_s"] + record["child_startup_s"] > record["timed_s"]
    assert record["ratio"] == pytest.approx(record["wall_s"] / record["timed_s"], rel=0.05)
    parts = ("child_startup_s", "open_s", "probes_s", "speed_readings_s", "settle_s",
             "untimed_in_sweeps_s", "write_s", "parent_s")
    assert all(record[k] >= 0 for k in parts)
    assert sum(record[k] for k in parts) + record["timed_s"] == pytest.approx(
        record["wall_s"], abs=0.05)
    assert f"over {record['timed_s']:.0f} s timed (ratio {record['ratio']:.2f}" in sweep.err
    assert record["ratio_without_probes"] <= record["ratio"]
    assert (record["ratio_without_probes"] == record["ratio"]) == (record["probes_s"] == 0)
    assert f"; {record['ratio_without_probes']:.2f} without probing metrics)" in sweep.err


def test_the_overhead_ratios_of_known_phases() -> None:
    """Two children of known phases: 20 s of wall over 5 s timed is 4.00; less the metrics'
    4 s of probe batches, 3.20; a resumed session's record adds to the earlier one's."""
    overhead = Overhead(wall=20.0)
    for timed, probes in ((2.0, 1.5), (3.0, 2.5)):
        overhead.add(ChildResult(seconds=8.0, phases={"timed": timed, "probes": probes,
                                                      "main": 7.0}))
    record = overhead.to_dict()
    assert (record["ratio"], record["ratio_without_probes"]) == (4.0, 3.2)
    assert (record["child_startup_s"], record["parent_s"], record["children"]) == (2.0, 4.0, 2)
    both = Overhead(wall=20.0, phases={**overhead.phases}).merge(record)
    assert (both["ratio"], both["ratio_without_probes"], both["timed_s"]) == (4.0, 3.2, 10.0)


def test_the_fast_reader_reads_a_real_run_as_pyperf_does(sweep: Sweep) -> None:
    path = sweep.run_dir / store.RESULTS
    slow, fast = store.load_results(path), store.read_suite(path)
    for a, b in zip(slow.get_benchmarks(), fast.get_benchmarks(), strict=True):
        assert (b.get_name(), b.get_metadata()) == (a.get_name(), a.get_metadata())
        assert [(r.get_metadata(), list(r.values)) for r in b.get_runs()] == [
            (r.get_metadata(), list(r.values)) for r in a.get_runs()]


def test_manifest(sweep: Sweep, interp: Interpreter) -> None:
    manifest = store.read_manifest(sweep.run_dir)
    assert manifest["format"] == FORMAT_VERSION
    assert manifest["name"] == "t"
    assert manifest["status"] == "complete"
    assert manifest["host"] == interp.record
    assert [(p["name"], p["status"], p["reason"], p["rounds"]) for p in manifest["points"]] == [
        (name, "done", "", SMOKE.rounds) for name in benchmarks(sweep.run_dir)]
    config = RunConfig.from_dict(manifest["settings"])
    assert config.grid == SPEC
    assert len(manifest["seed"]) >= 8
    assert config.seed == manifest["seed"]
    assert set(manifest["noise"]) >= {"noisy", "reasons", "before", "after"}
    assert set(store.load_results(sweep.run_dir).get_benchmark_names()) == {
        *benchmarks(sweep.run_dir), *benchmarks(sweep.run_dir, probes=True)}
    assert (sweep.run_dir.parent / store.LATEST).resolve() == sweep.run_dir.resolve()


@pytest.mark.parametrize(("budget_s", "option"), [(600.0, ()), (0.0, ()),
                                                  (600.0, ("--budget", "0"))])
def test_extra_rounds_while_the_budget_allows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              budget_s: float, option: tuple[str, ...]) -> None:
    """Every point counts as unstable (threshold below 0): extra rounds up to the limit, in time."""
    monkeypatch.setattr("bench.results.aggregate.STABLE_HALF_WIDTH", -1.0)
    monkeypatch.setitem(PROFILES, "smoke", dataclasses.replace(
        SMOKE, rounds=2, max_rounds=4, budget_s=budget_s))
    code, err = run_main("run", *GRID, "--output-dir", str(tmp_path), "--name", "r",
                         "--no-report", *option)
    assert code == 0, err
    budget = budget_s and not option
    rounds = 4 if budget else 2
    assert err.count("] extra round") == (2 if budget else 0)  # one progress line per round
    assert ("this run takes about 10 min 00 s" in err) == bool(budget)
    for name, bench in benchmarks(tmp_path / "r").items():
        runs = bench.get_runs()
        assert [r.get_metadata()["round"] for r in runs] == list(range(rounds)), name
        assert len({run.get_loops() for run in runs}) == 1, name
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

    # the same name again is refused; --resume measures the missing point, with its baseline
    assert run_main(*argv)[0] == 2
    monkeypatch.delenv("CONCBENCH_FAULT")
    code, err = run_main("run", "--resume", str(run_dir), "--no-report")
    assert code == 0, err
    assert "make-up round" in err
    manifest = store.read_manifest(run_dir)
    assert manifest["status"] == "complete"
    assert {p["status"] for p in manifest["points"]} == {"done"}
    after = benchmarks(run_dir)
    assert list(after) == ["sleep/sequential/t1", "sleep/asyncio_blocking/t1"]
    old = before["sleep/sequential/t1"].get_values()
    assert after["sleep/sequential/t1"].get_values()[:len(old)] == old  # kept, first
    rounds = [r.get_metadata()["round"] for r in after["sleep/asyncio_blocking/t1"].get_runs()]
    base = [r.get_metadata()["round"] for r in after["sleep/sequential/t1"].get_runs()]
    assert len(rounds) == SMOKE.rounds
    assert set(rounds) <= set(base)  # measured beside its baseline: paired speedups
    assert set(rounds).isdisjoint(range(SMOKE.rounds))  # fresh rounds, never merged into old


@pytest.mark.parametrize(
    ("model", "fault", "reason"),
    [("sequential", "exit", "exit 3"),
     ("sequential", "segv", "child killed by SIGSEGV"),
     ("sequential", "hang", "timed out after 2 s"),
     ("sequential", "raise", "injected fault"),
     ("process_pool", "kill_worker", "BrokenProcessPool")],
)
def test_run_child_reports_failures(interp: Interpreter, model: str, fault: str,
                                    reason: str) -> None:
    """The faulty point is named with its reason; a point that only raised spares the others."""
    point = (Point("sleep", model, 1, size=0.0001) if model == "sequential"
             else Point("sleep", model, 1, 2, "fork", 0.0001))
    other = Point("sleep", "thread_pool", 1, 2, size=0.0001)
    pattern = point.name.replace("[", "[[]")  # a glob: brackets would be a character class
    env = {**interp.env, "CONCBENCH_FAULT": f"{pattern}={fault}"}
    faulty = Interpreter(interp.executable, env, interp.record)
    job = {"round": 0, "seed": "s", "values": 2, "warmups": 0, "min_time": 0.001,
           "verify": [point.name, other.name], "meta": {}}
    result = run_child(faulty, job, [point, other], timeout=2.0)
    assert set(result.failures) == {point.name}
    assert reason in result.failures[point.name]
    assert result.seconds < 30
    if fault in ("raise", "kill_worker"):  # the process lived on: the other point is measured
        assert result.culprit is None
        assert [b.get_name() for b in result.benchmarks] == [other.name]
    else:  # the process died or hung on the faulty point: the runner measures the rest again
        assert result.culprit == point.name
        assert result.benchmarks == []


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
    points = plan(RunConfig(grid=GridSpec(profile="smoke", workloads=("sleep",)))).points
    assert ok.stdout.splitlines() == [p.name for p in points]
    bad = subprocess.run([*cmd, "run", "--workers", "0", "--output-dir", str(tmp_path)],
                         capture_output=True, text=True, timeout=60, check=False, cwd=tmp_path)
    assert bad.returncode == 2
    assert bad.stderr.startswith("concbench:")
    assert len(bad.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_measured_child_imports_only_the_standard_library_and_cpu_tasks() -> None:
    """The round child imports pyperf only after its pools are closed, so no worker has it."""
    code = ("import json, sys, bench.measure.child; "
            "print(json.dumps(sorted(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True, cwd=REPO)
    modules = set(json.loads(out.stdout))
    top = {m.split(".")[0] for m in modules if not m.startswith("_")}  # __main__, shims
    allowed = set(sys.stdlib_module_names) | {"bench", "cpu_tasks"}
    assert top - allowed == set()
    assert {m for m in modules if m.split(".")[0] == "bench"} <= {
        "bench", "bench.scenarios", "bench.scenarios.models", "bench.scenarios.workloads",
        "bench.scenarios.points", "bench.scenarios.pools", "bench.scenarios.metrics",
        "bench.measure", "bench.measure.child", "bench.measure.speed", "bench.measure.settle",
        "bench.measure.faults", "bench.scenarios.native", "bench.errors",
        "bench.scenarios.batches", "bench.scenarios.latency", "bench.scenarios.procfs",
        "bench.scenarios.callprobes", "bench.scenarios.service"}
    assert "pyperf" not in top
    assert "argparse" not in top


WHAT_A_WORKER_IMPORTED = """
import json, multiprocessing, os, sys


def task(i, size):
    if multiprocessing.parent_process() is not None:  # a pool's worker
        path = os.path.join(os.environ["MODULES_OUT"], f"{os.getpid()}.json")
        with open(path, "w") as f:
            json.dump(sorted(sys.modules), f)
    return i
"""


@pytest.mark.slow
@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_pool_workers_import_no_harness_module(method: str, tmp_path: Path) -> None:
    """A spawn or forkserver worker of a real run's child imports what a user's program's
    would: its tasks' modules, not the harness module that made the pool (the child is not
    a ``__main__`` the worker re-imports), nor pyperf or argparse."""
    (tmp_path / "probe.py").write_text(WHAT_A_WORKER_IMPORTED)
    (tmp_path / "out").mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "bench", "run", "--workload", "probe=probe:task", "--path",
         str(tmp_path), "--profile", "smoke", "--models", "sequential,process_pool",
         "--start-methods", method, "--workers", "1", "--tasks", "2", "--sizes", "1",
         "--no-report", "-q", "--output-dir", str(tmp_path / "runs")],
        capture_output=True, text=True, timeout=120, check=False, cwd=REPO,
        env={**os.environ, "MODULES_OUT": str(tmp_path / "out")})
    assert done.returncode == 0, done.stderr
    seen = [set(json.loads(f.read_text())) for f in (tmp_path / "out").glob("*.json")]
    assert seen
    for modules in seen:
        assert "probe" in modules
        harness = {m for m in modules if m.startswith(("bench.measure", "pyperf", "argparse"))}
        assert harness == set(), sorted(harness)
