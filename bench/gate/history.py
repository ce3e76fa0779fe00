"""A history of runs for CI artifacts, and the gate that reads it.

``concbench history append HISTORY.json RUN`` adds one run's run-level figures
to a JSON file that CI keeps as an artifact: per point its median (the median
of its per-round medians) and its within-run speedup, with the point's work
and the host key (CPU model, usable cores, Python version, build and
implementation, GIL).  ``concbench check --history HISTORY.json CURRENT``
judges each point of a new run against the spread the history shows **on
matching hosts, for the same work**:

* for each point and figure (time, and speedup where the point has one), the
  history's runs give n values; on the log scale their mean ``m`` and standard
  deviation ``s`` give the normal-theory prediction interval of one new run,
  ``m + t(n-1) * s * sqrt(1 + 1/n)``;
* a point **regressed** when its new value lies beyond the one-sided
  prediction bound at level ``alpha / k`` (Bonferroni over the k figures
  judged, so that a whole run of A/A figures raises a false alarm with
  probability at most ``alpha``) **and** it is slower than ``1 + max_slowdown``
  times the history's centre (a lower speedup counts as slower);
* with fewer than ``min_runs`` matching runs a point is not judged: the gate
  **abstains** (says so, exit 0).

Why a parametric interval: with n = 10 runs, a distribution-free bound (the
largest of n values) is exceeded with probability 1 / (n + 1) = 9 % per
figure, a false alarm in almost every run of a 25-point grid.  A run from a
noisy moment widens ``s``: fewer alarms, never more.

Every judged point also says how much this history lets it see: its spread
run to run and the smallest slowdown that would exceed its bound.  Time
medians move with the whole host (this kind of host drifts 5-20 % between
runs); speedups pair a point with its baseline in the same rounds and move far
less, so they catch scaling regressions; for anything finer, ``concbench ab``
measures both sides in one job.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from scipy import stats

from bench.errors import UsageError
from bench.gate.match import TIME_KEYS, metric_rounds, point_work, run_host
from bench.gate.stats import bonferroni
from bench.results import store
from bench.results.aggregate import RunData
from bench.scenarios.metrics import METRICS, gate_metrics
from bench.scenarios.models import MODELS

FORMAT = "concbench-history"
VERSION = 1
#: Host record keys a history run must share with the current run to be compared.
HOST_KEY = (*TIME_KEYS, "python_implementation")
#: Fewest matching runs a point is judged from (``--min-runs``).
MIN_RUNS = 5


def host_key(host: dict[str, Any]) -> dict[str, Any]:
    """The part of a host record (:func:`bench.gate.match.run_host`) that must match: CPU,
    cores, Python build, GIL; each interpreter's, in a run of several."""
    return {k: host.get(k) for k in HOST_KEY} | {
        k: v for k, v in host.items() if "@" in k and k.partition("@")[0] in HOST_KEY}


def entry(run: RunData) -> dict[str, Any]:
    """A run's history entry: host key and per point its work, median and speedup."""
    s = run.summary
    work = point_work(s)
    # each metric's median reading over rounds (as gated: bigger is worse)
    readings = {m: metric_rounds(run, m).groupby(level=0).median()
                for m in dict.fromkeys(run.probes["probe"])}
    points = {}
    for row in s.itertuples():
        speedup = float(row.speedup)
        name = str(row.name)
        points[name] = {"work": list(work[name]),
                        "median_s": float(row.median_s),
                        "speedup": speedup if math.isfinite(speedup)
                        and not MODELS[str(row.model)].baseline else None,
                        "metrics": {m: float(v[name]) for m, v in readings.items()
                                    if name in v.index}}
    meta = run.tidy.iloc[0] if len(run.tidy) else {}
    return {"run": str(meta.get("run_name", "")) or run.path.name,
            "added": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "git_commit": str(meta.get("git_commit", "") or ""),
            "host": host_key(run_host(run)), "points": points}


def load_history(path: Path, *, missing_ok: bool = False) -> list[dict[str, Any]]:
    """The runs of a history file (oldest first).

    Raises
    ------
    UsageError
        The file is missing (unless ``missing_ok``), unreadable or not a history.
    """
    if missing_ok and not path.exists():
        return []
    data = store.read_json(path, "history")
    if not (isinstance(data, dict) and data.get("format") == FORMAT
            and isinstance(data.get("runs"), list)):
        raise UsageError(f"{path}: not a concbench history file")
    return list(data["runs"])


def append(path: Path, run: RunData, keep: int = 0) -> int:
    """Add ``run`` to the history file (created if missing); keep the newest ``keep``.

    Returns the number of runs the file holds.
    """
    if keep < 0:
        raise UsageError(f"--keep must be >= 0, got {keep}")
    runs = [*load_history(path, missing_ok=True), entry(run)]
    if keep:
        runs = runs[-keep:]
    store.atomic_write_text(path, json.dumps({"format": FORMAT, "version": VERSION,
                                              "runs": runs}, indent=1, sort_keys=True) + "\n")
    return len(runs)


@dataclass(frozen=True)
class HistoryTest:
    """One figure of one point judged against its history."""

    name: str
    #: "time" (median seconds) or "speedup".
    metric: str
    runs: int
    current: float
    #: Geometric mean of the history's values.
    centre: float
    #: Standard deviation of the history's log values.
    spread: float
    #: Current relative to the centre, > 1 slower (for speedups: centre / current).
    slowdown: float
    #: One-sided prediction p-value of the current value (small: beyond the history).
    p_value: float
    #: The smallest slowdown that would be flagged (bound and margin).
    visible: float
    regressed: bool

    def sentence(self) -> str:
        """How much this point moves run to run and what slowdown it can see."""
        what = self.metric
        moves = math.expm1(1.96 * self.spread)
        return (f"{self.name} ({what}) moves \N{PLUS-MINUS SIGN}{moves:.0%} run to run here "
                f"({self.runs} runs); slowdowns under ~{self.visible - 1:.0%} are invisible")


