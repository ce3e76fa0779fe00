"""The user's own workloads: declaring them (CLI, pyproject), pre-flight, and a real run of each.

The real runs (marked slow) measure the example workloads of ``examples/``:
a sync function called as ``func(i, size)``, a sync one with an ``args``
factory and an async one with a ``setup``, through the whole pipeline.
"""

from __future__ import annotations

import contextlib
import csv
import io
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bench import cli
from bench.errors import UsageError
from bench.measure.interpreter import resolve
from bench.measure.preflight import check_one, preflight
from bench.scenarios.user import declared, find_pyproject, from_pyproject, from_refs
from bench.scenarios.workloads import BUILTINS, Workload

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"


def run_cli(*argv: str, cwd: Path | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
            contextlib.chdir(cwd or Path.cwd()):
        code = cli.main(list(argv))
    return code, out.getvalue(), err.getvalue()


def write_module(folder: Path, name: str, body: str) -> None:
    (folder / f"{name}.py").write_text(textwrap.dedent(body))


# ------------------------------------------------------------------ declaring
def test_cli_refs_are_named_after_the_function() -> None:
    (a, b) = from_refs(["pkg.mod:parse", "fast=pkg.mod:Parser.run"])
    assert (a.name, a.func) == ("parse", "pkg.mod:parse")
    assert (b.name, b.func) == ("fast", "pkg.mod:Parser.run")
    assert not a.builtin


@pytest.mark.parametrize(("ref", "words"), [
    ("nocolon", "'module:function'"),
    ("mod:", "'module:function'"),
    ("cpu_tasks:cpu", "built-in"),  # named 'cpu', a built-in's name
])
def test_bad_cli_refs(ref: str, words: str) -> None:
    with pytest.raises(UsageError, match=words):
        from_refs([ref])


def test_pyproject_table(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "pyproject.toml").write_text(textwrap.dedent("""
        [tool.concbench]
        path = ["src"]
        [tool.concbench.workloads.parse]
        func = "app.parsing:parse"
        args = "app.parsing:make_args"
        setup = "app.parsing:warm"
        size = [1000, 10000]
        unit = "lines"
        check = "none"
    """))
    found = find_pyproject(tmp_path / "sub")
    assert found == tmp_path / "pyproject.toml"
    got = from_pyproject(found)
    assert got.paths == [str((tmp_path / "src").resolve())]
    (w,) = got.workloads
    assert w == Workload("parse", "app.parsing:parse", "lines", (1000.0, 10000.0), "", False,
                         "app.parsing:make_args", "app.parsing:warm", "none")


@pytest.mark.parametrize(("table", "words"), [
    ('[tool.concbench.workloads.x]\nfunc = "m:f"\nsizes = 3', "unknown key 'sizes'"),
    ('[tool.concbench.workloads.x]\nsize = 3', "no func"),
    ('[tool.concbench.workloads.x]\nfunc = "m:f"\nsize = -1', "size must be"),
    ('[tool.concbench.workloads.x]\nfunc = "m:f"\ncheck = "same"', "check must be"),
    ('[tool.concbench.workloads.x]\nfunc = "m:f"\nresource = "gpu"', "resource must be"),
    ('[tool.concbench.workloads.cpu]\nfunc = "m:f"', "built-in"),
    ('[tool.concbench]\nworkload = 1', "unknown key 'workload'"),
])
def test_bad_pyproject_tables(tmp_path: Path, table: str, words: str) -> None:
    (tmp_path / "pyproject.toml").write_text(table + "\n")
    code, _, err = run_cli("list", cwd=tmp_path)
    assert code == 2
    assert words in err
    assert len(err.strip().splitlines()) == 1


def test_no_table_means_the_builtins(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    assert find_pyproject(tmp_path) is None
    assert declared([], [], tmp_path).workloads == []



def _workloads_listed(out: str) -> set[str]:
    return {line.split("/")[0] for line in out.splitlines() if "/" in line}


def test_a_named_function_is_what_is_measured_beside_a_table() -> None:
    # the examples' table declares parse, words, fetch and agent: --workload names one of them
    # (with the table's settings), --workloads adds others, none of them: the whole table
    common = ("list", "--profile", "smoke", "--tasks", "4", "--sizes", "100")
    code, out, err = run_cli(*common, "--workload", "textparse:parse", cwd=EXAMPLES)
    assert code == 0, err
    assert _workloads_listed(out) == {"parse"}
    code, out, err = run_cli(*common, "--workload", "textparse:parse", "--workloads", "cpu",
                             cwd=EXAMPLES)
    assert code == 0, err
    assert _workloads_listed(out) == {"parse", "cpu"}
    code, out, err = run_cli(*common, cwd=EXAMPLES)
    assert code == 0, err
    assert _workloads_listed(out) == {"parse", "words", "fetch", "agent"}


# ----------------------------------------------------------------- pre-flight
PREFLIGHT_CASES = {
    "not_importable": ("nosuchmodule:f", "", "cannot import module 'nosuchmodule'"),
    "no_attribute": ("userwork:parze", "", "has no 'parze' (did you mean 'parse'?)"),
    "lambda": ("userwork:short", "", "is a lambda"),
    "nested": ("userwork:outer.inner", "", "has no 'inner'"),
    "main": ("__main__:f", "", "defined in __main__"),
    "differs": ("userwork:noisy", "", "returned different results"),
}


@pytest.fixture
def userwork(tmp_path: Path) -> Path:
    write_module(tmp_path, "userwork", """
        import itertools, threading
        _counter = itertools.count()
        short = lambda i, size: i
        def parse(i, size):
            return i * size
        def outer():
            def inner(i, size):
                return i
            return inner
        def noisy(i, size):
            return next(_counter)
        def boom(i, size):
            return helper(i)
        def helper(i):
            raise ValueError(f"bad input {i}")
        def locked(i, size):
            return threading.Lock()
        async def fetch(i, size):
            return i
    """)
    return tmp_path


@pytest.mark.parametrize("case", sorted(PREFLIGHT_CASES))
def test_preflight_usage_errors(userwork: Path, case: str,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    ref, _, words = PREFLIGHT_CASES[case]
    interp = resolve(None, [str(userwork)])
    (v,) = preflight(interp, [Workload("w", ref)], [1.0], timeout=60)
    assert v.status == "usage"
    assert words in v.message


def test_preflight_learns_async_and_pickling(userwork: Path) -> None:
    interp = resolve(None, [str(userwork)])
    ok, fetch, locked = preflight(
        interp, [Workload("a", "userwork:parse"), Workload("b", "userwork:fetch"),
                 Workload("c", "userwork:locked", check="none")], [2.0, 2.0, 2.0], timeout=60)
    assert (ok.status, ok.is_async, ok.refused) == ("ok", False, {})
    assert (fetch.status, fetch.is_async) == ("ok", True)
    assert locked.status == "ok"
    assert "results do not pickle" in locked.refused["pickle"]


def test_a_raising_workload_exits_1_with_the_users_traceback(userwork: Path) -> None:
    code, _, err = run_cli("list", "--workload", "userwork:boom", "--path", str(userwork))
    assert code == 1
    assert "ValueError: bad input 0" in err
    assert "in helper" in err  # the user's frames
    assert "preflight.py" not in err  # not the harness's
    assert err.strip().splitlines()[-1].startswith("concbench: workload 'boom' raised ValueError")


def test_unpicklable_results_leave_process_pools_out(userwork: Path) -> None:
    code, _, err = run_cli("list", "--profile", "smoke", "--workload", "userwork:locked",
                             "--path", str(userwork), "--workloads", "locked")
    assert code == 2  # check = "equal" on locks: two calls differ
    assert "different results" in err


def test_process_pool_asked_for_on_unpicklable_work_is_a_usage_error(
        userwork: Path, tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(textwrap.dedent(f"""
        [tool.concbench]
        path = ["{userwork}"]
        [tool.concbench.workloads.locked]
        func = "userwork:locked"
        check = "none"
    """))
    code, out, err = run_cli("list", "--profile", "smoke", cwd=tmp_path)
    assert code == 0, err
    assert "process_pool" not in out
    assert "not applicable: locked/process_pool[fork]/t4/w2: process pools cannot run it" in err
    code, _, err = run_cli("list", "--profile", "smoke", "--models", "process_pool",
                           cwd=tmp_path)
    assert code == 2
    assert "process pools cannot run it" in err


def test_models_follow_sync_or_async(userwork: Path) -> None:
    code, out, err = run_cli("list", "--profile", "smoke", "--path", str(userwork),
                             "--workload", "userwork:parse", "--workload", "userwork:fetch")
    assert code == 0, err
    models = {line.split("/")[0]: set() for line in out.split()}
    for line in out.split():
        models[line.split("/")[0]].add(line.split("/")[1].split("[")[0])
    assert models["parse"] == {"sequential", "asyncio_blocking", "to_thread", "thread_pool",
                               "process_pool"}
    assert models["fetch"] == {"sequential", "asyncio_await", "asyncio_gather",
                               "asyncio_create_task", "asyncio_taskgroup"}
    code, _, err = run_cli("list", "--path", str(userwork), "--workload", "userwork:fetch",
                           "--workloads", "fetch", "--models", "thread_pool")
    assert code == 2
    assert "cannot run the async workload 'fetch'" in err


def test_sizes_are_a_grid_axis_measured_as_given(userwork: Path) -> None:
    code, out, err = run_cli("list", "--profile", "smoke", "--path", str(userwork),
                             "--workload", "userwork:parse", "--sizes", "1e3,1e4",
                             "--models", "sequential,process_pool")
    assert code == 0, err
    assert "parse/sequential/t4/s1000" in out.split()
    assert "parse/process_pool[fork]/t4/w2/s10000" in out.split()


def test_check_one_in_process_sees_the_example() -> None:
    sys.path.insert(0, str(EXAMPLES))
    try:
        v = check_one(Workload("parse", "textparse:parse", args="textparse:make_lines"), 10.0)
    finally:
        sys.path.remove(str(EXAMPLES))
    assert (v.status, v.is_async, v.refused) == ("ok", False, {})


# ------------------------------------------------------------- real pipeline
@pytest.mark.slow
def test_examples_through_the_whole_pipeline(tmp_path: Path) -> None:
    """Three declared workloads: run, report, recommendations, compare, check, --resume."""
    out = tmp_path / "out"
    code, _, err = run_cli("run", "--profile", "smoke", "--tasks", "4", "--sizes", "200",
                           "--workloads", "parse,words,fetch",  # agent: tests/test_net.py
                           "--models", "sequential,asyncio_gather,thread_pool,process_pool",
                           "--output-dir", str(out), "--name", "a", cwd=EXAMPLES)
    assert code == 0, err
    run_dir = out / "a"
    for f in ("results.json", "run.json", "index.html", "summary.csv", "recommendations.csv"):
        assert (run_dir / f).exists(), f
    with (run_dir / "recommendations.csv").open() as fh:
        recs = list(csv.DictReader(fh))
    assert {r["workload"] for r in recs} == {"parse", "words", "fetch"}
    assert list(recs[0]) == ["workload", "task_size", "tasks", "model", "start_method",
                             "workers", "speedup", "speedup_ci_low", "speedup_ci_high",
                             "equivalent", "name", "equivalent_names", "python", "native",
                             "decided", "worse", "undecided", "needed", "rounds", "delta",
                             "mean_speedup", "mean_speedup_low", "mean_speedup_high",
                             "cores_used", "lag", "memory", "dispatch", "calls"]
    # your own workloads get every metric that applies to them
    with (run_dir / "summary.csv").open() as fh:
        summary = {r["name"]: r for r in csv.DictReader(fh)}
    assert all(r["cores_used"] and r["memory"] and r["dispatch"] for r in summary.values()
               if r["metric"] == "steady")
    fetch = next(r for r in recs if r["workload"] == "fetch")  # which one wins is the host's say
    assert fetch["model"] in ("sequential", "asyncio_gather")
    assert next(r for r in recs if r["workload"] == "parse")["model"] != "asyncio_gather"
    report = (run_dir / "report.md").read_text()
    assert "fetch, 200 bytes, T = 4:" in report
    code, _, err = run_cli("compare", str(run_dir), str(run_dir), "-o", str(tmp_path / "cmp"))
    assert code == 0, err
    code, _, err = run_cli("check", str(run_dir), str(run_dir))
    assert code == 0, err
    (run_dir / "results.json").unlink()  # as if interrupted before anything was saved
    code, _, err = run_cli("run", "--resume", str(run_dir), "--no-report", cwd=tmp_path)
    assert code == 0, err


@pytest.mark.slow
@pytest.mark.parametrize("version", ["3.12", "3.13"])
def test_user_workload_under_another_python(tmp_path: Path, version: str) -> None:
    found = sorted(Path("/root/.pyenv/versions").glob(f"{version}*/bin/python{version}"))
    if not found:
        pytest.skip(f"no CPython {version} under ~/.pyenv")
    code, _, err = run_cli("run", "--profile", "smoke", "--tasks", "4", "--workloads", "parse",
                           "--sizes", "100", "--models", "sequential,process_pool",
                           "--python", str(found[0]), "--output-dir", str(tmp_path),
                           "--name", "p", "--no-report", cwd=EXAMPLES)
    assert code == 0, err


def test_a_fifth_builtin_is_one_entry() -> None:
    assert "compress" in BUILTINS
    w = BUILTINS["compress"]
    assert (w.resource, w.builtin, w.is_async) == ("cpu_nogil", True, False)
    out = subprocess.run([sys.executable, "-m", "bench", "list", "--profile", "smoke",
                          "--workloads", "compress"], capture_output=True, text=True,
                         cwd=REPO, timeout=120, check=True)
    assert "compress/thread_pool/t4/w2" in out.stdout.split()


@pytest.mark.slow
def test_a_cli_declared_workload_runs_and_is_recommended(tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, _, err = run_cli("run", "--profile", "smoke", "--workload", "wordfreq:top_words",
                           "--path", str(EXAMPLES), "--sizes", "300", "--tasks", "4",
                           "--models", "sequential,thread_pool,process_pool",
                           "--output-dir", str(out), "--name", "c", cwd=tmp_path)
    assert code == 0, err
    with (out / "c" / "recommendations.csv").open() as fh:
        (rec,) = list(csv.DictReader(fh))
    assert rec["workload"] == "top_words"
    assert rec["model"] in ("sequential", "thread_pool", "process_pool")
    code, _, err = run_cli("run", "--resume", str(out / "c"), "--no-report", cwd=tmp_path)
    assert code == 0, err
