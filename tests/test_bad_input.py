"""Every bad input is one line on stderr and exit 2, never a traceback.

Named cases go through ``bench.cli.main`` in-process (fast) for ``report``,
``compare``, ``check`` and ``run --resume``, plus run and check flags out of
range; a few go through a real ``python -m bench`` subprocess.  Hypothesis
feeds arbitrary bytes, arbitrary JSON and pyperf-shaped files with random
metadata to the loader and the CLI.
"""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyperf
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench import cli
from bench.errors import UsageError
from bench.measure import launch, runner
from bench.results import store
from bench.scenarios.models import Point
from tests.factory import fake_child, make_benchmark, quiet_probe, write_results

SEQ = Point("cpu", "sequential", 4, size=2000.0)
POOL = Point("cpu", "process_pool", 4, 2, "fork", 2000.0)
GRID = ["--profile", "smoke", "--workloads", "cpu", "--models", "sequential,process_pool",
        "--work-scale", "0.2"]


# ----------------------------------------------------------------- helpers
def good_file(path: Path, **meta: Any) -> Path:
    return write_results(path, [make_benchmark(SEQ, [1e-3, 1.1e-3, 0.9e-3, 1e-3, 1.05e-3], **meta),
                                make_benchmark(POOL, [6e-4, 6.2e-4, 5.9e-4, 6e-4, 6.1e-4], **meta)])


def foreign_pyperf(path: Path) -> Path:
    """A pyperf results file of another tool: no concbench metadata at all."""
    run = pyperf.Run([0.5, 0.6, 0.55], warmups=[(1, 0.7)],
                     metadata={"name": "bm_nbody", "unit": "second", "loops": 1},
                     collect_metadata=False)
    pyperf.BenchmarkSuite([pyperf.Benchmark([run])]).dump(str(path), replace=True)
    return path


def _json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data))
    return path


def _edited(path: Path, edit: Callable[[dict[str, Any]], None]) -> Path:
    """A real results file with its JSON edited."""
    good_file(path)
    data = json.loads(path.read_text())
    edit(data)
    return _json(path, data)


def _set_values(data: dict[str, Any], value: float) -> None:
    data["benchmarks"][0]["runs"][0]["values"] = [value] * 5


def _truncated(path: Path) -> Path:
    good_file(path)
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    return path


#: name -> builder of a bad results "file" at the given path
RESULT_CASES: dict[str, Callable[[Path], Path]] = {
    "missing": lambda p: p,
    "directory_without_results": lambda p: (p.mkdir(), p)[1],
    "empty": lambda p: (p.write_bytes(b""), p)[1],
    "whitespace_only": lambda p: (p.write_text(" \n\t\n"), p)[1],
    "truncated": _truncated,
    "invalid_json": lambda p: (p.write_text('{"benchmarks": [,]}'), p)[1],
    "binary": lambda p: (p.write_bytes(b"\xff\xfe\x00\x81garbage\x00"), p)[1],
    "json_list": lambda p: _json(p, [1, 2, 3]),
    "json_number": lambda p: _json(p, 42),
    "json_string": lambda p: _json(p, "results"),
    "json_null": lambda p: _json(p, None),
    "dict_not_pyperf": lambda p: _json(p, {"hello": "world"}),
    "benchmarks_not_list": lambda p: _json(p, {"version": "1.0", "benchmarks": {"a": 1}}),
    "no_benchmarks": lambda p: _json(p, {"version": "1.0", "benchmarks": []}),
    "benchmark_not_dict": lambda p: _json(p, {"version": "1.0", "benchmarks": [3]}),
    "foreign_pyperf": foreign_pyperf,
    "newer_format": lambda p: good_file(p, concbench_format=99),
    "format_not_int": lambda p: good_file(p, concbench_format="1"),
    "negative_values": lambda p: _edited(p, lambda d: _set_values(d, -1.0)),
    "string_values": lambda p: _edited(p, lambda d: _set_values(d, "fast")),  # type: ignore[arg-type]
    "tasks_not_a_number": lambda p: good_file(p, tasks="many"),
    "task_size_not_a_number": lambda p: good_file(p, task_size="big"),
    "workers_not_a_number": lambda p: good_file(p, workers="two"),
    "usable_cores_not_a_number": lambda p: good_file(p, host_usable_cores="two"),
    "tasks_out_of_range": lambda p: good_file(p, tasks=-4),
    "workers_out_of_range": lambda p: good_file(p, workers=0),
}


