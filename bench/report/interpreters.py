"""The interpreters of a run: what each decided, and the run of several (``--python 3.11,3.14``).

:func:`parts` splits a run by interpreter: every section of the report covers
each one (its findings labelled, its charts named, a Python column in the
tables, a column in the Host table).  The section such a run adds: for each
workload, at its largest task count and task size, the pick of each
interpreter (:func:`bench.results.recommend.recommendations`, per
interpreter), its speedup over its own sequential baseline, the ratio of its
sequential time to the first interpreter's, and its time against the first
interpreter's sequential time.  Every ratio between interpreters is paired by
round: each round ran the group under every interpreter, in consecutive
children (:func:`bench.measure.rounds.python_order`).  The pick overall is the
fastest of the picks.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

import pandas as pd

from bench.results import stats
from bench.results.aggregate import RunData
from bench.results.recommend import point_label, size_label, task_unit
from bench.scenarios.models import BASELINE, STEADY

if TYPE_CHECKING:
    from matplotlib.axes import Axes

#: Columns of :func:`interpreter_rows`.
ROW_COLUMNS = ["workload", "tasks", "task_size", "python", "version", "name", "pick",
               "speedup", "speedup_ci_low", "speedup_ci_high", "sequential_ratio",
               "sequential_ratio_ci_low", "sequential_ratio_ci_high", "overall",
               "overall_ci_low", "overall_ci_high", "best"]
#: Headings of the report's table.
TABLE = ("workload", "Python", "pick", "speedup (own sequential)",
         "sequential vs first", "vs first's sequential", "overall")


class Part(NamedTuple):
    """One interpreter's share of a run: its tag, its record, its rows of the summary."""

    tag: str
    #: The run's fields and the interpreter's own host record.
    host: dict[str, Any]
    summary: pd.DataFrame


def parts(data: RunData, summary: pd.DataFrame) -> list[Part]:
    """Each interpreter's part of ``summary`` (``data``'s, with units), in the run's order;
    one part, the whole of it, in a run of one."""
    if len(data.interpreters) < 2:
        return [Part("", data.host, summary)]
    python = summary["python"].astype(str)
    return [Part(tag, {**data.host, **record}, summary[python == tag])
            for tag, record in data.interpreters.items()]


def python_label(host: Mapping[str, Any]) -> str:
    """``Python 3.14.0``: the interpreter whose record ``host`` is."""
    return f"Python {host.get('python_version', '?')}"


def interpreter_findings(host: Mapping[str, Any], summary: pd.DataFrame) -> list[str]:
    """What the interpreter decided: its GIL as each workload's children ran, its default
    start method."""
    version = python_label(host)
    out = []
    if "free-threading" in str(host.get("python_build", "")):
        gil = summary.groupby("workload", sort=False)["gil"].any()
        if gil.any():
            off = ", ".join(gil.index[~gil])
            text = (f"{version} is a free-threaded build, but the GIL was on as the measured "
                    f"children ran in {', '.join(gil.index[gil])}: an extension module imported "
                    "there turned it back on, so threads ran one thread's Python at a time (the "
                    "ideal says so too).")
            out.append(text + (f" {off} ran without it." if off else ""))
        else:
            out.append(f"{version} ran without the GIL (a free-threaded build): threads can run "
                       "Python in parallel, and the ideal lets them scale on CPU work.")
    default = host.get("default_start_method")
    if default and summary["start_method"].fillna("").astype(bool).any():
        named = ", ".join(sorted(set(summary["start_method"].dropna()) - {""}))
        out.append(f"A process pool made without a start method gets {default} under {version} "
                   f"on this host; this run named each one ({named}).")
    return out


def _interval(ratios: pd.Series) -> tuple[float, float, float]:
    t = stats.grouped_intervals(ratios)
    if t.empty:
        return math.nan, math.nan, math.nan
    r = t.iloc[0]
    return float(r["centre"]), float(r["low"]), float(r["high"])


