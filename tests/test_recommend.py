"""Recommendations, break-even sizes and the size axis, on a hand-made size sweep.

A user's workload ``parse`` (resource ``cpu_gil``, unit ``lines``, not in
the catalogue) measured at two sizes, T = 4, in eight rounds: every point
of a size shares its rounds with the baseline, and each round's speed of the
host (``HOST_SPEED``) multiplies every point of the round, so paired ratios
cancel it.  The verdicts are read as a run of eight fixed rounds reads them
(one look, a 95 % t interval of the mean per-round log ratio):

* 1,000 lines: nothing beats sequential; thread_pool is a hair slower, 1.4 %
  on average, its interval (1.001-1.028) within 5 % (equivalent); process_pool
  is 1.2x slower every round (worse).
* 10,000 lines: process_pool[fork] W = 2 is 1.82x; W = 4 is 1.6 % slower on
  average, its interval (0.99-1.04) within 5 % (equivalent); threads stay at
  1x (worse).
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.container import ErrorbarContainer

from bench.report import frames, plots
from bench.report import html as report
from bench.report.drawing import chart_kinds
from bench.report.figures import new_figure
from bench.report.findings import findings
from bench.report.tables import break_even_table, recommendation_table
from bench.report.verdicts import decision_sentences
from bench.results.aggregate import load
from bench.results.decisions import Looks, decide
from bench.results.recommend import (
    RECOMMENDATION_COLUMNS,
    break_even,
    data_looks,
    recommendations,
    task_unit,
    with_units,
)
from bench.scenarios.metrics import METRICS
from bench.scenarios.models import Point
from bench.scenarios.workloads import BUILTINS
from tests.factory import HOST, make_benchmark, write_results

HOST_SPEED = np.array([1.00, 1.02, 0.98, 1.01, 0.99, 1.03, 0.97, 1.00])
#: thread_pool / sequential at 1,000 lines, per round: a little slower, straddling 1.
THREADS_SMALL = np.array([1.01, 0.99, 1.02, 1.03, 0.995, 1.01, 1.02, 1.04])
#: process_pool W = 4 / W = 2 at 10,000 lines, per round: a little slower, straddling 1.
W4_OVER_W2 = np.array([0.98, 1.05, 0.99, 1.04, 1.01, 1.03, 0.97, 1.06])
SMALL, LARGE = 1_000.0, 10_000.0
UNITS = {"parse": "lines"}


def _p(model: str, size: float, workers: int | None = None, sm: str | None = None) -> Point:
    return Point("parse", model, 4, workers, sm, size, sized=True)


SWEEP: list[tuple[Point, np.ndarray]] = [
    (_p("sequential", SMALL), 0.010 * HOST_SPEED),
    (_p("thread_pool", SMALL, 2), 0.010 * HOST_SPEED * THREADS_SMALL),
    (_p("process_pool", SMALL, 2, "fork"), 0.012 * HOST_SPEED),
    (_p("sequential", LARGE), 0.100 * HOST_SPEED),
    (_p("thread_pool", LARGE, 2), 0.100 * HOST_SPEED),
    (_p("process_pool", LARGE, 2, "fork"), 0.055 * HOST_SPEED),
    (_p("process_pool", LARGE, 4, "fork"), 0.055 * HOST_SPEED * W4_OVER_W2),
]


def write_sweep(path: Path) -> Path:
    return write_results(path, [make_benchmark(p, list(v), runs=len(v), resource="cpu_gil",
                                               task_unit="lines") for p, v in SWEEP])


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_sweep(tmp_path_factory.mktemp("sweep") / "results.json")


@pytest.fixture(scope="module")
def summary(run: Path) -> pd.DataFrame:
    return with_units(load(run).summary, UNITS)


@pytest.fixture(scope="module")
def recommended(run: Path) -> pd.DataFrame:
    data = load(run)
    return recommendations(data.tidy, data.summary)


def _at(frame: pd.DataFrame, size: float) -> pd.Series:
    rows = frame[frame["task_size"] == size]
    assert len(rows) == 1
    return rows.iloc[0]


def test_best_model_and_its_verdicts(recommended: pd.DataFrame) -> None:
    # then the pick's value of every metric, one column each
    assert list(recommended.columns) == [*RECOMMENDATION_COLUMNS,
                                         *(m.col for m in METRICS.values())]
    assert len(recommended) == 2  # one row per (workload, size, T)
    best = _at(recommended, LARGE)
    assert (best["model"], best["start_method"], best["workers"]) == ("process_pool", "fork", 2)
    assert best["speedup"] == pytest.approx(0.100 / 0.055)  # the summary's
    assert best["speedup_ci_low"] == pytest.approx(0.100 / 0.055)
    # the decisions': the same ratio every round, so a point interval
    assert best["mean_speedup"] == pytest.approx(0.100 / 0.055)
    assert best["mean_speedup_low"] == pytest.approx(0.100 / 0.055)
    # W = 4 within 5 % of W = 2 round by round: equivalent; threads at 1x: worse
    assert best["equivalent"] == "process_pool[fork] W=4"
    assert best["equivalent_names"] == "parse/process_pool[fork]/t4/w4/s10000"
    assert best["worse"] == "sequential; thread_pool W=2"
    assert (best["undecided"], best["decided"], best["needed"]) == ("", True, 0.0)
    assert (best["rounds"], best["delta"]) == (8, 0.05)


def test_sequential_when_nothing_beats_it(recommended: pd.DataFrame) -> None:
    best = _at(recommended, SMALL)
    assert best["model"] == "sequential"
    assert pd.isna(best["workers"])
    assert best["speedup"] == 1.0
    assert best["mean_speedup"] == 1.0
    assert best["equivalent"] == "thread_pool W=2"  # process_pool (0.83x every round) is not
    assert best["worse"] == "process_pool[fork] W=2"


def test_the_margin_and_the_looks_decide(run: Path) -> None:
    """A narrower margin turns a rival 1.4 % slower (1.001-1.028) from equivalent to worse;
    a race's looks (3 to 40 rounds, alpha spent over nine looks) widen W = 4's interval at
    eight rounds past the margin: undecided, with the rounds it would need."""
    data = load(run)
    narrow = recommendations(data.tidy, data.summary, delta=0.01)
    small = _at(narrow, SMALL)
    assert (small["model"], small["equivalent"], small["delta"]) == ("sequential", "", 0.01)
    assert small["worse"] == "thread_pool W=2; process_pool[fork] W=2"
    raced = _at(recommendations(data.tidy, data.summary, looks=Looks(first=3, last=40)), LARGE)
    assert (raced["model"], raced["workers"]) == ("process_pool", 2)
    assert (raced["undecided"], raced["decided"]) == ("process_pool[fork] W=4", False)
    assert raced["needed"] > 0
    assert math.isfinite(raced["needed"])
    assert raced["worse"] == "sequential; thread_pool W=2"


def test_break_even_at_the_right_size_or_not_reached(summary: pd.DataFrame) -> None:
    even = break_even(summary).set_index(["model", "start_method"])
    fork = even.loc[("process_pool", "fork")]
    assert fork["break_even_size"] == LARGE
    assert fork["workers"] == 2
    assert fork["sizes_measured"] == "1000, 10000"
    threads = even.loc[("thread_pool", "")]
    assert math.isnan(threads["break_even_size"])
    table = break_even_table(summary, break_even(summary))
    assert list(table["break-even size"]) == ["not reached (sizes measured: 1000, 10000 lines)",
                                              "10000 lines"]


def test_recommendations_in_words(summary: pd.DataFrame, recommended: pd.DataFrame) -> None:
    found = findings(summary, 2, recommended=recommended)
    x = "\N{MULTIPLICATION SIGN}"
    # the GIL lesson covers every cpu_gil workload, at its largest size
    assert found[0].startswith(f"parse at 10000 lines (pure-Python CPU work, holds the GIL): "
                               f"processes reached 1.82{x} on 2 cores (process_pool[fork], "
                               "W = 2, T = 4;")
    assert found[0].endswith(f"threads 1.00{x} at best (thread_pool, W = 2, T = 4), no gain: "
                             "the GIL runs one thread's Python at a time.")
    assert "parse, 1000 lines, T = 4: sequential (no model was faster by more than 5 %); " \
        f"threads 0.99{x}; equivalent within 5 %: thread_pool W=2." in found
    assert (f"parse, 10000 lines, T = 4: process_pool[fork] with W = 2, 1.82{x} "
            f"(1.82\N{EN DASH}1.82); threads 1.00{x}; equivalent within 5 %: "
            "process_pool[fork] W=4." in found)
    table = recommendation_table(summary, recommended)
    assert list(table.iloc[1]) == ["parse", "10000 lines", "4", "process_pool[fork] W=2",
                                   f"1.82{x} (1.82\N{EN DASH}1.82)", "not measured",
                                   "process_pool[fork] W=4", "yes"]  # no metrics in this run


def test_decisions_in_words(run: Path, summary: pd.DataFrame,
                            recommended: pd.DataFrame) -> None:
    data = load(run)
    said = decision_sentences(decide(data.tidy, data_looks(data.tidy)), recommended, summary,
                              delta=0.05)
    x, to = "\N{MULTIPLICATION SIGN}", "\N{EN DASH}"
    assert said == [
        "parse, 1000 lines, T = 4: sequential, no model faster by more than 5 % in 8 rounds; "
        "equivalent within 5 %: thread_pool W=2 (after 8 rounds); worse: process_pool[fork] "
        "W=2 (after 8 rounds).",
        f"parse, 10000 lines, T = 4: process_pool[fork] W=2, 1.82{x} (1.82{to}1.82) over "
        "sequential in 8 rounds; equivalent within 5 %: process_pool[fork] W=4 (after 8 "
        "rounds); worse: thread_pool W=2 (after 8 rounds)."]


def test_units_of_sizes(summary: pd.DataFrame, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(BUILTINS, "parse", raising=False)  # another test may have declared one
    assert task_unit(summary, "parse") == "lines"  # the task_unit column
    bare = summary.drop(columns="task_unit")
    assert task_unit(bare, "parse") == "size"  # unknown to the catalogue
    assert task_unit(bare, "cpu") == "iterations"  # the built-in's spec


@pytest.fixture
def ax() -> Axes:
    return new_figure()[1][0]


def xy(ax: Axes) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each labelled line's (x, y) data."""
    return {str(line.get_label()): (np.asarray(line.get_xdata(), dtype=float),
                                    np.asarray(line.get_ydata(), dtype=float))
            for line in ax.get_lines()}


