"""The verdict of an A/B job (``concbench ab``), read back from its run directory.

:func:`evaluate` pairs each point's per-round medians of side A and side B
(same round, same group, measured one right after the other), and
:func:`bench.gate.paired.decide` gives each point its verdict.  The text
table, the Markdown (also appended to ``$GITHUB_STEP_SUMMARY``) and the JUnit
XML list every point: regressed ones as failures, undecided ones (and points
a side failed to measure) as skipped, or as failures under
``--fail-on-undecided``.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.errors import UsageError
from bench.gate.ab import AB_FILE, SIDES
from bench.gate.check import noise_record
from bench.gate.match import (
    TIME_KEYS,
    host_differences,
    metric_rounds,
    paired_log_ratios,
    run_host,
)
from bench.gate.outputs import fmt_seconds, junit_suite, publish, text_table
from bench.gate.paired import PairedTest, decide
from bench.report.export import markdown_table, md_escape
from bench.results import stats, store
from bench.results.aggregate import RunData, load
from bench.scenarios.metrics import METRICS


@dataclass
class ABResult:
    """Everything an A/B job decided."""

    run_dir: Path
    a: str
    b: str
    max_slowdown: float
    alpha: float
    tests: list[PairedTest]
    #: Times the job could decide a point; "regressed" needs Holm p < alpha / looks.
    looks: int = 1
    #: Rounds every point had before extra ones (None: not known).
    planned: int | None = None
    #: Median of each point's per-round medians: name -> (A, B).
    medians: dict[str, tuple[float, float]] = field(default_factory=dict)
    #: Points that a side could not measure: name -> why (never decided).
    unmeasured: dict[str, str] = field(default_factory=dict)
    only: dict[str, list[str]] = field(default_factory=dict)
    host_diffs: list[str] = field(default_factory=list)
    noise_warnings: list[str] = field(default_factory=list)
    interrupted: bool = False
    #: What was gated: ``time`` or a metric of :mod:`bench.scenarios.metrics`.
    metric: str = "time"

    def having(self, *verdicts: str) -> list[PairedTest]:
        """The tests with one of ``verdicts``."""
        return [t for t in self.tests if t.verdict in verdicts]

    def exit_code(self, fail_on_undecided: bool = False) -> int:
        """1 when a point regressed (or, when asked, is undecided), else 0."""
        if self.having("regressed"):
            return 1
        if fail_on_undecided and (self.having("undecided") or self.unmeasured):
            return 1
        return 0

    def rule(self) -> str:
        """The decision rule in words."""
        limit = f"{1 + self.max_slowdown:.3g}x"
        what = "" if self.metric == "time" else f" of the {self.metric} metric's readings"
        return (f"per-round paired ratios B/A{what} over {len(self.tests)} points; a point "
                "regressed "
                f"when B is slower than {limit} A (one-sided t-test on the rounds' log ratios, "
                f"Holm-adjusted p < {self.alpha:g}/{self.looks} looks); within when B is shown "
                f"under {limit} A at "
                f"p < {self.alpha:g}; undecided otherwise, after extra rounds; a point's 95% CI "
                f"is widened for each extra look it took")

    def headline(self) -> str:
        """One line: regressed, undecided, within, faster."""
        bad, unsure = len(self.having("regressed")), len(self.having("undecided"))
        n = len(self.tests) + len(self.unmeasured)
        text = f"{bad} of {n} points regressed" if bad else f"no regression in {n} points"
        if unsure or self.unmeasured:
            text += f", {unsure + len(self.unmeasured)} undecided"
        faster = len(self.having("faster"))
        if faster:
            text += f", {faster} faster"
        return text


def _unmeasured(run_dir: Path, pairs: list[list[str]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for side, col in zip(SIDES, (0, 1), strict=True):
        entries = {e.get("name"): e for e in store.read_manifest(run_dir / side).get("points", [])}
        for pair in pairs:
            e = entries.get(pair[col], {})
            if e.get("status") != "done":
                why = e.get("reason") or e.get("status") or "not measured"
                out.setdefault(pair[0], f"{side.upper()}: {why}")
    return out


def check_metric(metric: str, collected: Sequence[str] | None = None) -> None:
    """Refuse a ``metric`` that ``ab`` cannot gate, or (``collected``: the metrics the job
    collects) one the job would not read: before anything is measured."""
    gateable = ("time", *METRICS)
    if metric not in gateable:
        raise UsageError(f"--metric {metric!r}: choose from {', '.join(gateable)}")
    if collected is not None and metric != "time" and metric not in collected:
        raise UsageError(f"--metric {metric}: the job does not collect it (--metrics)")


def evaluate(run_dir: Path, *, max_slowdown: float | None = None,
             alpha: float | None = None, metric: str = "time") -> ABResult:
    """Decide every point of an A/B run directory.

    Parameters
    ----------
    run_dir : pathlib.Path
        A directory written by ``concbench ab`` (``ab.json``, ``a/``, ``b/``).
    max_slowdown, alpha : float, optional
        Override the job's own settings.
    metric : str
        ``time`` (batch times) or a metric of :mod:`bench.scenarios.metrics`:
        its per-round readings, paired round by round like times (a metric
        whose higher values are better is tested on its inverse).

    Raises
    ------
    UsageError
        Not an A/B run directory, or a side without results.
    """
    record = store.read_json(run_dir / AB_FILE, "A/B record")
    if not isinstance(record, dict) or not isinstance(record.get("pairs"), list):
        raise UsageError(f"{run_dir / AB_FILE}: not a concbench A/B record")
    slowdown = float(record["max_slowdown"] if max_slowdown is None else max_slowdown)
    level = float(record["alpha"] if alpha is None else alpha)
    pairs: list[list[str]] = record["pairs"]
    unmeasured = _unmeasured(run_dir, pairs)
    runs: list[RunData] = []
    for side in SIDES:
        if not (run_dir / side / store.RESULTS).exists():
            raise UsageError(f"{run_dir / side}: no results (the job measured nothing)")
        runs.append(load(run_dir / side))
    check_metric(metric)
    med = [stats.round_medians(r.tidy) if metric == "time" else metric_rounds(r, metric)
           for r in runs]
    if metric != "time" and any(m.empty for m in med):
        raise UsageError(f"{run_dir}: a side has no {metric} readings (measured with "
                         "--no-metrics?)")
    ratios = paired_log_ratios(med[0], med[1], [(a, b) for a, b in pairs if a not in unmeasured])
    n_looks = int(record.get("looks", 1))
    planned = int(record["planned"]) if "planned" in record else None
    tests = decide(ratios, max_slowdown=slowdown, alpha=level, looks=n_looks, planned=planned)
    medians = {a: (float(med[0].loc[a].median()), float(med[1].loc[b].median()))
               for a, b in pairs if a in ratios}
    warnings = [f"side {side.upper()} was measured on a noisy host ({'; '.join(why) or '?'})"
                for side, run in zip(SIDES, runs, strict=True)
                if (why := noise_record(run)) is not None]
    return ABResult(run_dir=run_dir, a=str(record["a"]), b=str(record["b"]),
                    max_slowdown=slowdown, alpha=level, tests=tests, looks=n_looks,
                    planned=planned,
                    medians=medians,
                    unmeasured=unmeasured, only=dict(record.get("only", {})),
                    host_diffs=host_differences([run_host(r) for r in runs], TIME_KEYS),
                    noise_warnings=warnings,
                    interrupted=record.get("status") == "interrupted", metric=metric)


_ORDER = {"regressed": 0, "undecided": 1, "faster": 2, "within": 3}


def _shown(result: ABResult, value: float) -> str:
    spec = METRICS.get(result.metric)
    if spec is None:
        return fmt_seconds(value)
    return spec.show(value if spec.lower_is_better else 1 / value).replace(spec.prefix, "", 1)


def _rows(result: ABResult) -> list[list[str]]:
    head = "median" if result.metric == "time" else result.metric
    rows = [["point", f"A {head}", f"B {head}", "B/A", "95% CI", "rounds", "p (Holm)",
             "verdict"]]
    for t in sorted(result.tests, key=lambda t: _ORDER[t.verdict]):
        a, b = result.medians[t.name]
        ci = "-" if math.isnan(t.low) else f"{t.low:.3f}-{t.high:.3f}"
        rows.append([t.name, _shown(result, a), _shown(result, b), f"{t.ratio:.3f}x", ci,
                     str(t.rounds), f"{t.p_adjusted:.2g}", t.verdict.upper()
                     if t.failed else t.verdict])
    return rows


def _notes(result: ABResult) -> list[str]:
    out = [f"undecided {n}: not measured ({why})" for n, why in result.unmeasured.items()]
    for side, names in result.only.items():
        if names:
            out.append(f"only side {side.upper()} has (not compared): {', '.join(names)}")
    if result.host_diffs:
        out.append("the sides' host records differ (" + "; ".join(result.host_diffs) + ")")
    out += result.noise_warnings
    if result.interrupted:
        out.append("the job was interrupted: these verdicts use the rounds it completed")
    return out


def text_report(result: ABResult) -> str:
    """The verdict table, notes and the headline."""
    lines = text_table(_rows(result)) if result.tests else []
    lines += _notes(result)
    lines.append(f"concbench ab: {result.headline()} (A {result.a}, B {result.b}; "
                 f"{result.rule()})")
    return "\n".join(lines) + "\n"


def markdown_report(result: ABResult) -> str:
    """A GitHub-flavoured Markdown section."""
    icon = ":x:" if result.having("regressed") else (
        ":warning:" if result.having("undecided") or result.unmeasured else ":white_check_mark:")
    out = [f"### {icon} concbench ab: {md_escape(result.headline())}", "",
           f"A: `{result.a}`, B: `{result.b}`; {md_escape(result.rule())}.", ""]
    if result.tests:
        out += [markdown_table(_rows(result), align="lrrrrrrl",
                               strong=lambda r: r[-1] == "REGRESSED")]
    out += [f"- {md_escape(n)}" for n in _notes(result)]
    return "\n".join(out) + "\n"


def junit_xml(result: ABResult, fail_on_undecided: bool = False) -> str:
    """One test case per point: failures for regressions (and undecided, when asked)."""
    cases: list[tuple[str, str, str, str]] = []
    for t in result.tests:
        detail = (f"B/A {t.ratio:.3f}x (95% CI {t.low:.3f}-{t.high:.3f}) over {t.rounds} rounds, "
                  f"Holm p={t.p_adjusted:.3g}: {t.verdict}")
        if t.failed:
            cases.append((t.name, "failure", f"B is {t.ratio:.3f}x A "
                          f"(max {1 + result.max_slowdown:.3g}x)", detail))
        elif t.verdict == "undecided":
            cases.append((t.name, "failure" if fail_on_undecided else "skipped",
                          "undecided", detail))
        else:
            cases.append((t.name, "pass", "", detail))
    for name, why in result.unmeasured.items():
        cases.append((name, "failure" if fail_on_undecided else "skipped",
                      f"undecided: not measured ({why})", why))
    props = [("a", result.a), ("b", result.b), ("alpha", f"{result.alpha:g}"),
             ("max_slowdown", f"{result.max_slowdown:g}")]
    return junit_suite("concbench ab", props, cases)


def report_ab(run_dir: Path, *, markdown: Path | None = None, junit: Path | None = None,
              fail_on_undecided: bool = False, comparison: bool = True,
              metric: str = "time") -> int:
    """Print and write an A/B job's verdict; return its exit code.

    The run directory also gets ``ab.md`` and, when the sides' points do the
    same work (not under ``scale=``), a comparison report in ``compare/``.
    """
    result = evaluate(run_dir, metric=metric)
    print(text_report(result), end="")
    md = markdown_report(result)
    store.atomic_write_text(run_dir / "ab.md", md)
    store.atomic_write_text(run_dir / "verdicts.json",
                            json.dumps(summary_of(result), indent=2, sort_keys=True) + "\n")
    publish(md, junit_xml(result, fail_on_undecided), markdown=markdown, junit=junit)
    if comparison:
        _comparison(run_dir)
    return 130 if result.interrupted else result.exit_code(fail_on_undecided)


def _comparison(run_dir: Path) -> None:
    from bench.gate.compare_report import write_comparison

    try:
        index = write_comparison([run_dir / s for s in SIDES], run_dir / "compare")
    except UsageError as exc:
        print(f"concbench: no comparison report: {exc}", file=sys.stderr)
    else:
        print(f"concbench: comparison in {index}", file=sys.stderr)


def summary_of(result: ABResult) -> dict[str, Any]:
    """The verdicts as plain data (for scripts)."""
    return {"a": result.a, "b": result.b, "exit": result.exit_code(),
            "tests": {t.name: {"verdict": t.verdict, "ratio": t.ratio, "rounds": t.rounds}
                      for t in result.tests},
            "unmeasured": result.unmeasured}