def commands(bad: Path, good: Path, out: Path) -> dict[str, list[str]]:
    return {
        "report": ["report", str(bad), "-o", str(out / "report")],
        "compare_first": ["compare", str(bad), str(good), "-o", str(out / "cmp1")],
        "compare_second": ["compare", str(good), str(bad), "-o", str(out / "cmp2")],
        "check_baseline": ["check", str(bad), str(good)],
        "check_current": ["check", str(good), str(bad)],
    }


def assert_usage_error(code: int, err: str) -> str:
    """Exit 2 and exactly one non-empty stderr line ``concbench: ...``; return it."""
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2, err
    assert len(lines) == 1, err
    assert lines[0].startswith("concbench: "), err
    return lines[0]


def run_main(argv: list[str]) -> tuple[int, str, str]:
    """cli.main in-process, capturing its output (usable inside hypothesis examples)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(argv)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def no_measuring(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bad input must be refused before anything is measured."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("bad input reached the measuring stage")

    monkeypatch.setattr(launch, "run_child", refuse)
    monkeypatch.setattr(runner.noise, "probe", quiet_probe)


# ------------------------------------------------------ results-file inputs
#: Cases about the values inside a well-formed concbench file: the loader may accept
#: them as long as every command then refuses them (see test_bad_results_file).
METADATA_CASES = {"tasks_not_a_number", "task_size_not_a_number", "workers_not_a_number",
                  "usable_cores_not_a_number", "tasks_out_of_range", "workers_out_of_range"}


@pytest.mark.parametrize("case", sorted(set(RESULT_CASES) - METADATA_CASES))
def test_load_results_refuses(tmp_path: Path, case: str) -> None:
    bad = RESULT_CASES[case](tmp_path / "bad.json")
    with pytest.raises(UsageError) as info:
        store.load_results(bad)
    msg = str(info.value)
    assert "\n" not in msg
    assert str(bad) in msg or str(bad / store.RESULTS) in msg


@pytest.mark.parametrize("command", ["report", "compare_first", "compare_second",
                                     "check_baseline", "check_current"])
@pytest.mark.parametrize("case", sorted(RESULT_CASES))
def test_bad_results_file(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                          case: str, command: str) -> None:
    good = good_file(tmp_path / "good.json")
    bad = RESULT_CASES[case](tmp_path / "bad.json")
    argv = commands(bad, good, tmp_path / "out")[command]
    code = cli.main(argv)
    cap = capsys.readouterr()
    line = assert_usage_error(code, cap.err)
    assert "bad.json" in line  # names where the problem is
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*.html"))


def test_messages_say_what_is_wrong(tmp_path: Path) -> None:
    """A few messages, checked for their content."""
    expect = {
        "missing": "no such file",
        "empty": "empty",
        "truncated": "not valid JSON",
        "foreign_pyperf": "not from concbench",
        "newer_format": "newer",
        "dict_not_pyperf": "not a pyperf results file",
    }
    for case, words in expect.items():
        bad = RESULT_CASES[case](tmp_path / f"{case}.json")
        with pytest.raises(UsageError, match=words):
            store.load_results(bad)


# ----------------------------------------------------------- run --resume
def _real_run_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A complete run directory made by ``concbench run`` with instant fake children."""

    with monkeypatch.context() as m:
        m.setattr(launch, "run_child", fake_child)
        m.setattr(runner.noise, "probe", quiet_probe)
        code = cli.main(["run", *GRID, "--output-dir", str(tmp_path / "out"), "--name", "r",
                         "-q", "--no-report"])
    assert code == 0
    return tmp_path / "out" / "r"


def _manifest_edit(edit: Callable[[dict[str, Any]], Any]) -> Callable[[Path], None]:
    def apply(run_dir: Path) -> None:
        path = run_dir / store.MANIFEST
        data = json.loads(path.read_text())
        data = edit(data) or data
        path.write_text(json.dumps(data))
    return apply


def _set(keys: tuple[str, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(data: dict[str, Any]) -> None:
        for k in keys[:-1]:
            data = data[k]
        data[keys[-1]] = value
    return edit


def _raw(text: bytes) -> Callable[[Path], None]:
    return lambda run_dir: (run_dir / store.MANIFEST).write_bytes(text)


def _halve_manifest(run_dir: Path) -> None:
    path = run_dir / store.MANIFEST
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])


