"""The choices of today's Python: models as specs, interpreter pools, eager tasks, --python specs.

Real runs under 3.14 use the interpreter ``--python 3.14`` finds (on PATH, uv, pyenv, or
unpacked by ``../shared/tools/debian-python 3.14`` under ``~/.cache/concbench-pythons``);
they skip with the reason where none can be had.  3.12 comes from pyenv.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import math
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench.api import load
from bench.errors import one_line
from bench.measure.interpreter import find
from bench.report.findings import findings
from bench.report.html import write_report
from bench.results.ideal import ideal_parallelism
from bench.scenarios import models, pools
from bench.scenarios.grid import GridSpec, expand
from bench.scenarios.models import MODELS, ModelDef, Point
from tests.conftest import HAS_UVLOOP, CliResult, Real
from tests.factory import HOST, make_benchmark, write_results
from tests.test_errors import CAUSE, NUMPY_SHAPED

PY314 = find("3.14")
PY312 = find("3.12")
needs_314 = pytest.mark.skipif(PY314 is None, reason="no CPython 3.14 here (PATH, uv, pyenv, "
                               "~/.cache/concbench-pythons)")
needs_312 = pytest.mark.skipif(PY312 is None, reason="no CPython 3.12 here")


def concbench(*argv: str, cwd: Path | None = None,
              timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bench", *argv], capture_output=True, text=True,
                          timeout=timeout, check=False, cwd=cwd)


# ------------------------------------------------------------------ a model is one entry
class _MapBatch:
    """The toy model: ``executor.map`` on a thread pool, no event loop."""

    loop = None

    def __init__(self, point: Point) -> None:
        assert MODELS[point.model].pool is not None
        self.executor = MODELS[point.model].pool.make(point)  # type: ignore[union-attr]
        pools.warm(self.executor, point.workers or 1)
        self.pids: tuple[int, ...] = ()
        self.func = models.workloads.function(point.work)
        self.argv = models.workloads.task_args(point.work, point.tasks, point.size)

    def run(self) -> list[Any]:
        return self.run_tasks(self.func, self.argv)

    def run_tasks(self, func: Any, argv: list[tuple[Any, ...]]) -> list[Any]:
        return list(self.executor.map(func, *zip(*argv, strict=True)))

    def close(self) -> None:
        self.executor.shutdown(wait=True)


TOY = ModelDef("thread_map", False, True, _MapBatch, "Executor.map on ThreadPoolExecutor(W)",
               overlap="threads", pool=pools.THREADS, cold=True)


def test_a_new_model_is_one_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(MODELS, TOY.name, TOY)
    # the grid offers it on every sync workload, per worker count, with a cold start
    spec = GridSpec(profile="quick", workloads=("cpu", "async_sleep"),
                    models=("sequential", "thread_map"), tasks=(4,), workers=(1, 2))
    names = [p.name for p in expand(spec, cores=2, start_methods=("fork",), python=(3, 11))]
    assert "cpu/thread_map/t4/w1" in names
    assert "cpu/thread_map/t4/w2" in names
    assert "cpu/thread_map/t4/w2/cold" in names
    assert not any(n.startswith("async_sleep/thread_map") for n in names)
    # it opens, warms W workers and returns the sequential answer; its cold start is timed
    point = Point("cpu", "thread_map", 4, 2, size=1000.0)
    batch = TOY.open(point)
    try:
        assert batch.run() == models.expected_results(point)
    finally:
        batch.close()
    assert models.cold_start(point) > 0
    # the ideal reads its overlap: threads on GIL-holding CPU work do not add a core
    assert ideal_parallelism("cpu_gil", TOY.overlap, tasks=4, workers=2, cores=2, gil=True) == 1
    # results, summary, recommendations and the report take it like any model
    seq = Point("cpu", "sequential", 4, size=1000.0)
    benches = [make_benchmark(seq, [0.010] * 6, runs=6),
               make_benchmark(point, [0.011] * 6, runs=6)]
    run = write_results(tmp_path / "r" / "results.json", benches)
    summary = load(run).summary.set_index("name")
    assert summary.loc[point.name, "speedup"] == pytest.approx(0.010 / 0.011)
    write_report(run, tmp_path / "report")
    report = (tmp_path / "report" / "report.md").read_text(encoding="utf-8")
    # its overlap's words in the findings; a pool, so the break-even table has it
    assert "threads 0.91\N{MULTIPLICATION SIGN} at best (thread\\_map, W = 2, T = 4)" in report
    assert "| cpu | thread\\_map | 4 |" in report


# ------------------------------------------------------------------ which interpreters offer what
def test_models_an_interpreter_lacks_are_listed_with_the_reason() -> None:
    assert models.absent((3, 11)) == {
        "asyncio_eager": "needs Python 3.12+ (asyncio.eager_task_factory)",
        "asyncio_eager[uvloop]": "needs Python 3.12+ (asyncio.eager_task_factory)",
        "interpreter_pool": "needs Python 3.14+ (concurrent.futures.InterpreterPoolExecutor)"}
    assert models.absent((3, 14)) == {}
    if sys.version_info[:2] < (3, 14):
        out = concbench("list", "--profile", "smoke", "--workloads", "cpu")
        assert out.returncode == 0, out.stderr
        assert ("concbench: absent: interpreter_pool: Python "
                f"{sys.version.split()[0]} does not offer it: it needs Python 3.14+") in out.stderr
        named = concbench("list", "--profile", "smoke", "--models", "sequential,interpreter_pool")
        assert named.returncode == 2
        (line,) = named.stderr.strip().splitlines()
        assert line.startswith("concbench: --models interpreter_pool: Python ")


def test_python_specs_are_found_or_refused() -> None:
    assert find("3.99") is None
    out = concbench("list", "--python", "3.99")
    assert out.returncode == 2
    assert "no such interpreter" in out.stderr
    if PY312 is not None:
        assert Path(PY312).name == "python3.12"


@needs_312
def test_eager_tasks_under_3_12(tmp_path: Path) -> None:
    out = concbench("run", "--python", "3.12", "--profile", "smoke", "--workloads", "async_sleep",
                    "--models", "sequential,asyncio_create_task,asyncio_eager", "--tasks", "4",
                    "--no-metrics", "--no-report", "-q", "--output-dir", str(tmp_path),
                    "--name", "e")
    assert out.returncode == 0, out.stderr
    data = load(tmp_path / "e")
    assert data.host["python_version"].startswith("3.12")
    summary = data.summary.set_index("name")
    # four 1 ms sleeps overlap on the loop as create_task's do: well under the sequential time
    assert summary.loc["async_sleep/asyncio_eager/t4", "speedup"] > 1.5


# ------------------------------------------------------------------ interpreter pools (3.14)
@pytest.fixture(scope="module")
def two(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real run under this interpreter and 3.14, with its report (about 20 s here)."""
    if PY314 is None:
        pytest.skip("no CPython 3.14 here (PATH, uv, pyenv, ~/.cache/concbench-pythons)")
    out = tmp_path_factory.mktemp("two")
    done = concbench("run", "--python", f"{sys.executable},3.14", "--profile", "smoke",
                     "--workloads", "cpu", "--models", "sequential,interpreter_pool,process_pool",
                     "--start-methods", "fork", "--tasks", "4", "--workers", "2",
                     "--metrics", "memory", "-q", "--output-dir", str(out), "--name", "two")
    assert done.returncode == 0, done.stderr
    assert "interpreter_pool is measured only where it is offered: Python 3.11" in done.stderr
    return out / "two"


