"""What ``concbench check --history`` prints and writes: the verdicts, what each point can see."""

from __future__ import annotations

import sys
from pathlib import Path

from bench.gate.history import HistoryResult, HistoryTest, check, load_history
from bench.gate.outputs import fmt_seconds, junit_suite, publish, text_table
from bench.report.export import markdown_table, md_escape
from bench.results.aggregate import load
from bench.scenarios.metrics import METRICS

#: Visibility sentences printed in the text output (all of them go to the Markdown).
SHOWN = 5


def _value(t: HistoryTest, value: float) -> str:
    spec = METRICS.get(t.metric)
    if spec is not None:  # judged oriented bigger-is-worse: shown as measured
        return spec.show(value if spec.lower_is_better else 1 / value).replace(spec.prefix, "", 1)
    return f"{value:.3g}x" if t.metric == "speedup" else fmt_seconds(value)


def _rows(result: HistoryResult) -> list[list[str]]:
    rows = [["point", "figure", "history", "current", "slowdown", "visible from", "p",
             "verdict"]]
    for t in sorted(result.tests, key=lambda t: (not t.regressed, -t.slowdown)):
        rows.append([t.name, t.metric, f"{_value(t, t.centre)} (n={t.runs})",
                     _value(t, t.current), f"{t.slowdown:.3f}x", f"{t.visible:.2f}x",
                     f"{t.p_value:.2g}", "REGRESSED" if t.regressed else "ok"])
    return rows


def headline(result: HistoryResult) -> str:
    """One line: regressed figures, or why the gate abstains."""
    if not result.tests:
        most = max(result.abstained.values(), default=0)
        return (f"abstains: {most} matching run(s) in the history, {result.min_runs} needed "
                f"({result.other_hosts} run(s) from other hosts not used)")
    bad = len(result.regressed)
    text = (f"{bad} of {len(result.tests)} figures regressed" if bad
            else f"no regression in {len(result.tests)} figures")
    if result.abstained:
        text += f", {len(result.abstained)} points not judged (too little history)"
    return text


def rule(result: HistoryResult) -> str:
    """The decision rule in words."""
    return (f"against {result.matching} history run(s) of this host; a figure regressed when "
            "beyond its one-sided prediction bound (Bonferroni over the figures, "
            f"alpha {result.alpha:g}) and slower than {1 + result.max_slowdown:.3g}x the "
            "history's centre")


def _advice(result: HistoryResult) -> list[str]:
    blind = [t for t in result.tests if t.visible > 1.25]
    if not blind:
        return []
    return [f"{len(blind)} of {len(result.tests)} figures cannot see a 25% slowdown here; "
            "use concbench ab (base and head in one job) for those"]


def text_report(result: HistoryResult) -> str:
    """The table, what the least sensitive points can see, the headline."""
    lines = text_table(_rows(result)) if result.tests else []
    lines += result.visibility()[:SHOWN]
    lines += _advice(result)
    lines.append(f"concbench check --history: {headline(result)} ({rule(result)})")
    return "\n".join(lines) + "\n"


def markdown_report(result: HistoryResult) -> str:
    """A GitHub-flavoured Markdown section."""
    icon = ":x:" if result.regressed else ":white_check_mark:"
    out = [f"### {icon} concbench check --history: {md_escape(headline(result))}", "",
           f"{md_escape(rule(result))}.", ""]
    if result.tests:
        out += [markdown_table(_rows(result), align="llrrrrrl",
                               strong=lambda r: r[-1] == "REGRESSED")]
    out += [f"- {md_escape(s)}" for s in [*_advice(result), *result.visibility()]]
    return "\n".join(out) + "\n"


def junit_xml(result: HistoryResult, fail_on_undecided: bool = False) -> str:
    """One test case per judged figure; abstained points skipped (failed, when asked)."""
    cases: list[tuple[str, str, str, str]] = []
    for t in result.tests:
        detail = t.sentence() + f"; slowdown {t.slowdown:.3f}x, p={t.p_value:.3g}"
        cases.append((f"{t.name} ({t.metric})", "failure" if t.regressed else "pass",
                      f"{t.slowdown:.3f}x slower than its history", detail))
    for name, n in result.abstained.items():
        cases.append((name, "failure" if fail_on_undecided else "skipped",
                      f"not judged: {n} matching run(s), "
                      f"{result.min_runs} needed", ""))
    return junit_suite("concbench history", [("alpha", f"{result.alpha:g}")], cases)


def run_history_check(history: Path, current: Path, *, max_slowdown: float, alpha: float,
                      min_runs: int, metric: str | None = None, markdown: Path | None = None,
                      junit: Path | None = None, fail_on_undecided: bool = False) -> int:
    """Judge ``current`` against ``history``; print and write the verdict; the exit code.

    ``metric`` judges one figure of each point (None: time and speedup);
    ``fail_on_undecided`` fails the points the history could not judge.
    """
    result = check(load_history(history), load(current), max_slowdown=max_slowdown,
                   alpha=alpha, min_runs=min_runs, metric=metric)
    if not result.tests:
        print(f"concbench: check --history {headline(result)}", file=sys.stderr)
    print(text_report(result), end="")
    publish(markdown_report(result), junit_xml(result, fail_on_undecided), markdown=markdown,
            junit=junit)
    return result.exit_code(fail_on_undecided)