def _drop_last_result(run_dir: Path) -> None:
    """Leave the run one point short, so that --resume has something to measure."""
    suite = store.load_results(run_dir)
    store.save_results(run_dir / store.RESULTS, suite.get_benchmarks()[:-1])


RESUME_CASES: dict[str, Callable[[Path], Any]] = {
    "no_manifest": lambda d: (d / store.MANIFEST).unlink(),
    "empty_manifest": _raw(b""),
    "truncated_manifest": _halve_manifest,
    "invalid_manifest": _raw(b"{not json"),
    "manifest_list": _raw(b"[]"),
    "manifest_number": _raw(b"7"),
    "manifest_string": _raw(b'"run"'),
    "manifest_without_settings": _raw(b'{"format": 1}'),
    "manifest_newer_format": _manifest_edit(_set(("format",), 99)),
    "manifest_format_not_a_number": _manifest_edit(_set(("format",), "one")),
    "settings_not_a_dict": _manifest_edit(_set(("settings",), 5)),
    "grid_unknown_key": _manifest_edit(_set(("settings", "grid", "bogus"), 1)),
    "grid_bad_profile": _manifest_edit(_set(("settings", "grid", "profile"), "nope")),
    "grid_work_scale_out_of_range": lambda d: (
        _manifest_edit(_set(("settings", "grid", "work_scale"), -1))(d), _drop_last_result(d)),
    "point_timeout_out_of_range": lambda d: (
        _manifest_edit(_set(("settings", "point_timeout"), -5))(d), _drop_last_result(d)),
    "points_missing": _manifest_edit(lambda d: d.pop("points") and None),
    "point_malformed": _manifest_edit(_set(("points",), [{"name": "x", "point": {"a": 1}}])),
    "results_truncated": lambda d: _truncated(d / store.RESULTS) and None,
    "results_foreign": lambda d: foreign_pyperf(d / store.RESULTS) and None,
    "results_newer": lambda d: good_file(d / store.RESULTS, concbench_format=99) and None,
    "results_not_json": lambda d: (d / store.RESULTS).write_text("<html>") and None,
}


@pytest.mark.parametrize("case", sorted(RESUME_CASES))
def test_resume_bad_run_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                            capsys: pytest.CaptureFixture[str], case: str) -> None:
    run_dir = _real_run_dir(tmp_path, monkeypatch)
    RESUME_CASES[case](run_dir)
    capsys.readouterr()
    monkeypatch.setattr(launch, "run_child", _refuse)
    monkeypatch.setattr(runner.noise, "probe", quiet_probe)
    code = cli.main(["run", "--resume", str(run_dir), "-q", "--no-report"])
    assert_usage_error(code, capsys.readouterr().err)


def _refuse(*args: object, **kwargs: object) -> None:
    raise AssertionError("bad input reached the measuring stage")


@pytest.mark.parametrize("target", ["missing", "file", "empty_dir"])
def test_resume_not_a_run_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                              target: str) -> None:
    path = tmp_path / target
    if target == "file":
        good_file(path)
    elif target == "empty_dir":
        path.mkdir()
    code = cli.main(["run", "--resume", str(path), "-q", "--no-report"])
    line = assert_usage_error(code, capsys.readouterr().err)
    assert target in line


# -------------------------------------------------------------- run flags
RUN_FLAGS = {
    "workers_0": ["--workers", "0"],
    "workers_negative": ["--workers", "-1"],
    "workers_not_a_number": ["--workers", "two"],
    "tasks_negative": ["--tasks", "-1"],
    "tasks_0": ["--tasks", "0"],
    "tasks_empty": ["--tasks", ","],
    "work_scale_0": ["--work-scale", "0"],
    "work_scale_negative": ["--work-scale", "-2"],
    "work_scale_nan": ["--work-scale", "nan"],
    "work_scale_inf": ["--work-scale", "inf"],
    "work_scale_junk": ["--work-scale", "lots"],
    "point_timeout_0": ["--point-timeout", "0"],
    "point_timeout_negative": ["--point-timeout", "-5"],
    "point_timeout_nan": ["--point-timeout", "nan"],
    "profile_unknown": ["--profile", "huge"],
    "workload_unknown": ["--workloads", "gpu"],
    "model_unknown": ["--models", "greenlets"],
    "start_method_unknown": ["--start-methods", "teleport"],
    "python_missing": ["--python", "/nonexistent/python9"],
    "unknown_flag": ["--frobnicate"],
}


