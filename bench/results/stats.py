"""Intervals whose unit is the round.

Values measured inside one process, at one moment, share that moment's host
state: they are not independent draws, and an interval that treats them as
such is far too narrow (two back-to-back runs disagreed beyond their joint
95 % intervals for 44 % of the points when it did).  What varies
independently is the round: a fresh process at another moment.  So each
point is reduced to one number per round, the median of that round's values,
and every interval is computed across rounds:

- a point's time: the median of its per-round medians, with the
  distribution-free 95 % interval of a median (order statistics: the k-th
  smallest and k-th largest round, k from the binomial distribution);
- a speedup: each round's *paired* ratio (the baseline's round median over
  the point's round median, both measured interleaved in the same process),
  with the same interval on the ratios.

The interval assumes only that rounds are independent and alike, not that
their medians are normal: one round caught by a burst of other work on a
shared host moves it little.  Its price is a minimum of :data:`MIN_ROUNDS`
rounds (with 5, even the smallest and largest round cover the median only
93.75 % of the time); with fewer there is no interval (NaN bounds) and the
point is never stable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import pandas as pd

#: Confidence level of every interval.
CONFIDENCE = 0.95
#: Fewest rounds that give a 95 % interval of a median.
MIN_ROUNDS = 6


@cache
def order_ranks(rounds: int) -> tuple[int, int] | None:
    """0-based ranks (low, high) of the sorted rounds bounding the median's interval.

    The widest-coverage-first choice: the largest k such that the k-th
    smallest and the k-th largest of ``rounds`` values cover the median with
    probability >= :data:`CONFIDENCE` (``1 - 2 * P(Binomial(rounds, 1/2) < k)``,
    summed exactly).  None when even the extremes fall short.
    """
    best = None
    below = 0  # how many of the 2**rounds sign patterns put fewer than k rounds below
    for k in range(1, rounds // 2 + 1):
        below += math.comb(rounds, k - 1)
        if 1 - 2 * below / 2 ** rounds >= CONFIDENCE:
            best = (k - 1, rounds - k)
    return best


def half_width(low: Any, high: Any, centre: Any) -> Any:
    """Half an interval's width as a share of its centre: inf where there is no interval.

    Works on floats, NumPy arrays and pandas Series alike (element by element).
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        half = (np.asarray(high, dtype=float) - np.asarray(low, dtype=float)) / 2
        out = half / np.asarray(centre, dtype=float)
    out = np.where(np.isfinite(out) & (np.asarray(centre, dtype=float) > 0), out, np.inf)
    if isinstance(centre, pd.Series):
        return pd.Series(out, index=centre.index)
    return float(out) if np.ndim(out) == 0 else out


@dataclass(frozen=True)
class Interval:
    """Centre and 95 % interval of a positive quantity, from per-round values."""

    centre: float
    low: float
    high: float
    rounds: int

    @property
    def half_width(self) -> float:
        """Half the interval's width as a share of its centre (inf without an interval)."""
        return float(half_width(self.low, self.high, self.centre))


def median_interval(per_round: np.ndarray) -> Interval:
    """Median of per-round values and its distribution-free 95 % interval.

    Parameters
    ----------
    per_round
        One value per round (a round's median, or a round's paired ratio);
        values that are not finite and positive are left out.

    Returns
    -------
    Interval
        NaN bounds with fewer than :data:`MIN_ROUNDS` rounds.
    """
    x = np.sort(np.asarray(per_round, dtype=float))
    x = x[np.isfinite(x) & (x > 0)]
    if len(x) == 0:
        return Interval(float("nan"), float("nan"), float("nan"), 0)
    ranks = order_ranks(len(x))
    low, high = (float(x[ranks[0]]), float(x[ranks[1]])) if ranks else (np.nan, np.nan)
    return Interval(float(np.median(x)), low, high, len(x))


def grouped_intervals(per_round: pd.Series, *, positive: bool = True) -> pd.DataFrame:
    """:func:`median_interval` for every key of a Series indexed by (key, round).

    Returns columns ``centre``, ``low``, ``high``, ``rounds`` indexed by key,
    in first-seen order.  ``positive=False`` keeps values <= 0 (differences,
    such as the memory a model adds over its baseline); non-finite ones are
    always left out.
    """
    keep = np.isfinite(per_round) & ((per_round > 0) if positive else True)
    ok = per_round[keep]
    codes, keys = pd.factorize(ok.index.get_level_values(0), sort=False)
    if not len(keys):
        return pd.DataFrame(columns=["centre", "low", "high", "rounds"], index=pd.Index([]))
    # one row per key, its values sorted and NaN-padded on the right
    counts = np.bincount(codes, minlength=len(keys))
    at = np.argsort(codes, kind="stable")
    start = np.concatenate(([0], np.cumsum(counts)[:-1]))
    grid = np.full((len(keys), int(counts.max())), np.nan)
    grid[codes[at], np.arange(len(at)) - start[codes[at]]] = ok.to_numpy(dtype=float)[at]
    grid.sort(axis=1)
    low = np.full(len(keys), np.nan)
    high = np.full(len(keys), np.nan)
    for n in np.unique(counts):
        ranks = order_ranks(int(n))
        if ranks is not None:
            rows = counts == n
            low[rows], high[rows] = grid[rows, ranks[0]], grid[rows, ranks[1]]
    out = pd.DataFrame({"centre": np.nanmedian(grid, axis=1), "low": low, "high": high,
                        "rounds": counts}, index=pd.Index(keys))
    first = pd.unique(per_round.index.get_level_values(0))
    return out.reindex([k for k in first if k in out.index])


def round_medians(tidy: pd.DataFrame) -> pd.Series:
    """Each point's median in each round: a Series indexed by (name, round)."""
    return tidy.groupby(["name", "round"], sort=False)["value_s"].median()


def _paired(medians: pd.Series, pairs: dict[str, str]) -> pd.DataFrame:
    """Each point's round median ``m`` beside its baseline's ``b`` of the same round."""
    frame = medians.rename("m").reset_index()
    base = frame.rename(columns={"name": "base", "m": "b"})
    want = pd.DataFrame({"name": list(pairs), "base": list(pairs.values())})
    return frame.merge(want, on="name").merge(base, on=["base", "round"])


def _by_round(joined: pd.DataFrame, values: Any) -> pd.Series:
    return pd.Series(np.asarray(values, dtype=float),
                     index=pd.MultiIndex.from_arrays([joined["name"], joined["round"]],
                                                     names=["name", "round"]))


def paired_ratios(medians: pd.Series, pairs: dict[str, str]) -> pd.Series:
    """Per-round paired speedups: baseline round median / point round median.

    Parameters
    ----------
    medians
        From :func:`round_medians`.
    pairs
        Point name -> its baseline's name.  Only rounds in which both were
        measured (the same child: interleaved, same moment) give a ratio.

    Returns
    -------
    pandas.Series
        Indexed by (name, round).
    """
    if not pairs:
        return pd.Series(dtype=float, index=pd.MultiIndex.from_tuples([], names=["name", "round"]))
    joined = _paired(medians, pairs)
    return _by_round(joined, joined["b"] / joined["m"])


def paired_differences(medians: pd.Series, pairs: dict[str, str]) -> pd.Series:
    """Per-round paired differences: point round median minus its baseline's, same round.

    Like :func:`paired_ratios`, for quantities a model *adds* (memory): a
    baseline paired with itself gives 0.
    """
    if not pairs:
        return pd.Series(dtype=float, index=pd.MultiIndex.from_tuples([], names=["name", "round"]))
    joined = _paired(medians, pairs)
    return _by_round(joined, joined["m"] - joined["b"])
