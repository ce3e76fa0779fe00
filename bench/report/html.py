"""The run report: ``index.html``, ``report.md``, ``summary.csv``, ``recommendations.csv``, charts.

``index.html`` is one self-contained file: the charts are embedded as
``data:`` URIs and the style is inline, so nothing is fetched.  Every string
from a results file or manifest reaches HTML through the autoescaping
environment of :func:`bench.report.export.render` and Markdown through
:func:`bench.report.export.md_escape`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from bench.report.drawing import Chart, ChartPool, cores_of, verdict_jobs
from bench.report.export import data_uri, render
from bench.report.findings import findings, stable_share
from bench.report.interpreters import (
    Part,
    interpreter_findings,
    interpreter_rows,
    interpreter_sentences,
    interpreter_table,
    parts,
    python_label,
)
from bench.report.markdown import render_markdown
from bench.report.status import RunStatus, remeasured_text, run_looks, run_status, scope_text
from bench.report.tables import (
    SECTION_NOTES,
    TABLE_COLUMNS,
    break_even_table,
    calls_table,
    host_caption,
    host_table,
    recommendation_table,
    table_rows,
)
from bench.report.verdicts import decided_text, decision_sentences, decisions_note
from bench.results import store
from bench.results.aggregate import STABLE_HALF_WIDTH, load
from bench.results.calls import (
    calls_frame,
    cap_findings,
    knee_sentences,
    knees,
    service_findings,
)
from bench.results.decisions import Looks, decide
from bench.results.recommend import break_even, recommendations, with_units


@dataclass(frozen=True)
class Verdicts:
    """A run's decisions (:func:`bench.results.decisions.decide`), read with its looks and
    margin, and the recommendations made of them."""

    decisions: pd.DataFrame
    recommended: pd.DataFrame
    looks: Looks
    delta: float
    #: Whether the run raced (``--until decided``): rivals left as they were decided.
    raced: bool

    @classmethod
    def of(cls, tidy: pd.DataFrame, summary: pd.DataFrame, status: RunStatus) -> Verdicts:
        """The decisions of a run whose manifest says ``status`` (:func:`run_looks`)."""
        looks, delta = run_looks(status, tidy)
        decisions = decide(tidy, looks, delta)
        raced = (status.decisions or {}).get("until") == "decided"
        return cls(decisions, recommendations(tidy, summary, delta=delta,
                                              decisions=decisions), looks, delta, raced)


def _findings(split: list[Part], rows: pd.DataFrame, cores: int) -> list[str]:
    """The details below the decisions: the interpreters' comparison (a run of several),
    then each interpreter's findings, labelled with its Python in a run of several (its
    picks are the decisions' sentences)."""
    out = interpreter_sentences(rows)
    for part in split:
        label = f"{python_label(part.host)}: " if len(split) > 1 else ""
        out += interpreter_findings(part.host, part.summary) + [
            label + f for f in findings(part.summary, cores)]
    frame = calls_frame(pd.concat([p.summary for p in split]))
    return (out + knee_sentences(knees(frame)) + cap_findings(frame)
            + service_findings(frame))


def _context(results: Path, split: list[Part], summary: pd.DataFrame, status: RunStatus,
             verdicts: Verdicts, rows: pd.DataFrame) -> dict[str, Any]:
    """What the templates show.  ``summary`` (with units) and ``verdicts`` hold every
    interpreter's rows, ``split`` them by interpreter (:func:`bench.report.interpreters.parts`)
    and ``rows`` compares them (:func:`bench.report.interpreters.interpreter_rows`)."""
    host, recommended = split[0].host, verdicts.recommended
    picks = recommendation_table(summary, recommended)
    calls = calls_table(calls_frame(summary))
    even = break_even_table(summary, break_even(summary))
    stable, total = stable_share(summary)
    return {
        "run_name": str(host.get("run_name") or results.parent.name),
        "results": str(results),
        "caption": host_caption(*(p.host for p in split)),
        "host": host_table(split),
        "decisions": decision_sentences(verdicts.decisions, recommended, summary,
                                        delta=verdicts.delta),
        "decisions_note": decisions_note(verdicts.looks, verdicts.delta),
        "decided": decided_text(recommended, verdicts.delta),
        "verdict_charts": [],
        "findings": _findings(split, rows, cores_of(summary, host)),
        "interpreters": interpreter_table(rows, summary) if len(rows) else None,
        "picks": picks if len(picks) else None,
        "break_even": even if len(even) else None,
        "network": calls if len(calls) else None,
        "stable": stable, "total": total,
        "stable_pct": f"{stable / total:.0%}" if total else "",
        "threshold_pct": f"{STABLE_HALF_WIDTH:.0%}",
        "status": status,
        "remeasured": remeasured_text(status) if status.remeasured else "",
        "scope": scope_text(status) if total else "",
        "charts": [],
        "notes": SECTION_NOTES,
        "columns": TABLE_COLUMNS,
        "rows": table_rows(summary),
    }