def interpreter_rows(tidy: pd.DataFrame, summary: pd.DataFrame, recommended: pd.DataFrame,
                     interpreters: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """Per workload (at its largest T and size) and interpreter: its pick and the ratios.

    ``sequential_ratio`` is the first interpreter's sequential time over this
    one's, ``overall`` the first interpreter's sequential time over this
    pick's: both paired by round (> 1: faster), with 95 % intervals; ``best``
    marks the fastest pick of the workload (the pick overall).
    """
    tags = list(interpreters)
    if len(tags) < 2 or recommended.empty:
        return pd.DataFrame(columns=ROW_COLUMNS)
    medians = stats.round_medians(tidy)
    steady = summary[summary["metric"] == STEADY]
    rows = []
    for workload in dict.fromkeys(recommended["workload"]):
        mine = recommended[recommended["workload"] == workload]
        top = mine[mine["task_size"] == mine["task_size"].max()]
        top = top[top["tasks"] == top["tasks"].max()]
        size, tasks = float(top["task_size"].iloc[0]), int(top["tasks"].iloc[0])
        seq = steady[(steady["workload"] == workload) & (steady["task_size"] == size)
                     & (steady["tasks"] == tasks) & (steady["model"] == BASELINE)]
        base = dict(zip(seq["python"].astype(str), seq["name"].astype(str), strict=True))
        if tags[0] not in base:
            continue
        for tag in tags:
            pick = top[top["python"].astype(str) == tag]
            if pick.empty or tag not in base:
                continue
            r = pick.iloc[0]
            seq_ratio = ((1.0, 1.0, 1.0) if tag == tags[0] else
                         _interval(stats.paired_ratios(medians, {base[tag]: base[tags[0]]})))
            overall = _interval(stats.paired_ratios(medians, {str(r["name"]): base[tags[0]]})) \
                if str(r["name"]) != base[tags[0]] else (1.0, 1.0, 1.0)
            rows.append((workload, tasks, size, tag,
                         str(interpreters[tag].get("python_version", tag)), str(r["name"]),
                         point_label(str(r["model"]), str(r["start_method"]), r["workers"]),
                         float(r["speedup"]), float(r["speedup_ci_low"]),
                         float(r["speedup_ci_high"]), *seq_ratio, *overall, False))
    out = pd.DataFrame(rows, columns=ROW_COLUMNS)
    if len(out):
        out.loc[out.groupby("workload", sort=False)["overall"].idxmax(), "best"] = True
    return out


def _times(centre: float, low: float, high: float) -> str:
    if centre != centre:
        return "no paired rounds"
    ci = f" ({low:.2f}\N{EN DASH}{high:.2f})" if low == low else " (too few rounds)"
    return f"{centre:.2f}\N{MULTIPLICATION SIGN}" + ci


def interpreter_table(rows: pd.DataFrame, summary: pd.DataFrame) -> pd.DataFrame:
    """:func:`interpreter_rows` as display strings (:data:`TABLE`)."""
    out = []
    for r in rows.itertuples(index=False):
        what = f"{r.workload}, {size_label(r.task_size, task_unit(summary, r.workload))}, " \
               f"T = {r.tasks}"
        out.append((what, r.version, r.pick,
                    _times(r.speedup, r.speedup_ci_low, r.speedup_ci_high),
                    _times(r.sequential_ratio, r.sequential_ratio_ci_low,
                           r.sequential_ratio_ci_high) if r.python != rows["python"].iloc[0]
                    else "(the first)",
                    _times(r.overall, r.overall_ci_low, r.overall_ci_high),
                    "pick overall" if r.best else ""))
    return pd.DataFrame(out, columns=list(TABLE), dtype=object)


def interpreter_sentences(rows: pd.DataFrame) -> list[str]:
    """The findings of a run of several interpreters: sequential ratios, the pick overall."""
    if rows.empty:
        return []
    first = rows["version"].iloc[0]
    out = []
    for workload, part in rows.groupby("workload", sort=False):
        for r in part.iloc[1:].itertuples(index=False):
            if r.sequential_ratio != r.sequential_ratio:
                continue
            sure = r.sequential_ratio_ci_low > 1 or r.sequential_ratio_ci_high < 1
            ratio = _times(r.sequential_ratio, r.sequential_ratio_ci_low,
                           r.sequential_ratio_ci_high)
            out.append(f"Python {r.version} runs {workload} (T = {r.tasks}) sequentially "
                       f"{ratio} as fast as {first}, paired by round"
                       + ("" if sure else ": no surer than a tie") + ".")
        best = part[part["best"]]
        if len(best):
            b = best.iloc[0]
            out.append(f"Pick overall for {workload} at T = {b['tasks']}: {b['pick']} under "
                       f"Python {b['version']}, "
                       f"{_times(b['overall'], b['overall_ci_low'], b['overall_ci_high'])} "
                       f"as fast as {first}'s sequential loop.")
    return out


def plot_interpreters(ax: Axes, rows: pd.DataFrame) -> None:
    """Bars per workload and interpreter: sequential and pick, each against the first
    interpreter's sequential time (paired by round), with their 95 % intervals."""
    workloads = list(dict.fromkeys(rows["workload"]))
    tags = list(dict.fromkeys(rows["version"]))
    width = 0.8 / (2 * len(tags))
    for j, tag in enumerate(tags):
        for k, (stem, what) in enumerate((("sequential_ratio", "sequential"),
                                          ("overall", "pick"))):
            part = rows[rows["version"] == tag].set_index("workload").reindex(workloads)
            x = [i - 0.4 + width * (2 * j + k + 0.5) for i in range(len(workloads))]
            y = part[stem].to_numpy(dtype=float)
            low = (y - part[f"{stem}_ci_low"].to_numpy(dtype=float)).clip(min=0)
            high = (part[f"{stem}_ci_high"].to_numpy(dtype=float) - y).clip(min=0)
            bars = ax.bar(x, y, width, yerr=[low, high], capsize=3,
                          label=f"Python {tag}: {what}", color=f"C{j}",
                          alpha=0.45 if k == 0 else 0.95)
            if k == 1:
                for bar, label in zip(bars, part["pick"].fillna(""), strict=True):
                    ax.annotate(str(label), (bar.get_x() + bar.get_width() / 2, 0),
                                xytext=(0, 3), textcoords="offset points", rotation=90,
                                ha="center", va="bottom", fontsize=7)
    ax.axhline(1.0, color="0.4", lw=0.8, ls="--")
    ax.set_xticks(range(len(workloads)), workloads)
    ax.set_ylabel(f"\N{MULTIPLICATION SIGN} as fast as Python {tags[0]} sequential")
    ax.set_title("Each interpreter's sequential loop and pick (95 % CI, paired by round)")
    ax.legend(fontsize=7)
