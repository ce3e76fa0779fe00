"""The decisions in words and their forest plot, on a hand-made decisions frame; the looks
and margin a report reads them with.

Two questions of ``cpu`` and one of ``sleep``, every verdict there:

* cpu T = 4, raced to round 12: process_pool[fork] W = 2 picked, 1.80x over sequential;
  fork W = 4 equivalent; thread pools worse, left in rounds 4 and 6; spawn W = 2
  undecided (20 more rounds at its spread), forkserver W = 2 left after round 2 with
  too few rounds for an interval.
* cpu T = 16: sequential picked, asyncio_blocking equivalent, thread_pool W = 2 worse.
* sleep T = 4: to_thread W = 2 over sequential.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection

from bench.report import decision_plots
from bench.report import status as report_status
from bench.report.figures import new_figure
from bench.report.verdicts import decided_text, decision_sentence, grouped
from bench.results.decisions import DECISION_COLUMNS, QUESTION, Looks, looks_for
from bench.results.recommend import question_label
from tests.test_aggregate import write_hand_made

NAN = math.nan
X, TO = "\N{MULTIPLICATION SIGN}", "\N{EN DASH}"
#: (workload, T, model, start method, W, pick, verdict, ratio, low, high, rounds,
#: last round, needed)
ROWS = [
    ("cpu", 4, "process_pool", "fork", 2, True, "", 1.0, 1.0, 1.0, 12, 11, 0.0),
    ("cpu", 4, "sequential", "", None, False, "worse", 1.8, 1.7, 1.9, 12, 11, 0.0),
    ("cpu", 4, "thread_pool", "", 1, False, "worse", 1.9, 1.7, 2.1, 4, 3, 0.0),
    ("cpu", 4, "thread_pool", "", 2, False, "worse", 1.85, 1.6, 2.2, 6, 5, 0.0),
    ("cpu", 4, "process_pool", "fork", 4, False, "equivalent", 1.01, 0.98, 1.04, 12, 11, 0.0),
    ("cpu", 4, "process_pool", "spawn", 2, False, "undecided", 1.04, 0.99, 1.09, 12, 11, 20.0),
    ("cpu", 4, "process_pool", "forkserver", 2, False, "undecided", 1.05, NAN, NAN, 2, 1, NAN),
    ("cpu", 16, "sequential", "", None, True, "", 1.0, 1.0, 1.0, 6, 5, 0.0),
    ("cpu", 16, "asyncio_blocking", "", None, False, "equivalent", 1.0, 0.99, 1.01, 6, 5, 0.0),
    ("cpu", 16, "thread_pool", "", 2, False, "worse", 1.2, 1.1, 1.3, 6, 5, 0.0),
    ("sleep", 4, "to_thread", "", 2, True, "", 1.0, 1.0, 1.0, 6, 5, 0.0),
    ("sleep", 4, "sequential", "", None, False, "worse", 2.0, 1.9, 2.1, 6, 5, 0.0),
]


def _name(workload: str, model: str, sm: str, tasks: int, w: int | None) -> str:
    label = f"{model}[{sm}]" if sm else model
    return f"{workload}/{label}/t{tasks}" + (f"/w{w}" if w else "")


@pytest.fixture(scope="module")
def decisions() -> pd.DataFrame:
    rows = []
    for wl, t, model, sm, w, pick, verdict, ratio, low, high, rounds, last, needed in ROWS:
        size = 50_000.0 if wl == "cpu" else 0.0015
        rows.append([wl, size, t, "", _name(wl, model, sm, t, w), model, sm, w, pick, "",
                     verdict, ratio, low, high, rounds, last, needed])
    out = pd.DataFrame(rows, columns=DECISION_COLUMNS)
    out["workers"] = out["workers"].astype("Int64")
    picks = out[out["pick"]].set_index(QUESTION)["name"]
    out["pick_name"] = [picks[tuple(k)] for k in out[QUESTION].itertuples(index=False)]
    return out


def _question(decisions: pd.DataFrame, workload: str, tasks: int) -> pd.DataFrame:
    return decisions[(decisions["workload"] == workload) & (decisions["tasks"] == tasks)]


# ------------------------------------------------------------------------ sentences
def test_a_question_in_words(decisions: pd.DataFrame) -> None:
    q = _question(decisions, "cpu", 4)
    assert question_label(q) == "cpu, 50000 iterations, T = 4"
    assert decision_sentence(q, unit="iterations", delta=0.05) == (
        "cpu, 50000 iterations, T = 4, not yet decided: process_pool[fork] W=2 so far, "
        f"1.80{X} (1.70{TO}1.90) over sequential in 12 rounds; equivalent within 5 %: "
        "process_pool[fork] W=4 (after 12 rounds); worse: thread_pool W=1, 2 (after "
        f"4{TO}6 rounds); undecided: process_pool[spawn] W=2 (about 20 more rounds), "
        "process_pool[forkserver] W=2 (too few rounds to tell) at the spread seen.")


def test_a_baseline_pick_in_words(decisions: pd.DataFrame) -> None:
    q = _question(decisions, "cpu", 16)
    assert decision_sentence(q, unit="iterations", delta=0.05, native="openblas at 1 thread") \
        == ("cpu, 50000 iterations, T = 16: sequential with openblas at 1 thread, no model "
            "faster by more than 5 % in 6 rounds; equivalent within 5 %: asyncio_blocking "
            "(after 6 rounds); worse: thread_pool W=2 (after 6 rounds).")
    assert decision_sentence(q, unit="iterations", delta=0.025).startswith(
        "cpu, 50000 iterations, T = 16: sequential, no model faster by more than 2.5 %")


def test_rivals_grouped_by_model(decisions: pd.DataFrame) -> None:
    rivals = _question(decisions, "cpu", 4).iloc[1:]
    assert grouped(rivals) == ("sequential, thread_pool W=1, 2, process_pool[fork] W=4, "
                               "process_pool[spawn] W=2, process_pool[forkserver] W=2")


def test_the_decided_share() -> None:
    rec = pd.DataFrame({"decided": [True, False, True]})
    assert decided_text(rec, 0.05) == ("2 of 3 questions decided (every rival worse than the "
                                       "pick or equivalent to it within 5 %)")
    assert decided_text(rec.iloc[:0], 0.05).startswith("No question to decide")


# ------------------------------------------------------------------------ the forest plot
@pytest.fixture
def ax() -> Axes:
    return new_figure()[1][0]


def _points(ax: Axes) -> dict[str, tuple[list[float], list[float]]]:
    return {str(line.get_label()): (list(np.asarray(line.get_xdata(), dtype=float)),
                                    list(np.asarray(line.get_ydata(), dtype=float)))
            for line in ax.get_lines()}


def test_forest_plot_rows_points_and_intervals(ax: Axes, decisions: pd.DataFrame) -> None:
    decision_plots.plot_verdicts(ax, decisions, workload="cpu", delta=0.05)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == [
        "50000 iterations, T = 4: pick process_pool[fork] W=2, 12 rounds", "sequential",
        "thread_pool W=1 (left r4)", "thread_pool W=2 (left r6)", "process_pool[fork] W=4",
        "process_pool[spawn] W=2 (~20 more rounds)",
        "process_pool[forkserver] W=2 (left r2, too few rounds)",
        "50000 iterations, T = 16: pick sequential, 6 rounds", "asyncio_blocking",
        "thread_pool W=2"]
    weights = [t.get_fontweight() for t in ax.get_yticklabels()]
    assert [i for i, w in enumerate(weights) if w == "bold"] == [0, 7]  # the questions
    points = _points(ax)
    assert points["worse (4)"] == ([1.8, 1.9, 1.85, 1.2], [1, 2, 3, 9])
    assert points["equivalent (2)"] == ([1.01, 1.0], [4, 8])
    # an interval too few rounds gave is a point without a line
    assert points["undecided (2)"] == ([1.04, 1.05], [5, 6])
    assert points["_the pick"][0] == [1.0, 1.0]
    spans = {str(c.get_label()): [s.tolist() for s in c.get_segments()]
             for c in ax.collections if isinstance(c, LineCollection)}
    assert spans["_undecided interval"] == [[[0.99, 5.0], [1.09, 5.0]]]
    assert spans["_worse interval"][0] == [[1.7, 1.0], [1.9, 1.0]]
    (band,) = ax.patches
    assert band.get_x() == pytest.approx(1 / 1.05)
    assert band.get_x() + band.get_width() == pytest.approx(1.05)
    assert ax.get_xscale() == "log"
    lo, hi = ax.get_xlim()
    assert lo < 1 / 1.05
    assert hi > 2.2
    assert 1.0 in ax.get_xticks()
    legend = ax.get_legend()
    assert legend is not None
    assert {t.get_text() for t in legend.get_texts()} == {
        "equivalent within \N{PLUS-MINUS SIGN}5 %", "worse (4)", "equivalent (2)",
        "undecided (2)"}
    assert ax.get_title() == "cpu: each rival's time over its pick's"


def test_forest_plot_of_a_run_not_raced_and_of_no_question(ax: Axes,
                                                           decisions: pd.DataFrame) -> None:
    decision_plots.plot_verdicts(ax, decisions, workload="cpu", delta=0.05, raced=False)
    assert "thread_pool W=1 (last r4)" in [t.get_text() for t in ax.get_yticklabels()]
    other = new_figure()[1][0]
    decision_plots.plot_verdicts(other, decisions, workload="hash", delta=0.05)
    assert other.get_title() == "hash: each rival's time over its pick's"
    assert other.texts[0].get_text() == "no data in this run"


# ------------------------------------------------------------------------ looks and margin
def test_the_looks_and_margin_come_from_the_manifest(tmp_path: Path) -> None:
    write_hand_made(tmp_path / "results.json")
    record = {"until": "decided", "delta": 0.03, "alpha": 0.05, "first_look": 3,
              "last_look": 40, "looks": [3, 4, 6, 8, 11, 15, 21, 29, 40], "questions": {}}
    (tmp_path / "run.json").write_text(json.dumps(
        {"format": 1, "name": "r", "settings": {}, "status": "complete", "points": [],
         "decisions": record}), encoding="utf-8")
    status = report_status.run_status(tmp_path / "results.json")
    assert status.decisions == record
    from bench.results.aggregate import load

    tidy = load(tmp_path / "results.json").tidy
    assert report_status.run_looks(status, tidy) == (Looks(first=3, last=40, alpha=0.05), 0.03)
    # an older run's manifest has no record: its planned rounds up to the most seen, 5 %
    older = report_status.RunStatus(planned_rounds=4)
    assert report_status.run_looks(older, tidy) == (looks_for(4, 6, raced=False), 0.05)
    assert report_status.run_looks(report_status.RunStatus(), tidy) == (
        looks_for(6, 6, raced=False), 0.05)  # no manifest: the fewest rounds a point has
