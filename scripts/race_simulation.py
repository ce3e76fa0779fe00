"""Simulated races with known truth, their round noise resampled from this host's runs.

::

    python scripts/race_simulation.py [--races 20000] [--faithful 300] [--seed 1]

Prints the figures the note on decisions quotes: the A/A false-decision rate of one rival
against a fixed pick with its Clopper-Pearson 95 % interval, the share decided
equivalent, the power at 1.05x, 1.1x and 1.2x and the rounds it took, and the false
"worse" rate of the rivals of a question of ``k`` identical copies whose pick is chosen
by the data, plain, with a drift between rounds and with one wild round; and, for a few
hundred of those questions (``--faithful``), the same races run by the real decisions
round by round (with no baseline among the copies, and with one), counting the questions
where a decision gave verdicts against another point than its pick, and those that raced
on to the last round with nothing changing.

The noise is ``tests/data/round_noise.json`` (``scripts/round_noise.py``): centred
per-round paired log ratios of two steady points of one question, one vector per pair.
A race draws one pair's vector and resamples it with replacement, one value per round;
the test of :mod:`bench.results.decisions` is read at the looks of the quick profile's
race (``Looks(3, 40)``) and the race stops at its first decided verdict.  The engine
here is vectorised over races; ``tests/test_decisions.py`` checks it against
:func:`bench.results.decisions.log_interval`, :func:`~bench.results.decisions.verdict_of`
and :func:`~bench.results.decisions.decide`.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import stats

from bench.results import decisions as dec
from bench.results.decisions import Looks
from bench.scenarios.models import MODELS
from bench.scenarios.profiles import DELTA, PROFILES

ROOT = Path(__file__).resolve().parents[1]
NOISE = ROOT / "tests" / "data" / "round_noise.json"
_QUICK = PROFILES["quick"]
#: The quick profile's race: looks from 3 rounds to its most, 40.
LOOKS = dec.looks_for(_QUICK.rounds, _QUICK.max_rounds, raced=True)
#: Verdict codes of the vectorised engine.
WORSE, EQUIVALENT, UNDECIDED = 0, 1, 2
#: Code -> the module's verdict.
NAMES = {WORSE: dec.WORSE, EQUIVALENT: dec.EQUIVALENT, UNDECIDED: dec.UNDECIDED}
#: A wild round falls within a race's first this many rounds (where every race sees it).
WILD_WITHIN = 8


@dataclass(frozen=True)
class Noise:
    """The recorded residual vectors, one row per pair, padded with NaN on the right."""

    values: np.ndarray
    lengths: np.ndarray
    workloads: tuple[str, ...]

    @classmethod
    def load(cls, path: Path = NOISE) -> Noise:
        """Read ``path`` (the format ``scripts/round_noise.py`` writes)."""
        pairs = json.loads(path.read_text())["pairs"]
        lengths = np.array([len(p["r"]) for p in pairs])
        values = np.full((len(pairs), int(lengths.max())), np.nan)
        for i, p in enumerate(pairs):
            values[i, :lengths[i]] = p["r"]
        return cls(values, lengths, tuple(str(p["workload"]) for p in pairs))

    def __len__(self) -> int:
        return len(self.lengths)

    @property
    def sds(self) -> np.ndarray:
        """Each pair's spread (ddof 1) of its log ratios."""
        return np.nanstd(self.values, axis=1, ddof=1)

    def draw(self, which: np.ndarray, shape: tuple[int, ...],
             rng: np.random.Generator) -> np.ndarray:
        """Residuals resampled with replacement from pair ``which[i]``, for each race ``i``.

        Parameters
        ----------
        which : numpy.ndarray
            One pair index per race.
        shape : tuple of int
            The draws per race (``(rounds,)``, or ``(copies, rounds)``).
        rng : numpy.random.Generator
            The source of randomness.

        Returns
        -------
        numpy.ndarray
            ``(len(which), *shape)``.
        """
        rows = which.reshape((-1,) + (1,) * len(shape))
        at = (rng.random((len(which), *shape)) * self.lengths[rows]).astype(int)
        return self.values[rows, at]


