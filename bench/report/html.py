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

from bench.report.drawing import ChartPool, cores_of
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
from bench.report.status import RunStatus, remeasured_text, run_status, scope_text
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
from bench.results import store
from bench.results.aggregate import STABLE_HALF_WIDTH, load
from bench.results.calls import (
    calls_frame,
    cap_findings,
    knee_sentences,
    knees,
    service_findings,
)
from bench.results.recommend import break_even, recommendations, with_units


def _findings(split: list[Part], rows: pd.DataFrame, recommended: pd.DataFrame,
              cores: int) -> list[str]:
    """The interpreters' comparison (a run of several), then each interpreter's findings:
    labelled with its Python in a run of several."""
    out = interpreter_sentences(rows)
    for part in split:
        label = f"{python_label(part.host)}: " if len(split) > 1 else ""
        mine = recommended[recommended["python"].astype(str) == part.tag]
        out += interpreter_findings(part.host, part.summary) + [
            label + f for f in findings(part.summary, cores, recommended=mine)]
    frame = calls_frame(pd.concat([p.summary for p in split]))
    return (out + knee_sentences(knees(frame)) + cap_findings(frame)
            + service_findings(frame))


def _context(results: Path, split: list[Part], summary: pd.DataFrame, status: RunStatus,
             recommended: pd.DataFrame, rows: pd.DataFrame) -> dict[str, Any]:
    """What the templates show.  ``summary`` (with units) and ``recommended`` hold every
    interpreter's rows, ``split`` them by interpreter (:func:`bench.report.interpreters.parts`)
    and ``rows`` compares them (:func:`bench.report.interpreters.interpreter_rows`)."""
    host = split[0].host
    picks = recommendation_table(summary, recommended)
    calls = calls_table(calls_frame(summary))
    even = break_even_table(summary, break_even(summary))
    stable, total = stable_share(summary)
    return {
        "run_name": str(host.get("run_name") or results.parent.name),
        "results": str(results),
        "caption": host_caption(*(p.host for p in split)),
        "host": host_table(split),
        "findings": _findings(split, rows, recommended, cores_of(summary, host)),
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
    charts = [{"title": c.title, "uri": data_uri(c.png), "png": c.png.name, "svg": c.svg.name}
              for c in ctx["charts"]]
    tables = {k: None if ctx[k] is None else
              {"columns": list(ctx[k].columns), "rows": ctx[k].to_numpy().tolist()}
              for k in ("interpreters", "picks", "break_even", "network", "host")}
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
        summary = with_units(data.summary, status.units)
        out_dir.mkdir(parents=True, exist_ok=True)
        split = parts(data, summary)
        # every interpreter's charts, each named (the tables meanwhile)
        charts = pool.draw([(p.summary, p.host) for p in split], out_dir)
        recommended = recommendations(data.tidy, data.summary)
        rows = interpreter_rows(data.tidy, summary, recommended, data.interpreters)
        ctx = _context(results, split, summary, status, recommended, rows)
        data.summary.to_csv(out_dir / "summary.csv", index=False)
        recommended.to_csv(out_dir / "recommendations.csv", index=False)
        if ctx["network"] is not None:
            calls_frame(data.summary).to_csv(out_dir / "network.csv", index=False)
        ctx["charts"] = charts()
        if len(rows):  # matplotlib in this process only for a run of several interpreters
            from bench.report.charts import interpreter_chart

            ctx["charts"].insert(0, interpreter_chart(rows, data.host, out_dir))
    (out_dir / "report.md").write_text(render_markdown(ctx), encoding="utf-8")
    index = out_dir / "index.html"
    index.write_text(render_html(ctx), encoding="utf-8")
    return index
