"""The verdicts' chart: a forest plot of each rival's time over its question's pick.

One panel per workload (:func:`plot_verdicts`), on a given Axes like every chart
function of :mod:`bench.report.plots`: a row per rival of each question of the
workload, under a heading row naming the question and its pick; a point at the
rival's ratio (the geometric mean of its per-round time over the pick's) and a
line over its interval, coloured and marked by its verdict; the band of
equivalence ``[1 / (1 + delta), 1 + delta]`` shaded and the pick's 1 drawn.
A rival that left the race says in its label the round it was last measured in.
"""

from __future__ import annotations

import math

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import NullLocator

from bench.report.figures import spaced_labels
from bench.report.plots import no_data
from bench.results.decisions import EQUIVALENT, QUESTION, UNDECIDED, WORSE
from bench.results.recommend import margin_text, rival_label, size_label, task_unit

#: Each verdict's look, in the legend's order.
VERDICT_STYLE = {WORSE: {"color": "#c0392b", "marker": "o"},
                 EQUIVALENT: {"color": "#2e8b57", "marker": "s"},
                 UNDECIDED: {"color": "#d98c00", "marker": "D"}}
#: Ratios the x axis may mark (log scale), those within its limits shown.
RATIO_TICKS = (0.25, 0.5, 0.67, 0.8, 0.9, 0.95, 1.0, 1.05, 1.1, 1.25, 1.5, 2.0, 3.0, 4.0,
               5.0, 7.0, 10.0, 15.0, 20.0)
#: Ticks left out of an axis spanning more than :data:`FINE_SPAN` (they would crowd 1).
FINE_TICKS = (0.9, 0.95, 1.05, 1.1)
FINE_SPAN = 1.8
#: The x axis reaches at most this many times the largest ratio (a wide interval of few
#: rounds runs off the edge rather than squeezing every other row).
MOST_SPAN = 4.0


def _heading(q: pd.DataFrame, unit: str) -> str:
    """A question's heading row: ``50000 iterations, T = 4: pick process_pool[fork] W=2``."""
    pick = q[q["pick"]].iloc[0]
    python = f" ({pick['python']})" if pick["python"] else ""
    return (f"{size_label(float(pick['task_size']), unit)}, T = {pick['tasks']}{python}: "
            f"pick {rival_label(pick)}, {int(pick['rounds'])} rounds")


def row_label(r: pd.Series, last: int, *, raced: bool = True) -> str:
    """A rival's row: its label, then the round it was last measured in when before its
    question's ``last`` round (0-based): ``left r4`` in a race, else ``last r4`` (a run's
    extra rounds went to others), and, undecided, the rounds it needs."""
    label = rival_label(r)
    notes = []
    if int(r["last_round"]) < last:
        notes.append(f"{'left' if raced else 'last'} r{int(r['last_round']) + 1}")
    if r["verdict"] == UNDECIDED:
        needed = float(r["needed"])
        notes.append("too few rounds" if math.isnan(needed) else "at the margin"
                     if math.isinf(needed) else f"~{needed:.0f} more rounds")
    return f"{label} ({', '.join(notes)})" if notes else label


def verdict_layout(decisions: pd.DataFrame, workload: str, unit: str, *, raced: bool = True
                   ) -> tuple[list[str], list[int], pd.DataFrame]:
    """The rows of ``workload``'s panel, top to bottom: every label, the headings' rows,
    and the rivals with their row (``y``)."""
    labels: list[str] = []
    headings: list[int] = []
    rivals = []
    mine = decisions[decisions["workload"] == workload]
    for _, q in mine.groupby(QUESTION, sort=False):
        headings.append(len(labels))
        labels.append(_heading(q, unit))
        last = int(q["last_round"].max())
        for _, r in q[~q["pick"]].iterrows():
            rivals.append(r.to_dict() | {"y": len(labels)})
            labels.append(row_label(r, last, raced=raced))
    return labels, headings, pd.DataFrame(rivals)


def _x_axis(ax: Axes, rivals: pd.DataFrame, delta: float) -> None:
    """Log x axis over the band and every ratio, ticks at :data:`RATIO_TICKS`."""
    ratios = pd.to_numeric(rivals["ratio"], errors="coerce")
    ends = pd.concat([ratios, pd.to_numeric(rivals["ratio_low"], errors="coerce"),
                      pd.to_numeric(rivals["ratio_high"], errors="coerce")])
    ends = ends[ends.map(math.isfinite) & (ends > 0)]
    top = max(1 + delta, float(ratios.max()) if ratios.notna().any() else 1.0)
    lo = min(1 / (1 + delta), float(ends.min()) if len(ends) else 1.0) / 1.04
    hi = min(max(1 + delta, float(ends.max()) if len(ends) else 1.0), top * MOST_SPAN) * 1.04
    ax.set_xscale("log")
    ax.set_xlim(lo, hi)
    ticks = [t for t in RATIO_TICKS if lo <= t <= hi
             and (hi / lo <= FINE_SPAN or t not in FINE_TICKS)]
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticks(ticks, spaced_labels(ax, ticks, [f"{t:g}" for t in ticks]))


def plot_verdicts(ax: Axes, decisions: pd.DataFrame, *, workload: str, delta: float,
                  raced: bool = True) -> None:
    """Draw ``workload``'s verdicts as a forest plot.

    Parameters
    ----------
    ax
        The Axes to draw on.
    decisions
        :func:`bench.results.decisions.decide`'s frame (a ``task_unit`` column names
        the unit of the task sizes, else the workload's spec does).
    workload
        The workload whose questions are drawn, each under a heading row.
    delta
        The equivalence margin: the band drawn around 1.
    raced
        Whether the run raced (``--until decided``): a rival measured in fewer rounds
        than its question's last "left" the race; else it got fewer extra rounds.
    """
    unit = task_unit(decisions, workload)
    title = f"{workload}: each rival's time over its pick's"
    labels, headings, rivals = verdict_layout(decisions, workload, unit, raced=raced)
    if rivals.empty:
        no_data(ax, title)
        return
    ax.axvspan(1 / (1 + delta), 1 + delta, color="0.88", zorder=0,
               label=f"equivalent within \N{PLUS-MINUS SIGN}{margin_text(delta)}")
    ax.axvline(1.0, color="0.2", linewidth=0.9, zorder=1, label="_the pick")
    for verdict, look in VERDICT_STYLE.items():
        rows = rivals[rivals["verdict"] == verdict]
        if rows.empty:
            continue
        shown = rows[rows["ratio_low"].map(math.isfinite)]
        ax.hlines(shown["y"], shown["ratio_low"], shown["ratio_high"], color=look["color"],
                  linewidth=2.0, zorder=2, label=f"_{verdict} interval")
        ax.plot(rows["ratio"], rows["y"], linestyle="", markersize=6, zorder=3,
                label=f"{verdict} ({len(rows)})", color=look["color"], marker=look["marker"])
    ax.set_yticks(range(len(labels)), labels, fontsize="small")
    for i in headings:
        ax.get_yticklabels()[i].set_fontweight("bold")
        if i:
            ax.axhline(i - 0.5, color="0.8", linewidth=0.6, zorder=0, label="_question")
    ax.set_ylim(len(labels) - 0.5, -1.5)  # a row above the first question for the legend
    _x_axis(ax, rivals, delta)
    ax.set_xlabel("rival time / pick time (ratio, log scale; > 1: pick faster)")
    ax.set_title(title)
    ax.legend(fontsize="x-small", loc="upper right", ncol=len(VERDICT_STYLE) + 1,
              borderpad=0.3, handletextpad=0.4, columnspacing=1.0)
