"""The command line in-process: list, info, and every usage error as one line with exit 2."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import bench.measure.runner
from bench.measure import host
from bench.measure.config import RunConfig
from bench.measure.interpreter import Interpreter
from bench.measure.runner import plan
from bench.scenarios.grid import GridSpec
from tests.conftest import CliResult

Cli = Callable[..., CliResult]

#: A grid that would take a second to measure; every error below happens before it runs.
TINY = ("--profile", "smoke", "--workloads", "sleep", "--models", "sequential", "--tasks", "1")


def assert_usage_error(result: CliResult, *fragments: str) -> None:
    assert result.code == 2, result.err
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("concbench:"), lines[0]
    assert "Traceback" not in result.err + result.out
    for fragment in fragments:
        assert fragment in lines[0]


def run_args(tmp_path: Path, *extra: str) -> list[str]:
    return ["run", *TINY, "--output-dir", str(tmp_path / "out"), "--name", "t", "--no-report",
            "-q", *extra]


@pytest.mark.parametrize(
    ("extra", "fragments"),
    [
        (("--workers", "0"), ("--workers", ">= 1")),
        (("--tasks", "-3"), ("--tasks", ">= 1")),
        (("--tasks=-3",), ("--tasks", ">= 1")),
        (("--tasks", "four"), ("--tasks", "whole numbers")),
        (("--tasks", "1.5"), ("--tasks",)),
        (("--workloads", "disk"), ("unknown workload 'disk'",)),
        (("--models", "greenlet"), ("unknown model 'greenlet'",)),
        (("--models", "process_pool", "--start-methods", "vfork"), ("'vfork'", "not available")),
        (("--python", "/nonexistent/python"), ("/nonexistent/python",)),
        (("--python", "/bin/false"), ("/bin/false",)),
        (("--profile", "huge"), ("unknown profile 'huge'",)),
        (("--work-scale", "0"), ("--work-scale",)),
        (("--work-scale", "abc"), ("--work-scale",)),
        (("--work-scale", "inf"), ("--work-scale",)),
        (("--point-timeout", "0"), ("--point-timeout",)),
        (("--name", "../escape"), ("plain directory name",)),
        (("--bogus",), ("unrecognized arguments",)),
    ],
    ids=lambda v: "_".join(v) if isinstance(v, tuple) else str(v),
)
def test_run_usage_errors(cli: Cli, tmp_path: Path, extra: tuple[str, ...],
                          fragments: tuple[str, ...]) -> None:
    # the later option wins, so each extra overrides the tiny grid's own value
    assert_usage_error(cli(*run_args(tmp_path, *extra)), *fragments)
    assert not (tmp_path / "out" / "t").exists()  # nothing measured, no run directory


def test_start_method_the_platform_lacks(cli: Cli, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch,
                                         interp: Interpreter) -> None:
    record = {**interp.record, "start_methods": "spawn"}  # a platform without fork

    def resolve(python: str | None, paths: object = ()) -> Interpreter:
        return Interpreter(interp.executable, interp.env, record)

    monkeypatch.setattr(bench.measure.interpreter, "resolve", resolve)
    result = cli(*run_args(tmp_path, "--models", "process_pool", "--start-methods", "fork"))
    assert_usage_error(result, "'fork'", "offers spawn")


def test_existing_run_directory_without_force(cli: Cli, tmp_path: Path) -> None:
    run_dir = tmp_path / "out" / "t"
    run_dir.mkdir(parents=True)
    (run_dir / "results.json").write_text("{}")
    assert_usage_error(cli(*run_args(tmp_path)), "exists already", "--force")
    assert (run_dir / "results.json").read_text() == "{}"


def test_resume_of_a_missing_directory(cli: Cli, tmp_path: Path) -> None:
    assert_usage_error(cli("run", "--resume", str(tmp_path / "nope")), "no such file")


@pytest.mark.parametrize(
    "argv",
    [("list", "--workers", "0"), ("list", "--models", "greenlet"),
     ("info", "--python", "/nonexistent/python"), ("info", "--python", "/bin/false"),
     ("frobnicate",)],
    ids=lambda v: "_".join(v).replace("/", "-"),
)
def test_other_usage_errors(cli: Cli, argv: tuple[str, ...]) -> None:
    assert_usage_error(cli(*argv))


def test_no_command_prints_help_and_exits_2(cli: Cli) -> None:
    result = cli()
    assert result.code == 2
    assert "usage: concbench" in result.err


def test_version(cli: Cli) -> None:
    import bench

    result = cli("--version")
    assert result.code == 0
    assert result.out.strip() == f"concbench {bench.__version__}"


@pytest.mark.parametrize(
    "argv",
    [("--profile", "quick"), ("--profile", "full"),
     ("--profile", "smoke", "--workloads", "cpu,async_sleep", "--tasks", "2,8",
      "--workers", "1,3", "--start-methods", "spawn")],
    ids=["quick", "full", "restricted"],
)
def test_list_prints_the_planned_points(cli: Cli, argv: tuple[str, ...]) -> None:
    result = cli("list", *argv)
    assert result.code == 0, result.err
    config = RunConfig(grid=_grid_of(argv))
    planned = plan(config)
    interp, points = planned.interp, planned.points
    assert result.out.splitlines() == [p.name for p in points]
    assert f"{len(points)} points (usable cores C={interp.record['usable_cores']}" in result.err


def _grid_of(argv: tuple[str, ...]) -> GridSpec:
    opts = dict(zip(argv[::2], argv[1::2], strict=True))
    names = {"--workloads": "workloads", "--start-methods": "start_methods"}
    ints = {"--tasks": "tasks", "--workers": "workers"}
    spec: dict[str, object] = {"profile": opts.get("--profile", "quick")}
    spec.update({v: tuple(opts[k].split(",")) for k, v in names.items() if k in opts})
    spec.update({v: tuple(int(x) for x in opts[k].split(",")) for k, v in ints.items()
                 if k in opts})
    return GridSpec(**spec)  # type: ignore[arg-type]


def test_info_json(cli: Cli) -> None:
    result = cli("info", "--json")
    assert result.code == 0, result.err
    record = json.loads(result.out)
    local = host.host_record()
    assert record["usable_cores"] == local["usable_cores"]
    assert isinstance(record["usable_cores"], int)
    assert record["python_version"] == platform.python_version()
    assert set(record) == set(local)


def test_info_text(cli: Cli) -> None:
    result = cli("info")
    assert result.code == 0, result.err
    lines = dict(line.split(None, 1) for line in result.out.splitlines())
    assert int(lines["usable_cores"]) == host.host_record()["usable_cores"]
    assert lines["python_version"] == platform.python_version()


# ------------------------------------------------- options honoured or refused
def test_a_work_scale_that_changes_no_point_is_refused(cli: Cli) -> None:
    # smoke's hash is 2 MiB; x 1.25 rounds back to 2 MiB: nothing would change
    assert_usage_error(cli("list", "--profile", "smoke", "--workloads", "hash",
                           "--work-scale", "1.25"),
                       "--work-scale 1.25 changes no point's work", "hash", "whole MiB")
    # sizes given with --sizes are measured as given
    assert_usage_error(cli("list", "--profile", "smoke", "--workloads", "cpu", "--sizes",
                           "1000", "--work-scale", "2"), "cpu (its sizes are measured as given)")


def test_a_work_scale_some_workloads_ignore_is_said(cli: Cli) -> None:
    result = cli("list", "--profile", "smoke", "--workloads", "cpu,hash", "--work-scale", "1.25")
    assert result.code == 0, result.err
    assert "concbench: note: --work-scale 1.25 leaves the work of hash unchanged" in result.err
    assert "cpu/sequential/t4" in result.out


@pytest.mark.parametrize("flag", [("--workers", "4"), ("--profile", "full"), ("--name", "x"),
                                  ("--force",), ("--workloads", "cpu"), ("--work-scale", "2"),
                                  ("--output-dir", "elsewhere"), ("--point-timeout", "9")],
                         ids=lambda f: f[0])
def test_resume_refuses_what_it_cannot_change(cli: Cli, tmp_path: Path,
                                              flag: tuple[str, ...]) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    result = cli("run", "--resume", str(run_dir), *flag)
    assert_usage_error(result, "--resume continues the run as it was planned",
                       f"{flag[0]} cannot change it")


def test_min_runs_is_for_the_history_only(cli: Cli, tmp_path: Path) -> None:
    assert_usage_error(cli("check", "a.json", "b.json", "--min-runs", "3"),
                       "--min-runs applies to check --history only")


def test_list_takes_the_point_timeout_its_pre_flight_uses(cli: Cli, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "slowmod.py").write_text("import time\n\ndef work(i, size):\n"
                                         "    time.sleep(5)\n    return i\n")
    monkeypatch.chdir(tmp_path)
    result = cli("list", "--workload", "slowmod:work", "--path", str(tmp_path),
                 "--point-timeout", "1")
    assert_usage_error(result, "did not end within 1 s")


def test_a_bug_shows_its_traceback_not_an_interrupt() -> None:
    # the entry point ignores signals while it cleans up; a real error raised before any
    # signal must not be mistaken for one (it once printed "concbench: interrupted")
    code = ("import sys, bench._entry as entry, bench.cli as cli\n"
            "def boom(argv): raise RuntimeError('a bug here')\n"
            "cli.main = boom\n"
            "sys.exit(entry.console(['run']))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 1
    assert "RuntimeError: a bug here" in done.stderr
    assert "interrupted" not in done.stderr


def test_list_says_which_metrics_the_run_would_collect(cli: Cli) -> None:
    lines = {m: [ln for ln in cli("list", *TINY, *m).err.splitlines() if "metrics" in ln]
             for m in ((), ("--metrics", "memory,cores"), ("--no-metrics",))}
    assert lines[()] == ["concbench: metrics beside time: cores, lag, memory, dispatch, calls "
                         "(each where it applies)"]
    assert lines[("--metrics", "memory,cores")] == [
        "concbench: metrics beside time: memory, cores (each where it applies)"]
    assert lines[("--no-metrics",)] == ["concbench: metrics beside time: none (time only)"]


def test_absent_lines_name_only_the_models_the_plan_asks_for(
        cli: Cli, monkeypatch: pytest.MonkeyPatch, interp: Interpreter) -> None:
    # the measuring interpreter as a 3.11: no asyncio_eager (3.12+), no interpreter_pool (3.14+)
    record = {**interp.record, "python_version": "3.11.7"}

    def resolve(python: str | None, paths: object = ()) -> Interpreter:
        return Interpreter(interp.executable, interp.env, record)

    monkeypatch.setattr(bench.measure.interpreter, "resolve", resolve)

    def absent(*argv: str) -> list[str]:
        result = cli("list", "--profile", "smoke", *argv)
        assert result.code == 0, result.err
        return [ln.split(": ")[2] for ln in result.err.splitlines()
                if ln.startswith("concbench: absent: ")]

    # the profile's defaults ask for every model that runs a workload of the plan
    assert absent() == ["asyncio_eager", "interpreter_pool"]
    assert absent("--workloads", "cpu") == ["interpreter_pool"]
    assert absent("--workloads", "async_sleep") == ["asyncio_eager"]
    # each loop of --loops, the default one included
    assert absent("--workloads", "async_sleep", "--loops", "uvloop") == [
        "asyncio_eager", "asyncio_eager[uvloop]"]
    assert absent("--models", "sequential,asyncio_gather") == []
