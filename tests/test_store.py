"""Results files and run directories: atomic writes, loading with clear errors."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pyperf
import pytest

from bench.errors import UsageError
from bench.results import store
from bench.scenarios.models import Point
from tests.factory import make_benchmark, write_results

SEQ = Point("cpu", "sequential", 4, size=1000.0)
POOL = Point("cpu", "process_pool", 4, 2, "fork", 1000.0)


def results_file(tmp_path: Path) -> Path:
    return write_results(tmp_path / "run" / store.RESULTS,
                         [make_benchmark(SEQ, [0.2, 0.21, 0.19]),
                          make_benchmark(POOL, [0.11, 0.1, 0.12])])


def test_results_round_trip(tmp_path: Path) -> None:
    path = results_file(tmp_path)
    suite = store.load_results(path)
    assert suite.get_benchmark_names() == [SEQ.name, POOL.name]
    pool = suite.get_benchmark(POOL.name)
    assert pool.get_values() == (0.11, 0.1, 0.12)
    assert pool.get_metadata()["start_method"] == "fork"
    assert "workers" not in suite.get_benchmark(SEQ.name).get_metadata()
    # a run directory works as well as the file in it; pyperf reads the file itself
    assert store.load_results(path.parent).get_benchmark_names() == [SEQ.name, POOL.name]
    assert pyperf.BenchmarkSuite.load(str(path)).get_benchmark_names() == [SEQ.name, POOL.name]
    assert [p.name for p in path.parent.iterdir()] == [store.RESULTS]  # no temporary left


def test_save_results_replaces_atomically(tmp_path: Path) -> None:
    path = results_file(tmp_path)
    store.save_results(path, [make_benchmark(SEQ, [1.0, 1.0])])
    assert store.load_results(path).get_benchmark_names() == [SEQ.name]
    assert [p.name for p in path.parent.iterdir()] == [store.RESULTS]


def test_save_results_writes_what_pyperf_dumps(tmp_path: Path) -> None:
    """The fast writer's text is pyperf's own, byte for byte: runs with their own metadata
    (rounds, speed readings) and metric benchmarks, suite metadata shared by all of them."""
    from tests.factory import make_metric

    benchmarks = [make_benchmark(SEQ, [0.2, 0.21, 0.19, 0.2], runs=2,
                                 run_metadata=[{"speed_start_s": 1e-3}, {"speed_start_s": 2e-3}]),
                  make_benchmark(POOL, [0.11, 0.1, 0.12, 0.1], runs=2),
                  make_metric(POOL, "cores", [1.9, 1.8]),
                  make_metric(POOL, "memory", [3e7, 3.1e7], unit="byte")]
    ours, theirs = tmp_path / "ours.json", tmp_path / "theirs.json"
    store.save_results(ours, benchmarks)
    pyperf.BenchmarkSuite(benchmarks).dump(str(theirs), compact=True)
    assert ours.read_bytes() == theirs.read_bytes()
    with pytest.raises(ValueError, match="same name"):
        store.save_results(ours, [benchmarks[0], make_benchmark(SEQ, [0.3])])


def test_written_files_follow_the_umask(tmp_path: Path) -> None:
    # results are shared between engineers and machines: readable like any file written here
    umask = os.umask(0o022)
    try:
        path = results_file(tmp_path)
        store.write_manifest(path.parent, {"format": 1, "settings": {}})
    finally:
        os.umask(umask)
    for f in (path, path.parent / store.MANIFEST):
        assert f.stat().st_mode & 0o777 == 0o644, f.name


def foreign_benchmark() -> pyperf.Benchmark:
    run = pyperf.Run([0.1, 0.2], metadata={"name": "bm_x", "unit": "second", "loops": 1},
                     collect_metadata=False)
    return pyperf.Benchmark([run])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        ("", "empty file"),
        ('{"benchmarks": [', "not valid JSON"),
        ("[1, 2]", "not a pyperf results file"),
        ('{"version": "1.0"}', "not a pyperf results file"),
        ('{"benchmarks": []}', "holds no benchmarks"),
        ('{"benchmarks": [{"runs": "nope"}], "version": "1.0"}', "not a valid pyperf results"),
        (b"\xff\xfe\x00garbage", "cannot read"),
    ],
    ids=["missing", "empty", "truncated", "list", "no-benchmarks", "zero-benchmarks",
         "malformed", "binary"],
)
@pytest.mark.parametrize("reader", [store.load_results, store.read_suite])
def test_load_results_refuses_bad_files(tmp_path: Path, content: str | bytes | None,
                                        message: str, reader: Any) -> None:
    path = tmp_path / "results.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    with pytest.raises(UsageError, match=re.escape(message)) as info:
        reader(path)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("reader", [store.load_results, store.read_suite])
def test_load_results_refuses_a_directory_without_results(tmp_path: Path, reader: Any) -> None:
    with pytest.raises(UsageError, match="no such file"):
        reader(tmp_path)


@pytest.mark.parametrize("reader", [store.load_results, store.read_suite])
def test_load_results_refuses_foreign_pyperf_files(tmp_path: Path, reader: Any) -> None:
    path = tmp_path / "foreign.json"
    pyperf.BenchmarkSuite([foreign_benchmark()]).dump(str(path))
    with pytest.raises(UsageError, match="not from concbench"):
        reader(path)


@pytest.mark.parametrize(("fmt", "message"),
                         [(3, "written by a newer concbench (format 3"),
                          ("1", "bad concbench_format '1'"),
                          (0, "bad concbench_format 0")])
@pytest.mark.parametrize("reader", [store.load_results, store.read_suite])
def test_load_results_checks_the_format_version(tmp_path: Path, fmt: object,
                                                message: str, reader: Any) -> None:
    path = write_results(tmp_path / "r.json", [make_benchmark(SEQ, [0.1, 0.2],
                                                              concbench_format=fmt)])
    with pytest.raises(UsageError, match=re.escape(message)):
        reader(path)


def _suites(tmp_path: Path) -> list[Path]:
    """Results files shaped as pyperf writes them: metadata at suite, benchmark and run level."""
    pool = Point("cpu", "process_pool", 4, 2, "fork", 10.0)
    one = write_results(tmp_path / "one.json", [make_benchmark(SEQ, [0.1])])
    many = write_results(tmp_path / "many.json", [
        make_benchmark(SEQ, [0.1, 0.11, 0.12, 0.13], runs=4),
        make_benchmark(pool, [0.05, 0.06, 0.055, 0.052, 0.07, 0.05], runs=3, rounds=2,
                       host={"usable_cores": 2, "cpu_model": "x"}, extra_key="only here"),
        make_benchmark(Point("sleep", "sequential", 2, size=0.01), [0.02, 0.021], runs=2),
    ])
    return [one, many]


def test_the_fast_reader_reads_what_pyperf_reads(tmp_path: Path) -> None:
    """read_suite gives the names, metadata, runs and values that pyperf's own loader gives."""
    from bench.results.aggregate import tidy
    from bench.results.store import host_info

    for path in _suites(tmp_path):
        slow, fast = store.load_results(path), store.read_suite(path)
        assert [b.get_name() for b in fast.get_benchmarks()] == slow.get_benchmark_names()
        for a, b in zip(slow.get_benchmarks(), fast.get_benchmarks(), strict=True):
            assert b.get_metadata() == a.get_metadata()
            assert [r.get_metadata() for r in b.get_runs()] == [
                r.get_metadata() for r in a.get_runs()]
            assert [list(r.values) for r in b.get_runs()] == [
                list(r.values) for r in a.get_runs()]
        pd_testing = pytest.importorskip("pandas.testing")
        pd_testing.assert_frame_equal(tidy(fast), tidy(slow))
        assert host_info(fast) == host_info(slow)


