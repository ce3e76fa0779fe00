"""The regression gate: ``concbench check BASELINE.json CURRENT.json``.

A point regresses when a one-sided Mann-Whitney U test on the raw values is
significant after Benjamini-Hochberg correction over all compared points
(q < ``alpha``), **and** the ratio of medians and the low end of its 95 % CI
exceed ``1 + max_slowdown``, **and** the point was stable in both runs (see
:mod:`bench.gate_stats`).  A point that meets the rest but was unstable in a
run is *inconclusive*: listed, not failed.  Exit codes: 0 nothing regressed,
1 something did, 2 bad input (raised as :class:`~bench.errors.UsageError`).

Each run's ``run.json`` (when the results sit in a run directory) is read for
the host-noise verdict of :mod:`bench.noise`; a run measured on a noisy host is
named in a warning.

``--metric time`` compares batch times.  ``--metric speedup`` compares each
run's *within-run* speedup, which cancels the machine's speed: every value of
a point is divided by the median of its own run's sequential point (same
workload, tasks and task size), and those relative times are tested the same
way.  Their ratio of medians is exactly ``speedup_base / speedup_current``.
Sequential and cold points have no speedup and are skipped.
"""

from __future__ import annotations

import math
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench import store
from bench.aggregate import RunData, load
from bench.compare import TIME_KEYS, common_points, host_differences, samples
from bench.errors import UsageError
from bench.gate_stats import PointTest, gate

METRICS = ("time", "speedup")
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

    @property
    def regressed(self) -> list[PointTest]:
        """The points that regressed."""
        return [t for t in self.tests if t.regressed]

    @property
    def inconclusive(self) -> list[PointTest]:
        """Points slower beyond the threshold but unstable in a run: not failed."""
        return [t for t in self.tests if t.inconclusive]

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


def _unstable(run: RunData) -> set[str]:
    """Names of the run's points whose median CI half-width exceeds 5 % of the median."""
    s = run.summary
    return {str(n) for n, ok in zip(s["name"], s["stable"], strict=True) if not ok}


def _relative_times(run: RunData, names: Sequence[str]) -> tuple[dict[str, np.ndarray],
                                                                  dict[str, str]]:
    """Values / the run's own sequential median, for points that have a speedup."""
    s = run.summary.set_index("name")
    seq = {(r.workload, r.tasks, r.task_size): float(r.median_s)
           for r in s.itertuples() if r.model == "sequential" and r.metric == "steady"}
    raw = samples(run, names)
    out: dict[str, np.ndarray] = {}
    skipped: dict[str, str] = {}
    for n in names:
        row = s.loc[n]
        if row["metric"] != "steady":
            skipped[n] = f"{row['metric']} point: no speedup"
        elif row["model"] == "sequential":
            skipped[n] = "sequential point: the speedup baseline itself"
        elif (key := (row["workload"], row["tasks"], row["task_size"])) not in seq:
            skipped[n] = "no sequential point in the run: no speedup"
        else:
            out[n] = raw[n] / seq[key]
    return out, skipped


def check_runs(base: RunData, cur: RunData, *, max_slowdown: float = 0.10,
               metric: str = "time", alpha: float = 0.002) -> CheckResult:
    """Run the gate on two loaded runs.

    Parameters
    ----------
    base, cur : RunData
        The baseline and current runs (:func:`bench.aggregate.load`).
    max_slowdown : float
        Tolerated slowdown as a fraction.
    metric : {"time", "speedup"}
        Compare batch times, or within-run speedups.
    alpha : float
        False discovery rate over all compared points.

    Returns
    -------
    CheckResult
        The verdict of every point, the skipped ones, host and noise warnings.

    Raises
    ------
    UsageError
        Unknown metric, alpha outside (0, 1), a negative slowdown, or no
        common point (or none with a speedup under ``metric="speedup"``).
    """
    if metric not in METRICS:
        raise UsageError(f"--metric {metric!r}: choose from {', '.join(METRICS)}")
    if not 0 < alpha < 1:
        raise UsageError(f"--alpha {alpha!r}: must be between 0 and 1 (e.g. 0.002)")
    if not (math.isfinite(max_slowdown) and 0 <= max_slowdown < MAX_RATIO - 1):
        raise UsageError(f"--max-slowdown {max_slowdown!r}: must be in [0, {MAX_RATIO - 1:g})")
    common, rest = common_points([base, cur])
    left_out = {"baseline": rest["0"], "current": rest["1"]}
    skipped: dict[str, str] = {}
    if metric == "time":
        b, c = samples(base, common), samples(cur, common)
    else:
        b, skipped = _relative_times(base, common)
        c, skipped_c = _relative_times(cur, common)
        skipped.update(skipped_c)
        b = {n: v for n, v in b.items() if n in c and n not in skipped}
        c = {n: v for n, v in c.items() if n in b}
        if not c:
            raise UsageError("no common point has a speedup (only sequential or cold "
                             "points): use --metric time")
    tests = gate(c, b, max_slowdown=max_slowdown, alpha=alpha,
                 unstable_base=_unstable(base), unstable_cur=_unstable(cur))
    noisy = {side: reasons for side, run in (("baseline", base), ("current", cur))
             if (reasons := noise_record(run)) is not None}
    return CheckResult(baseline=base.path, current=cur.path, metric=metric,
                       max_slowdown=max_slowdown, alpha=alpha, tests=tests,
                       skipped=skipped, left_out=left_out,
                       host_diffs=host_differences([base.host, cur.host], TIME_KEYS),
                       noisy_runs=noisy)


def run_check(baseline: Path, current: Path, *, max_slowdown: float = 0.10,
              metric: str = "time", alpha: float = 0.002, markdown: Path | None = None,
              junit: Path | None = None) -> int:
    """Gate ``current`` against ``baseline``: print the verdict table, write reports.

    Parameters
    ----------
    baseline, current : pathlib.Path
        Results files or run directories.
    max_slowdown : float
        Tolerated slowdown as a fraction (see :func:`parse_slowdown`).
    metric : {"time", "speedup"}
        Compare batch times, or within-run speedups (across machines).
    alpha : float
        False discovery rate over all compared points.
    markdown, junit : pathlib.Path, optional
        Where to write the Markdown table and the JUnit XML.  The Markdown is
        also appended to ``$GITHUB_STEP_SUMMARY`` when that is set.

    Returns
    -------
    int
        0 when no point regressed, 1 when one did.

    Raises
    ------
    UsageError
        Bad files or values.
    """
    from bench.check_report import junit_xml, markdown_report, text_report

    result = check_runs(load(baseline), load(current), max_slowdown=max_slowdown,
                        metric=metric, alpha=alpha)
    if result.host_warning:
        print(f"concbench: warning: {result.host_warning}", file=sys.stderr)
    for warning in result.noise_warnings:
        print(f"concbench: warning: {warning}", file=sys.stderr)
    print(text_report(result), end="")
    md = markdown_report(result)
    outputs = [(markdown, md), (junit, junit_xml(result))]
    for path, text in outputs:
        if path is not None:
            _write(Path(path), text, append=False)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        _write(Path(summary), md + "\n", append=True)
    return result.exit_code


def _write(path: Path, text: str, *, append: bool) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a" if append else "w", encoding="utf-8") as fh:
            fh.write(text)
    except OSError as exc:
        raise UsageError(f"{path}: cannot write ({exc.strerror or exc})") from None