def test_interpreter_pool_runs_cpu_work_under_3_14(two: Path) -> None:
    data = load(two)
    assert data.interpreters["3.14"]["default_start_method"] == "forkserver"
    s = data.summary.set_index("name")
    # its results were checked against the sequential ones before timing (a point that
    # differs fails); two interpreters hold more than 5 MB beyond sequential's (two threads
    # of one interpreter: 0.1 MB here)
    assert s.loc["cpu/interpreter_pool/t4/w2@3.14", "median_s"] > 0
    assert s.loc["cpu/interpreter_pool/t4/w2@3.14", "memory"] > 5e6
    assert "cpu/interpreter_pool/t4/w2@3.11" not in s.index


def test_a_run_of_two_interpreters(two: Path) -> None:
    data = load(two)
    tags = list(data.interpreters)
    assert tags == [f"{sys.version_info.major}.{sys.version_info.minor}", "3.14"]
    s = data.summary.set_index("name")
    # every round ran both: the same rounds for a point under each interpreter
    rounds = data.tidy.groupby("name")["round"].apply(set)
    for name in ("cpu/sequential/t4", "cpu/process_pool[fork]/t4/w2"):
        assert rounds[f"{name}@{tags[0]}"] == rounds[f"{name}@3.14"]
        row = s.loc[f"{name}@3.14"]
        assert row["python_ratio_ci_low"] <= row["python_ratio"] <= row["python_ratio_ci_high"]
        assert 0.3 < row["python_ratio"] < 3  # two CPythons on the same loop, not a fluke
    manifest = json.loads((two / "run.json").read_text(encoding="utf-8"))
    assert list(manifest["interpreters"]) == tags
    md = (two / "report.md").read_text(encoding="utf-8").replace("\\", "")
    section = md.split("## Which Python")[1].split("\n## ")[0]
    assert f"T = 4 | {sys.version.split()[0]} |" in section
    assert "pick overall" in section
    assert (two / "interpreters.png").exists()
    assert "sequentially" in md.split("## Details")[1].split("## ")[0]
    # compare and check read such runs: the run against itself moves nothing
    for argv in (("compare", str(two), str(two), "--output-dir", str(two.parent / "cmp")),
                 ("check", str(two), str(two))):
        done = concbench(*argv)
        assert done.returncode == 0, done.stderr


