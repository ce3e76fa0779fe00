"""Intervals on rounds (distribution-free, order statistics): simulation tests with known truth.

Nested data as a benchmark host makes it: each round (a process at a moment)
shifts all its values by a shared factor, and values inside a round scatter
around that.  A 95 % interval must cover the true median in about 95 % of
simulations; one that treats the values as independent draws must not.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from bench.results import stats

SIMS = 2000
TRUE_MEDIAN = 0.010


def nested(rng: np.random.Generator, *, sims: int, rounds: int, values: int,
           between: float, within: float, median: float = TRUE_MEDIAN) -> np.ndarray:
    """Values of shape (sims, rounds, values), log-normal round and value effects."""
    shift = rng.normal(0.0, between, size=(sims, rounds, 1))
    noise = rng.normal(0.0, within, size=(sims, rounds, values))
    return np.asarray(median * np.exp(shift + noise))


def as_series(per_round: np.ndarray) -> pd.Series:
    """(sims, rounds) -> Series indexed by (sim, round)."""
    sims, rounds = per_round.shape
    index = pd.MultiIndex.from_product([range(sims), range(rounds)], names=["name", "round"])
    return pd.Series(per_round.ravel(), index=index)


def exact_coverage(rounds: int) -> float:
    """What the order-statistic interval of ``rounds`` rounds covers, by the binomial law."""
    ranks = stats.order_ranks(rounds)
    assert ranks is not None
    return float(1 - 2 * sps.binom.cdf(ranks[0], rounds, 0.5))


def coverage(low: np.ndarray, high: np.ndarray, truth: float) -> float:
    return float(np.mean((low <= truth) & (truth <= high)))


@pytest.mark.parametrize(("rounds", "values", "between", "within"),
                         [(6, 3, 0.05, 0.02), (8, 4, 0.05, 0.03), (12, 3, 0.10, 0.05),
                          (16, 20, 0.03, 0.03)])
def test_round_interval_covers_the_true_median(rounds: int, values: int, between: float,
                                               within: float) -> None:
    rng = np.random.default_rng(rounds * 1000 + values)
    data = nested(rng, sims=SIMS, rounds=rounds, values=values, between=between, within=within)
    t = stats.grouped_intervals(as_series(np.median(data, axis=2)))
    assert len(t) == SIMS
    cov = coverage(t["low"].to_numpy(), t["high"].to_numpy(), TRUE_MEDIAN)
    assert cov >= 0.93, cov
    assert cov <= exact_coverage(rounds) + 0.01, cov  # what the ranks promise, no wider


def test_value_level_bootstrap_fails_the_same_data() -> None:
    """The counter-example: a bootstrap of pooled values, as if independent, undercovers."""
    rng = np.random.default_rng(7)
    sims = 300
    data = nested(rng, sims=sims, rounds=5, values=4, between=0.05, within=0.03)
    pooled = data.reshape(sims, -1)
    res = sps.bootstrap((pooled,), np.median, axis=-1, vectorized=True, n_resamples=500,
                        method="percentile", rng=1)
    cov = coverage(res.confidence_interval.low, res.confidence_interval.high, TRUE_MEDIAN)
    assert cov < 0.8, cov


def test_paired_speedup_interval_covers_the_true_ratio() -> None:
    """Baseline and model share each round's shift (measured interleaved): the ratio cancels it."""
    rng = np.random.default_rng(11)
    rounds, values = 8, 3
    shift = rng.normal(0.0, 0.15, size=(SIMS, rounds, 1))  # large drift between moments
    base = 0.020 * np.exp(shift + rng.normal(0.0, 0.03, size=(SIMS, rounds, values)))
    model = 0.010 * np.exp(shift + rng.normal(0.0, 0.03, size=(SIMS, rounds, values)))
    sims = range(SIMS)
    medians = pd.concat([
        as_series(np.median(base, axis=2)).rename(index=lambda s: f"b{s}", level=0),
        as_series(np.median(model, axis=2)).rename(index=lambda s: f"m{s}", level=0),
    ])
    ratios = stats.paired_ratios(medians, {f"m{s}": f"b{s}" for s in sims})
    t = stats.grouped_intervals(ratios)
    cov = coverage(t["low"].to_numpy(), t["high"].to_numpy(), 2.0)
    assert 0.93 <= cov <= exact_coverage(rounds) + 0.01, cov
    # pairing is what makes it precise: the unpaired medians swing with the drift
    unpaired = stats.grouped_intervals(medians)
    paired_width = np.log(t["high"] / t["low"]).median()
    assert paired_width < np.log(unpaired["high"] / unpaired["low"]).median() / 2