def test_manifest_round_trip(tmp_path: Path) -> None:
    manifest = {"format": 1, "settings": {"grid": {"profile": "smoke"}}, "points": []}
    store.write_manifest(tmp_path / "run", manifest)
    assert store.read_manifest(tmp_path / "run") == manifest
    assert json.loads((tmp_path / "run" / store.MANIFEST).read_text()) == manifest


@pytest.mark.parametrize(
    ("text", "message"),
    [(None, "no such file"), ("{", "not valid JSON"), ('{"format": 1}', "not a concbench run"),
     ('{"format": 9, "settings": {}}', "newer concbench (format 9")],
)
def test_read_manifest_refuses_bad_manifests(tmp_path: Path, text: str | None,
                                             message: str) -> None:
    if text is not None:
        (tmp_path / store.MANIFEST).write_text(text)
    with pytest.raises(UsageError, match=re.escape(message)):
        store.read_manifest(tmp_path)


def test_prepare_run_dir(tmp_path: Path) -> None:
    run_dir = store.prepare_run_dir(tmp_path / "out", "r1", force=False)
    assert run_dir == tmp_path / "out" / "r1"
    assert run_dir.is_dir()
    # an empty directory is not a run yet
    assert store.prepare_run_dir(tmp_path / "out", "r1", force=False) == run_dir

    (run_dir / store.RESULTS).write_text("{}")
    (run_dir / store.MANIFEST).write_text("{}")
    (run_dir / "index.html").write_text("<html>")
    with pytest.raises(UsageError, match=r"exists already; use --resume .* or --force"):
        store.prepare_run_dir(tmp_path / "out", "r1", force=False)
    assert (run_dir / store.RESULTS).exists()

    store.prepare_run_dir(tmp_path / "out", "r1", force=True)
    assert run_dir.is_dir()
    assert list(run_dir.iterdir()) == []  # the old run's report went with its results