def test_speedup_vs_size_chart(ax: Axes, summary: pd.DataFrame) -> None:
    plots.plot_speedup_vs_size(ax, summary, workload="parse")
    lines = xy(ax)
    fork_x, fork_y = lines["process_pool[fork] (best W)"]
    np.testing.assert_allclose(fork_x, np.array([SMALL, LARGE]))
    np.testing.assert_allclose(fork_y, np.array([0.010 / 0.012, 0.100 / 0.055]))
    threads_x, threads_y = lines["thread_pool (best W)"]
    np.testing.assert_allclose(threads_x, np.array([SMALL, LARGE]))
    assert threads_y[1] == pytest.approx(1.0)
    assert list(lines["sequential (1\N{MULTIPLICATION SIGN})"][1]) == [1.0, 1.0]
    bars = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    assert len(bars) == 2  # the CIs
    assert all(c.has_yerr for c in bars)
    assert ax.get_xscale() == "log"
    assert ax.get_xlabel() == "task size (lines, log scale)"
    assert ax.get_title() == "parse: speedup vs task size (T = 4)"
    assert frames.size_points(summary, workload="parse")["workers"].tolist() == [2, 2, 2, 2]


def test_other_charts_show_the_largest_size(ax: Axes, summary: pd.DataFrame) -> None:
    plots.plot_speedup(ax, summary, workload="parse", cores=2)
    assert ax.get_title() == "parse at 10000 lines: speedup vs workers (T = 4)"
    assert list(xy(ax)["process_pool[fork]"][0]) == [2, 4]