REFUSING = '''\
import _curses  # a real extension that does not support loading in subinterpreters


def task(i, size):
    return i + int(size)
'''

SPINNING = '''\
import sys

if sys.implementation.name == "cpython":
    from concurrent import interpreters

    while interpreters.get_current() != interpreters.get_main():
        pass  # spins forever in a subinterpreter


def task(i, size):
    return i + int(size)
'''


@needs_314
@pytest.mark.parametrize(("module", "words"), [
    (REFUSING, "importing its module failed: ImportError: module _curses does not support "
               "loading in subinterpreters"),
    (NUMPY_SHAPED, f"importing its module failed: {CAUSE}"),  # its message opens with a newline
    (SPINNING, "importing its module did not finish within 2 s (a hang or a spin)"),
])
def test_interpreter_pools_are_not_applicable_where_the_work_cannot_cross(
        tmp_path: Path, module: str, words: str) -> None:
    (tmp_path / "crossing.py").write_text(textwrap.dedent(module))
    out = concbench("list", "--python", "3.14", "--profile", "smoke", "--workload",
                    "crossing:task", "--path", str(tmp_path), "--sizes", "3",
                    "--point-timeout", "6", timeout=60)
    assert out.returncode == 0, out.stderr
    assert "task/process_pool[fork]/t4/w2" in out.stdout  # process pools still run it
    assert "task/interpreter_pool" not in out.stdout
    assert (f"concbench: not applicable: task/interpreter_pool/t4/w2: interpreter pools cannot "
            f"run it: in a subinterpreter, {words}") in out.stderr
    if "spin" in words:
        return  # (asked for by name, the same watchdog: one case shows the usage error)
    # asked for by name, it is a usage error with the same reason
    named = concbench("list", "--python", "3.14", "--profile", "smoke", "--workload",
                      "crossing:task", "--path", str(tmp_path), "--models",
                      "sequential,interpreter_pool", "--point-timeout", "6", timeout=60)
    assert named.returncode == 2
    assert words in named.stderr


@needs_314
def test_warm_up_proves_w_distinct_interpreters() -> None:
    code = textwrap.dedent("""\
        import concurrent.futures as cf
        from bench.scenarios.pools import warm_interpreters
        ex = cf.InterpreterPoolExecutor(3)
        ids = warm_interpreters(ex, 3)
        print(len(ids), len({i.split(":")[1] for i in ids}))
        ex.shutdown()
    """)
    import os

    root = str(Path(__file__).resolve().parent.parent)
    out = subprocess.run([str(PY314), "-c", code], capture_output=True, text=True, timeout=60,
                         check=False, env={**os.environ, "PYTHONPATH": root})
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["3", "3"]


