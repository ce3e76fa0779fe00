"""Intervals whose unit is the round.

Values measured inside one process, at one moment, share that moment's host
state: they are not independent draws, and an interval that treats them as
such is far too narrow (two back-to-back runs disagreed beyond their joint
95 % intervals for 44 % of the points when it did).  What varies
independently is the round: a fresh process at another moment.  So each
point is reduced to one number per round, the median of that round's values,
and every interval is computed across rounds:

- a point's typical time: the geometric mean of its per-round medians, with
  a Student-t 95 % interval on their logarithms (``t`` with ``R - 1`` degrees
  of freedom: honest with few rounds, where a bootstrap of 3-5 clusters is
  far too narrow);
- a speedup: each round's *paired* ratio (the baseline's round median over
  the point's round median, both measured interleaved in the same process),
  with the same interval on the logarithms of the ratios.

With one round there is no interval (NaN bounds): such a point is never
stable.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

#: Confidence level of every interval.
CONFIDENCE = 0.95


@dataclass(frozen=True)
class LogInterval:
    """Centre and 95 % interval of a positive quantity, from per-round values."""

    centre: float
    low: float
    high: float
    rounds: int

    @property
    def half_width(self) -> float:
        """Half the interval's width as a share of its centre (inf without an interval)."""
        if not np.isfinite(self.low) or not np.isfinite(self.high) or self.centre <= 0:
            return float("inf")
        return (self.high - self.low) / 2 / self.centre


def log_t_interval(per_round: np.ndarray) -> LogInterval:
    """Geometric mean and Student-t 95 % interval of positive per-round values.

    Parameters
    ----------
    per_round
        One value per round (a round's median, or a round's paired ratio).

    Returns
    -------
    LogInterval
        ``exp(mean(log x))`` and ``exp(mean ± t·s/√R)``; NaN bounds for R < 2.
    """
    x = np.asarray(per_round, dtype=float)
    x = x[np.isfinite(x) & (x > 0)]
    if len(x) == 0:
        return LogInterval(float("nan"), float("nan"), float("nan"), 0)
    logs = np.log(x)
    centre = float(np.exp(logs.mean()))
    if len(x) < 2:
        return LogInterval(centre, float("nan"), float("nan"), 1)
    half = stats.t.ppf(0.5 + CONFIDENCE / 2, len(x) - 1) * logs.std(ddof=1) / np.sqrt(len(x))
    return LogInterval(centre, float(np.exp(logs.mean() - half)),
                       float(np.exp(logs.mean() + half)), len(x))


def grouped_log_t(per_round: pd.Series) -> pd.DataFrame:
    """:func:`log_t_interval` for every key of a Series indexed by (key, round).

    Vectorised over keys; returns columns ``centre``, ``low``, ``high``,
    ``rounds`` indexed by key (in first-seen order).
    """
    values = per_round[np.isfinite(per_round) & (per_round > 0)]
    logs = np.log(values.astype(float))
    keys = logs.index.get_level_values(0)
    g = logs.groupby(keys, sort=False)
    mean, sd, n = g.mean(), g.std(ddof=1), g.count()
    t = pd.Series(stats.t.ppf(0.5 + CONFIDENCE / 2, np.maximum(n - 1, 1)), index=n.index)
    half = (t * sd / np.sqrt(n)).where(n >= 2)
    out = pd.DataFrame({"centre": np.exp(mean), "low": np.exp(mean - half),
                        "high": np.exp(mean + half), "rounds": n})
    order = pd.unique(per_round.index.get_level_values(0))
    return out.reindex([k for k in order if k in out.index])


def round_medians(tidy: pd.DataFrame) -> pd.Series:
    """Each point's median in each round: a Series indexed by (name, round)."""
    return tidy.groupby(["name", "round"], sort=False)["value_s"].median()


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
    frame = medians.rename("m").reset_index()
    base = frame.rename(columns={"name": "base", "m": "b"})
    want = pd.DataFrame({"name": list(pairs), "base": list(pairs.values())})
    joined = frame.merge(want, on="name").merge(base, on=["base", "round"])
    return pd.Series((joined["b"] / joined["m"]).to_numpy(),
                     index=pd.MultiIndex.from_arrays([joined["name"], joined["round"]],
                                                     names=["name", "round"]))