@pytest.mark.parametrize("case", sorted(RUN_FLAGS))
def test_run_flag_out_of_range(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                               no_measuring: None, case: str) -> None:
    out = tmp_path / "out"
    code = cli.main(["run", *GRID, *RUN_FLAGS[case], "--output-dir", str(out), "--name", "x",
                     "-q", "--no-report"])
    assert_usage_error(code, capsys.readouterr().err)
    assert not out.exists() or not any(out.iterdir()), "a refused run left files behind"


CHECK_FLAGS = {
    "alpha_2": ["--alpha", "2"],
    "alpha_0": ["--alpha", "0"],
    "alpha_negative": ["--alpha", "-0.1"],
    "alpha_nan": ["--alpha", "nan"],
    "alpha_junk": ["--alpha", "often"],
    "max_slowdown_junk": ["--max-slowdown", "junk"],
    "max_slowdown_negative": ["--max-slowdown=-5%"],
    "max_slowdown_negative_as_option": ["--max-slowdown", "-5%"],
    "max_slowdown_huge": ["--max-slowdown", "5000%"],
    "max_slowdown_nan": ["--max-slowdown", "nan"],
    "metric_unknown": ["--metric", "energy"],
}


@pytest.mark.parametrize("case", sorted(CHECK_FLAGS))
def test_check_flag_out_of_range(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                 case: str) -> None:
    good = good_file(tmp_path / "good.json")
    code = cli.main(["check", str(good), str(good), *CHECK_FLAGS[case]])
    assert_usage_error(code, capsys.readouterr().err)


def test_compare_needs_two_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = good_file(tmp_path / "good.json")
    code = cli.main(["compare", str(good), "-o", str(tmp_path / "cmp")])
    assert_usage_error(code, capsys.readouterr().err)