def intervals(d: np.ndarray, looks: Looks) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`bench.results.decisions.log_interval` along the last axis of ``d``, whose
    length must be a look count of ``looks``: the mean and its interval."""
    n = d.shape[-1]
    if looks.looked(n) != n:
        raise ValueError(f"{n} rounds is not a look of {looks}")
    mean = np.mean(d, axis=-1)
    half = looks.factor(n) * np.std(d, axis=-1, ddof=1) / math.sqrt(n)
    return mean, mean - half, mean + half


def verdicts(low: np.ndarray, high: np.ndarray, delta: float = DELTA) -> np.ndarray:
    """:func:`bench.results.decisions.verdict_of`, element by element, as codes."""
    margin = math.log1p(delta)
    with np.errstate(invalid="ignore"):
        equivalent = (-margin < low) & (high < margin)
        worse = ~equivalent & (low > 0)
    return np.where(equivalent, EQUIVALENT, np.where(worse, WORSE, UNDECIDED))



@dataclass(frozen=True)
class Races:
    """The outcome of simulated races of one rival: its verdict code and the rounds it
    took (the look it was decided at; the last look when undecided)."""

    verdict: np.ndarray
    rounds: np.ndarray

    def count(self, code: int) -> int:
        """How many races ended with verdict ``code``."""
        return int(np.count_nonzero(self.verdict == code))

    def share(self, code: int) -> float:
        """The share of races that ended with verdict ``code``."""
        return self.count(code) / self.verdict.size

    def rounds_of(self, code: int, q: float) -> float:
        """The ``q`` quantile of the rounds taken by the races that ended ``code``."""
        taken = self.rounds[self.verdict == code]
        return float(np.quantile(taken, q)) if taken.size else math.nan


def race(d: np.ndarray, looks: Looks = LOOKS, delta: float = DELTA) -> Races:
    """Race one rival per row of ``d`` (per-round log ratios rival / pick, round order):
    read the interval at each look, stop at the first decided verdict."""
    counts = [n for n in looks.counts if n <= d.shape[1]]
    verdict = np.full(d.shape[0], UNDECIDED)
    rounds = np.full(d.shape[0], counts[-1])
    open_ = np.ones(d.shape[0], dtype=bool)
    for n in counts:
        _, low, high = intervals(d[:, :n], looks)
        v = verdicts(low, high, delta)
        now = open_ & (v != UNDECIDED)
        verdict[now], rounds[now] = v[now], n
        open_ &= ~now
    return Races(verdict, rounds)


def pair_log_ratios(noise: Noise, ratio: float, races: int, seed: int, looks: Looks = LOOKS,
                    wild: float = 1.0) -> np.ndarray:
    """Per-round log ratios of ``races`` simulated races of one rival against a fixed pick.

    Each race draws one recorded pair at random, with a random orientation (which of the
    two points is the rival is arbitrary in the file, and the tails need not be
    symmetric), and resamples its residuals with replacement for ``looks.last`` rounds,
    adding the true ``log(ratio)``.  ``wild`` != 1 makes one round among the first
    :data:`WILD_WITHIN` that many times slower for the rival (a burst that hit it only).
    """
    rng = np.random.default_rng(seed)
    which = rng.integers(len(noise), size=races)
    sign = rng.choice([-1.0, 1.0], size=races)
    d = sign[:, None] * noise.draw(which, (looks.last,), rng) + math.log(ratio)
    if wild != 1.0:
        d[np.arange(races), rng.integers(WILD_WITHIN, size=races)] += math.log(wild)
    return d


def pair_races(noise: Noise, ratio: float, races: int, seed: int, looks: Looks = LOOKS,
               delta: float = DELTA, wild: float = 1.0) -> Races:
    """:func:`race` on :func:`pair_log_ratios`."""
    return race(pair_log_ratios(noise, ratio, races, seed, looks, wild), looks, delta)


def copies_log_times(noise: Noise, k: int, races: int, seed: int, looks: Looks = LOOKS,
                     drift: float = 0.0, wild: float = 1.0) -> np.ndarray:
    """Per-round log times ``(races, k, rounds)`` of ``k`` identical copies per question.

    Each race draws one recorded pair; each copy's log time in each round is one of that
    pair's residuals, drawn with replacement, over sqrt(2) (so that a pair of copies has
    the pair's spread), independently of the other copies'.  ``drift`` adds a common
    per-round factor to every copy: a random walk in log time with steps of sd ``drift``
    (it cancels in the paired ratios; drawn from a generator of its own, so that the
    noise is the same with and without it).  ``wild`` != 1 makes one copy, at random,
    that many times slower in one round among the first :data:`WILD_WITHIN`.
    """
    rng = np.random.default_rng(seed)
    which = rng.integers(len(noise), size=races)
    x = noise.draw(which, (k, looks.last), rng) / math.sqrt(2)
    if wild != 1.0:
        x[np.arange(races), rng.integers(k, size=races),
          rng.integers(WILD_WITHIN, size=races)] += math.log(wild)
    if drift:
        steps = np.random.default_rng([seed, 1]).normal(0.0, drift, (races, 1, looks.last))
        x = x + np.cumsum(steps, axis=2)
    return x


@dataclass(frozen=True)
class Questions:
    """The outcome of simulated questions of identical copies: per race, the final pick
    and each copy's verdict code (the pick's is -1) with the rounds it took."""

    pick: np.ndarray
    verdict: np.ndarray
    rounds: np.ndarray
    #: :func:`faithful` only: per race, whether one of its decisions gave verdicts against
    #: another point than the pick it returned, and whether it raced on with nothing
    #: changing (pick, verdicts and shared rounds the same) over its last 10 rounds.
    astray: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    stuck: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))

    @property
    def rivals(self) -> int:
        """How many rivals there were, all races together."""
        return int(np.count_nonzero(self.verdict >= 0))

    def count(self, code: int) -> int:
        """How many rivals ended with ``code``."""
        return int(np.count_nonzero(self.verdict == code))

    def share(self, code: int) -> float:
        """The share of rivals that ended with ``code``."""
        return self.count(code) / self.rivals

    def any_share(self, code: int) -> float:
        """The share of questions with at least one rival that ended with ``code``."""
        return float(np.mean((self.verdict == code).any(axis=1)))


def look(x: np.ndarray, looks: Looks = LOOKS,
         delta: float = DELTA) -> tuple[np.ndarray, np.ndarray]:
    """One look at questions of candidates with per-round log times ``x``
    ``(races, k, rounds)``, ``rounds`` a look count: the pick of each (the lowest mean log
    time: what :func:`bench.results.decisions.decide` picks when every candidate has
    every round and none is the baseline) and every candidate's verdict code against it
    (the pick's own is -1)."""
    rows = np.arange(x.shape[0])
    pick = np.argmin(np.mean(x, axis=2), axis=1)
    _, low, high = intervals(x - x[rows, pick, None, :], looks)
    codes = verdicts(low, high, delta)
    codes[rows, pick] = -1
    return pick, codes


def select(x: np.ndarray, looks: Looks = LOOKS, delta: float = DELTA) -> Questions:
    """Race questions of candidates whose per-round log times are ``x`` ``(races, k, rounds)``.

    At each look the pick is chosen anew by the data (:func:`look`), and every rival not
    yet decided gets its verdict from its paired log ratio to that pick; a decided rival
    keeps its verdict (it leaves the race).  A question ends when all its rivals are
    decided, or at the last look.

    A simplification of a race: every copy here has every round, where a decided rival
    really gets no more (it matters when the pick changes after a rival left; the
    script's ``--faithful`` races run the real decisions on the rounds a race would
    measure, to compare).
    """
    races, k, _ = x.shape
    rows = np.arange(races)
    verdict = np.full((races, k), UNDECIDED)
    rounds = np.zeros((races, k), dtype=int)
    decided = np.zeros((races, k), dtype=bool)
    pick = np.zeros(races, dtype=int)
    going = np.ones(races, dtype=bool)
    for n in (c for c in looks.counts if c <= x.shape[2]):
        now_pick, v = look(x[:, :, :n], looks, delta)
        pick = np.where(going, now_pick, pick)
        rival = np.ones((races, k), dtype=bool)
        rival[rows, pick] = False
        new = going[:, None] & rival & ~decided & (v >= 0) & (v != UNDECIDED)
        verdict[new], rounds[new] = v[new], n
        decided |= new
        rounds[going[:, None] & ~decided] = n
        going &= ~(decided | ~rival).all(axis=1)
    verdict[rows, pick] = -1
    return Questions(pick, verdict, rounds)


def faithful(x: np.ndarray, looks: Looks = LOOKS, delta: float = DELTA,
             models: Sequence[str] = ()) -> Questions:
    """Race questions of candidates with log times ``x`` as a race does, by the real
    decisions: every candidate is measured in the first ``looks.first`` rounds; after
    each round the core of :func:`bench.results.decisions.decide` (``_question``) decides
    again on the rounds measured so far, and only its pick and its undecided rivals get
    the next round (:func:`bench.results.decisions.racing`), with the baseline, if a
    candidate is one (:func:`bench.measure.rounds.with_partners`), until none is
    undecided or the last round.  ``models``: the candidates' models (all
    ``thread_pool`` by default: no baseline).

    Slow (one decision per race and round): for a few hundred races.
    """
    races, k, most = x.shape
    models = list(models) or ["thread_pool"] * k
    partners = np.array([MODELS[m].baseline for m in models])
    pick = np.zeros(races, dtype=int)
    verdict = np.full((races, k), UNDECIDED)
    rounds = np.zeros((races, k), dtype=int)
    astray = np.zeros(races, dtype=bool)
    stuck = np.zeros(races, dtype=bool)
    codes = {v: c for c, v in NAMES.items()}
    for i in range(races):
        grid = np.full((k, most), np.nan)
        measuring = np.ones(k, dtype=bool)
        states: list[tuple[object, ...]] = []
        for r in range(most):
            grid[measuring, r] = np.exp(x[i, measuring, r])
            if r + 1 < looks.first:
                continue
            p, said = dec._question(grid[:, :r + 1], models, looks, delta)
            astray[i] |= said[p][1] != 1.0  # the pick against itself has a ratio of 1
            states.append((p, *((s[0], s[4]) for s in said)))
            open_ = [j for j, s in enumerate(said) if j != p and s[0] == dec.UNDECIDED]
            if not open_:
                break
            measuring = partners.copy()
            measuring[[p, *open_]] = True
        stuck[i] = r + 1 == most and len(states) > 10 and len(set(states[-10:])) == 1
        pick[i] = p
        verdict[i] = [-1 if j == p else codes[s[0]] for j, s in enumerate(said)]
        rounds[i] = [s[4] for s in said]
    return Questions(pick, verdict, rounds, astray, stuck)


def clopper_pearson(hits: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """The exact (Clopper-Pearson) interval of a binomial share ``hits / n``."""
    tail = (1 - level) / 2
    low = float(stats.beta.ppf(tail, hits, n - hits + 1)) if hits else 0.0
    high = float(stats.beta.ppf(1 - tail, hits + 1, n - hits)) if hits < n else 1.0
    return low, high


def rate(hits: int, n: int) -> str:
    """``1.23 % (0.9-1.6 %, 45 of 3650)``."""
    low, high = clopper_pearson(hits, n)
    return f"{100 * hits / n:.2f} % ({100 * low:.2f}-{100 * high:.2f} %, {hits} of {n})"


def _pair_lines(noise: Noise, races: int, seed: int) -> list[str]:
    out = []
    d = pair_log_ratios(noise, 1.0, races, seed)
    aa = race(d)
    out.append(f"A/A, one rival against a fixed pick, {races} races, Looks{LOOKS.counts}:")
    out.append(f"  false 'worse': {rate(aa.count(WORSE), races)}")
    out.append(f"  'equivalent':  {rate(aa.count(EQUIVALENT), races)}, rounds median "
               f"{aa.rounds_of(EQUIVALENT, 0.5):.0f}, p90 {aa.rounds_of(EQUIVALENT, 0.9):.0f}")
    out.append(f"  undecided at {LOOKS.last}: {rate(aa.count(UNDECIDED), races)}")
    few = np.array([np.unique(row[:n]).size <= 2 for row, n in zip(d, aa.rounds, strict=True)])
    out.append(f"  of the false 'worse', decided on <= 2 distinct resampled values (an artefact "
               f"of resampling 6-round vectors): {int(np.sum(few & (aa.verdict == WORSE)))}")
    sd = noise.sds[np.random.default_rng(seed).integers(len(noise), size=races)]
    gauss = race(np.random.default_rng([seed, 2]).normal(size=d.shape) * sd[:, None])
    out.append(f"  the same pairs' spreads, Gaussian noise: false 'worse' "
               f"{rate(gauss.count(WORSE), races)}, 'equivalent' "
               f"{100 * gauss.share(EQUIVALENT):.1f} %")
    wild = pair_races(noise, 1.0, races, seed, wild=2.0)
    out.append(f"  with one round 2x slower for the rival (within its first {WILD_WITHIN}): "
               f"false 'worse' {rate(wild.count(WORSE), races)}, 'equivalent' "
               f"{100 * wild.share(EQUIVALENT):.1f} %")
    for ratio in (1.05, 1.1, 1.2):
        r = pair_races(noise, ratio, races, seed + 1)
        out.append(f"true ratio {ratio}: 'worse' (power) {rate(r.count(WORSE), races)}, "
                   f"rounds median {r.rounds_of(WORSE, 0.5):.0f}, p90 "
                   f"{r.rounds_of(WORSE, 0.9):.0f}; 'equivalent' "
                   f"{rate(r.count(EQUIVALENT), races)}; undecided "
                   f"{100 * r.share(UNDECIDED):.1f} %")
    return out


def _strata_lines(noise: Noise, races: int, seed: int) -> list[str]:
    """Power and false rates by the spread of the pair drawn."""
    out = ["by the drawn pair's spread (sd of its per-round log ratio):"]
    rng = np.random.default_rng(seed + 2)
    which = rng.integers(len(noise), size=races)
    sign = rng.choice([-1.0, 1.0], size=races)
    base = sign[:, None] * noise.draw(which, (LOOKS.last,), rng)
    sd = noise.sds[which]
    for ratio in (1.0, 1.1):
        r = race(base + math.log(ratio))
        for low, high in ((0, 0.03), (0.03, 0.08), (0.08, 1.0)):
            at = (sd >= low) & (sd < high)
            s = Races(r.verdict[at], r.rounds[at])
            out.append(f"  ratio {ratio}, sd {100 * low:.0f}-{100 * high:.0f} % "
                       f"({int(at.sum())} races): worse {100 * s.share(WORSE):.1f} %, "
                       f"equivalent {100 * s.share(EQUIVALENT):.1f} %, undecided "
                       f"{100 * s.share(UNDECIDED):.1f} %, rounds to worse median "
                       f"{s.rounds_of(WORSE, 0.5):.0f}")
    return out


def _question_lines(noise: Noise, races: int, seed: int, faithful_races: int) -> list[str]:
    out = []
    for k in (2, 4, 11):
        q = select(copies_log_times(noise, k, races, seed))
        out.append(f"A/A, k = {k} identical copies, pick chosen by the data, {races} "
                   f"questions: false 'worse' per rival {rate(q.count(WORSE), q.rivals)}; "
                   f"questions with one or more {100 * q.any_share(WORSE):.2f} %; "
                   f"'equivalent' {100 * q.share(EQUIVALENT):.1f} %")
    for label, kw in (("drift (random walk, 10 % a round)", {"drift": 0.1}),
                      ("one round 2x slower for one copy", {"wild": 2.0})):
        q = select(copies_log_times(noise, 4, races, seed, **kw))
        out.append(f"  k = 4 with {label}: false 'worse' per rival "
                   f"{rate(q.count(WORSE), q.rivals)}; questions with one or more "
                   f"{100 * q.any_share(WORSE):.2f} %")
    if faithful_races:
        x = copies_log_times(noise, 4, faithful_races, seed + 3)
        drifted = copies_log_times(noise, 4, faithful_races, seed + 3, drift=0.1)
        with_base = ["sequential", "thread_pool", "thread_pool", "thread_pool"]
        for models, what in (((), "no baseline"), (with_base, "one copy the baseline")):
            real, moved = faithful(x, models=models), faithful(drifted, models=models)
            runs = [("real decisions", real), ("real decisions, drift 10 % a round", moved)]
            if not models:
                runs.insert(0, ("vectorised model", select(x)))
            for label, q in runs:
                out.append(f"  k = 4, {what}, the same {faithful_races} questions, {label}: "
                           f"false 'worse' per rival {rate(q.count(WORSE), q.rivals)}, "
                           f"'equivalent' {100 * q.share(EQUIVALENT):.1f} %, questions with "
                           f"one or more false 'worse' {100 * q.any_share(WORSE):.1f} %")
            changed = (real.pick != moved.pick) | (real.verdict != moved.verdict).any(axis=1)
            out.append(f"    real decisions, {what}: questions with a decision whose verdicts "
                       f"were not against the pick it returned "
                       f"{rate(int(real.astray.sum()), faithful_races)}; raced to "
                       f"{LOOKS.last} rounds with nothing changing over the last 10 "
                       f"{rate(int(real.stuck.sum()), faithful_races)}; ended otherwise with "
                       f"the drift (which the pairing should cancel) "
                       f"{rate(int(changed.sum()), faithful_races)}")
    return out


def main(argv: list[str] | None = None) -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--races", type=int, default=20_000)
    parser.add_argument("--faithful", type=int, default=300,
                        help="k = 4 questions also raced by the real decide() (slow)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--noise", type=Path, default=NOISE)
    args = parser.parse_args(argv)
    noise = Noise.load(args.noise)
    print(f"noise: {len(noise)} recorded pairs, {int(noise.lengths.min())}-"
          f"{int(noise.lengths.max())} rounds each, sd median "
          f"{100 * float(np.median(noise.sds)):.1f} % (p10 "
          f"{100 * float(np.quantile(noise.sds, 0.1)):.1f} %, p90 "
          f"{100 * float(np.quantile(noise.sds, 0.9)):.1f} %); delta {DELTA}, "
          f"alpha {LOOKS.alpha:.2f}")
    for line in (_pair_lines(noise, args.races, args.seed)
                 + _strata_lines(noise, args.races, args.seed)
                 + _question_lines(noise, args.races, args.seed, args.faithful)):
        print(line)


if __name__ == "__main__":
    main()
