"""Statistics of the regression gate: rank tests, FDR control, ratio-of-medians CIs.

Everything here works on plain samples (one 1-D array per point) so it can be
tested on synthetic data; :mod:`bench.gate.check` feeds it real runs.  **The unit
of every sample is the round**: one value per round, the median of the values
a fresh process (or a few) measured at one moment of the host.  Values inside
one round share that moment, so they are never treated as independent draws:
tests and intervals count rounds, not values.

The gate's rule for one point, with ``x`` the current per-round medians and
``y`` the baseline's, both "bigger is worse" (seconds, or seconds relative to
the same round's sequential median under ``--metric speedup``):

1. a one-sided Mann-Whitney U test over rounds, H1: ``x`` is stochastically
   greater than ``y`` (exact p-value without ties and for small samples, the
   normal approximation with tie correction otherwise);
2. Benjamini-Hochberg adjustment of the p-values over every compared point;
3. the slowdown ``median(x) / median(y)`` **and** the low end of its 95 % CI
   (a bootstrap over rounds) both exceed ``1 + max_slowdown``;
4. the point was stable in both runs (95 % CI half-width of its median at
   most 5 % of the median, :data:`bench.results.aggregate.STABLE_HALF_WIDTH`).

A point meeting 1-3 in a run where it was unstable is *inconclusive*: it is
reported, but it does not fail the gate; its own rounds already disagree, so
those are the points that swing between runs (see docs/ci.md).  A point with
so few rounds that the exact test cannot reach ``alpha`` at all (the smallest
one-sided p-value of n vs m rounds is ``1 / C(n + m, n)``: 3 vs 3 rounds
cannot go below 0.05) is *inconclusive: too few rounds*, never silently
passed.

The slowdown's 95 % CI is a percentile bootstrap resampling the rounds of
both sides independently, vectorised over points of equal round counts.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

#: Resamples of the slowdown bootstrap.
N_RESAMPLES = 2000
#: Largest sample size for which the exact Mann-Whitney distribution is used.
EXACT_MAX = 100


@dataclass(frozen=True)
class PointTest:
    """The gate's statistics for one point."""

    name: str
    #: Rounds (per-round medians) on each side: the test's sample sizes.
    n_base: int
    n_cur: int
    median_base: float
    median_cur: float
    slowdown: float
    slowdown_low: float
    slowdown_high: float
    p_value: float
    q_value: float
    significant: bool
    regressed: bool
    #: Whether the point was stable (CI half-width <= 5 %) in the baseline and current run.
    stable_base: bool = True
    stable_cur: bool = True
    #: Significant and slower beyond the threshold (CI included), but unstable in a
    #: run; or too few rounds to test at all (:attr:`underpowered`).
    inconclusive: bool = False
    #: The slowdown itself is within the tolerated one (``1 + max_slowdown``).
    within: bool = True
    #: Too few rounds for the test to reach ``alpha`` at all (inconclusive whatever the data).
    underpowered: bool = False
    #: The false discovery rate the point was tested at.
    alpha: float = math.nan

    @property
    def unstable_in(self) -> str:
        """Which run the point was unstable in: ``""``, "baseline", "current" or "both"."""
        return {(True, True): "", (False, True): "baseline", (True, False): "current",
                (False, False): "both"}[(self.stable_base, self.stable_cur)]

    @property
    def verdict(self) -> str:
        """A few words for tables: why the point passed or failed."""
        if self.regressed:
            return "REGRESSED"
        if self.underpowered:
            return (f"inconclusive: too few rounds ({self.n_cur} vs {self.n_base}) "
                    f"for alpha {self.alpha:g}")
        if self.inconclusive:
            return "inconclusive: unstable point"
        if self.significant and self.slowdown > 1:
            return "slower, within threshold" if self.within else "slower, CI overlaps threshold"
        if self.slowdown > 1:
            return "not significant"
        return "ok"


def mann_whitney_greater(x: np.ndarray, y: np.ndarray) -> float:
    """One-sided p-value that ``x`` is stochastically greater than ``y``.

    Unequal sizes and ties are fine.  Samples of identical values (no
    information at all) give p = 1.

    Parameters
    ----------
    x, y : numpy.ndarray
        1-D samples, at least one value each.

    Returns
    -------
    float
        The p-value, in [0, 1].
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.size == 0 or y.size == 0:
        raise ValueError("both samples need at least one value")
    both = np.concatenate([x, y])
    ties = np.unique(both).size < both.size
    if np.ptp(both) == 0:
        return 1.0
    method = "asymptotic" if ties or max(x.size, y.size) > EXACT_MAX else "exact"
    p = float(stats.mannwhitneyu(x, y, alternative="greater", method=method).pvalue)
    return 1.0 if math.isnan(p) else min(max(p, 0.0), 1.0)


def min_p_value(n_cur: int, n_base: int) -> float:
    """The smallest one-sided Mann-Whitney p-value ``n_cur`` vs ``n_base`` rounds can give.

    That is ``1 / C(n_cur + n_base, n_cur)``, reached when every current
    round is slower than every baseline round (1 with an empty side).
    """
    if n_cur < 1 or n_base < 1:
        return 1.0
    return 1.0 / math.comb(n_cur + n_base, n_cur)


def rounds_needed(alpha: float) -> int:
    """The fewest rounds per side (equal counts) whose test can reach ``alpha``."""
    n = 1
    while min_p_value(n, n) >= alpha:
        n += 1
    return n


# ------------------------------------------------------------------ multiple testing
# The gates' three corrections, one home: check tests every point at once and bounds the
# false discovery rate (Benjamini-Hochberg); ab bounds the chance of any false verdict
# (Holm, over its points' p-values; Bonferroni over the looks it takes); check --history
# has prediction bounds, not p-values (Bonferroni over the figures).
def bonferroni(alpha: float, k: int) -> float:
    """The level of each of ``k`` tests that keeps their family-wise error at ``alpha``."""
    return alpha / max(1, k)


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjustment (family-wise error) of ``p_values``."""
    p = np.asarray(p_values, dtype=float)
    if p.size == 0:
        return p
    order = np.argsort(p)
    scaled = p[order] * (p.size - np.arange(p.size))
    adjusted = np.minimum(1.0, np.maximum.accumulate(scaled))
    out = np.empty_like(adjusted)
    out[order] = adjusted
    return out


