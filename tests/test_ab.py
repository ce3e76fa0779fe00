"""Same-job A/B (``concbench ab``): variants, pairing, verdicts, outputs, real jobs.

The real jobs run from a folder holding ``examples/gate``'s pyproject and a
*poisoned* ``gatework.py`` that raises on import: the children must import
each variant's own module (``path=DIR`` first, an empty working directory),
never the one in the folder ``concbench ab`` was started from.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from bench.cli import main
from bench.errors import UsageError
from bench.gate import ab
from bench.gate.ab_report import evaluate, report_ab
from bench.measure.config import RunConfig
from bench.measure.progress import make_progress
from bench.measure.rounds import groups
from bench.results import store
from bench.scenarios.grid import GridSpec
from bench.scenarios.models import Point
from tests.factory import make_benchmark, write_results

ROOT = Path(__file__).resolve().parents[1]
GATE = ROOT / "examples" / "gate"
SMALL = ["--profile", "smoke", "--workloads", "crunch", "--models", "sequential,thread_pool",
         "--max-time", "20", "--no-report", "-q", "--no-metrics"]  # time gating


# ------------------------------------------------------------------ variants
def test_variants_parse(tmp_path: Path) -> None:
    assert ab.parse_variant("scale=1.25") == ab.Variant("scale", "1.25")
    assert ab.parse_variant(f"path={tmp_path}") == ab.Variant("path", str(tmp_path.resolve()))
    assert str(ab.parse_variant("python=python3")) == "python=python3"


@pytest.mark.parametrize("text", ["scale", "speed=2", "scale=0", "scale=-1", "scale=x",
                                  "path=/no/such/folder", "python="])
def test_bad_variants_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError):
        ab.parse_variant(text)


def test_side_config_changes_only_what_the_variant_says(tmp_path: Path) -> None:
    base = RunConfig(grid=GridSpec(profile="smoke", work_scale=2.0), paths=["/p"])
    cfg = ab.side_config(base, ab.Variant("path", "/head"), "b", tmp_path, "/cwd")
    assert cfg.paths == ["/head", "/p", "/cwd"]
    assert (cfg.name, cfg.output_dir, cfg.grid.work_scale) == ("b", str(tmp_path), 2.0)
    cfg = ab.side_config(base, ab.Variant("scale", "1.5"), "a", tmp_path, "/cwd")
    assert cfg.grid.work_scale == 3.0
    assert cfg.paths == ["/p", "/cwd"]
    assert ab.side_config(base, ab.Variant("python", "py"), "a", tmp_path, "/c").python == "py"
    assert base.paths == ["/p"]  # the shared settings are left alone


def test_points_pair_by_what_they_run_not_by_size() -> None:
    a = [Point("cpu", "sequential", 4, size=100.0), Point("cpu", "thread_pool", 4, 2, size=100.0),
         Point("cpu", "process_pool", 4, 2, "fork", size=100.0)]
    b = [Point("cpu", "sequential", 4, size=125.0), Point("cpu", "thread_pool", 4, 2, size=125.0)]
    pairs, only_a, only_b = ab.pair_points(a, b, scaled=True)
    assert [(x.size, y.size) for x, y in pairs] == [(100.0, 125.0), (100.0, 125.0)]
    assert only_a == ["cpu/process_pool[fork]/t4/w2"]
    assert only_b == []


def test_points_pair_by_their_whole_identity_whatever_the_order() -> None:
    # two interpreters and two sizes, listed in another order on each side
    a = [Point("cpu", "sequential", 4, size=s, sized=True, python=py)
         for py in ("3.11", "3.14") for s in (100.0, 200.0)]
    b = [Point("cpu", "sequential", 4, size=s, sized=True, python=py)
         for s in (200.0, 100.0) for py in ("3.14", "3.11")]
    pairs, only_a, only_b = ab.pair_points(a, b)
    assert [(x.python, x.size, y.python, y.size) for x, y in pairs] == [
        (x.python, x.size, x.python, x.size) for x in a]  # in A's order, each with its twin
    assert only_a == only_b == []
    b[0] = Point("cpu", "sequential", 4, size=300.0, sized=True, python="3.14")
    pairs, only_a, only_b = ab.pair_points(a, b)
    assert len(pairs) == 3
    assert only_a == ["cpu/sequential/t4/s200@3.14"]
    assert only_b == ["cpu/sequential/t4/s300@3.14"]


def test_under_scale_the_nth_size_pairs_with_the_nth_size() -> None:
    a = [Point("cpu", "sequential", 4, size=s, sized=True, python=py)
         for s in (200.0, 100.0) for py in ("3.11", "3.14")]
    b = [Point("cpu", "sequential", 4, size=s, sized=True, python=py)
         for py in ("3.14", "3.11") for s in (125.0, 250.0)]
    pairs, _, _ = ab.pair_points(a, b, scaled=True)
    assert sorted((x.python, x.size, y.python, y.size) for x, y in pairs) == [
        ("3.11", 100.0, "3.11", 125.0), ("3.11", 200.0, "3.11", 250.0),
        ("3.14", 100.0, "3.14", 125.0), ("3.14", 200.0, "3.14", 250.0)]


class _Recorder:
    """A sweep that records which side measured which group in which round."""

    def __init__(self, side: str, points: list[Point], log: list[tuple[str, str, int]]) -> None:
        self.side, self.log = side, log
        self.grid = groups(points)

    def measure(self, label: str, round_: int, members: list[Point]) -> None:
        self.log.append((self.side, members[0].workload + str(members[0].tasks), round_))


def test_each_group_goes_first_on_each_side_every_other_round() -> None:
    points = [Point(w, m, t, size=10.0) for w in ("cpu", "hash", "sleep") for t in (1, 4, 16)
              for m in ("sequential", "thread_pool")]
    log: list[tuple[str, str, int]] = []
    sweeps = {s: _Recorder(s, points, log) for s in ab.SIDES}
    config = ab.ABConfig(RunConfig(grid=GridSpec(profile="smoke"), seed="s"),
                         ab.Variant("scale", "1"), ab.Variant("scale", "1"))
    job = ab._Job(config, sweeps, [(p, p) for p in points],  # type: ignore[arg-type]
                  make_progress(quiet=True))
    job.planned()
    for extra in range(6, 9):  # extra rounds keep alternating where the planned ones stopped
        job.measure_pair(next(iter(job.groups)), extra, "extra")
    pairs = list(zip(log[::2], log[1::2], strict=True))
    # both sides of a group-round, one right after the other
    assert all((a[1], a[2]) == (b[1], b[2]) and a[0] != b[0] for a, b in pairs)
    by_group: dict[str, list[str]] = {}
    for (side, group, _), _ in sorted(pairs, key=lambda pair: pair[0][2]):
        by_group.setdefault(group, []).append(side)
    assert len(by_group) == 9
    for sides in by_group.values():
        assert all(x != y for x, y in itertools.pairwise(sides)), sides  # A B A B or B A B A


# --------------------------------------------------------- verdicts, by hand
SEQ = Point("cpu", "sequential", 4, size=1000.0)
POOL = Point("cpu", "thread_pool", 4, workers=2, size=1000.0)


def fake_job(tmp: Path, ratios: dict[Point, list[float]], failed: tuple[str, ...] = ()) -> Path:
    """An A/B run directory whose B/A ratio per round is given (A: 10 ms every round)."""
    for side in ab.SIDES:
        benches = []
        for p, rs in ratios.items():
            values = [0.010 * (r if side == "b" else 1.0) for r in rs for _ in range(3)]
            benches.append(make_benchmark(p, values, runs=len(rs)))
        write_results(tmp / side / store.RESULTS, benches)
        store.write_manifest(tmp / side, {"format": 2, "settings": {}, "points": [
            {"name": p.name, "status": "failed" if p.name in failed and side == "b" else "done",
             "reason": "boom" if p.name in failed else ""} for p in ratios]})
    store.atomic_write_text(tmp / ab.AB_FILE, json.dumps({
        "a": "scale=1", "b": "scale=1.1", "max_slowdown": 0.1, "alpha": 0.05, "looks": 5,
        "status": "complete", "pairs": [[p.name, p.name] for p in ratios], "only": {}}))
    return tmp


def test_verdicts_from_paired_rounds(tmp_path: Path) -> None:
    job = fake_job(tmp_path, {SEQ: [1.00, 1.02, 0.99, 1.01, 1.00, 0.98],
                              POOL: [1.40, 1.45, 1.38, 1.42, 1.41, 1.39]})
    res = evaluate(job)
    verdicts = {t.name: t.verdict for t in res.tests}
    assert verdicts == {SEQ.name: "within", POOL.name: "regressed"}
    assert res.exit_code() == 1
    assert res.medians[POOL.name][1] / res.medians[POOL.name][0] == pytest.approx(1.41, abs=0.01)


def test_undecided_and_unmeasured_points_are_listed_and_fail_only_when_asked(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    job = fake_job(tmp_path, {SEQ: [1.0, 1.3, 0.9, 1.25, 1.0, 1.2],
                              POOL: [1.0, 1.0, 1.0, 1.0, 1.0, 1.0]}, failed=(POOL.name,))
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    junit = tmp_path / "ab.xml"
    assert report_ab(job, junit=junit, comparison=False) == 0
    out = capsys.readouterr().out
    assert "undecided" in out
    assert f"undecided {POOL.name}: not measured (B: boom)" in out
    assert "2 undecided" in summary.read_text()
    assert report_ab(job, junit=junit, comparison=False, fail_on_undecided=True) == 1
    cases = ET.parse(junit).getroot().iter("testcase")
    assert sum(c.find("failure") is not None for c in cases) == 2
    assert json.loads((job / "verdicts.json").read_text())["tests"][SEQ.name]["verdict"] \
        == "undecided"


# ---------------------------------------------------------------- real jobs
@pytest.fixture
def gate_dir(tmp_path: Path) -> Path:
    """A folder with the gate example's pyproject, its trees, and a poisoned gatework.py."""
    table = (GATE / "pyproject.toml").read_text()
    (tmp_path / "pyproject.toml").write_text(table.replace("size = 200000", "size = 20000"))
    for tree in ("base", "slower"):
        shutil.copytree(GATE / tree, tmp_path / tree)
    (tmp_path / "gatework.py").write_text("raise RuntimeError('the wrong gatework')\n")
    return tmp_path


