"""HTML escapes file data, names stay inside the output dir, JSON only."""

from __future__ import annotations

import ast
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bench
from bench import cli
from bench.errors import UsageError
from bench.measure import launch, runner
from bench.report.export import safe_stem
from bench.results import store
from bench.scenarios.models import Point
from tests.factory import HOST, fake_child, make_benchmark, quiet_probe, write_results

BENCH_DIR = Path(bench.__file__).parent
XSS = "<script>alert('x')</script>"
IMG = '<img src=x onerror="alert(1)">'
SEQ = Point("cpu", "sequential", 4, size=2000.0)
POOL = Point("cpu", "process_pool", 4, 2, "fork", 2000.0)
GRID = ["--profile", "smoke", "--workloads", "cpu", "--models", "sequential", "--work-scale",
        "0.2", "--no-metrics"]


# ------------------------------------------------------------ run names
@pytest.mark.parametrize("name", ["..", ".", "a/b", "../x", "/abs", "/tmp/elsewhere",
                                  "latest", "", "a\\b", "nul\0byte"])
def test_prepare_run_dir_refuses(tmp_path: Path, name: str) -> None:
    out = tmp_path / "out"
    with pytest.raises(UsageError, match="plain directory name"):
        store.prepare_run_dir(out, name, force=True)
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_prepare_run_dir_accepts_plain_name(tmp_path: Path) -> None:
    run_dir = store.prepare_run_dir(tmp_path / "out", "run-1...x", force=False)
    assert run_dir == tmp_path / "out" / "run-1...x"
    assert run_dir.is_dir()


@pytest.mark.parametrize("name", ["../escaped", "/abs/escaped", "latest", "sub/escaped"])
def test_cli_name_cannot_climb_out(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                   monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a refused name reached the measuring stage")

    monkeypatch.setattr(launch, "run_child", refuse)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "deep" / "out"
    code = cli.main(["run", *GRID, "--output-dir", str(out), "--name", name, "-q",
                     "--no-report"])
    err = capsys.readouterr().err
    assert code == 2
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1
    assert lines[0].startswith("concbench: ")
    assert "Traceback" not in err
    created = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    assert created in ([], ["deep"], ["deep", "deep/out"]), created
    assert not any(out.iterdir()) if out.exists() else True
    assert not Path("/abs").exists()


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=40))
def test_safe_stem_stays_in_dir(label: str) -> None:
    stem = safe_stem(label)
    assert stem
    assert not stem.startswith(".")
    assert not set(stem) & {"/", "\\", "\0", ":"}
    out = Path("/srv/report/charts")
    assert (out / f"{stem}.png").parent == out
    assert ".." not in Path(f"{stem}.png").parts


# ------------------------------------------------------------- escaping
def hostile_run(path: Path) -> Path:
    """A results file whose strings are all markup, with a run.json saying the same."""
    host = {**HOST, "host_hostname": XSS, "host_cpu_model": IMG, "host_python_build": XSS,
            "host_platform": f"Linux {IMG}"}
    meta: dict[str, Any] = {"run_name": XSS, "profile": IMG, "git_commit": XSS,
                            "concbench_version": IMG}
    write_results(path / store.RESULTS, [
        make_benchmark(SEQ, [1e-3, 1.01e-3, 0.99e-3] * 2, host=host, **meta),
        make_benchmark(POOL, [6e-4, 6.1e-4, 5.9e-4] * 2, host=host, **meta),
    ])
    manifest = {
        "format": 1, "name": XSS, "settings": {}, "status": f"failed {XSS}",
        "points": [{"name": f"cpu/{XSS}/t4", "point": {}, "status": "failed",
                    "reason": f"exit 1: {IMG}"}],
        "noise": {"noisy": True, "reasons": [f"other work {XSS}"], XSS: IMG},
    }
    store.write_manifest(path, manifest)
    return path


def assert_escaped(html: str) -> None:
    assert XSS not in html
    assert "<script>alert" not in html
    assert IMG not in html
    assert "<img src=x" not in html
    assert "&lt;script&gt;" in html  # shown as text, not dropped


def test_report_escapes_everything(tmp_path: Path) -> None:
    run_dir = hostile_run(tmp_path / "run")
    assert cli.main(["report", str(run_dir), "-o", str(tmp_path / "rep")]) == 0
    html = (tmp_path / "rep" / "index.html").read_text()
    assert_escaped(html)
    assert "cpu/&lt;script&gt;" in html  # the failed point is shown, as text
    for f in (tmp_path / "rep").rglob("*"):  # nothing written outside the output dir
        assert f.resolve().is_relative_to((tmp_path / "rep").resolve())