def render_html(ctx: dict[str, Any]) -> str:
    """``index.html``: charts embedded as PNG ``data:`` URIs."""
    def shown(charts: list[Chart]) -> list[dict[str, str]]:
        return [{"title": c.title, "uri": data_uri(c.png), "png": c.png.name,
                 "svg": c.svg.name} for c in charts]

    tables = {k: None if ctx[k] is None else
              {"columns": list(ctx[k].columns), "rows": ctx[k].to_numpy().tolist()}
              for k in ("interpreters", "picks", "break_even", "network", "host")}
    return render("report.html.j2", **{**ctx, "charts": shown(ctx["charts"]), "tables": tables,
                                       "verdict_charts": shown(ctx["verdict_charts"])})


def _write_csvs(out_dir: Path, summary: pd.DataFrame, recommended: pd.DataFrame, *,
                network: bool) -> None:
    """``summary.csv``, ``recommendations.csv`` and, for a network run, ``network.csv``."""
    summary.to_csv(out_dir / "summary.csv", index=False)
    recommended.to_csv(out_dir / "recommendations.csv", index=False)
    if network:
        calls_frame(summary).to_csv(out_dir / "network.csv", index=False)


def write_report(results: Path, out_dir: Path) -> Path:
    """Write the report of a results file into ``out_dir``.

    Parameters
    ----------
    results
        A ``results.json`` or a run directory holding one.  When ``run.json``
        sits next to it, failed points and the noise verdict are shown.
    out_dir
        Where ``index.html``, ``report.md``, ``summary.csv``,
        ``recommendations.csv`` and the charts (PNG and SVG) go; created if
        missing.

    Returns
    -------
    Path
        The path of ``index.html``.

    Raises
    ------
    UsageError
        When the results file is missing or not a concbench results file.
    """
    results = store.resolve_results(Path(results))
    out_dir = Path(out_dir)
    with ChartPool() as pool:  # its workers import matplotlib while the data loads
        data = load(results)
        status = run_status(results)
        summary = with_units(data.summary, status.units)
        out_dir.mkdir(parents=True, exist_ok=True)
        split = parts(data, summary)
        verdicts = Verdicts.of(data.tidy, data.summary, status)
        first = verdict_jobs(verdicts.decisions, summary, split[0].host,
                             delta=verdicts.delta, raced=verdicts.raced)
        # the verdicts' and every interpreter's charts, each named (the tables meanwhile)
        charts = pool.draw([(p.summary, p.host) for p in split], out_dir, first=first)
        rows = interpreter_rows(data.tidy, summary, verdicts.recommended, data.interpreters)
        ctx = _context(results, split, summary, status, verdicts, rows)
        _write_csvs(out_dir, data.summary, verdicts.recommended,
                    network=ctx["network"] is not None)
        drawn = charts()
        ctx["verdict_charts"], ctx["charts"] = drawn[:len(first)], drawn[len(first):]
        if len(rows):  # matplotlib in this process only for a run of several interpreters
            from bench.report.charts import interpreter_chart

            ctx["charts"].insert(0, interpreter_chart(rows, data.host, out_dir))
    (out_dir / "report.md").write_text(render_markdown(ctx), encoding="utf-8")
    index = out_dir / "index.html"
    index.write_text(render_html(ctx), encoding="utf-8")
    return index