def test_pairs_only_rounds_measured_together() -> None:
    idx = pd.MultiIndex.from_tuples([("b", 0), ("b", 1), ("m", 1), ("m", 2)],
                                    names=["name", "round"])
    medians = pd.Series([2.0, 4.0, 1.0, 1.0], index=idx)
    ratios = stats.paired_ratios(medians, {"m": "b"})
    assert list(ratios.index) == [("m", 1)]
    assert ratios.iloc[0] == 4.0


def test_heavy_tailed_rounds_are_covered_too() -> None:
    """A round now and then caught by a burst of other work: distribution-free, still covered."""
    rng = np.random.default_rng(13)
    rounds = 10
    per_round = TRUE_MEDIAN * np.exp(rng.normal(0.0, 0.02, size=(SIMS, rounds)))
    burst = rng.random(size=(SIMS, rounds)) < 0.1
    per_round = np.where(burst & (rng.random(size=(SIMS, rounds)) < 0.5),
                         per_round * 1.8, np.where(burst, per_round / 1.8, per_round))
    t = stats.grouped_intervals(as_series(per_round))
    cov = coverage(t["low"].to_numpy(), t["high"].to_numpy(), TRUE_MEDIAN)
    assert cov >= 0.93, cov


@pytest.mark.parametrize("rounds", range(1, 40))
def test_order_ranks_give_at_least_95_percent(rounds: int) -> None:
    ranks = stats.order_ranks(rounds)
    if rounds < stats.MIN_ROUNDS:
        assert ranks is None
        return
    assert ranks is not None
    low, high = ranks
    assert high == rounds - 1 - low  # symmetric
    covered = 1 - 2 * sps.binom.cdf(low, rounds, 0.5)
    assert covered >= 0.95
    if low + 1 < high - 1:  # one rank further in would fall short: the narrowest such interval
        assert 1 - 2 * sps.binom.cdf(low + 1, rounds, 0.5) < 0.95


def test_too_few_rounds_have_no_interval() -> None:
    five = stats.median_interval(np.array([0.5, 0.6, 0.4, 0.5, 0.5]))
    assert five.centre == 0.5
    assert five.rounds == 5
    assert math.isnan(five.low)
    assert math.isnan(five.high)
    assert five.half_width == math.inf
    t = stats.grouped_intervals(as_series(np.array([[0.5, 0.5]])))
    assert math.isnan(t["low"].iloc[0])
    assert t["rounds"].iloc[0] == 2


def test_six_rounds_are_bounded_by_their_extremes() -> None:
    got = stats.median_interval(np.array([1.0, 1.3, 0.9, 1.1, 1.05, 0.95]))
    assert got.centre == pytest.approx(1.025)
    assert (got.low, got.high) == (0.9, 1.3)
    vec = stats.grouped_intervals(as_series(np.array([[1.0, 1.3, 0.9, 1.1, 1.05, 0.95]])))
    assert (vec["low"].iloc[0], vec["high"].iloc[0]) == (0.9, 1.3)


def test_non_positive_values_are_ignored() -> None:
    got = stats.median_interval(np.array([1.0, 0.0, -1.0, 1.0, math.nan]))
    assert got.rounds == 2
    assert got.centre == pytest.approx(1.0)
