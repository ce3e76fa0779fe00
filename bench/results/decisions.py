"""Decisions: for each question, the pick and one verdict per rival, valid however a race stops.

A *question* is what a user asks of a run: for one workload, task size, task count
and interpreter, which model (and how many workers) to use.  Its candidates are the
steady points of that group.  The *pick* is the fastest of them (the highest median
of its per-round paired speedups over sequential), or the plain loop where the
fastest is equivalent to it (the simpler choice).  Every other point, a *rival*,
gets one verdict from its **per-round paired log ratio** to the pick,
``d_r = log(rival_r / pick_r)`` (both measured in round ``r``, interleaved in one
process; rounds only one of them has are left out):

- **worse**: the interval of the mean ratio lies wholly above 1 (the pick is surely
  faster) and not within the margin;
- **equivalent**: it lies wholly within ``[1 / (1 + delta), 1 + delta]``;
- **undecided**: neither.

*Optional stopping.*  A race looks at the rounds after every round and drops the
rivals already decided, so an interval computed as if the number of rounds had
been fixed would be wrong more often than it says.  The interval here is a
confidence sequence over the race's looks by alpha spending: a run that may look
at ``L`` round counts (:class:`Looks`: a geometric schedule from ``first`` rounds to
its most rounds, ``last``) gives each look the two-sided Student t interval at level
``1 - alpha / L`` (Bonferroni over the looks); between looks the rounds accumulate.
The chance that *any* look's interval misses the true mean ratio is at most
``alpha``, whichever look the race stops at, so each verdict is wrong with
probability at most ``alpha`` however the rounds fall (per rival; over the rivals
of one question the errors add up at most).  ``tests/test_decisions.py`` checks the
false-decision rate and the power by simulated races whose round noise is resampled
from this host's recorded runs.

Why Student t and not a rank test: a distribution-free test on n rounds cannot
give a p-value below ``2 ** -n``, which with a level split over the looks leaves
a race unable to decide anything in its first ten rounds; the t interval decides
a 2x difference in three rounds, and one wild round widens it (an outlier gives
"undecided", not a false verdict).  Lai's (1976) mixture confidence sequence was
the other candidate: it has no horizon, but it is infinite before five rounds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special

from bench.results import stats
from bench.scenarios.models import MODELS, STEADY
from bench.scenarios.profiles import DELTA

#: The chance that a verdict is wrong, at most, however the race stops.
ALPHA = 1 - stats.CONFIDENCE
#: Fewest rounds a verdict is read from (a race measures every point this often).
FIRST_LOOK = 3
#: Verdicts, the undecided last.
WORSE, EQUIVALENT, UNDECIDED = "worse", "equivalent", "undecided"
#: What names a question.
QUESTION = ["workload", "task_size", "tasks", "python"]
#: Columns of :func:`decide`: one row per candidate of a question.
DECISION_COLUMNS = [*QUESTION, "name", "model", "start_method", "workers", "pick",
                    "pick_name", "verdict", "ratio", "ratio_low", "ratio_high", "rounds",
                    "last_round", "needed"]
#: The most rounds :func:`rounds_needed` looks ahead.
MOST_NEEDED = 10_000


#: Each look comes after this many times the rounds of the one before (at least one more).
GROWTH = 1.4


def schedule(first: int, last: int, growth: float = GROWTH) -> tuple[int, ...]:
    """The round counts looked at: ``first``, then each ``growth`` times the one before,
    and ``last`` (``3, 4, 6, 8, 11, 15, 16`` for 3 to 16)."""
    out = [first]
    while out[-1] < last:
        out.append(min(last, max(out[-1] + 1, round(out[-1] * growth))))
    return tuple(out)


@dataclass(frozen=True)
class Looks:
    """The round counts at which a run may read its verdicts: from ``first`` to ``last``.

    A run of fixed rounds looks once (``first == last``); a race looks at a geometric
    schedule (:func:`schedule`), so that a horizon of 40 rounds costs 10 looks, not 38.
    ``alpha`` is spent evenly over the looks.  Between two looks the rounds accumulate:
    a verdict is read from the first rounds up to the last look reached.
    """

    first: int = FIRST_LOOK
    last: int = FIRST_LOOK
    alpha: float = ALPHA

    @property
    def counts(self) -> tuple[int, ...]:
        """The round counts looked at."""
        return schedule(self.first, max(self.first, self.last))

    def looked(self, rounds: int) -> int:
        """The last look reached with ``rounds`` rounds (0 before the first).

        Past ``last`` (a resumed run that measured more) there is no further look: the
        level was spent on the planned ones, so the verdict stays the one read at ``last``.
        """
        return max((n for n in self.counts if n <= rounds), default=0)

    def factor(self, rounds: int) -> float:
        """The t quantile of the interval read at look ``rounds`` (a count of
        :meth:`looked`): half-width = factor * sd / sqrt(rounds); NaN below 2 rounds."""
        if rounds < max(2, self.first):
            return math.nan
        return float(special.stdtrit(rounds - 1, 1 - self.alpha / (2 * len(self.counts))))


def looks_for(planned: int, most: int, raced: bool) -> Looks:
    """The looks of a run of ``planned`` rounds extended up to ``most``.

    A race (``raced``) looks from :data:`FIRST_LOOK` rounds to its most; a run whose
    extra rounds went where intervals were widest looks from ``planned`` to ``most``
    (how many rounds a point got depended on its values); a run of fixed rounds once.
    """
    first = min(FIRST_LOOK, planned) if raced else planned
    return Looks(first=max(2, first), last=max(2, planned, most))


def log_interval(d: np.ndarray, looks: Looks) -> tuple[float, float, float]:
    """The mean of per-round log ratios ``d`` (in round order) and its interval at the
    last look they reach, both from the rounds up to that look (NaN bounds before the
    first look; the mean of every round then)."""
    d = np.asarray(d, dtype=float)
    d = d[np.isfinite(d)]
    k = looks.looked(d.size)
    if k < 2:
        return (float(np.mean(d)) if d.size else math.nan), math.nan, math.nan
    d = d[:k]
    mean = float(np.mean(d))
    half = looks.factor(k) * float(np.std(d, ddof=1)) / math.sqrt(k)
    return mean, mean - half, mean + half


def verdict_of(low: float, high: float, delta: float) -> str:
    """The verdict of a log-ratio interval ``[low, high]`` (rival over pick)."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return UNDECIDED
    margin = math.log1p(delta)
    if -margin < low and high < margin:
        return EQUIVALENT
    return WORSE if low > 0 else UNDECIDED


