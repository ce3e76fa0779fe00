"""Several interpreters in one run (``--python A,B``): the axis, its rounds, its ratios.

The sweep's order is checked with stand-in children (no measuring); the ratios on
recorded runs with known truth; a real run under this interpreter and 3.14 is in
``tests/test_pythons.py`` (where a 3.14 can be had).
"""

from __future__ import annotations

import itertools
import os
import platform
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import bench.measure.interpreter
from bench import cli
from bench.api import load
from bench.errors import UsageError
from bench.gate import history
from bench.gate.check import check_runs
from bench.gate.compare import compare_runs
from bench.gate.compare_report import markdown, write_comparison
from bench.measure import launch, runner
from bench.measure.interpreter import Interpreter, specs, tag
from bench.measure.rounds import python_order, with_partners
from bench.report.html import write_report
from bench.report.interpreters import interpreter_rows, interpreter_sentences
from bench.results.recommend import recommendations
from bench.scenarios.models import Point
from tests.conftest import CliResult
from tests.factory import HOST, fake_child, make_benchmark, quiet_probe, write_results


# ------------------------------------------------------------------ specs and order
def test_specs_and_tags() -> None:
    assert specs(None) == [None]
    assert specs("3.11, 3.14") == ["3.11", "3.14"]
    with pytest.raises(UsageError, match=r"names 3\.11 more than once"):
        specs("3.11, 3.14,3.11")
    assert tag({"python_version": "3.14.0", "python_build": "main"}) == "3.14"
    assert tag({"python_version": "3.14.0", "python_build": "main free-threading"}) == "3.14t"
    assert tag({"python_version": "3.13.1", "python_build": "x"}, full=True) == "3.13.1"


def test_each_interpreter_goes_first_as_often_as_the_others() -> None:
    for tags in (["3.11", "3.14"], ["3.11", "3.13", "3.14"]):
        key = ("cpu", 16, 1e4, "steady")
        orders = [python_order(tags, "seed", key, r) for r in range(6 * len(tags))]
        assert all(sorted(o) == sorted(tags) for o in orders)
        assert Counter(o[0] for o in orders) == dict.fromkeys(tags, 6)
        # it alternates: the first of one round is never the first of the next
        assert all(a[0] != b[0] for a, b in itertools.pairwise(orders))
    # the start is seeded per group: some group of a run starts with the second one
    starts = {python_order(["a", "b"], "seed", ("cpu", t, 1.0, "steady"), 0)[0]
              for t in range(1, 20)}
    assert starts == {"a", "b"}
    assert python_order([""], "seed", ("cpu", 1, 1.0, "steady"), 3) == [""]


def test_a_round_measures_a_point_with_its_partners() -> None:
    members = [Point("cpu", m, 16, w, size=1.0, python=py)
               for py in ("3.11", "3.14")
               for m, w in (("sequential", None), ("thread_pool", 2), ("process_pool", 2))]
    todo = [members[4]]  # thread_pool under 3.14
    got = {p.name for p in with_partners(todo, members)}
    assert got == {"cpu/sequential/t16@3.11", "cpu/sequential/t16@3.14",
                   "cpu/thread_pool/t16/w2@3.11", "cpu/thread_pool/t16/w2@3.14"}
    one = [replace_python(p, "") for p in members[:3]]  # a run of one: the baseline joins
    assert with_partners(one[2:], one) == [one[0], one[2]]


def replace_python(p: Point, python: str) -> Point:
    return Point(p.workload, p.model, p.tasks, p.workers, p.start_method, p.size,
                 python=python)


# ------------------------------------------------------------------ the sweep's children
def _fake_interpreters(monkeypatch: pytest.MonkeyPatch, real: Interpreter) -> None:
    versions = {"A": "3.11.7", "B": "3.14.0"}

    def resolve(python: str | None, paths: object = ()) -> Interpreter:
        record = {**real.record, "python_version": versions[str(python)]}
        return Interpreter(f"/fake/{python}", dict(real.env), record)

    monkeypatch.setattr(bench.measure.interpreter, "resolve", resolve)


