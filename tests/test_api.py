"""The Python API (``bench.run``, ``bench.ab``) leaves the calling process as it found it.

A notebook calls these again and again: a call must not prepend folders to
``sys.path`` (a variant's modules would shadow the user's own), share a
catalogue of workloads between calls or between the two sides of an A/B job,
or keep a signal handler; and a run with a failed point returns what it
measured, the failure listed, instead of raising it away.  The children are
stand-ins (:func:`tests.factory.fake_child`): no timing is involved.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Any

import pytest

import bench
from bench.measure import launch, runner
from bench.measure.config import RunConfig
from bench.measure.launch import ChildResult
from bench.scenarios.grid import GridSpec
from bench.scenarios.workloads import BUILTINS, catalogue
from tests.factory import fake_child, quiet_probe

MODELS = ["sequential", "thread_pool"]


@pytest.fixture
def trees(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Two source trees defining ``work`` differently, and instant children."""
    for tree, body in (("base", "return i"), ("head", "return i + 0")):
        (tmp_path / tree).mkdir()
        (tmp_path / tree / f"mod_{tree}.py").write_text(f"def work(i, size):\n    {body}\n")
    monkeypatch.setattr(launch, "run_child", fake_child)
    monkeypatch.setattr(runner.noise, "probe", quiet_probe)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _state() -> tuple[list[str], dict[str, Any], Any, Any]:
    return (list(sys.path), dict(catalogue()), signal.getsignal(signal.SIGINT),
            signal.getsignal(signal.SIGTERM))


def test_run_leaves_sys_path_catalogue_and_signals_alone(trees: Path) -> None:
    before = _state()
    data = bench.run(["w=mod_base:work"], path=[trees / "base"], models=MODELS,
                     profile="smoke", output_dir=trees / "out", name="r", report=False,
                     quiet=True)
    assert set(data.summary["workload"]) == {"w"}
    assert _state() == before
    assert str(trees / "base") not in sys.path
    assert "w" not in BUILTINS


def test_ab_leaves_sys_path_alone(trees: Path) -> None:
    before = _state()
    res = bench.ab(f"path={trees / 'base'}", f"path={trees / 'head'}", ["cpu"], models=MODELS,
                   profile="smoke", output_dir=trees / "out", name="ab", quiet=True)
    assert len(res.tests) == 2
    assert _state() == before


def test_two_plans_keep_their_own_workloads(trees: Path) -> None:
    """Planning side B never changes what side A's points run."""
    def config(tree: str) -> RunConfig:
        return RunConfig(grid=GridSpec(profile="smoke", workloads=("w",), models=tuple(MODELS)),
                         declared=[{"name": "w", "func": f"mod_{tree}:work"}],
                         paths=[str(trees / tree)])

    plan_a = runner.plan(config("base"))
    plan_b = runner.plan(config("head"))
    assert {p.work.func for p in plan_a.points} == {"mod_base:work"}
    assert {p.work.func for p in plan_b.points} == {"mod_head:work"}


def test_a_failed_point_is_data_too(trees: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def one_fails(interp: Any, job: dict[str, Any], points: Any, timeout: float,
                  run_name: str = "", env: Any = None) -> ChildResult:
        ok = fake_child(interp, job, [p for p in points if p.model == "sequential"], timeout)
        ok.failures = {p.name: "RuntimeError: boom" for p in points if p.model != "sequential"}
        return ok

    monkeypatch.setattr(launch, "run_child", one_fails)
    data = bench.run(["cpu"], models=MODELS, profile="smoke", output_dir=trees / "out",
                     name="f", report=False, quiet=True)
    assert data.failed == {"cpu/thread_pool/t4/w2": "RuntimeError: boom"}
    assert list(data.summary["name"]) == ["cpu/sequential/t4"]
    assert data.summary["rounds"].iloc[0] == 6


def test_a_run_whose_every_point_failed_returns_empty_frames(
        trees: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def all_fail(interp: Any, job: dict[str, Any], points: Any, timeout: float,
                 run_name: str = "", env: Any = None) -> ChildResult:
        return ChildResult(failures={p.name: "exit 3" for p in points})

    monkeypatch.setattr(launch, "run_child", all_fail)
    data = bench.run(["cpu"], models=MODELS, profile="smoke", output_dir=trees / "out",
                     name="e", report=False, quiet=True)
    assert set(data.failed) == {"cpu/sequential/t4", "cpu/thread_pool/t4/w2"}
    assert data.summary.empty
    assert data.tidy.empty


def test_the_api_and_the_command_line_describe_one_run(trees: Path) -> None:
    """``bench.run``'s keywords and ``concbench run``'s options of the same names give the
    same settings: one builder behind both doors."""
    from bench.api import _settings
    from bench.cli import build_parser, run_config

    cli = run_config(build_parser().parse_args([
        "run", "--workload", "mod_base:work", "--workloads", "cpu,work", "--path", "base",
        "--tasks", "4,16", "--workers", "2", "--models", "sequential,thread_pool",
        "--python", f"{sys.executable},{sys.executable}3", "--metrics", "cores,memory",
        "--budget", "30", "--name", "x", "--point-timeout", "9"]))
    api = _settings(["cpu", "mod_base:work"], path=["base"], tasks=[4, 16], workers=[2],
                    models=MODELS, python=[sys.executable, f"{sys.executable}3"],
                    metrics=["cores", "memory"], budget=30.0, name="x", point_timeout=9.0)
    assert api.to_dict() == cli.to_dict()
    assert api.grid.workloads == ("cpu", "work")
    assert _settings([], metrics=[]).metrics == []


def test_an_unknown_metric_through_the_api_is_a_usage_error(trees: Path) -> None:
    with pytest.raises(bench.UsageError, match="unknown metric 'speed'"):
        bench.run(["cpu"], metrics=["speed"], quiet=True)


def test_ab_refuses_a_metric_it_cannot_gate_before_measuring(
        trees: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A metric ab cannot gate, or one the job would not collect, is refused before a
    single child runs (it was found only once both sides were measured)."""
    started: list[object] = []
    monkeypatch.setattr(launch, "run_child", lambda *a, **k: started.append(a) or fake_child(
        *a, **k))
    for metric, metrics, why in (("speedup", None, "choose from"),
                                 ("memory", [], "does not collect it")):
        with pytest.raises(bench.UsageError, match=why):
            bench.ab("scale=1", "scale=1", ["cpu"], models=MODELS, profile="smoke",
                     metric=metric, metrics=metrics, quiet=True)
    assert started == []