def test_report_of_a_size_sweep(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    write_sweep(run_dir / "results.json")
    settings = {"declared": [{"name": "parse", "unit": "lines", "func": "m:f"}]}
    (run_dir / "run.json").write_text(json.dumps(
        {"format": 1, "name": "s", "status": "complete", "settings": settings, "points": []}),
        encoding="utf-8")
    index = report.write_report(run_dir, run_dir / "report")
    out = index.parent
    assert (out / "speedup_size.png").exists()
    with (out / "recommendations.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == [*RECOMMENDATION_COLUMNS, *(m.col for m in METRICS.values())]
    assert [(r["task_size"], r["model"], r["workers"]) for r in rows] == [
        ("1000.0", "sequential", ""), ("10000.0", "process_pool", "2")]
    html = index.read_text(encoding="utf-8")
    assert "not reached (sizes measured: 1000, 10000 lines)" in html
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "## Break-even size" in md
    assert md.index("## Decisions") < md.index("## Details") < md.index("## Break-even size")
    assert ("- parse, 10000 lines, T = 4: process\\_pool\\[fork\\] W=2, "
            "1.82\N{MULTIPLICATION SIGN}") in md
    assert "**2 of 2 questions decided" in md
    assert (out / "verdicts-parse.png").exists()
    host = {k[5:]: v for k, v in HOST.items()}
    assert chart_kinds(load(run_dir).summary, host)[:2] == ["speedup", "speedup_size"]


def test_the_plain_loop_wins_when_equivalent(tmp_path: Path) -> None:
    """A model a hair faster on average but equivalent to sequential round by round is not
    the pick: the plain loop is the simpler choice."""
    base, blocking = _p("sequential", 100.0), _p("asyncio_blocking", 100.0)
    jitter = [1.00, 1.03, 0.97, 1.02, 0.98, 1.01, 0.99, 1.00]
    path = write_results(tmp_path / "r.json", [
        make_benchmark(base, [0.010] * 8, runs=8),
        make_benchmark(blocking, [0.010 / (1.002 * j) for j in jitter], runs=8),
    ])
    data = load(path)
    (row,) = recommendations(data.tidy, data.summary).itertuples()
    assert row.model == "sequential"
    assert (row.equivalent, row.worse, row.decided) == ("asyncio_blocking", "", True)


def test_a_point_surely_faster_wins_over_a_wild_one(tmp_path: Path) -> None:
    """The highest median speedup is not the pick while another point is faster over their
    shared rounds (as a quick run's cpu T = 4 had: forkserver W = 2 at 1.34x (0.94-1.43)
    beside fork W = 4 at 1.32x (1.26-1.42)): the wild one stays undecided against it."""
    base, noisy, sure = (_p("sequential", 100.0), _p("process_pool", 100.0, 2, "forkserver"),
                         _p("process_pool", 100.0, 4, "fork"))
    jitter = [1.00, 1.03, 0.97, 1.02, 0.98, 1.01, 0.99, 1.00]
    wild = [1.5, 0.8, 1.6, 0.85, 1.55, 0.9, 1.5, 1.45]  # median 1.475, straddling 1
    path = write_results(tmp_path / "r.json", [
        make_benchmark(base, [0.010] * 8, runs=8),
        make_benchmark(noisy, [0.010 / w for w in wild], runs=8),
        make_benchmark(sure, [0.010 / (1.3 * j) for j in jitter], runs=8),
    ])
    data = load(path)
    (row,) = recommendations(data.tidy, data.summary).itertuples()
    assert (row.model, row.start_method, row.workers) == ("process_pool", "fork", 4)
    assert row.speedup_ci_low > 1
    assert row.mean_speedup_low > 1
    assert (row.worse, row.undecided, row.decided) == ("sequential",
                                                       "process_pool[forkserver] W=2", False)
    assert row.needed > 0


def test_a_size_without_an_interval_is_an_unknown_break_even() -> None:
    """A pool point that left a race before 6 rounds has no interval: the break-even there
    is unknown, not 'not reached'; a size where every point has one stays 'not reached'."""
    from bench.report.tables import break_even_table

    def row(model: str, size: float, low: float) -> dict[str, object]:
        return {"workload": "cpu", "model": model, "start_method": "fork", "tasks": 4,
                "workers": 2, "metric": "steady", "task_size": size, "python": "",
                "speedup": 1.5, "speedup_ci_low": low, "speedup_ci_high": 2.0,
                "median_s": 0.01, "name": f"cpu/{model}/t4/w2/{size:g}"}

    summary = pd.DataFrame([row("process_pool", 1e3, math.nan),
                            row("process_pool", 1e4, 1.2), row("thread_pool", 1e3, 0.8)])
    even = break_even(summary).set_index("model")
    assert even.at["process_pool", "break_even_size"] == 1e4
    assert even.at["process_pool", "sizes_without_interval"] == "1000"
    assert even.at["thread_pool", "sizes_without_interval"] == ""
    cells = break_even_table(summary, break_even(summary))["break-even size"].tolist()
    assert cells[0].startswith("10000 iterations or less: no interval at 1000")
    assert cells[1].startswith("not reached")