@dataclass
class HistoryResult:
    """The verdict of ``check --history``."""

    tests: list[HistoryTest]
    alpha: float
    max_slowdown: float
    min_runs: int
    #: History runs on other hosts (not used), and runs matching.
    other_hosts: int = 0
    matching: int = 0
    #: Points with fewer matching runs than ``min_runs``: name -> runs found.
    abstained: dict[str, int] = field(default_factory=dict)

    @property
    def regressed(self) -> list[HistoryTest]:
        """Figures beyond their history."""
        return [t for t in self.tests if t.regressed]

    def exit_code(self, fail_on_undecided: bool = False) -> int:
        """1 when a figure regressed (or, when asked, a point was not judged), else 0."""
        return 1 if self.regressed or (fail_on_undecided and self.abstained) else 0

    def visibility(self) -> list[str]:
        """One sentence per judged figure, the least sensitive first."""
        return [t.sentence() for t in sorted(self.tests, key=lambda t: -t.visible)]


class Prediction(NamedTuple):
    """One new value judged against its history (see :func:`predict`)."""

    #: Geometric mean of the history.
    centre: float
    #: Standard deviation of the history's logs.
    spread: float
    #: One-sided prediction p-value of the new value (small: beyond the history).
    p_value: float
    #: The smallest ratio to the centre that would be flagged.
    visible: float
    #: Beyond the bound at ``level`` and slower than the margin: a regression.
    regressed: bool


def predict(history: Sequence[float], current: float, margin: float,
            level: float) -> Prediction:
    """Judge one new value against ``history`` (both "bigger is worse").

    The normal-theory prediction interval of the logs: ``current`` regressed
    when its one-sided prediction p-value is below ``level`` and it exceeds
    ``1 + margin`` times the history's geometric mean.
    """
    x = np.log(np.asarray(history, dtype=float))
    n = x.size
    mean, sd = float(np.mean(x)), float(np.std(x, ddof=1))
    scale = sd * math.sqrt(1 + 1 / n)
    if scale == 0.0:
        p = 0.0 if math.log(current) > mean else 1.0
        bound = 0.0
    else:
        p = float(stats.t.sf((math.log(current) - mean) / scale, n - 1))
        bound = float(stats.t.isf(level, n - 1) * scale)
    centre = math.exp(mean)
    return Prediction(centre, sd, p, max(math.exp(bound), 1 + margin),
                      p < level and current / centre > 1 + margin)


#: The figures ``check --history`` can judge (``--metric``; both by default).
#: The figures judged when no --metric is given.
FIGURES = ("time", "speedup")


def check(history: Sequence[dict[str, Any]], run: RunData, *, max_slowdown: float = 0.10,
          alpha: float = 0.05, min_runs: int = MIN_RUNS,
          metric: str | None = None) -> HistoryResult:
    """Judge ``run`` against the ``history`` entries of its host.

    Parameters
    ----------
    history : sequence of dict
        Entries as :func:`entry` makes them (:func:`load_history`).
    run : RunData
        The current run.
    max_slowdown : float
        A figure must also be slower than ``1 + max_slowdown`` times its centre.
    alpha : float
        Chance that a run of the same code raises any alarm (Bonferroni).
    min_runs : int
        Fewest matching runs a point is judged from (at least 3).
    metric : {"time", "speedup"}, optional
        Judge only this figure of each point (None: both).
    """
    if min_runs < 3:
        raise UsageError(f"--min-runs must be at least 3, got {min_runs}")
    if metric is not None and metric not in gate_metrics():
        raise UsageError(f"--metric {metric!r}: choose from {', '.join(gate_metrics())}")
    wanted = FIGURES if metric is None else (metric,)
    key = host_key(run_host(run))
    same = [h for h in history if h.get("host") == key]
    current = entry(run)["points"]
    figures: list[tuple[str, str, list[float], float]] = []
    abstained: dict[str, int] = {}
    for name, now in current.items():
        past = [h["points"][name] for h in same
                if name in h.get("points", {}) and h["points"][name]["work"] == now["work"]]
        if len(past) < min_runs:
            abstained[name] = len(past)
            continue
        if "time" in wanted:
            figures.append((name, "time", [p["median_s"] for p in past], now["median_s"]))
        if metric in METRICS:  # readings oriented bigger-is-worse, as entry() keeps them
            values = [v for p in past if (v := p.get("metrics", {}).get(metric))]
            now_v = now["metrics"].get(metric)
            if now_v and len(values) >= min_runs:
                figures.append((name, metric, values, now_v))
            continue
        speeds = [p["speedup"] for p in past if p["speedup"]]
        if "speedup" in wanted and now["speedup"] and len(speeds) >= min_runs:
            # a lower speedup is worse: judge 1 / speedup, bigger is worse
            figures.append((name, "speedup", [1 / v for v in speeds], 1 / now["speedup"]))
    level = bonferroni(alpha, len(figures))
    tests = []
    for name, metric, past_values, value in figures:
        pred = predict(past_values, value, max_slowdown, level)
        tests.append(HistoryTest(
            name=name, metric=metric, runs=len(past_values),
            current=1 / value if metric == "speedup" else value,
            centre=1 / pred.centre if metric == "speedup" else pred.centre,
            spread=pred.spread, slowdown=value / pred.centre, p_value=pred.p_value,
            visible=pred.visible, regressed=pred.regressed))
    return HistoryResult(tests, alpha, max_slowdown, min_runs,
                         other_hosts=len(history) - len(same), matching=len(same),
                         abstained=abstained)