def test_every_round_runs_each_group_under_each_interpreter_in_turn(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, interp: Interpreter) -> None:
    _fake_interpreters(monkeypatch, interp)
    calls: list[tuple[str, int, str, tuple[str, ...]]] = []

    def child(interp_: Any, job: dict[str, Any], points: Any, timeout: float,
              run_name: str = "", env: Any = None) -> Any:
        pythons = {p.python for p in points}
        assert len(pythons) == 1  # a child runs one interpreter's points
        calls.append((interp_.executable, job["round"], points[0].workload,
                      tuple(p.name for p in points)))
        assert all(job["meta"][p.name]["python"] == p.python for p in points)
        return fake_child(interp_, job, points, timeout, run_name)

    monkeypatch.setattr(launch, "run_child", child)
    monkeypatch.setattr(runner.noise, "probe", quiet_probe)
    code = cli.main(["run", "--python", "A,B", "--profile", "smoke", "--workloads", "cpu,sleep",
                     "--models", "sequential,thread_pool", "--tasks", "4", "--workers", "2",
                     "--sizes", "100", "--budget", "0", "--output-dir", str(tmp_path),
                     "--name", "two", "-q", "--no-report"])
    assert code == 0
    assert {c[0] for c in calls} == {"/fake/A", "/fake/B"}
    # the children come in pairs: one group, one round, each interpreter once, one after
    # the other; the interpreter that goes first alternates from round to round
    pairs = [calls[i:i + 2] for i in range(0, len(calls), 2)]
    firsts: dict[str, list[str]] = {}
    for a, b in pairs:
        assert (a[1], a[2]) == (b[1], b[2])
        assert {a[0], b[0]} == {"/fake/A", "/fake/B"}
        assert [n.split("@")[0] for n in a[3]] == [n.split("@")[0] for n in b[3]]
        firsts.setdefault(a[2], []).append(a[0])
    for order in firsts.values():
        assert all(x != y for x, y in itertools.pairwise(order))
    data = load(tmp_path / "two")
    s = data.summary.set_index("name")
    assert set(s["python"]) == {"3.11", "3.14"}
    assert list(data.interpreters) == ["3.11", "3.14"]
    assert data.host["python_version"] == "3.11.7"  # the first one's record
    row = s.loc["cpu/sequential/t4@3.14"]  # the stand-in children's values are all equal
    assert row["python_ratio"] == pytest.approx(1.0)
    assert np.isnan(s.loc["cpu/sequential/t4@3.11", "python_ratio"])
    assert s.loc["cpu/thread_pool/t4/w2@3.14", "speedup"] == pytest.approx(1.0)


def test_the_same_interpreter_twice_is_one_line(cli: Callable[..., CliResult],
                                               interp: Interpreter) -> None:
    other = Path(interp.executable).parent / "python3"  # another name for it
    result = cli("list", "--python", f"{interp.executable},{other}")
    assert result.code == 2
    assert result.err.count("\n") == 1
    assert "more than once" in result.err


def test_a_spec_given_twice_is_one_line(cli: Callable[..., CliResult],
                                       interp: Interpreter) -> None:
    result = cli("list", "--python", f"{interp.executable},{interp.executable}")
    assert result.code == 2
    assert result.err.count("\n") == 1
    assert f"names {interp.executable} more than once" in result.err


@pytest.mark.skipif(sys.prefix == sys.base_prefix, reason="not in a venv: no second build")
def test_two_builds_of_one_version_are_two_interpreters(cli: Callable[..., CliResult]) -> None:
    """A venv and its base interpreter are one version in two environments: both are
    measured, told apart by their order among that version's builds."""
    base = os.path.realpath(sys.executable)
    result = cli("list", "--python", f"{sys.executable},{base}", "--workloads", "cpu",
                 "--models", "sequential", "--tasks", "4")
    assert result.code == 0, result.err
    version = platform.python_version()
    assert result.out.split() == [f"cpu/sequential/t4@{version}",
                                  f"cpu/sequential/t4@{version}-2"]


# ------------------------------------------------------------------ ratios with known truth
def _two_interpreter_run(tmp_path: Path, speed: float, second: str = "3.14.0") -> Path:
    """8 rounds, rounds drifting by +-20 %: under 3.14 (version ``second``) every point takes
    1/``speed`` of its 3.11 time in the same round; process pools halve the sequential time
    on both."""
    rng = np.random.default_rng(11)
    drift = 1 + 0.2 * rng.standard_normal(8).clip(-2, 2)
    benches = []
    for py, factor in (("3.11", 1.0), ("3.14", 1 / speed)):
        host = {**HOST, "host_python_version": second if py == "3.14" else "3.11.7"}
        for model, workers, t in (("sequential", None, 0.020), ("process_pool", 2, 0.010)):
            p = Point("cpu", model, 16, workers, "fork" if workers else None, size=1e4,
                      python=py)
            benches.append(make_benchmark(p, list(t * factor * drift), runs=8, host=host,
                                          python=py, interpreters="3.11,3.14"))
    return write_results(tmp_path / "r" / "results.json", benches)