def test_crossing_errors_read_their_cause() -> None:
    inner = ImportError("module _curses does not support loading in subinterpreters")
    outer = RuntimeError("args not shareable")
    outer.__cause__ = Exception(f"Traceback (most recent call last):\n  File x\n"
                                f"ImportError: {inner}\n\nThe above exception ...")
    assert one_line(outer, root=True) == (
        "ImportError: module _curses does not support loading in subinterpreters")
    assert one_line(cf.TimeoutError("late"), root=True) == "TimeoutError: late"


# ------------------------------------------------------------------ free-threaded builds
FREE_HOST = {**HOST, "host_python_version": "3.14.0", "host_gil_enabled": 0,
             "host_python_build": "main Oct 7 2025 free-threading",
             "host_default_start_method": "forkserver"}


def _free_threaded_run(path: Path, *, thread_s: float, gil_back_on: bool,
                       more: tuple[Any, ...] = ()) -> Path:
    """A run recorded by hand as a free-threaded 3.14 would write it: 8 rounds of cpu, T = 16
    (and the benchmarks ``more``)."""
    rng = np.random.default_rng(14)
    seq = Point("cpu", "sequential", 16, size=50000.0)
    thr = Point("cpu", "thread_pool", 16, 2, size=50000.0)
    proc = Point("cpu", "process_pool", 16, 2, "forkserver", 50000.0)
    drift = 1 + 0.03 * rng.standard_normal(8)  # the host's moments, shared by a round's points
    extra = {"gil_enabled": 1} if gil_back_on else {"gil_enabled": 0}
    benches = [make_benchmark(p, list(t * drift * (1 + 0.01 * rng.standard_normal(8))),
                              runs=8, host=FREE_HOST, **extra)
               for p, t in ((seq, 0.100), (thr, thread_s), (proc, 0.058))]
    return write_results(path / "results.json", [*benches, *more])


def test_a_free_threaded_run_says_threads_scaled_because_the_gil_was_off(tmp_path: Path) -> None:
    results = _free_threaded_run(tmp_path / "ft", thread_s=0.053, gil_back_on=False)
    data = load(results)
    s = data.summary.set_index("name")
    assert not s["gil"].any()
    # the ideal lets threads scale on CPU work where the GIL is off
    assert s.loc["cpu/thread_pool/t16/w2", "ideal_s"] == pytest.approx(
        s.loc["cpu/sequential/t16", "median_s"] / 2, rel=0.05)
    write_report(results, tmp_path / "report")
    report = (tmp_path / "report" / "report.md").read_text(encoding="utf-8")
    assert "Python 3.14.0 ran without the GIL (a free-threaded build)" in report
    assert ("threads scaled on CPU work because the GIL was off: 1.89\N{MULTIPLICATION SIGN} at "
            "best (thread\\_pool, W = 2, T = 16) against an ideal of 2.00\N{MULTIPLICATION SIGN}"
            ) in report
    assert "| cpu | 50000 iterations | 16 | thread\\_pool W=2 |" in report  # the pick
    assert "gets forkserver under Python 3.14.0" in report


def test_an_extension_that_turns_the_gil_back_on_is_reported(tmp_path: Path) -> None:
    results = _free_threaded_run(tmp_path / "ft", thread_s=0.101, gil_back_on=True)
    s = load(results).summary.set_index("name")
    assert s["gil"].all()  # as the children ran, not as the build says
    assert s.loc["cpu/thread_pool/t16/w2", "ideal_s"] == pytest.approx(
        s.loc["cpu/sequential/t16", "median_s"], rel=0.05)
    write_report(results, tmp_path / "report")
    report = (tmp_path / "report" / "report.md").read_text(encoding="utf-8")
    assert "is a free-threaded build, but the GIL was on as the measured children ran" in report
    assert "no gain: the GIL runs one thread's Python at a time" in report
    assert "because the GIL was off" not in report