def concbench(*args: str, cwd: Path, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bench", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300, check=False, **kw)  # type: ignore[call-overload]


@pytest.mark.alone  # a verdict on timings
def test_a_slower_and_noisier_head_fails_the_job(gate_dir: Path) -> None:
    md, junit = gate_dir / "out" / "ab.md", gate_dir / "out" / "ab.xml"
    res = concbench("ab", "path=base", "path=slower", *SMALL, "--output-dir", "runs",
                    "--name", "j", "--markdown", str(md), "--junit", str(junit), cwd=gate_dir)
    assert res.returncode == 1, res.stderr + res.stdout
    assert "Traceback" not in res.stderr
    assert "REGRESSED" in res.stdout
    job = gate_dir / "runs" / "j"
    for side in ab.SIDES:
        assert (job / side / store.RESULTS).is_file()
        assert store.read_manifest(job / side)["status"] == "complete"
    record = json.loads((job / ab.AB_FILE).read_text())
    assert record["a"].endswith("base")
    assert record["b"].endswith("slower")
    assert ":x:" in md.read_text()
    assert ET.parse(junit).getroot().find("testsuite").get("failures") == "2"  # type: ignore[union-attr]


@pytest.mark.alone  # a verdict on timings
def test_an_a_a_job_passes_through_the_python_api(gate_dir: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import bench

    monkeypatch.chdir(gate_dir)
    # an A/A is asked for by giving one variant twice: measured, not refused as the same work
    res = bench.ab("scale=1", "scale=1", ["crunch"], path=["base"],
                   models=["sequential", "thread_pool"], profile="smoke", output_dir="runs",
                   name="aa", max_time=20, quiet=True, metrics=["memory"])
    assert [t.verdict for t in res.tests if t.failed] == []
    assert len(res.tests) == 2
    record = json.loads((gate_dir / "runs" / "aa" / ab.AB_FILE).read_text())
    assert (record["a"], record["b"]) == ("scale=1", "scale=1")
    assert [a == b for a, b in record["pairs"]] == [True, True]
    for side in ab.SIDES:
        assert store.read_manifest(gate_dir / "runs" / "aa" / side)["status"] == "complete"
    assert all(t.rounds >= 6 for t in res.tests)
    assert res.exit_code() == 0
    # the same A/A job gated on memory (issue 18): an A/A passes there too
    from bench.gate.ab_report import evaluate

    memory = evaluate(gate_dir / "runs" / "aa", metric="memory")
    assert memory.exit_code() == 0
    assert len(memory.tests) == 2


def test_ab_mistakes_are_one_line_and_exit_2(gate_dir: Path,
                                             capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(gate_dir)
    for argv in (["ab", "scale=1"], ["ab", "speed=1", "scale=1"],
                 ["ab", "scale=1", "scale=1", "--alpha", "2"],
                 ["ab", "scale=1", "scale=1", "--max-rounds", "-1"],
                 ["ab", "scale=1", "scale=1", "--workloads", "nope"]):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1, (argv, err)
        assert err[0].startswith("concbench: ")


def test_a_scale_that_changes_no_point_is_refused(gate_dir: Path,
                                                  capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Your own workload's sizes and smoke's 2 MiB hash ignore scale=: no A/A in disguise."""
    monkeypatch.chdir(gate_dir)
    for workloads, names in (("crunch", "crunch"), ("hash", "hash"), ("crunch,hash",
                                                                      "crunch, hash")):
        assert main(["ab", "scale=1", "scale=1.25", "--profile", "smoke", "--workloads",
                     workloads, "--output-dir", "runs", "-q"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1, err
        assert f"measure the same work at every point ({names})" in err[0]
    assert not (gate_dir / "runs").exists()


def test_a_scale_against_another_kind_of_variant_is_not_the_same_work(tmp_path: Path) -> None:
    base = RunConfig(grid=GridSpec(profile="smoke", workloads=("hash",)))  # 2 MiB x 1.25: 2 MiB
    one, more = ab.Variant("scale", "1"), ab.Variant("scale", "1.25")
    path = ab.Variant("path", str(tmp_path))
    a = ab.side_config(base, one, "a", tmp_path, "/cwd")
    for b in (path, ab.Variant("python", sys.executable)):  # B's code or interpreter differs
        ab._check_scales(ab.ABConfig(base, one, b), a, ab.side_config(base, b, "b", tmp_path, ""))
    with pytest.raises(UsageError, match=r"\(an A/A is the same variant twice: scale=1 scale=1\)"):
        ab._check_scales(ab.ABConfig(base, one, more), a,
                         ab.side_config(base, more, "b", tmp_path, "/cwd"))


def test_ctrl_c_ends_a_job_cleanly(gate_dir: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "bench", "ab", "path=base", "path=base",
                             *SMALL, "--output-dir", "runs", "--name", "int"], cwd=gate_dir,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    job = gate_dir / "runs" / "int"
    deadline = time.monotonic() + 60
    while not (job / "a" / store.RESULTS).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("concbench: interrupted")
    assert json.loads((job / ab.AB_FILE).read_text())["status"] == "interrupted"
    assert store.read_manifest(job / "a")["status"] == "interrupted"
