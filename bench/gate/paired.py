"""Statistics of same-job A/B (``concbench ab``): decisions from per-round paired ratios.

In every round of an A/B job, each point is measured once under variant A and
once under variant B, one right after the other (which one goes first
alternates, ABBA).  The evidence for a point is its **per-round log ratios**
``d_r = log(median_B_r / median_A_r)``: one number per round, the round being
the unit that varies independently.  A drift of the host between rounds moves
both sides of a round together and cancels in ``d_r``.

For a tolerated slowdown ``m`` (``--max-slowdown``) and ``mu`` the mean of the
``d_r`` (so ``exp(mu)`` is the geometric-mean ratio B / A), each point gets
two one-sided Student t-tests on its ``d_r``:

* *slower*: H0 ``mu <= log(1 + m)`` against ``mu > log(1 + m)``;
* *within*: H0 ``mu >= log(1 + m)`` against ``mu < log(1 + m)``.

A point **regressed** when its *slower* p-value, Holm-adjusted over every
point of the job (family-wise error), is below ``alpha / looks``; it is **within** the
margin when its *within* p-value is below ``alpha``; otherwise it is
**undecided** (the job measures more rounds, then says so).  A point within
the margin whose B is faster than A by more than the margin with the same
confidence is reported **faster** (information, never a failure).

The 95 % interval printed with a ratio must also hold for points that got
extra rounds *because* their first rounds were undecided: that choice
depends on the rounds, and an interval computed as if their number had
been fixed misses the truth more often than it says (on this host's A/A
jobs, 7.3 % of the extended points).  A point looked at ``j`` times gets
its interval at the level ``1 - 0.05 / j`` (Bonferroni over the looks it
took); ``tests/test_paired.py`` checks the coverage of the whole procedure
by simulation.

Each point's decision is one of the run's questions (:mod:`bench.results.decisions`)
with A as the pick and B as its one rival, the margin one-sided: "regressed" is B
worse than A by more than ``m``, "within" B no worse than that.  It is read at the
same schedule of looks a race reads its verdicts at
(:func:`bench.results.decisions.schedule`: the planned rounds, then each look
about 1.4 times the rounds of the one before, up to the most rounds), with the
level spent evenly over the looks.

``looks`` is how many times the job may look at a point's rounds and decide
to measure more (:func:`looks`).  Each look is a new chance of a
false alarm, so the level is split over the looks (a union bound): the job's
chance of any false "regressed" stays at most ``alpha`` however the extra
rounds fall.

Why a t-test and not a rank or sign test: a distribution-free test on n
rounds cannot give a p-value below ``2 ** -n``, so with a correction over m
points it needs ``log2(m / alpha)`` rounds before it can decide anything
(11 rounds for 20 points at alpha 0.05).  The t-test decides from 3 rounds
when the pairs agree, and one wild round makes it *less* sure (it inflates the
standard deviation as much as the mean): an outlier gives "undecided", not a
false alarm.  ``tests/test_paired.py`` checks the false-alarm rate and the
power by simulation, heavy-tailed rounds and drift included.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy import special

from bench.gate.stats import bonferroni, holm
from bench.results.decisions import schedule
from bench.results.stats import CONFIDENCE

#: Fewest rounds a t-test decides from (an interval needs 2).
T_MIN_ROUNDS = 3
VERDICTS = ("regressed", "undecided", "within", "faster")


def looks(planned: int, most: int) -> int:
    """How many times a job with ``planned`` rounds, extended up to ``most``, decides."""
    return len(schedule(planned, max(planned, most)))


def next_look(planned: int, done: int, most: int) -> int:
    """The round count of the next look after ``done`` rounds (at most ``most``)."""
    return next((n for n in schedule(planned, max(planned, most)) if n > done), most)


def interval_confidence(planned: int, rounds: int) -> float:
    """Level of the ratio interval of a point with ``rounds`` rounds, ``planned`` of them planned.

    ``1 - (1 - CONFIDENCE) / j`` for a point looked at ``j`` times, so that the
    interval keeps its 95 % after the job chose to extend the point.
    """
    return 1 - bonferroni(1 - CONFIDENCE, looks(planned, max(planned, rounds)))


@dataclass(frozen=True)
class PairedTest:
    """The A/B statistics and verdict of one point."""

    name: str
    rounds: int
    #: Geometric mean of the per-round ratios B / A, and its 95 % interval (widened
    #: for the looks this point took, see the module's docstring).
    ratio: float
    low: float
    high: float
    p_slower: float
    #: ``p_slower`` after Holm's adjustment over every point of the job.
    p_adjusted: float
    p_within: float
    verdict: str

    @property
    def failed(self) -> bool:
        """Whether the point regressed."""
        return self.verdict == "regressed"


def one_sided_p(d: np.ndarray, bound: float, alternative: str) -> float:
    """p-value of a one-sided t-test of mean(``d``) against ``bound``.

    ``alternative`` is ``"greater"`` (H1: mean > bound) or ``"less"``.  With
    fewer than :data:`T_MIN_ROUNDS` values it is 1; with identical values (no
    spread) it is 0 or 1 by which side of ``bound`` they lie.
    """
    d = np.asarray(d, dtype=float)
    if d.size < T_MIN_ROUNDS:
        return 1.0
    sd = float(np.std(d, ddof=1))
    diff = float(np.mean(d)) - bound
    if sd == 0.0:
        beyond = diff > 0 if alternative == "greater" else diff < 0
        return 0.0 if beyond else 1.0
    t = diff / (sd / math.sqrt(d.size))
    # special.stdtr is Student's t CDF as a plain ufunc: stats.t's machinery costs 50x more
    return float(special.stdtr(d.size - 1, -t if alternative == "greater" else t))


def ratio_interval(d: np.ndarray, confidence: float = CONFIDENCE) -> tuple[float, float, float]:
    """Geometric-mean ratio of log ratios ``d`` and its two-sided t interval (NaN below 2)."""
    d = np.asarray(d, dtype=float)
    if d.size == 0:
        return math.nan, math.nan, math.nan
    mean = float(np.mean(d))
    if d.size < 2:
        return math.exp(mean), math.nan, math.nan
    half = float(special.stdtrit(d.size - 1, 0.5 + confidence / 2) * np.std(d, ddof=1)
                 / math.sqrt(d.size))
    return math.exp(mean), math.exp(mean - half), math.exp(mean + half)


def decide(log_ratios: Mapping[str, np.ndarray], *, max_slowdown: float,
           alpha: float, looks: int = 1, planned: int | None = None) -> list[PairedTest]:
    """The verdict of every point from its per-round log ratios log(B / A).

    Parameters
    ----------
    log_ratios : mapping of str to numpy.ndarray
        Point name -> one log ratio per round (rounds where both sides have a value).
    max_slowdown : float
        Tolerated slowdown as a fraction (0.1: B may be up to 10 % slower).
    alpha : float
        Family-wise error rate of the "regressed" verdicts (Holm over the
        points, the level split over ``looks``), and the error rate of each
        "within" verdict.
    looks : int
        How many times the job may decide (:func:`looks`).
    planned : int, optional
        Rounds every point had before any extra ones.  A point with more
        rounds took more looks, and its interval is widened for them; None:
        every point had a fixed number of rounds.

    Returns
    -------
    list of PairedTest
        In the mapping's order.
    """
    bound = math.log1p(max_slowdown)
    names = list(log_ratios)
    slower = [one_sided_p(log_ratios[n], bound, "greater") for n in names]
    adjusted = holm(slower)
    out = []
    for name, p, q in zip(names, slower, adjusted, strict=True):
        d = np.asarray(log_ratios[name], dtype=float)
        within = one_sided_p(d, bound, "less")
        if q < bonferroni(alpha, looks):
            verdict = "regressed"
        elif within < alpha:
            faster = one_sided_p(d, -bound, "less") < alpha
            verdict = "faster" if faster else "within"
        else:
            verdict = "undecided"
        ratio, low, high = ratio_interval(
            d, CONFIDENCE if planned is None else interval_confidence(planned, d.size))
        out.append(PairedTest(name=name, rounds=int(d.size), ratio=ratio, low=low, high=high,
                              p_slower=p, p_adjusted=float(q), p_within=within,
                              verdict=verdict))
    return out