def test_the_gil_back_on_in_one_workload_changes_only_its_findings(tmp_path: Path) -> None:
    # a free-threaded 3.14: cpu's children ran without the GIL; those of a workload whose
    # extension module turned it back on ("ext", pure-Python CPU work) ran with it
    rng = np.random.default_rng(15)
    drift = 1 + 0.03 * rng.standard_normal(8)
    ext = [make_benchmark(Point("ext", m, 16, w, size=100.0), list(t * drift), runs=8,
                          host=FREE_HOST, gil_enabled=1, resource="cpu_gil")
           for m, w, t in (("sequential", None, 0.080), ("thread_pool", 2, 0.081))]
    results = _free_threaded_run(tmp_path / "ft", thread_s=0.053, gil_back_on=False,
                                 more=tuple(ext))
    s = load(results).summary.set_index("name")
    assert not s.loc["cpu/thread_pool/t16/w2", "gil"]
    assert s.loc["ext/thread_pool/t16/w2", "gil"]
    write_report(results, tmp_path / "report")
    report = (tmp_path / "report" / "report.md").read_text(encoding="utf-8")
    # cpu's threads scaled, against cpu's ideal of 2; ext's ran one at a time, its ideal 1
    assert ("threads scaled on CPU work because the GIL was off: 1.89\N{MULTIPLICATION SIGN} at "
            "best (thread\\_pool, W = 2, T = 16) against an ideal of 2.00\N{MULTIPLICATION SIGN}"
            ) in report
    assert "ext (pure-Python CPU work, holds the GIL): threads 0.99\N{MULTIPLICATION SIGN} at " \
           "best (thread\\_pool, W = 2, T = 16), no gain: the GIL runs one thread's Python at a " \
           "time." in report
    # the interpreter's finding names the workload whose children had the GIL on
    assert "is a free-threaded build, but the GIL was on as the measured children ran in " \
           "ext: " in report
    assert "(the ideal says so too). cpu ran without it." in report
    assert "Python 3.14.0 ran without the GIL (a free-threaded build)" not in report


# ------------------------------------------------------------------ event loops as an axis
def test_loops_add_a_variant_of_each_model_on_a_loop() -> None:
    spec = GridSpec(profile="smoke", workloads=("async_sleep", "cpu"), tasks=(16,),
                    loops=("asyncio", "uvloop"))
    names = [p.name for p in expand(spec, cores=2, start_methods=("fork",), python=(3, 11))]
    assert "async_sleep/asyncio_gather[uvloop]/t16" in names
    assert "async_sleep/asyncio_create_task[uvloop]/t16" in names
    assert not any("[uvloop]" in n for n in names if not n.startswith("async_sleep/"))
    assert "async_sleep/sequential[uvloop]/t16" not in names  # the baseline stays on asyncio
    plain = [p.name for p in expand(GridSpec(profile="smoke", workloads=("async_sleep",)),
                                    cores=2, start_methods=("fork",), python=(3, 11))]
    assert not any("[uvloop]" in n for n in plain)
    assert MODELS["asyncio_gather[uvloop]"].variant_of == "asyncio_gather"


def test_loop_mistakes_are_one_line() -> None:
    out = concbench("list", "--loops", "asyncio,tokio")
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "concbench: unknown event loop 'tokio' (choose from asyncio, uvloop)"]
    if PY314 is not None:  # Debian's 3.14 has no uvloop: the measuring interpreter decides
        out = concbench("list", "--python", "3.14", "--loops", "asyncio,uvloop")
        assert out.returncode == 2
        (line,) = out.stderr.strip().splitlines()
        assert line.startswith("concbench: --loops uvloop: Python 3.14")
        assert line.endswith(f"cannot import uvloop ({PY314} -m pip install uvloop)")


