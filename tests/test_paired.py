"""The A/B gate's statistics on simulated rounds with known truth.

A simulated A/B job: every round has a host speed (drift between rounds,
log-normal), both sides share it (they run one right after the other), and
each side's round median has its own noise; some simulations add
heavy-tailed bursts to single rounds.  The truth is the ratio B / A we put in.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from bench.gate.match import paired_log_ratios
from bench.gate.paired import (
    PairedTest,
    decide,
    looks,
    next_look,
    one_sided_p,
    ratio_interval,
)
from bench.gate.stats import bonferroni, holm

ALPHA = 0.05
POINTS = 20


def rounds_of(rng: np.random.Generator, truth: np.ndarray, rounds: int, noise: float = 0.04,
              drift: float = 0.15, burst: float = 0.0) -> dict[str, np.ndarray]:
    """Per-round log ratios of each point (truth: B / A), ``rounds`` of them."""
    out = {}
    for i, ratio in enumerate(truth):
        host = rng.normal(0, drift, rounds)  # the moment: shared by both sides of a round
        a = host + rng.normal(0, noise, rounds)
        b = host + math.log(ratio) + rng.normal(0, noise, rounds)
        if burst:
            hit = rng.random(rounds) < 0.1  # one round in ten: the other core got busy
            b = b + hit * rng.exponential(burst, rounds)
        out[f"p{i}"] = b - a
    return out


def job(rng: np.random.Generator, truth: np.ndarray, planned: int = 6, most: int = 18,
        **kw: float) -> list[PairedTest]:
    """A simulated job as ``concbench ab`` runs it: planned rounds, then the rounds up to
    the next look for the undecided points, up to ``most`` rounds."""
    pool = rounds_of(rng, truth, most, **kw)
    have = dict.fromkeys(pool, planned)
    n_looks = looks(planned, most)
    while True:
        tests = decide({n: pool[n][:k] for n, k in have.items()}, max_slowdown=0.10,
                       alpha=ALPHA, looks=n_looks, planned=planned)
        open_ = [t.name for t in tests if t.verdict == "undecided" and have[t.name] < most]
        if not open_:
            return tests
        for n in open_:
            have[n] = next_look(planned, have[n], most)


def false_alarm_rate(rng: np.random.Generator, sims: int, truth: float = 1.0,
                     **kw: float) -> float:
    return sum(any(t.failed for t in job(rng, np.full(POINTS, truth), **kw))
               for _ in range(sims)) / sims


def test_a_a_jobs_raise_no_false_alarm_beyond_alpha() -> None:
    rng = np.random.default_rng(1)
    assert false_alarm_rate(rng, 400) <= ALPHA


def test_heavy_tailed_rounds_do_not_make_false_alarms() -> None:
    rng = np.random.default_rng(2)
    assert false_alarm_rate(rng, 400, burst=0.3) <= ALPHA


def test_a_true_slowdown_at_the_margin_alarms_at_most_alpha() -> None:
    # the hardest null: every point exactly 1.10x slower, the margin itself
    rng = np.random.default_rng(3)
    assert false_alarm_rate(rng, 400, truth=1.10) <= ALPHA


def test_a_1_25x_slowdown_is_detected() -> None:
    rng = np.random.default_rng(4)
    truth = np.array([1.25] * 5 + [1.0] * (POINTS - 5))
    hits = sum(t.failed for _ in range(200) for t in job(rng, truth)[:5])
    assert hits / 1000 >= 0.8


def test_unchanged_points_are_decided_within_the_margin() -> None:
    rng = np.random.default_rng(5)
    tests = job(rng, np.ones(POINTS))
    assert sum(t.verdict in ("within", "faster") for t in tests) >= POINTS - 1


def test_one_wild_round_gives_undecided_not_regressed() -> None:
    d = np.array([0.01, -0.02, 0.00, 0.01, -0.01, 1.5])
    (t,) = decide({"p": d}, max_slowdown=0.10, alpha=ALPHA)
    assert t.verdict == "undecided"


def test_a_clear_speedup_is_reported_faster() -> None:
    d = np.log(np.array([0.70, 0.72, 0.69, 0.71, 0.70, 0.71]))
    (t,) = decide({"p": d}, max_slowdown=0.10, alpha=ALPHA)
    assert t.verdict == "faster"
    assert t.ratio == pytest.approx(0.705, abs=0.01)


def test_the_ratio_interval_covers_the_truth() -> None:
    rng = np.random.default_rng(6)
    covered = 0
    for _ in range(1000):
        d = rounds_of(rng, np.array([1.3]), 8)["p0"]
        _, low, high = ratio_interval(d)
        covered += low <= 1.3 <= high
    assert 0.93 <= covered / 1000 <= 0.97


def test_the_ratio_interval_keeps_its_level_after_extra_rounds() -> None:
    # Noise at which about a third of the points end undecided after the planned
    # rounds: the job extends exactly those whose first rounds leaned towards the
    # margin, and a fixed-n interval missed the truth on 9 % of them here.
    rng = np.random.default_rng(7)
    tests = [t for _ in range(300) for t in job(rng, np.ones(POINTS), noise=0.045)]
    missed = [not t.low <= 1.0 <= t.high for t in tests]
    extended = [m for t, m in zip(tests, missed, strict=True) if t.rounds > 6]
    assert len(extended) >= 300
    assert sum(extended) / len(extended) <= 0.06
    assert 0.03 <= sum(missed) / len(missed) <= 0.065


def test_the_interval_is_widened_for_each_look_a_point_took() -> None:
    d = np.array([0.05, -0.03, 0.08, 0.00, 0.02, -0.04, 0.06, 0.01, 0.03])
    (fixed,) = decide({"p": d}, max_slowdown=0.10, alpha=ALPHA)
    (looked,) = decide({"p": d}, max_slowdown=0.10, alpha=ALPHA, planned=6)
    assert (fixed.low, fixed.high) == pytest.approx(ratio_interval(d)[1:])
    # 9 rounds from 6 planned: looks at 6 and 8 rounds, and the 9th counted as one more
    assert (looked.low, looked.high) == pytest.approx(ratio_interval(d, 1 - 0.05 / 3)[1:])
    (planned_only,) = decide({"p": d[:6]}, max_slowdown=0.10, alpha=ALPHA, planned=6)
    assert (planned_only.low, planned_only.high) == pytest.approx(ratio_interval(d[:6])[1:])


def test_too_few_rounds_decide_nothing() -> None:
    assert one_sided_p(np.array([0.5, 0.6]), 0.1, "greater") == 1.0
    (t,) = decide({"p": np.array([0.5, 0.6])}, max_slowdown=0.10, alpha=ALPHA)
    assert t.verdict == "undecided"


def test_identical_rounds_decide_by_their_side_of_the_bound() -> None:
    same = np.full(4, math.log(1.5))
    assert one_sided_p(same, math.log(1.1), "greater") == 0.0
    assert one_sided_p(same, math.log(1.1), "less") == 1.0


def test_the_level_is_split_over_the_looks() -> None:
    assert looks(6, 6) == 1
    assert looks(6, 18) == 5  # 6, 8, 11, 15 and 18 rounds
    assert [next_look(6, n, 18) for n in (6, 7, 15, 18)] == [8, 8, 18, 18]
    d = np.log(np.array([1.30, 1.18, 1.32, 1.17, 1.28, 1.22]))
    (once,) = decide({"p": d}, max_slowdown=0.10, alpha=ALPHA)
    (five,) = decide({"p": d}, max_slowdown=0.10, alpha=ALPHA, looks=50)
    assert once.failed
    assert once.p_adjusted == five.p_adjusted
    assert five.verdict == "undecided"


def test_holm_matches_its_definition() -> None:
    p = [0.01, 0.04, 0.03, 0.005]
    # sorted: 0.005*4=0.02, 0.01*3=0.03, 0.03*2=0.06, 0.04*1=0.04 -> max-accumulated 0.06
    assert holm(p).tolist() == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([]).size == 0
    assert (bonferroni(0.05, 4), bonferroni(0.05, 0)) == (0.0125, 0.05)


def _medians(name: str, per_round: dict[int, float]) -> pd.Series:
    index = pd.MultiIndex.from_tuples([(name, r) for r in per_round], names=["name", "round"])
    return pd.Series(list(per_round.values()), index=index)


def test_paired_ratios_use_only_common_rounds() -> None:
    a = _medians("x", {0: 1.0, 1: 2.0, 3: 1.0})
    b = _medians("y", {0: 2.0, 1: 2.0, 2: 5.0})
    d = paired_log_ratios(a, b, [("x", "y")])["x"]
    assert d.tolist() == pytest.approx([math.log(2.0), 0.0])