def test_the_interpreter_ratio_is_paired_by_round(tmp_path: Path) -> None:
    data = load(_two_interpreter_run(tmp_path, 1.25))
    s = data.summary.set_index("name")
    for name in ("cpu/sequential/t16@3.14", "cpu/process_pool[fork]/t16/w2@3.14"):
        assert s.loc[name, "python_ratio"] == pytest.approx(1.25)
        assert s.loc[name, "python_ratio_ci_low"] == pytest.approx(1.25)
        assert s.loc[name, "python_ratio_ci_high"] == pytest.approx(1.25)
    # each interpreter's speedup divides its own baseline: 2 on both
    assert s.loc["cpu/process_pool[fork]/t16/w2@3.14", "speedup"] == pytest.approx(2.0)
    assert s.loc["cpu/process_pool[fork]/t16/w2@3.11", "speedup"] == pytest.approx(2.0)
    assert s.loc["cpu/sequential/t16@3.14", "ci_high_s"] / s.loc[
        "cpu/sequential/t16@3.14", "ci_low_s"] > 1.2  # unpaired, the drift would hide it
    rows = interpreter_rows(data.tidy, data.summary,
                            recommendations(data.tidy, data.summary), data.interpreters)
    assert list(rows["python"]) == ["3.11", "3.14"]
    assert list(rows["pick"]) == ["process_pool[fork] W=2"] * 2
    pick = rows[rows["best"]].iloc[0]
    assert pick["python"] == "3.14"
    assert pick["overall"] == pytest.approx(2.5)
    said = interpreter_sentences(rows)
    assert said[0].startswith("Python 3.14.0 runs cpu (T = 16) sequentially "
                              "1.25\N{MULTIPLICATION SIGN} (1.25\N{EN DASH}1.25) as fast as "
                              "3.11.7, paired by round.")
    assert said[1].startswith("Pick overall for cpu at T = 16: process_pool[fork] W=2 under "
                              "Python 3.14.0, 2.50\N{MULTIPLICATION SIGN}")


def test_the_report_of_several_interpreters(tmp_path: Path) -> None:
    results = _two_interpreter_run(tmp_path, 0.8)
    write_report(results, tmp_path / "out")
    md = (tmp_path / "out" / "report.md").read_text(encoding="utf-8").replace("\\", "")
    assert "## Which Python" in md
    assert (tmp_path / "out" / "interpreters.png").exists()
    assert "runs cpu (T = 16) sequentially 0.80\N{MULTIPLICATION SIGN}" in md
    # the pick overall is 3.11's pool: 3.14 is slower here
    assert "Pick overall for cpu at T = 16: process_pool[fork] W=2 under Python 3.11.7" in md
    # the summary table holds both interpreters' points
    assert "cpu/sequential/t16@3.14" in md
    assert "cpu/sequential/t16@3.11" in md
    summary = (tmp_path / "out" / "summary.csv").read_text(encoding="utf-8")
    assert "python_ratio" in summary.splitlines()[0]


