"""How often do two runs disagree beyond their own confidence intervals?

Usage: python scripts/disagree.py RUN_A RUN_B [--top N] [--json]

Compares two runs (results files or run directories) point by point and prints
the share of medians and of speedups that disagree beyond their joint 95 % CI:

    |log m1 - log m2| > sqrt(h1**2 + h2**2)

where h is the half-width of a point's 95 % CI on the log scale,
``(log hi - log lo) / 2``.  If the intervals are honest, two runs of the same
code on the same host should disagree on few points; a large share says the
intervals are too narrow for what varies between runs.

Points are matched on their name and their work (``bench.gate.match.WORK_KEY``);
points of the same name doing other work are listed as not comparable.
Speedups are counted where both runs have one with an interval; a baseline's
own speedup (exactly 1, an empty interval in both runs) is not a measurement
and is left out, as are values without an interval (NaN bounds).

Exit codes: 0 printed, 2 bad input (one line on stderr).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from bench.errors import UsageError
from bench.gate.match import match_points
from bench.results.aggregate import load

#: (quantity, value column, CI low column, CI high column) compared per point.
QUANTITIES = (("median", "median_s", "ci_low_s", "ci_high_s"),
              ("speedup", "speedup", "speedup_ci_low", "speedup_ci_high"))


@dataclass
class Disagreement:
    """One quantity of one point in both runs."""

    name: str
    quantity: str
    value_a: float
    value_b: float
    #: |log a - log b|
    distance: float
    #: sqrt(h_a^2 + h_b^2), the joint half-width on the log scale.
    joint: float

    @property
    def disagrees(self) -> bool:
        """Whether the two values lie further apart than their joint interval."""
        return self.distance > self.joint

    @property
    def excess(self) -> float:
        """distance / joint (inf for a difference between two exact values)."""
        if self.joint > 0:
            return self.distance / self.joint
        return math.inf if self.distance > 0 else 0.0


@dataclass
class Report:
    """The comparison of two runs: per-quantity counts and every pair."""

    run_a: str
    run_b: str
    pairs: list[Disagreement]
    not_comparable: dict[str, str] = field(default_factory=dict)
    only_in: dict[str, list[str]] = field(default_factory=dict)
    #: Per quantity, the points left out (no value or no interval in a run).
    no_interval: dict[str, list[str]] = field(default_factory=dict)

    def counts(self, quantity: str) -> tuple[int, int]:
        """(disagreeing, compared) for ``quantity``."""
        mine = [p for p in self.pairs if p.quantity == quantity]
        return sum(p.disagrees for p in mine), len(mine)

    def worst(self, quantity: str, top: int) -> list[Disagreement]:
        """The ``top`` disagreeing pairs of ``quantity``, furthest beyond their interval first."""
        bad = [p for p in self.pairs if p.quantity == quantity and p.disagrees]
        return sorted(bad, key=lambda p: (-p.excess, -p.distance, p.name))[:top]


def _half(low: float, high: float) -> float:
    """Half-width of [low, high] on the log scale (NaN when it has none)."""
    if not (low > 0 and high > 0 and high >= low):
        return math.nan
    return (math.log(high) - math.log(low)) / 2


def _pair(name: str, quantity: str, a: pd.Series, b: pd.Series,
          cols: tuple[str, str, str]) -> Disagreement | None:
    """The pair for one point and quantity, or None when a side has no usable interval."""
    value, low, high = cols
    va, vb = float(a[value]), float(b[value])
    ha, hb = _half(float(a[low]), float(a[high])), _half(float(b[low]), float(b[high]))
    if not (va > 0 and vb > 0) or math.isnan(ha) or math.isnan(hb):
        return None
    if quantity == "speedup" and va == vb == 1.0 and ha == hb == 0.0:
        return None  # a baseline against itself
    return Disagreement(name, quantity, va, vb, abs(math.log(va) - math.log(vb)),
                        math.hypot(ha, hb))


def disagreements(summary_a: pd.DataFrame, summary_b: pd.DataFrame, *,
                  label_a: str = "a", label_b: str = "b") -> Report:
    """Compare two summary frames point by point.

    Parameters
    ----------
    summary_a, summary_b : pandas.DataFrame
        Summary frames (``bench.load(path).summary``): ``name``, the work
        columns, ``median_s``, ``ci_low_s``, ``ci_high_s``, ``speedup``,
        ``speedup_ci_low``, ``speedup_ci_high``.
    label_a, label_b : str
        How the report names the runs.

    Returns
    -------
    Report
        Every compared pair, and the points that could not be compared.

    Raises
    ------
    UsageError
        A frame lacks a needed column, or the runs have no comparable point.
    """
    need = {"name", *(c for _, *cols in QUANTITIES for c in cols)}
    for label, frame in ((label_a, summary_a), (label_b, summary_b)):
        missing = sorted(need - set(frame.columns))
        if missing:
            raise UsageError(f"{label}: summary lacks {', '.join(missing)}")
    match = match_points([summary_a, summary_b])
    if not match.common:
        raise UsageError(f"{label_a} and {label_b} have no comparable point in common")
    a, b = summary_a.set_index("name"), summary_b.set_index("name")
    pairs: list[Disagreement] = []
    no_interval: dict[str, list[str]] = {}
    for quantity, *cols in QUANTITIES:
        for name in match.common:
            found = _pair(name, quantity, a.loc[name], b.loc[name],
                          (cols[0], cols[1], cols[2]))
            if found is None:
                no_interval.setdefault(quantity, []).append(name)
            else:
                pairs.append(found)
    return Report(label_a, label_b, pairs, match.not_comparable,
                  {label_a: match.only_in[0], label_b: match.only_in[1]}, no_interval)


def _share(k: int, n: int) -> str:
    return f"{k} of {n} ({100 * k / n:.0f} %)" if n else "none compared"


def text(report: Report, top: int) -> str:
    """The report for a terminal."""
    lines = [f"{report.run_a} vs {report.run_b}: disagreement beyond the joint 95 % CI "
             "(|log m1 - log m2| > sqrt(h1^2 + h2^2))"]
    for quantity, *_ in QUANTITIES:
        k, n = report.counts(quantity)
        lines.append(f"  {quantity}s: {_share(k, n)}")
    for quantity, *_ in QUANTITIES:
        worst = report.worst(quantity, top)
        if worst:
            lines.append(f"worst {quantity}s ({report.run_a} -> {report.run_b}, "
                         "distance / joint half-width):")
            lines += [f"  {p.name}: {p.value_a:.4g} -> {p.value_b:.4g} "
                      f"({p.excess:.2f}x the interval)" for p in worst]
    for name, why in report.not_comparable.items():
        lines.append(f"not comparable {name}: {why}")
    for label, names in report.only_in.items():
        if names:
            lines.append(f"only in {label}: {', '.join(names)}")
    return "\n".join(lines) + "\n"


def as_json(report: Report, top: int) -> dict[str, Any]:
    """The report as plain data (``--json``)."""
    out: dict[str, Any] = {"run_a": report.run_a, "run_b": report.run_b}
    for quantity, *_ in QUANTITIES:
        k, n = report.counts(quantity)
        out[quantity] = {"disagree": k, "compared": n, "share": k / n if n else None,
                         "worst": [{**asdict(p),
                                    "excess": p.excess if math.isfinite(p.excess) else None}
                                   for p in report.worst(quantity, top)],
                         "no_interval": report.no_interval.get(quantity, [])}
    out["not_comparable"] = report.not_comparable
    out["only_in"] = report.only_in
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: 0 printed, 2 bad input."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_a", help="results file or run directory")
    parser.add_argument("run_b", help="results file or run directory")
    parser.add_argument("--top", type=int, default=10, help="worst offenders shown (10)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    args = parser.parse_args(argv)
    try:
        if args.top < 0:
            raise UsageError(f"--top {args.top}: must be 0 or more")
        a, b = load(args.run_a), load(args.run_b)
        report = disagreements(a.summary, b.summary, label_a=args.run_a, label_b=args.run_b)
    except UsageError as exc:
        print(f"disagree: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(as_json(report, args.top), indent=2, allow_nan=False))
    else:
        print(text(report, args.top), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