def rounds_needed(d: np.ndarray, looks: Looks, delta: float) -> float:
    """More rounds an undecided rival needs if its mean and spread stay as seen.

    The fewest extra rounds to a look whose interval around the same mean would lie
    above 0 or within the margin: a look of ``looks``, or past its last one, the last
    look of a run allowed that many rounds (its level spent over its own, longer
    schedule); inf when no count up to :data:`MOST_NEEDED` would do (a mean at the margin
    itself).  With fewer than 2 rounds: the rounds to the first look.
    """
    d = np.asarray(d, dtype=float)
    d = d[np.isfinite(d)]
    if d.size < 2:
        return float(max(looks.first, 2) - d.size)
    mean, sd = float(np.mean(d)), float(np.std(d, ddof=1))
    gap = max(mean, math.log1p(delta) - abs(mean))
    if gap <= 0:
        return math.inf
    longer = [n for n in schedule(looks.first, MOST_NEEDED) if n > looks.last]
    for n in (*looks.counts, *longer):
        run = looks if n <= looks.last else Looks(looks.first, n, looks.alpha)
        if n > d.size and run.factor(n) * sd / math.sqrt(n) < gap:
            return float(n - d.size)
    return math.inf


def _rank(medians: np.ndarray, base: int | None) -> np.ndarray:
    """Each candidate's score, lower is faster: the median of its per-round log ratio to
    the baseline (row ``base``; inf without a round shared with it), else the log of its
    median time."""
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.log(medians)
    if base is None:
        return np.array([np.median(r[np.isfinite(r)]) for r in logs])
    rel = logs - logs[base]
    return np.array([np.median(r[np.isfinite(r)]) if np.isfinite(r).any() else np.inf
                     for r in rel])


def _against(medians: np.ndarray, pick: int, looks: Looks, delta: float) -> list[tuple[
        str, float, float, float, int, float]]:
    """Each candidate's verdict, ratio (mean, low, high), shared rounds and rounds needed
    against row ``pick``."""
    out = []
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.log(medians)
    for row in logs:
        d = row - logs[pick]
        d = d[np.isfinite(d)]
        mean, low, high = log_interval(d, looks)
        verdict = verdict_of(low, high, delta)
        needed = rounds_needed(d, looks, delta) if verdict == UNDECIDED else 0.0
        out.append((verdict, math.exp(mean), math.exp(low), math.exp(high), int(d.size),
                    needed))
    return out


def _question(medians: np.ndarray, models: list[str], looks: Looks,
              delta: float) -> tuple[int, list[tuple[str, float, float, float, int, float]]]:
    """The pick (a row of ``medians``, candidates by rounds) and every row's verdict."""
    bases = [i for i, m in enumerate(models) if MODELS[m].baseline]
    base = bases[0] if bases else None
    pick = int(np.argmin(_rank(medians, base)))
    for _ in models:  # a rival faster than the pick over their shared rounds is the pick
        verdicts = _against(medians, pick, looks, delta)
        ratios = np.array([v[1] for v in verdicts])
        faster = int(np.argmin(np.where(np.isfinite(ratios), ratios, np.inf)))
        if not ratios[faster] < 1:
            break
        pick = faster
    verdicts = _against(medians, pick, looks, delta)  # against the pick it settled on
    if base is not None and base != pick and verdicts[base][0] == EQUIVALENT:
        pick = base  # the plain loop does as well: the simpler choice
        verdicts = _against(medians, pick, looks, delta)
    return pick, verdicts