def bh_adjust(p_values: Sequence[float]) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values), same order as given."""
    p = np.asarray(p_values, dtype=float)
    if p.size == 0:
        return p
    return np.asarray(stats.false_discovery_control(p, method="bh"))


def _ratio(cur: np.ndarray, base: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.asarray(np.median(cur, axis=axis) / np.median(base, axis=axis))


def slowdown_ci(cur: Mapping[str, np.ndarray], base: Mapping[str, np.ndarray],
                *, confidence: float = 0.95, seed: int = 4
                ) -> dict[str, tuple[float, float]]:
    """Bootstrap CI of ``median(cur) / median(base)`` for every point.

    The samples are per-round medians, so the bootstrap resamples rounds.
    Points with the same pair of round counts are resampled in one vectorised
    :func:`scipy.stats.bootstrap` call.  A point with a single round on
    either side has no interval: (NaN, NaN).

    Parameters
    ----------
    cur, base : Mapping[str, numpy.ndarray]
        Samples per point name; the names of ``cur`` must all be in ``base``.
    confidence : float
        Confidence level of the interval.
    seed : int
        Seed of the resampling, so reports are reproducible.

    Returns
    -------
    dict
        ``{name: (low, high)}``.
    """
    out: dict[str, tuple[float, float]] = {}
    groups: dict[tuple[int, int], list[str]] = {}
    for name in cur:
        groups.setdefault((len(cur[name]), len(base[name])), []).append(name)
    rng = np.random.default_rng(seed)
    for (n_cur, n_base), names in groups.items():
        c = np.vstack([cur[n] for n in names]).astype(float)
        b = np.vstack([base[n] for n in names]).astype(float)
        if n_cur < 2 or n_base < 2:
            out.update(dict.fromkeys(names, (math.nan, math.nan)))
            continue
        res = stats.bootstrap((c, b), _ratio, axis=-1, vectorized=True, paired=False,
                              n_resamples=N_RESAMPLES, method="percentile",
                              confidence_level=confidence, rng=rng)
        low = np.atleast_1d(res.confidence_interval.low)
        high = np.atleast_1d(res.confidence_interval.high)
        # identical resamples (constant samples) give NaN bounds: the ratio is exact
        r = _ratio(c, b)
        low, high = np.where(np.isnan(low), r, low), np.where(np.isnan(high), r, high)
        out.update({n: (float(lo), float(hi))
                    for n, lo, hi in zip(names, low, high, strict=True)})
    return out


def gate(cur: Mapping[str, np.ndarray], base: Mapping[str, np.ndarray], *,
         max_slowdown: float, alpha: float, unstable_base: Collection[str] = (),
         unstable_cur: Collection[str] = ()) -> list[PointTest]:
    """Test every point of ``cur`` against ``base`` with the gate's rule.

    Parameters
    ----------
    cur, base : Mapping[str, numpy.ndarray]
        "Bigger is worse" per-round medians per point; the same names in both.
    max_slowdown : float
        Tolerated slowdown as a fraction (0.10: a point may be 10 % slower).
    alpha : float
        False discovery rate over all compared points.
    unstable_base, unstable_cur : Collection[str]
        Names of the points that were unstable in the baseline / current run:
        those can be *inconclusive*, never *regressed*.

    Returns
    -------
    list of PointTest
        In the order of ``cur``.
    """
    names = list(cur)
    missing = [n for n in names if n not in base]
    if missing:
        raise KeyError(f"points missing from the baseline: {', '.join(missing)}")
    p = [mann_whitney_greater(cur[n], base[n]) for n in names]
    q = bh_adjust(p)
    cis = slowdown_ci({n: cur[n] for n in names}, base)
    out = []
    for i, n in enumerate(names):
        med_c, med_b = float(np.median(cur[n])), float(np.median(base[n]))
        ratio = med_c / med_b if med_b > 0 else math.inf
        sig = bool(q[i] < alpha)
        few = min_p_value(len(cur[n]), len(base[n])) >= alpha
        slower = sig and ratio > 1 + max_slowdown and cis[n][0] > 1 + max_slowdown
        stable_b, stable_c = n not in unstable_base, n not in unstable_cur
        out.append(PointTest(
            name=n, n_base=len(base[n]), n_cur=len(cur[n]), median_base=med_b,
            median_cur=med_c, slowdown=ratio, slowdown_low=cis[n][0],
            slowdown_high=cis[n][1], p_value=p[i], q_value=float(q[i]), significant=sig,
            regressed=slower and stable_b and stable_c, stable_base=stable_b,
            stable_cur=stable_c,
            inconclusive=few or (slower and not (stable_b and stable_c)),
            within=ratio <= 1 + max_slowdown, underpowered=few, alpha=alpha,
        ))
    return out
