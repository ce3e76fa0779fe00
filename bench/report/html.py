"""The run report: ``index.html``, ``report.md``, ``summary.csv``, ``recommendations.csv``, charts.

``index.html`` is one self-contained file: the charts are embedded as
``data:`` URIs and the style is inline, so nothing is fetched.  Every string
from a results file or manifest reaches HTML through the autoescaping
environment of :func:`bench.report.export.render` and Markdown through
:func:`bench.report.export.md_escape`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from bench.report.drawing import Chart, ChartPool, cores_of
from bench.report.export import data_uri, render
from bench.report.findings import findings, stable_share
from bench.report.interpreters import (
    interpreter_findings,
    interpreter_rows,
    interpreter_sentences,
    interpreter_table,
    reference_rows,
)
from bench.report.markdown import render_markdown
from bench.report.status import RunStatus, remeasured_text, run_status, scope_text
from bench.report.tables import (
    SECTION_NOTES,
    TABLE_COLUMNS,
    break_even_table,
    host_caption,
    host_rows,
    recommendation_table,
    table_rows,
)
from bench.results import store
from bench.results.aggregate import STABLE_HALF_WIDTH, RunData, load
from bench.results.recommend import break_even, recommendations, with_units


def _context(results: Path, data_host: dict[str, Any], summary: pd.DataFrame,
             status: RunStatus, charts: list[Chart],
             recommended: pd.DataFrame | None = None) -> dict[str, Any]:
    """What the templates show.  ``summary`` and ``recommended`` are the run's first
    interpreter's rows (:func:`bench.report.interpreters.reference_rows`); a run of several
    adds its own section afterwards (:func:`_add_interpreters`)."""
    cores = cores_of(summary, data_host)
    picks = recommendation_table(summary, recommended) if recommended is not None else None
    even = break_even_table(summary, break_even(summary))
    stable, total = stable_share(summary)
    return {
        "run_name": str(data_host.get("run_name") or results.parent.name),
        "results": str(results),
        "caption": host_caption(data_host),
        "host_rows": host_rows(data_host, summary),
        "findings": interpreter_findings(data_host, summary)
        + findings(summary, cores, recommended=recommended),
        "picks": picks if picks is not None and len(picks) else None,
        "break_even": even if len(even) else None,
        "stable": stable, "total": total,
        "stable_pct": f"{stable / total:.0%}" if total else "",
        "threshold_pct": f"{STABLE_HALF_WIDTH:.0%}",
        "status": status,
        "remeasured": remeasured_text(status) if status.remeasured else "",
        "scope": scope_text(status) if total else "",
        "charts": charts,
        "notes": SECTION_NOTES,
        "columns": TABLE_COLUMNS,
        "rows": table_rows(summary),
        "interpreters": None,
    }


def _add_interpreters(ctx: dict[str, Any], data: RunData, summary: pd.DataFrame,
                      recommended: pd.DataFrame) -> pd.DataFrame:
    """A run of several interpreters: their section, findings and every point in the table.

    ``summary`` and ``recommended`` hold every interpreter's rows.  Returns the
    section's rows (:func:`bench.report.interpreters.interpreter_rows`; empty in a
    run of one).
    """
    rows = interpreter_rows(data.tidy, summary, recommended, data.interpreters)
    if len(data.interpreters) < 2:
        return rows
    ctx["rows"] = table_rows(summary)
    ctx["stable"], ctx["total"] = stable_share(summary)
    ctx["stable_pct"] = f"{ctx['stable'] / ctx['total']:.0%}" if ctx["total"] else ""
    ctx["interpreters"] = interpreter_table(rows, summary) if len(rows) else None
    own = [f for tag, record in list(data.interpreters.items())[1:]
           for f in interpreter_findings({**data.host, **record},
                                         summary[summary["python"].astype(str) == tag])]
    ctx["findings"] = interpreter_sentences(rows) + own + ctx["findings"]
    return rows


def render_html(ctx: dict[str, Any]) -> str:
    """``index.html``: charts embedded as PNG ``data:`` URIs."""
    charts = [{"title": c.title, "uri": data_uri(c.png), "png": c.png.name, "svg": c.svg.name}
              for c in ctx["charts"]]
    tables = {k: None if ctx[k] is None else
              {"columns": list(ctx[k].columns), "rows": ctx[k].to_numpy().tolist()}
              for k in ("interpreters", "picks", "break_even")}
    return render("report.html.j2", **{**ctx, "charts": charts, "tables": tables})


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
        every = with_units(data.summary, status.units)
        summary = reference_rows(every, data.host)  # the first interpreter's, in a run of several
        out_dir.mkdir(parents=True, exist_ok=True)
        charts = pool.draw(summary, data.host, out_dir)  # the tables meanwhile
        recommended = recommendations(data.tidy, data.summary)
        ctx = _context(results, data.host, summary, status, [],
                       reference_rows(recommended, data.host))
        rows = _add_interpreters(ctx, data, every, recommended)
        data.summary.to_csv(out_dir / "summary.csv", index=False)
        recommended.to_csv(out_dir / "recommendations.csv", index=False)
        ctx["charts"] = charts()
        if len(rows):  # matplotlib in this process only for a run of several interpreters
            from bench.report.charts import interpreter_chart

            ctx["charts"].insert(0, interpreter_chart(rows, data.host, out_dir))
    (out_dir / "report.md").write_text(render_markdown(ctx), encoding="utf-8")
    index = out_dir / "index.html"
    index.write_text(render_html(ctx), encoding="utf-8")
    return index