def test_force_replaces_every_file_of_the_old_run(tmp_path: Path) -> None:
    """A rerun never mixes two runs' files: charts, report and A/B sides go too."""
    run_dir = tmp_path / "out" / "r"
    (run_dir / "a").mkdir(parents=True)
    for name in (store.MANIFEST, "efficiency.png", "efficiency.svg", "index.html",
                 "report.md", "summary.csv", "a/results.json"):
        (run_dir / name).write_text("old")
    store.prepare_run_dir(tmp_path / "out", "r", force=True)
    assert list(run_dir.iterdir()) == []


def test_force_refuses_a_folder_that_is_not_a_run(tmp_path: Path) -> None:
    mine = tmp_path / "out" / "thesis"
    mine.mkdir(parents=True)
    (mine / "chapter1.tex").write_text("precious")
    with pytest.raises(UsageError, match="not a concbench run directory"):
        store.prepare_run_dir(tmp_path / "out", "thesis", force=True)
    assert (mine / "chapter1.tex").read_text() == "precious"


@pytest.mark.parametrize("name", ["", ".", "..", "latest", "a/b", "../up", "a\\b", "x\0y"])
def test_prepare_run_dir_refuses_names_that_are_not_plain(tmp_path: Path, name: str) -> None:
    with pytest.raises(UsageError, match="must be a plain directory name"):
        store.prepare_run_dir(tmp_path, name, force=True)


def test_point_latest(tmp_path: Path) -> None:
    a = store.prepare_run_dir(tmp_path, "a", force=False)
    b = store.prepare_run_dir(tmp_path, "b", force=False)
    store.point_latest(tmp_path, a)
    link = tmp_path / store.LATEST
    assert link.is_symlink()
    assert str(link.readlink()) == "a"  # relative: the reports directory can move
    store.point_latest(tmp_path, b)
    assert link.resolve() == b.resolve()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "latest"]


def test_point_latest_leaves_a_real_directory_alone(tmp_path: Path) -> None:
    (tmp_path / store.LATEST).mkdir()
    (tmp_path / store.LATEST / "keep.txt").write_text("mine")
    store.point_latest(tmp_path, store.prepare_run_dir(tmp_path, "a", force=False))
    assert (tmp_path / store.LATEST / "keep.txt").read_text() == "mine"
    assert not (tmp_path / store.LATEST).is_symlink()
