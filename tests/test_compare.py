"""Comparison of N runs: hosts, common points, ratios, files written, escaping."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from bench.errors import UsageError
from bench.gate.compare import compare_runs
from bench.gate.compare_plots import plot_efficiency_overlay, plot_speedup_overlay
from bench.gate.compare_report import write_comparison
from bench.gate.match import host_differences
from bench.report.figures import new_figure
from bench.results.aggregate import load
from bench.scenarios.models import Point
from tests.factory import HOST, make_benchmark, write_results

SEQ = Point("cpu", "sequential", 4, size=1000.0)
W1 = Point("cpu", "process_pool", 4, workers=1, start_method="fork", size=1000.0)
W2 = Point("cpu", "process_pool", 4, workers=2, start_method="fork", size=1000.0)
W4 = Point("cpu", "process_pool", 4, workers=4, start_method="fork", size=1000.0)
TIMES = {SEQ: 0.040, W1: 0.041, W2: 0.021, W4: 0.012}


def write_run(path: Path, points: tuple[Point, ...], factor: float = 1.0,
              **host: object) -> Path:
    benches = [make_benchmark(p, [TIMES[p] * factor * (1 + 0.01 * i) for i in range(6)],
                              runs=2, host={**HOST, **host}, run_name=path.stem)
               for p in points]
    return write_results(path, benches)


def test_different_grids_compare_on_common_points(tmp_path: Path) -> None:
    a = write_run(tmp_path / "laptop.json", (SEQ, W1, W2))
    b = write_run(tmp_path / "server.json", (SEQ, W2, W4), factor=0.5, host_usable_cores=4,
                  host_cpu_model="Big Iron 64")
    c = compare_runs([load(a), load(b)])
    assert c.labels == ["laptop", "server"]
    assert c.common == [SEQ.name, W2.name]
    assert c.left_out == {"laptop": [W1.name], "server": [W4.name]}
    ratio = c.points.set_index(["name", "run"]).loc[(W2.name, "server"), "ratio"]
    assert ratio == pytest.approx(0.5)
    assert any(d.startswith("usable_cores: 2 vs 4") for d in c.differences)
    wpc = c.points.set_index(["name", "run"])["workers_per_core"]
    assert wpc[(W2.name, "laptop")] == pytest.approx(1.0)
    assert wpc[(W2.name, "server")] == pytest.approx(0.5)


def test_write_comparison_files(tmp_path: Path) -> None:
    a = write_run(tmp_path / "py311.json", (SEQ, W1, W2))
    b = write_run(tmp_path / "py313.json", (SEQ, W1, W2), factor=0.9,
                  host_python_version="3.13.0")
    c3 = write_run(tmp_path / "py313t.json", (SEQ, W2), factor=0.8,
                   host_python_version="3.13.0", host_gil_enabled=0)
    index = write_comparison([a, b, c3], tmp_path / "cmp")
    assert index == tmp_path / "cmp" / "index.html"
    html = index.read_text()
    assert "python_version" in html
    assert "3.13.0" in html
    assert 'class="differs matters"' in html
    assert W1.name in html  # listed as left out
    assert "data:image/png;base64," in html
    with (tmp_path / "cmp" / "points.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 2 * 3
    assert {"ratio", "ratio_ci_low", "speedup", "efficiency", "workers_per_core"} <= set(rows[0])
    md = (tmp_path / "cmp" / "comparison.md").read_text()
    assert "gil\\_enabled (differs)" in md
    assert (tmp_path / "cmp" / "charts" / "compare_cpu_t4.png").exists()


def test_results_file_text_is_escaped(tmp_path: Path) -> None:
    a = write_run(tmp_path / "a.json", (SEQ, W2), host_cpu_model="<script>alert(1)</script>")
    b = write_run(tmp_path / "b.json", (SEQ, W2))
    html = write_comparison([a, b], tmp_path / "cmp").read_text()
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    md = (tmp_path / "cmp" / "comparison.md").read_text()
    assert "<script>" not in md


def test_needs_two_runs_with_common_points(tmp_path: Path) -> None:
    a = write_run(tmp_path / "a.json", (SEQ,))
    b = write_run(tmp_path / "b.json", (W2,))
    with pytest.raises(UsageError, match="at least two"):
        write_comparison([a], tmp_path / "cmp")
    with pytest.raises(UsageError, match="no point in common"):
        write_comparison([a, b], tmp_path / "cmp")
    with pytest.raises(UsageError, match="no such file"):
        write_comparison([a, tmp_path / "missing.json"], tmp_path / "cmp")


def test_same_run_twice_gets_unique_labels(tmp_path: Path) -> None:
    a = write_run(tmp_path / "a.json", (SEQ, W2))
    c = compare_runs([load(a), load(a)])
    assert c.labels == ["a", "a (2)"]
    assert c.differences == []


def test_host_differences() -> None:
    assert host_differences([{"usable_cores": 2}, {"usable_cores": 2}]) == []
    assert host_differences([{"cpu_model": "A"}, {}], ("cpu_model",)) == ["cpu_model: A vs ?"]


def test_overlay_charts_draw_one_line_per_run_and_model(tmp_path: Path) -> None:
    a = write_run(tmp_path / "a.json", (SEQ, W1, W2))
    b = write_run(tmp_path / "b.json", (SEQ, W1, W2), host_usable_cores=4)
    points = compare_runs([load(a), load(b)]).points
    _fig, (ax1, ax2) = new_figure(2)
    plot_speedup_overlay(ax1, points, workload="cpu", tasks=4)
    plot_efficiency_overlay(ax2, points, workload="cpu", tasks=4)
    labels = [line.get_label() for line in ax1.get_lines() if not line.get_label().startswith("_")]
    assert labels == ["a · process_pool[fork]", "b · process_pool[fork]"]
    xs = [list(line.get_xdata()) for line in ax2.get_lines()][:2]
    assert xs == [[0.5, 1.0], [0.25, 0.5]]
    assert ax2.get_xlabel().startswith("workers per usable core")


def test_points_of_other_work_are_not_comparable(tmp_path: Path) -> None:
    small = Point("cpu", "sequential", 4, size=200.0)
    a = write_run(tmp_path / "quick.json", (SEQ, W2))
    b = write_results(tmp_path / "smoke.json", [
        make_benchmark(small, [0.008] * 6, runs=2, run_name="smoke"),
        make_benchmark(W2, [0.021] * 6, runs=2, run_name="smoke")])
    c = compare_runs([load(a), load(b)])
    assert c.common == [W2.name]
    assert c.not_comparable == {SEQ.name: "task size 1000 vs 200 iterations"}
    assert c.left_out == {"quick": [], "smoke": []}
    assert set(c.points["name"]) == {W2.name}
    index = write_comparison([a, b], tmp_path / "cmp")
    for text in (index.read_text(), (tmp_path / "cmp" / "comparison.md").read_text()):
        assert "not comparable (the work differs)" in text
        assert "task size 1000 vs 200 iterations" in text


def test_ratios_come_from_rounds(tmp_path: Path) -> None:
    # three rounds of 2 values in the reference, one round of 6 in the other run:
    # the ratio is of medians of per-round medians, and one round gives no interval
    a = write_results(tmp_path / "a.json", [
        make_benchmark(W2, [0.020, 0.022, 0.030, 0.032, 0.040, 0.042], runs=3, run_name="a")])
    b = write_results(tmp_path / "b.json", [
        make_benchmark(W2, [0.031] * 6, runs=1, run_name="b")])
    p = compare_runs([load(a), load(b)]).points.set_index("run")
    assert list(p["rounds"]) == [3, 1]
    assert list(p["n"]) == [6, 6]
    assert p.loc["b", "ratio"] == pytest.approx(0.031 / 0.031)
    assert p.loc["a", "ratio_ci_low"] < 1 < p.loc["a", "ratio_ci_high"]
    assert p.loc["b", ["ratio_ci_low", "ratio_ci_high"]].isna().all()
