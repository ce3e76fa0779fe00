"""Shared pieces of the exporters (run report, comparison report, gate output).

HTML goes through one jinja2 environment with autoescaping on, so every
string that came from a results file is escaped; Markdown through
:func:`md_escape`.  No matplotlib here (figures: :mod:`bench.report.figures`),
so that a report's parent process can fork its chart workers before anyone
imports it.
"""

from __future__ import annotations

import base64
import hashlib
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd

#: Longest file name stem :func:`safe_stem` returns (file systems allow 255 bytes).
MAX_STEM = 100

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("bench.report", "templates"),
    autoescape=jinja2.select_autoescape(["html", "j2"], default_for_string=True),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def safe_stem(text: str) -> str:
    """A file name stem from a label: no separators, no dots up front, at most 100 characters.

    A longer label keeps its first 80 characters and a hash of the whole, so
    different long labels still give different stems.
    """
    keep = "".join(c if c.isalnum() or c in "-_" else "_" for c in text).strip("_") or "chart"
    if len(keep) > MAX_STEM:
        keep = f"{keep[:80]}_{hashlib.sha1(text.encode()).hexdigest()[:12]}"
    return keep


def data_uri(png: Path) -> str:
    """A ``data:`` URI embedding a PNG, for self-contained HTML."""
    return "data:image/png;base64," + base64.b64encode(png.read_bytes()).decode("ascii")


def render(template: str, **context: Any) -> str:
    """Render a template of ``bench/report/templates`` (HTML autoescaped)."""
    return _ENV.get_template(template).render(**context)


def fmt_num(value: Any, digits: int = 3) -> str:
    """Format a number for tables: significant digits, "" for missing."""
    if value is None or value is pd.NA:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return f"{value:.{digits}g}"
    return str(value)


def fmt_ms(seconds: Any) -> str:
    """Seconds as milliseconds, 3 significant digits ("" for missing)."""
    return fmt_num(float(seconds) * 1e3, 3)


def fmt_range(low: Any, high: Any, scale: float = 1.0) -> str:
    """``low-high`` with an en dash (scaled, 3 significant digits); "" when one is missing."""
    a, b = fmt_num(float(low) * scale, 3), fmt_num(float(high) * scale, 3)
    return f"{a}\N{EN DASH}{b}" if a and b else ""


def md_escape(text: Any) -> str:
    """Escape a value for a GitHub-flavoured Markdown table cell."""
    s = str(text)
    for ch in ("\\", "|", "`", "*", "_", "<", ">", "[", "]", "&"):
        s = s.replace(ch, "\\" + ch)
    return s.replace("\r", " ").replace("\n", " ")


def markdown_table(table: pd.DataFrame | Sequence[Sequence[Any]], *, align: str = "",
                   strong: Callable[[Sequence[str]], bool] | None = None) -> str:
    """A GitHub-flavoured Markdown table, every cell escaped.

    Parameters
    ----------
    table
        A DataFrame (its columns are the header; numbers go through
        :func:`fmt_num`), or rows of strings whose first row is the header.
    align
        One ``l`` or ``r`` per column (default: all left).
    strong
        Rows (as strings) for which it returns True are set in bold.
    """
    if isinstance(table, pd.DataFrame):
        rows = [[str(c) for c in table.columns],
                *([fmt_num(v) for v in r] for r in table.itertuples(index=False))]
    else:
        rows = [[str(c) for c in r] for r in table]
    align = align or "l" * len(rows[0])
    lines = ["| " + " | ".join(md_escape(c) for c in rows[0]) + " |",
             "|" + "|".join("--:" if a == "r" else "---" for a in align) + "|"]
    for r in rows[1:]:
        cells = [md_escape(c) for c in r]
        if strong is not None and strong(r):
            cells = [f"**{c}**" for c in cells]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
