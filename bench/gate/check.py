"""The regression gate: ``concbench check BASELINE.json CURRENT.json``.

**The statistical unit is the round** (a fresh process measuring the point at
one moment of the host): every sample the gate tests is a point's per-round
medians, ``tidy.groupby(["name", "round"]).value_s.median()``, never its raw
values, which share their process's moment and are not independent.

A point regresses when a one-sided Mann-Whitney U test on the per-round
medians is significant after Benjamini-Hochberg correction over all compared
points (q < ``alpha``), **and** the ratio of medians and the low end of its
95 % CI (a bootstrap over rounds) exceed ``1 + max_slowdown``, **and** the
point was stable in both runs (see :mod:`bench.gate.stats`).  A point that
meets the rest but was unstable in a run is *inconclusive*: listed, not
failed.  So is a point with too few rounds for the test to reach ``alpha`` at
all (3 vs 3 rounds cannot go below p = 0.05): *inconclusive: too few rounds*.
Exit codes: 0 nothing regressed, 1 something did, 2 bad input (raised as
:class:`~bench.errors.UsageError`).

Points are matched on their name **and their work** (:data:`bench.gate.match.WORK_KEY`:
workload, model, start method, tasks, workers, metric, task size).  A point of
the same name whose work differs (a smoke run's 0.2x tasks against a quick
run's) is *not comparable*: listed with the reason, never reported as a
regression, and it does not change the exit code.

Each run's ``run.json`` (when the results sit in a run directory) is read for
the host-noise verdict of :mod:`bench.measure.noise`; a run measured on a noisy host is
named in a warning.

``--metric time`` compares batch times.  ``--metric speedup`` compares each
run's *within-run* speedup, which cancels the machine's speed: in every round,
a point's median is divided by the median of its sequential point (same
workload, tasks and task size) in the same round, and those per-round relative
times are tested the same way.  Their ratio of medians is
``speedup_base / speedup_current``, and a point's stability is that of its
speedup (the summary's speedup CI).  Sequential and cold points have no
speedup and are skipped.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from bench.errors import UsageError
from bench.gate.match import (
    TIME_KEYS,
    common_points,
    host_differences,
    metric_samples,
    relative_times,
    run_host,
    samples,
)
from bench.gate.stats import PointTest, gate, rounds_needed
from bench.results import stats, store
from bench.results.aggregate import STABLE_HALF_WIDTH, RunData
from bench.scenarios.metrics import gate_metrics

#: Largest tolerated slowdown ratio (exclusive): 10x slower is no threshold.
MAX_RATIO = 10.0


@dataclass
class CheckResult:
    """Everything the gate decided, ready for the exporters."""

    baseline: Path
    current: Path
    metric: str
    max_slowdown: float
    alpha: float
    tests: list[PointTest]
    skipped: dict[str, str] = field(default_factory=dict)
    left_out: dict[str, list[str]] = field(default_factory=dict)
    host_diffs: list[str] = field(default_factory=list)
    #: Runs measured on a noisy host: side ("baseline"/"current") -> reasons.
    noisy_runs: dict[str, list[str]] = field(default_factory=dict)
    #: Points in both runs whose work differs: name -> why (never compared).
    not_comparable: dict[str, str] = field(default_factory=dict)

    @property
    def regressed(self) -> list[PointTest]:
        """The points that regressed."""
        return [t for t in self.tests if t.regressed]

    @property
    def inconclusive(self) -> list[PointTest]:
        """Points the gate could not decide (unstable, or too few rounds): not failed."""
        return [t for t in self.tests if t.inconclusive]

    @property
    def underpowered(self) -> list[PointTest]:
        """Points with too few rounds for the test to reach ``alpha`` at all."""
        return [t for t in self.tests if t.underpowered]

    @property
    def rounds_needed(self) -> int:
        """The fewest rounds per run (equal counts) whose test can reach ``alpha``."""
        return rounds_needed(self.alpha)

    @property
    def noise_warnings(self) -> list[str]:
        """One sentence per run that was measured on a noisy host."""
        out = []
        for side, reasons in self.noisy_runs.items():
            why = "; ".join(reasons) if reasons else "no reason recorded"
            out.append(f"the {side} run was measured on a noisy host ({why}): its times "
                       "may be off; re-measure it on a quiet host before trusting the verdict")
        return out

    @property
    def exit_code(self) -> int:
        """1 when a point regressed, else 0."""
        return 1 if self.regressed else 0

    @property
    def host_warning(self) -> str | None:
        """Why the times are not comparable, or None when they are."""
        if not self.host_diffs:
            return None
        diffs = "; ".join(self.host_diffs)
        if self.metric == "time":
            return (f"host records differ ({diffs}): times are not comparable across these "
                    "hosts; use --metric speedup (the within-run ratio cancels machine speed)")
        return f"host records differ ({diffs}): comparing within-run speedups"


def parse_slowdown(text: str) -> float:
    """Parse a tolerated slowdown: ``"10%"``, ``"0.1"`` or ``"1.1x"`` -> 0.1.

    Raises
    ------
    UsageError
        Not a number, negative, or a ratio of 10x or more.
    """
    s = str(text).strip().lower()
    m = re.fullmatch(r"([-+]?[0-9]*\.?[0-9]+(?:e[-+]?[0-9]+)?)\s*(%|x)?", s)
    if not m:
        raise UsageError(
            f"--max-slowdown {text!r}: expected a percentage (10%), a fraction (0.1) "
            "or a ratio (1.1x)")
    value, unit = float(m.group(1)), m.group(2)
    frac = value / 100 if unit == "%" else value - 1 if unit == "x" else value
    if not math.isfinite(frac) or frac < 0 or frac + 1 >= MAX_RATIO:
        raise UsageError(
            f"--max-slowdown {text!r}: must be a slowdown between 0% and "
            f"{(MAX_RATIO - 1) * 100:.0f}% (a ratio from 1x up to {MAX_RATIO:g}x)")
    return round(frac, 12)


def noise_record(run: RunData) -> list[str] | None:
    """The reasons a run was flagged noisy (``run.json``), or None when it was not.

    Results files outside a run directory, or without a readable ``run.json``
    or a noise record, count as not flagged.

    Parameters
    ----------
    run : RunData
        A loaded run; its ``path`` is the results file or the run directory.

    Returns
    -------
    list of str or None
        The recorded reasons (possibly empty) when the run was noisy, else None.
    """
    run_dir = run.path if run.path.is_dir() else run.path.parent
    if not (run_dir / store.MANIFEST).is_file():
        return None
    try:
        manifest = store.read_manifest(run_dir)
    except (UsageError, OSError, ValueError):
        return None
    record = manifest.get("noise")
    if not isinstance(record, dict) or not record.get("noisy"):
        return None
    reasons = record.get("reasons")
    return [str(r) for r in reasons] if isinstance(reasons, list) else []


def _unstable(run: RunData, metric: str = "time") -> set[str]:
    """Names of the run's points that were unstable for ``metric``.

    ``time``: the summary's ``stable`` flag (median CI half-width <= 5 % of the
    median).  A metric of :mod:`bench.scenarios.metrics`: the same rule on its
    per-round readings.  ``speedup``: the same rule on the speedup's CI, which pairs each
    round with its baseline, so a drift that moves both cancels.
    """
    s = run.summary
    if metric not in ("time", "speedup"):  # a metric: its own per-round readings' interval
        got = {n: stats.median_interval(v) for n, v in metric_samples(run, list(s["name"]),
                                                                      metric).items()}
        return {n for n, i in got.items() if not i.half_width <= STABLE_HALF_WIDTH}
    if metric == "speedup":
        half = stats.half_width(s["speedup_ci_low"], s["speedup_ci_high"], s["speedup"])
        ok = (half <= STABLE_HALF_WIDTH).to_numpy()
    else:
        ok = s["stable"].to_numpy(dtype=bool)
    return {str(n) for n, good in zip(s["name"], ok, strict=True) if not good}


def check_runs(base: RunData, cur: RunData, *, max_slowdown: float = 0.10,
               metric: str = "time", alpha: float = 0.002) -> CheckResult:
    """Run the gate on two loaded runs.

    Parameters
    ----------
    base, cur : RunData
        The baseline and current runs (:func:`bench.results.aggregate.load`).
    max_slowdown : float
        Tolerated slowdown as a fraction.
    metric : str
        ``time`` (batch times), ``speedup`` (within-run speedups) or a metric
        of :mod:`bench.scenarios.metrics` (its per-round readings; a metric
        whose higher values are better is tested on its inverse).
    alpha : float
        False discovery rate over all compared points.

    Returns
    -------
    CheckResult
        The verdict of every point, the skipped and not comparable ones, host
        and noise warnings.

    Raises
    ------
    UsageError
        Unknown metric, alpha outside (0, 1), a negative slowdown, or no
        comparable common point (or none with a speedup under
        ``metric="speedup"``).
    """
    if metric not in gate_metrics():
        raise UsageError(f"--metric {metric!r}: choose from {', '.join(gate_metrics())}")
    if not 0 < alpha < 1:
        raise UsageError(f"--alpha {alpha!r}: must be between 0 and 1 (e.g. 0.002)")
    if not (math.isfinite(max_slowdown) and 0 <= max_slowdown < MAX_RATIO - 1):
        raise UsageError(f"--max-slowdown {max_slowdown!r}: must be in [0, {MAX_RATIO - 1:g})")
    match = common_points([base, cur])
    common, not_comparable = match.common, match.not_comparable
    left_out = {"baseline": match.only_in[0], "current": match.only_in[1]}
    skipped: dict[str, str] = {}
    if metric == "time":
        b, c = samples(base, common), samples(cur, common)
    elif metric != "speedup":
        b, c = metric_samples(base, common, metric), metric_samples(cur, common, metric)
        skipped = {n: f"no {metric} readings in both runs" for n in common
                   if n not in b or n not in c}
        b = {n: v for n, v in b.items() if n in c}
        c = {n: v for n, v in c.items() if n in b}
        if not c:
            raise UsageError(f"no common point has {metric} readings in both runs (metrics "
                             "are collected unless a run was made with --no-metrics)")
    else:
        b, skipped = relative_times(base, common)
        c, skipped_c = relative_times(cur, common)
        skipped.update(skipped_c)
        b = {n: v for n, v in b.items() if n in c and n not in skipped}
        c = {n: v for n, v in c.items() if n in b}
        if not c:
            raise UsageError("no common point has a speedup (only sequential or cold "
                             "points): use --metric time")
    tests = gate(c, b, max_slowdown=max_slowdown, alpha=alpha,
                 unstable_base=_unstable(base, metric), unstable_cur=_unstable(cur, metric))
    noisy = {side: reasons for side, run in (("baseline", base), ("current", cur))
             if (reasons := noise_record(run)) is not None}
    return CheckResult(baseline=base.path, current=cur.path, metric=metric,
                       max_slowdown=max_slowdown, alpha=alpha, tests=tests,
                       skipped=skipped, left_out=left_out,
                       host_diffs=host_differences([run_host(base), run_host(cur)], TIME_KEYS),
                       noisy_runs=noisy, not_comparable=not_comparable)