def test_compare_escapes_labels(tmp_path: Path) -> None:
    a, b = hostile_run(tmp_path / "a"), hostile_run(tmp_path / "b")
    out = tmp_path / "cmp"
    assert cli.main(["compare", str(a), str(b), "-o", str(out)]) == 0
    assert_escaped((out / "index.html").read_text())
    for f in out.rglob("*"):
        assert f.resolve().is_relative_to(out.resolve())


def test_check_junit_and_markdown_with_markup_names(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    weird = f"cpu/sequential/t4 {XSS} ]]> &amp;"
    path = write_results(tmp_path / "r.json", [
        make_benchmark(SEQ, [1e-3, 1.01e-3, 0.99e-3] * 2, name=weird),
        make_benchmark(POOL, [6e-4, 6.1e-4, 5.9e-4] * 2),
    ])
    junit, md = tmp_path / "j.xml", tmp_path / "r.md"
    code = cli.main(["check", str(path), str(path), "--junit", str(junit), "--markdown", str(md)])
    capsys.readouterr()
    assert code == 0
    root = ET.parse(junit).getroot()  # well-formed despite the name
    names = {tc.get("name") for tc in root.iter("testcase")}
    assert weird in names
    assert XSS not in md.read_text()


def test_long_label_cannot_break_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A 300-character workload name must not make a file name the OS refuses."""
    long = "w" * 300
    a = write_results(tmp_path / "a.json", [
        make_benchmark(SEQ, [1e-3, 1.01e-3, 0.99e-3] * 2, workload=long),
        make_benchmark(POOL, [6e-4, 6.1e-4, 5.9e-4] * 2, workload=long),
    ])
    code = cli.main(["compare", str(a), str(a), "-o", str(tmp_path / "cmp")])
    err = capsys.readouterr().err
    assert code == 0, err
    charts = list((tmp_path / "cmp" / "charts").glob("*.png"))
    assert charts
    assert all(len(c.name) <= 255 for c in charts)


# ------------------------------------------------------------ JSON only
SERIALIZERS = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "shelve", "marshal",
               "joblib"}


def _imports(source: str) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id == "__import__" and node.args \
                and isinstance(node.args[0], ast.Constant):
            found.add(str(node.args[0].value).split(".")[0])
    return found


def test_no_pickle_in_bench() -> None:
    sources = sorted(BENCH_DIR.rglob("*.py"))
    assert len(sources) > 10
    for src in sources:
        text = src.read_text(encoding="utf-8")
        # pre-flight pickles a user's arguments and results only to learn whether
        # process pools can send them; it stores nothing
        allowed = {"pickle"} if src.name == "preflight.py" else set()
        assert not _imports(text) & (SERIALIZERS - allowed), f"{src} imports a non-JSON serializer"
        for attr in ("read_pickle", "to_pickle", "np.load(", "allow_pickle=True"):
            assert attr not in text, f"{src} uses {attr}"


def test_imports_scan_works() -> None:
    """The scan above would see a pickle import (so passing it means something)."""
    assert "pickle" in _imports("import os\nimport pickle as p\n")
    assert "pickle" in _imports("from pickle import loads\n")
    assert "shelve" in _imports("x = __import__('shelve')\n")
    assert "pickle" not in _imports("# import pickle\ns = 'import pickle'\n")


def test_stored_files_are_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    """A run directory holds results.json and run.json, both plain JSON (no pickle bytes)."""

    monkeypatch.setattr(launch, "run_child", fake_child)
    monkeypatch.setattr(runner.noise, "probe", quiet_probe)
    assert cli.main(["run", *GRID, "--output-dir", str(tmp_path), "--name", "j", "-q",
                     "--no-report"]) == 0
    capsys.readouterr()
    run_dir = tmp_path / "j"
    assert sorted(p.name for p in run_dir.iterdir()) == [store.RESULTS, store.MANIFEST]
    for f in run_dir.iterdir():
        raw = f.read_bytes()
        assert not raw.startswith(b"\x80"), f"{f} looks like a pickle"
        data = json.loads(raw.decode("utf-8"))
        assert isinstance(data, dict)
    assert json.loads((run_dir / store.MANIFEST).read_text())["status"] == "complete"
    assert len(store.load_results(run_dir).get_benchmarks()) == 1
