"""``report.md``: the run report as GitHub-flavoured Markdown, for a CI job summary."""

from __future__ import annotations

from typing import Any

import pandas as pd

from bench.report.export import markdown_table, md_escape
from bench.report.status import RunStatus, remeasured_text
from bench.report.tables import SECTION_NOTES, TABLE_COLUMNS

#: Summary tables longer than this fold into <details> in report.md.
MD_FOLD_ROWS = 40


def _decisions(ctx: dict[str, Any]) -> list[str]:
    """The Decisions section: the decided share beside the stable share, a sentence per
    question, the verdict charts, then what the verdicts mean."""
    stable = (f" {ctx['stable']} of {ctx['total']} points ({ctx['stable_pct']}) are stable."
              if ctx["total"] else "")
    out = ["## Decisions", "", f"**{md_escape(ctx['decided'])}.**{stable}", ""]
    out += [f"- {md_escape(d)}" for d in ctx["decisions"]] + [""]
    for c in ctx["verdict_charts"]:
        out += [f"![{md_escape(c.title)}]({c.png.name})", ""]
    return [*out, md_escape(ctx["decisions_note"]), ""]


def render_markdown(ctx: dict[str, Any]) -> str:
    """``report.md``: GitHub-flavoured Markdown for a CI job summary."""
    status: RunStatus = ctx["status"]
    out = [f"# concbench report: {md_escape(ctx['run_name'])}", "",
           md_escape(ctx["caption"]), ""]
    if status.noise and status.noise["noisy"]:
        out += ["> **Warning: the host was noisy during this run.** "
                + "; ".join(md_escape(r) for r in status.noise["reasons"]), ""]
    if status.problem:
        out += [f"> **Manifest not read:** {md_escape(status.problem)}", ""]
    if status.status and status.status != "complete":
        more = f" {md_escape(status.progress)}" if status.progress else ""
        out += [f"> Run status: **{md_escape(status.status)}**.{more}", ""]
    out += [*_decisions(ctx), "## Details", ""]
    out += [f"- {md_escape(f)}" for f in ctx["findings"]] + [""]
    out += ["## Precision", "",
            f"{ctx['stable']} of {ctx['total']} points ({ctx['stable_pct']}) are stable "
            f"(95 % CI half-width ≤ {ctx['threshold_pct']} of the median).", ""]
    if status.remeasured:
        out += [remeasured_text(status), ""]
    if ctx["scope"]:
        out += [md_escape(ctx["scope"]), ""]
    if status.noise is not None:
        verdict = "noisy" if status.noise["noisy"] else "quiet"
        reasons = "; ".join(md_escape(r) for r in status.noise["reasons"])
        out += [f"Noise check: **{verdict}**" + (f": {reasons}" if reasons else "."), ""]
    if status.failed:
        out += ["## Failed points", "",
                markdown_table(pd.DataFrame(status.failed, columns=["name", "reason"]))]
    for title, key in (("Which Python", "interpreters"), ("Recommendation", "picks"),
                       ("Break-even size", "break_even"), ("Network calls", "network")):
        if ctx[key] is not None:
            out += [f"## {title}", "", SECTION_NOTES[key], "", markdown_table(ctx[key])]
    out += ["## Charts", ""]
    for c in ctx["charts"]:
        out += [f"![{md_escape(c.title)}]({c.png.name})", ""]
    table = markdown_table(pd.DataFrame([r["cells"] for r in ctx["rows"]],
                                        columns=list(TABLE_COLUMNS), dtype=object))
    out += ["## Summary", ""]
    if len(ctx["rows"]) > MD_FOLD_ROWS:
        out += [f"<details><summary>{len(ctx['rows'])} points</summary>", "", table,
                "</details>", ""]
    else:
        out += [table]
    out += ["## Host", "", markdown_table(ctx["host"])]
    return "\n".join(out)
