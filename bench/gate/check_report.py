"""What the gate prints and writes: a text table, Markdown, JUnit XML.

The JUnit file has one ``<testcase>`` per compared point (a ``<failure>`` when
it regressed, ``<skipped>`` when it was inconclusive: slower but unstable in a
run, or too few rounds to test) and a skipped test case for each point that
could not be compared (skipped, only in one run, or not comparable because
its work differs), so CI systems show the gate's verdicts natively.  Sample
sizes are counted in rounds, the gate's statistical unit.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from bench.gate.check import CheckResult, check_runs
from bench.gate.outputs import fmt_seconds, junit_suite, publish, text_table
from bench.gate.stats import PointTest
from bench.report.export import markdown_table, md_escape
from bench.results.aggregate import load
from bench.scenarios.metrics import METRICS

#: What two single runs cannot tell, said in every output of ``check BASE CURRENT``.
LIMITS = ("limits: two single runs cannot show how much a point moves from run to run (the "
          "host's own drift between runs, which only check --history measures), so slowdowns "
          "smaller than that drift are invisible and unstable points are only inconclusive; "
          "for a gate that sees 10% use concbench ab (both sides in one job) or "
          "check --history")


def _values(t: PointTest, metric: str) -> tuple[str, str]:
    if metric == "time":
        return fmt_seconds(t.median_base), fmt_seconds(t.median_cur)
    spec = METRICS.get(metric)
    if spec is not None:  # the gate tested readings oriented bigger-is-worse
        def shown(v: float) -> str:
            return spec.show(v if spec.lower_is_better else 1 / v).replace(spec.prefix, "", 1)

        return shown(t.median_base), shown(t.median_cur)
    # relative times: value / own sequential median; the speedup is their inverse
    return f"{1 / t.median_base:.3g}x", f"{1 / t.median_cur:.3g}x"


def _what(metric: str) -> str:
    spec = METRICS.get(metric)
    if spec is not None:
        better = "lower" if spec.lower_is_better else "higher (tested on its inverse)"
        return f"per-round readings of the {metric} metric in {spec.unit}, {better} is better"
    return "batch times" if metric == "time" else "within-run speedups"


def _ordered(tests: Sequence[PointTest]) -> list[PointTest]:
    return sorted(tests, key=lambda t: (not t.regressed, not t.inconclusive))


def _rule(result: CheckResult) -> str:
    what = _what(result.metric)
    limit = f"{1 + result.max_slowdown:.3g}x"
    return (f"metric {result.metric} ({what}), one sample per round; a point regresses "
            "when the one-sided Mann-Whitney test over per-round medians gives a "
            f"Benjamini-Hochberg q < {result.alpha:g}, the slowdown and its 95% CI low end "
            f"exceed {limit}, and the point was stable (median CI half-width <= 5%) in both "
            "runs; unstable ones, and ones with too few rounds to reach that q "
            f"(< {result.rounds_needed} vs {result.rounds_needed}), are inconclusive")


def headline(result: CheckResult) -> str:
    """One line: how many points regressed (and were inconclusive) out of how many."""
    n, bad, unsure = len(result.tests), len(result.regressed), len(result.inconclusive)
    text = f"{bad} of {n} points regressed" if bad else f"no regression in {n} points"
    if unsure:
        few = len(result.underpowered)
        kinds = [(unsure - few, "unstable"), (few, "too few rounds")]
        why = [f"{k} {w}" if k < unsure else w for k, w in kinds if k]
        text += f", {unsure} inconclusive ({', '.join(why)})"
    if result.not_comparable:
        text += f", {len(result.not_comparable)} not comparable (work differs)"
    return text


def _rows(result: CheckResult) -> list[list[str]]:
    head = {"speedup": "speedup", "time": "median"}.get(result.metric, result.metric)
    rows = [["point", f"baseline {head}", f"current {head}", "slowdown", "95% CI", "p", "q",
             "unstable in", "verdict"]]
    for t in _ordered(result.tests):
        base, cur = _values(t, result.metric)
        rows.append([t.name, base, cur, f"{t.slowdown:.3f}x",
                     f"{t.slowdown_low:.3f}-{t.slowdown_high:.3f}", f"{t.p_value:.2g}",
                     f"{t.q_value:.2g}", t.unstable_in or "-", t.verdict])
    return rows


def _few_rounds(result: CheckResult) -> str:
    k = result.rounds_needed
    return (f"inconclusive, too few rounds for alpha {result.alpha:g}: "
            f"{len(result.underpowered)} of {len(result.tests)} points (the rank test over "
            f"rounds needs at least {k} vs {k} to reach it); measure more rounds or raise "
            "--alpha to decide")


def text_report(result: CheckResult) -> str:
    """The verdict table for the terminal, then the headline."""
    lines = text_table(_rows(result))
    for t in result.inconclusive:
        if not t.underpowered:
            lines.append(f"inconclusive {t.name}: {t.slowdown:.3f}x slower, but unstable in "
                         f"the {t.unstable_in} run{'s' if t.unstable_in == 'both' else ''}; "
                         "re-measure with more rounds to decide")
    if result.underpowered:
        lines.append(_few_rounds(result))
    for name, why in result.skipped.items():
        lines.append(f"skipped {name}: {why}")
    for name, why in result.not_comparable.items():
        lines.append(f"not comparable {name}: {why} (the work differs; not compared)")
    for side, names in result.left_out.items():
        if names:
            lines.append(f"only in the {side} (not compared): {', '.join(names)}")
    lines.append(LIMITS)
    lines.append(f"concbench check: {headline(result)} ({_rule(result)})")
    return "\n".join(lines) + "\n"


def markdown_report(result: CheckResult) -> str:
    """A GitHub-flavoured Markdown section: headline, warning, table, left-out points."""
    icon = ":x:" if result.regressed else ":white_check_mark:"
    out = [f"### {icon} concbench check: {headline(result)}", "",
           f"Baseline {md_escape(result.baseline)} vs current {md_escape(result.current)}; "
           f"{md_escape(_rule(result))}.", "", f"> {md_escape(LIMITS)}", ""]
    if result.host_warning:
        out += [f"> **Warning:** {md_escape(result.host_warning)}", ""]
    for warning in result.noise_warnings:
        out += [f"> **Warning:** {md_escape(warning)}", ""]
    out.append(markdown_table(_rows(result), align="lrrrrrrll",
                              strong=lambda r: r[-1] == "REGRESSED"))
    unstable = [t for t in result.inconclusive if not t.underpowered]
    if unstable:
        out.append("Inconclusive (slower beyond the threshold, but the point was unstable in a "
                   "run, so its rounds cannot tell a regression from run-to-run swing; "
                   "they do not fail the gate): "
                   + ", ".join(md_escape(t.name) for t in unstable) + ".")
        out.append("")
    if result.underpowered:
        line = md_escape(_few_rounds(result))
        out += [line[0].upper() + line[1:] + ": "
                + ", ".join(md_escape(t.name) for t in result.underpowered) + ".", ""]
    if result.not_comparable:
        out.append("Not comparable (same name, different work; not compared): "
                   + "; ".join(f"{md_escape(n)} ({md_escape(w)})"
                               for n, w in result.not_comparable.items()) + ".")
        out.append("")
    if result.skipped:
        out.append("Skipped: " + "; ".join(f"{md_escape(n)} ({md_escape(w)})"
                                           for n, w in result.skipped.items()) + ".")
        out.append("")
    for side, names in result.left_out.items():
        if names:
            out.append(f"Only in the {side} (not compared): "
                       + ", ".join(md_escape(n) for n in names) + ".")
            out.append("")
    return "\n".join(out)


def junit_xml(result: CheckResult, fail_on_undecided: bool = False) -> str:
    """JUnit XML: one test case per point, failures for the regressed ones (and for the
    inconclusive ones under ``fail_on_undecided``)."""
    undecided = "failure" if fail_on_undecided else "skipped"
    cases: list[tuple[str, str, str, str]] = []
    for t in result.tests:
        base, cur = _values(t, result.metric)
        detail = (f"baseline {base} ({t.n_base} rounds), current {cur} ({t.n_cur} rounds); "
                  "slowdown "
                  f"{t.slowdown:.3f}x (95% CI {t.slowdown_low:.3f}-{t.slowdown_high:.3f}); "
                  f"p={t.p_value:.3g}, q={t.q_value:.3g}; unstable in: {t.unstable_in or '-'}: "
                  f"{t.verdict}")
        if t.regressed:
            cases.append((t.name, "failure", f"{t.slowdown:.3f}x slower (max "
                          f"{1 + result.max_slowdown:.3g}x), q={t.q_value:.2g}", detail))
        elif t.underpowered:
            cases.append((t.name, undecided, t.verdict, detail))
        elif t.inconclusive:
            cases.append((t.name, undecided, f"inconclusive: {t.slowdown:.3f}x slower, but "
                          f"unstable in the {t.unstable_in} run(s)", detail))
        else:
            cases.append((t.name, "pass", "", detail))
    cases += [(name, "skipped", why, "") for name, why in result.skipped.items()]
    cases += [(name, "skipped", f"only in the {side}", "")
              for side, names in result.left_out.items() for name in names]
    cases += [(name, "skipped", f"not comparable: {why}", "")
              for name, why in result.not_comparable.items()]
    props = [("baseline", str(result.baseline)), ("current", str(result.current)),
             ("metric", result.metric), ("alpha", f"{result.alpha:g}"),
             ("max_slowdown", f"{result.max_slowdown:g}"),
             ("host_warning", result.host_warning or ""),
             ("noise_warning", " | ".join(result.noise_warnings))]
    return junit_suite("concbench check", props, cases,
                       suite=f"concbench check ({result.metric})",
                       classname=f"concbench.check.{result.metric}")


def run_check(baseline: Path, current: Path, *, max_slowdown: float = 0.10,
              metric: str = "time", alpha: float = 0.002, markdown: Path | None = None,
              junit: Path | None = None, fail_on_undecided: bool = False) -> int:
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
    fail_on_undecided : bool
        Count inconclusive points (unstable, too few rounds) as failures.

    Returns
    -------
    int
        0 when no point regressed, 1 when one did (or, with
        ``fail_on_undecided``, when one is inconclusive).

    Raises
    ------
    UsageError
        Bad files or values.
    """
    result = check_runs(load(baseline), load(current), max_slowdown=max_slowdown,
                        metric=metric, alpha=alpha)
    if result.host_warning:
        print(f"concbench: warning: {result.host_warning}", file=sys.stderr)
    for warning in result.noise_warnings:
        print(f"concbench: warning: {warning}", file=sys.stderr)
    print(text_report(result), end="")
    publish(markdown_report(result), junit_xml(result, fail_on_undecided), markdown=markdown,
            junit=junit)
    if fail_on_undecided and result.inconclusive:
        return 1
    return result.exit_code