def decide(tidy: pd.DataFrame, looks: Looks, delta: float = DELTA) -> pd.DataFrame:
    """Every question's pick and every rival's verdict, from a tidy frame's rounds.

    Parameters
    ----------
    tidy : pandas.DataFrame
        One row per value (:func:`bench.results.aggregate.tidy`): ``name``, ``round``,
        ``value_s`` and the columns that name a point.
    looks : Looks
        The looks the run may take (:func:`looks_for`).
    delta : float
        The equivalence margin (0.05: within 5 %).

    Returns
    -------
    pandas.DataFrame
        :data:`DECISION_COLUMNS`, one row per steady candidate of every question of
        two or more candidates, the pick first.  ``ratio`` is the geometric mean of
        the rival's per-round time over the pick's and ``ratio_low``/``ratio_high`` its
        interval, both over the shared rounds up to the last look they reach (1 for the
        pick), ``rounds`` every round shared with the pick, ``last_round`` the last
        round the point was measured in (0-based), ``needed`` the extra rounds an
        undecided rival needs at its spread (inf: none would do; 0 when decided).
    """
    steady = tidy[tidy["metric"] == STEADY]
    if steady.empty:
        return pd.DataFrame(columns=DECISION_COLUMNS)
    medians = stats.round_medians(steady).unstack("round")
    points = steady.drop_duplicates("name").set_index("name").reindex(medians.index)
    points = points.assign(python=points["python"].fillna("").astype(str))
    last = steady.groupby("name", sort=False)["round"].max().reindex(medians.index)
    grid = medians.to_numpy(dtype=float)
    rows = []
    for key, at in points.groupby(QUESTION, sort=False).indices.items():
        if len(at) < 2:
            continue
        names = list(points.index[at])
        models = [str(m) for m in points["model"].iloc[at]]
        pick, verdicts = _question(grid[at], models, looks, delta)
        for i, (verdict, ratio, low, high, shared, needed) in enumerate(verdicts):
            p = points.iloc[at[i]]
            picked = i == pick
            rows.append((*key, names[i], p["model"], p["start_method"], p["workers"],
                         picked, names[pick], "" if picked else verdict,
                         1.0 if picked else ratio, 1.0 if picked else low,
                         1.0 if picked else high, shared, int(last.iloc[at[i]]),
                         0.0 if picked else needed))
    out = pd.DataFrame(rows, columns=DECISION_COLUMNS)
    out["workers"] = out["workers"].astype("Int64")
    return out.sort_values([*QUESTION, "pick"], ascending=[True] * 4 + [False],
                           kind="stable").reset_index(drop=True)


#: Columns of :func:`questions`: one row per question.
QUESTION_COLUMNS = [*QUESTION, "pick_name", "decided", "worse", "equivalent", "undecided",
                    "needed", "rounds"]


def questions(decisions: pd.DataFrame) -> pd.DataFrame:
    """One row per question of :func:`decide`'s frame: its pick, whether every rival is
    decided, the count of each verdict, the most rounds an undecided rival needs (0 when
    decided, inf when one never would), and the pick's rounds."""
    if decisions.empty:
        return pd.DataFrame(columns=QUESTION_COLUMNS)
    rows = []
    for key, q in decisions.groupby(QUESTION, sort=False):
        rivals = q[~q["pick"]]
        counts = rivals["verdict"].value_counts()
        rows.append((*key, str(q["pick_name"].iloc[0]), bool(counts.get(UNDECIDED, 0) == 0),
                     int(counts.get(WORSE, 0)), int(counts.get(EQUIVALENT, 0)),
                     int(counts.get(UNDECIDED, 0)), float(rivals["needed"].max()),
                     int(q[q["pick"]]["last_round"].iloc[0]) + 1))
    return pd.DataFrame(rows, columns=QUESTION_COLUMNS)


def racing(decisions: pd.DataFrame) -> set[str]:
    """The points a race still measures: in each undecided question, its pick and its
    undecided rivals."""
    if decisions.empty:
        return set()
    open_ = decisions.groupby(QUESTION, sort=False)["verdict"].transform(
        lambda v: (v == UNDECIDED).any())
    keep = decisions[open_.astype(bool) & (decisions["pick"]
                                           | (decisions["verdict"] == UNDECIDED))]
    return set(keep["name"].astype(str))


__all__ = ["ALPHA", "DECISION_COLUMNS", "DELTA", "EQUIVALENT", "QUESTION",
           "QUESTION_COLUMNS", "UNDECIDED", "WORSE", "Looks", "decide", "log_interval",
           "looks_for", "questions", "racing", "rounds_needed", "verdict_of"]