# ------------------------------------------------------------------ every section covers both
@pytest.fixture(scope="module")
def several(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report of a recorded run of 3.11 and 3.14 (3.14 0.8x as fast)."""
    tmp = tmp_path_factory.mktemp("several")
    write_report(_two_interpreter_run(tmp, 0.8), tmp / "out")
    return tmp / "out"


def _section(out: Path, title: str) -> str:
    md = (out / "report.md").read_text(encoding="utf-8").replace("\\", "")
    return md.split(f"\n## {title}\n")[1].split("\n## ")[0]


def test_the_tables_of_several_interpreters_have_a_row_per_interpreter(several: Path) -> None:
    picks = _section(several, "Recommendation")
    assert "| workload | Python | size | T | pick |" in picks
    for py in ("3.11", "3.14"):
        assert f"| cpu | {py} | 10000 iterations | 16 | process_pool[fork] W=2 | " \
               f"2.00\N{MULTIPLICATION SIGN} (2.00\N{EN DASH}2.00) |" in picks
    even = _section(several, "Break-even size")
    assert "| workload | Python | pool | T | break-even size | there |" in even
    for py in ("3.11", "3.14"):
        assert f"| cpu | {py} | process_pool[fork] | 16 | 10000 iterations | W = 2: 2.00" in even
    # no sentence says the sections are the first interpreter's: none is
    which = _section(several, "Which Python")
    assert "first interpreter's; summary.csv" not in which


def test_the_findings_of_several_interpreters_are_each_labelled(several: Path) -> None:
    found = _section(several, "Details")
    for version in ("3.11.7", "3.14.0"):
        assert f"- Python {version}: cpu (pure-Python CPU work, holds the GIL): processes " \
               "reached 2.00\N{MULTIPLICATION SIGN}" in found
        assert f"- Python {version}: 0 of 2 points (0%) are stable" in found  # the drift
    decided = _section(several, "Decisions")  # a question per interpreter, named by its tag
    for py in ("3.11", "3.14"):
        assert f"- cpu, 10000 iterations, T = 16 ({py}): process_pool[fork] W=2, " \
               "2.00\N{MULTIPLICATION SIGN} (2.00\N{EN DASH}2.00) over sequential" in decided


def test_the_charts_of_several_interpreters_are_each_interpreters(several: Path) -> None:
    charts = _section(several, "Charts")
    for stem, version in (("3_11", "3.11.7"), ("3_14", "3.14.0")):
        assert (several / f"speedup-{stem}.png").exists()
        assert f"![Speedup vs workers, per workload: Python {version}](speedup-{stem}.png)" \
            in charts
    assert not (several / "speedup.png").exists()


def test_the_host_table_has_a_column_per_interpreter(several: Path) -> None:
    host = _section(several, "Host")
    assert "| record | Python 3.11 | Python 3.14 |" in host
    assert "| python_version | 3.11.7 | 3.14.0 |" in host
    assert "| cpu_model | Test CPU 3000 | Test CPU 3000 |" in host
    # the facts that differ come first
    assert host.index("python_version") < host.index("cpu_model")
    md = (several / "report.md").read_text(encoding="utf-8")
    assert "CPython 3.11.7 and CPython 3.14.0" in md.splitlines()[2]
    html = (several / "index.html").read_text(encoding="utf-8")
    assert '<th scope="col">Python 3.14</th>' in html
    assert "<tr><td>python_version</td><td>3.11.7</td><td>3.14.0</td></tr>" in html


# ------------------------------------------------------------------ the gates read every record
def test_the_gates_read_every_interpreters_host_record(tmp_path: Path) -> None:
    base = load(_two_interpreter_run(tmp_path / "a", 1.0))
    cur = load(_two_interpreter_run(tmp_path / "b", 1.0, second="3.14.2"))
    said = "python_version@3.14: 3.14.0 vs 3.14.2"
    assert said in check_runs(base, cur).host_diffs
    assert check_runs(base, load(_two_interpreter_run(tmp_path / "c", 1.0))).host_diffs == []
    c = compare_runs([base, cur])
    assert said in c.differences
    hosts = c.hosts.set_index("key")
    assert hosts.loc["python_version@3.14", "differs"]
    assert hosts.loc["python_version@3.14", "matters"]
    # what both interpreters share is not repeated per interpreter
    assert "cpu_model@3.14" not in hosts.index
    # a history of the first run's host is not the second run's: its 3.14 changed
    assert history.check([history.entry(base)] * 5, cur).matching == 0
    assert history.check([history.entry(base)] * 5, base).matching == 5


def test_compare_names_each_points_interpreter(tmp_path: Path) -> None:
    paths = [_two_interpreter_run(tmp_path / side, 1.0) for side in "ab"]
    c = compare_runs([load(p) for p in paths])
    python = c.points.set_index(["name", "run"])["python"]
    assert python[("cpu/sequential/t16@3.14", "test")] == "3.14"
    assert python[("cpu/sequential/t16@3.11", "test (2)")] == "3.11"
    md = markdown(c)
    assert "| point | python | test: median |" in md
    assert "| cpu/sequential/t16@3.14 | 3.14 |" in md.replace("\\", "")
    html = write_comparison(paths, tmp_path / "cmp").read_text(encoding="utf-8")
    assert '<th rowspan="2">python</th>' in html
    assert "<td>cpu/sequential/t16@3.14</td><td>3.14</td>" in html
    one = [load(write_results(tmp_path / side / "results.json", [make_benchmark(
        Point("cpu", "sequential", 16, size=1e4), [0.02] * 8, runs=8)])) for side in "cd"]
    assert "| point | test: median |" in markdown(compare_runs(one))


def test_a_table_of_one_interpreters_rows_in_a_run_of_several_names_it() -> None:
    """A break-even pool only one interpreter has (interpreter_pool, 3.14 only) still reads
    as that interpreter's: the column follows the run, not how many tags one table holds."""
    from bench.report.tables import _with_python

    table = pd.DataFrame({"workload": ["cpu"], "pool": ["interpreter_pool"]})
    assert list(_with_python(table, pd.Series(["3.14"])).columns) == [
        "workload", "Python", "pool"]
    single = pd.DataFrame({"workload": ["cpu"], "pool": ["thread_pool"]})
    assert list(_with_python(single, pd.Series([""])).columns) == ["workload", "pool"]