def test_the_uvloop_hint_names_the_measuring_interpreter(
        cli: Callable[..., CliResult], monkeypatch: pytest.MonkeyPatch) -> None:
    import bench.measure.interpreter as interpreter

    mine = interpreter.resolve(None)
    record = {**mine.record, "event_loops": "asyncio"}  # an interpreter without uvloop

    def resolve(python: str | None, paths: object = ()) -> interpreter.Interpreter:
        return interpreter.Interpreter("/opt/other/bin/python", mine.env, record)

    monkeypatch.setattr(interpreter, "resolve", resolve)
    out = cli("list", "--python", "/opt/other/bin/python", "--workloads", "async_sleep",
              "--loops", "asyncio,uvloop")
    assert out.code == 2
    assert out.err.strip().splitlines() == [
        f"concbench: --loops uvloop: Python {record['python_version']} cannot import uvloop "
        "(/opt/other/bin/python -m pip install uvloop)"]


@pytest.mark.skipif(not HAS_UVLOOP, reason="uvloop is not installed")
def test_a_loop_that_adds_nothing_is_refused(cli: Callable[..., CliResult]) -> None:
    smoke = ("list", "--profile", "smoke", "--loops", "asyncio,uvloop")
    on_loop = [m for m, d in MODELS.items()
               if d.on_loop and not d.variant_of and not d.offered(sys.version_info[:2])]
    assert "asyncio_gather" in on_loop
    for argv, why in (
            (("--workloads", "cpu,hash"), "no workload of the plan runs on an event loop "
                                          "(cpu, hash: sync)"),
            (("--workloads", "async_sleep,cpu", "--models", "sequential,thread_pool"),
             "no model of the plan runs its tasks on an event loop (those that do here: "
             f"{', '.join(on_loop)})")):
        out = cli(*smoke, *argv)
        assert out.code == 2, out.err
        assert out.err.strip().splitlines() == [f"concbench: --loops uvloop adds nothing: {why}"]
    # with an async workload in the plan, the loop adds its variants and no line
    out = cli(*smoke, "--workloads", "cpu,async_sleep")
    assert out.code == 0, out.err
    assert "async_sleep/asyncio_gather[uvloop]/t4" in out.out.splitlines()
    assert "--loops" not in out.err


def test_the_loop_ratio_is_paired_by_round(tmp_path: Path) -> None:
    # known truth: uvloop takes 1/1.5 of asyncio's time in every round, while the rounds
    # themselves drift by +-20 %: the paired ratio is 1.5 with a tight interval
    rng = np.random.default_rng(7)
    drift = 1 + 0.2 * rng.standard_normal(8).clip(-2, 2)
    base = Point("async_sleep", "asyncio_gather", 16, size=0.001)
    variant = Point("async_sleep", "asyncio_gather[uvloop]", 16, size=0.001)
    seq = Point("async_sleep", "sequential", 16, size=0.001)
    benches = [make_benchmark(p, list(t * drift), runs=8)
               for p, t in ((seq, 0.020), (base, 0.003), (variant, 0.002))]
    s = load(write_results(tmp_path / "r" / "results.json", benches)).summary.set_index("name")
    row = s.loc[variant.name]
    assert row["loop_ratio"] == pytest.approx(1.5)
    assert row["loop_ratio_ci_low"] == pytest.approx(1.5)
    assert row["loop_ratio_ci_high"] == pytest.approx(1.5)
    assert row["ci_high_s"] / row["ci_low_s"] > 1.2  # unpaired, the drift would hide it
    assert np.isnan(s.loc[base.name, "loop_ratio"])


@pytest.mark.skipif(not HAS_UVLOOP, reason="uvloop is not installed (the test extra has it)")
def test_a_uvloop_run_gives_paired_loop_ratios(real: Real) -> None:
    # the metrics' shared real run measured gather and create_task on both loops, T = 16
    for model in ("asyncio_gather", "asyncio_create_task"):
        row = real.loc[f"async_sleep/{model}[uvloop]/t16"]
        assert row["loop_ratio_ci_low"] <= row["loop_ratio"] <= row["loop_ratio_ci_high"]
        assert 0.2 < row["loop_ratio"] < 5  # a ratio of two loops' batch times, not a fluke
        assert math.isnan(real.loc[f"async_sleep/{model}/t16", "loop_ratio"])
    (said,) = [f for f in findings(real.s.reset_index(), 2) if f.startswith("Event loops")]
    assert said.startswith("Event loops, async_sleep: uvloop against asyncio's own loop")
    assert "T = 16: asyncio_gather " in said