def test_good_files_pass(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The control: the same commands accept a good file (so the refusals mean something)."""
    good = good_file(tmp_path / "good.json")
    assert cli.main(["check", str(good), str(good)]) == 0
    assert cli.main(["compare", str(good), str(good), "-o", str(tmp_path / "cmp")]) == 0
    assert "Traceback" not in capsys.readouterr().err


# ------------------------------------------------------ real subprocesses
@pytest.mark.parametrize("argv", [
    ["check", "{good}", "{truncated}"],
    ["report", "{foreign}"],
    ["compare", "{good}", "{newer}", "-o", "{tmp}/cmp"],
    ["run", "--resume", "{tmp}/nowhere"],
    ["run", "--workers", "0", "--output-dir", "{tmp}/out"],
    ["run", "--work-scale", "inf", "--output-dir", "{tmp}/out"],
], ids=["check-truncated", "report-foreign", "compare-newer", "resume-missing",
        "run-workers-0", "run-work-scale-inf"])
def test_subprocess_bad_input(tmp_path: Path, argv: list[str]) -> None:
    paths = {
        "good": good_file(tmp_path / "good.json"),
        "truncated": _truncated(tmp_path / "truncated.json"),
        "foreign": foreign_pyperf(tmp_path / "foreign.json"),
        "newer": good_file(tmp_path / "newer.json", concbench_format=99),
        "tmp": tmp_path,
    }
    args = [a.format(**paths) for a in argv]
    res = subprocess.run([sys.executable, "-m", "bench", *args], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120, check=False)
    assert_usage_error(res.returncode, res.stderr)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


# --------------------------------------------------------------- hypothesis
SCALARS = (st.none() | st.booleans() | st.integers(-10**6, 10**6)
           | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12))
JSON_VALUES = st.recursive(
    SCALARS,
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids,
                                                               max_size=4),
    max_leaves=20,
)
CONCBENCH_KEYS = st.sampled_from([
    "concbench_format", "workload", "model", "tasks", "workers", "start_method", "metric",
    "task_size", "task_unit", "work_scale", "host_usable_cores", "host_hostname", "run_name",
    "profile",
])
META_KEYS = CONCBENCH_KEYS | st.sampled_from(["name", "unit", "loops", "inner_loops", "date",
                                              "duration"]) | st.text(max_size=8)
META_VALUES = (st.sampled_from([1, 1, 1, 2, 0, -1, "1", 1.5, "cpu", "sequential",
                                "process_pool", "steady", "cold", "fork", "second", 4, 2])
               | SCALARS)
METADATA = st.dictionaries(META_KEYS, META_VALUES, max_size=8)
NUMBERS = st.floats(min_value=1e-9, max_value=10.0) | SCALARS
RUNS = st.lists(
    st.fixed_dictionaries(
        {"values": st.lists(NUMBERS, max_size=5)},
        optional={"warmups": st.lists(st.tuples(st.integers(-1, 3), NUMBERS).map(list),
                                      max_size=2),
                  "metadata": METADATA},
    ),
    max_size=3,
)
BENCHMARK = st.fixed_dictionaries({"runs": RUNS}, optional={"metadata": METADATA})
PYPERF_LIKE = st.fixed_dictionaries(
    {"benchmarks": st.lists(BENCHMARK, max_size=3)},
    optional={"version": st.sampled_from(["1.0", "0.9", "2.0", 1]), "metadata": METADATA},
)
#: Files that pass pyperf's checks and carry concbench metadata, with random values in it.
CONCBENCH_LIKE = st.builds(
    lambda meta, values: {
        "version": "1.0",
        "benchmarks": [{"metadata": {"name": "cpu/sequential/t4", "unit": "second", "loops": 1,
                                     "concbench_format": 1, **meta},
                        "runs": [{"values": values}]}],
    },
    st.dictionaries(CONCBENCH_KEYS, META_VALUES, min_size=1, max_size=6),
    st.lists(st.floats(min_value=1e-6, max_value=1.0), min_size=1, max_size=6),
)
ANY_JSON = JSON_VALUES | PYPERF_LIKE | CONCBENCH_LIKE
HYP = settings(max_examples=50, deadline=None,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _dump(data: Any) -> bytes:
    return json.dumps(data, allow_nan=True).encode()


def _check_loader(raw: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "results.json"
        path.write_bytes(raw)
        try:
            suite = store.load_results(path)
        except UsageError as exc:
            message = str(exc)
        else:
            message = ""
            assert isinstance(suite, pyperf.BenchmarkSuite)
            assert suite.get_benchmarks()
        assert "\n" not in message


@HYP
@given(st.binary(max_size=300))
def test_hypothesis_bytes_load(raw: bytes) -> None:
    _check_loader(raw)


@HYP
@given(ANY_JSON)
def test_hypothesis_json_load(data: Any) -> None:
    _check_loader(_dump(data))


def _check_cli(data: Any, argv: Callable[[Path, Path], list[str]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "results.json"
        path.write_bytes(_dump(data))
        code, _, err = run_main(argv(path, Path(tmp) / "out"))
    assert code in (0, 1, 2), err
    assert "Traceback" not in err
    if code == 2:
        assert_usage_error(code, err)


@HYP
@given(ANY_JSON)
def test_hypothesis_check(data: Any) -> None:
    _check_cli(data, lambda p, out: ["check", str(p), str(p)])


@HYP
@given(CONCBENCH_LIKE)
def test_hypothesis_check_concbench_metadata(data: Any) -> None:
    """Readable concbench files whose metadata values are random."""
    _check_cli(data, lambda p, out: ["check", str(p), str(p)])


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(ANY_JSON)
def test_hypothesis_report(data: Any) -> None:
    _check_cli(data, lambda p, out: ["report", str(p), "-o", str(out)])


@pytest.mark.parametrize("manifest", [b"", b"{oops", b"[1]", b'{"format": "one", "settings": {}}',
                                      b'{"format": 99, "settings": {}}',
                                      b'{"format": 1, "settings": {}, "points": 5, "noise": 3}'])
def test_report_with_bad_run_json_next_to_results(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str],
                                                  manifest: bytes) -> None:
    """A broken run.json beside a good results file: a report (its problem shown) or exit 2."""
    run_dir = tmp_path / "run"
    good_file(run_dir / store.RESULTS)
    (run_dir / store.MANIFEST).write_bytes(manifest)
    code = cli.main(["report", str(run_dir), "-o", str(tmp_path / "rep")])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    if code != 0:
        assert_usage_error(code, err)


def test_a_cold_point_without_workers_is_reported(tmp_path: Path) -> None:
    # found by test_hypothesis_report: a results file's cold point need not name W
    path = tmp_path / "r.json"
    path.write_text(json.dumps({"version": "1.0", "benchmarks": [{"metadata": {
        "name": "cpu/sequential/t4", "unit": "second", "loops": 1, "concbench_format": 1,
        "metric": "cold"}, "runs": [{"values": [1.0]}]}]}), encoding="utf-8")
    code, _, err = run_main(["report", str(path), "-o", str(tmp_path / "out")])
    assert code == 0, err
