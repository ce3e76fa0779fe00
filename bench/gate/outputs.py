"""Where the gates' verdicts go: aligned text tables, Markdown tables, files, the CI summary.

Shared by ``concbench check`` (:mod:`bench.gate.check_report`), ``concbench ab``
(:mod:`bench.gate.ab_report`) and ``concbench check --history``
(:mod:`bench.gate.history`).
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

from bench.errors import UsageError


def fmt_seconds(value: float) -> str:
    """A duration with a readable unit: ``12.3 ms``."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if abs(value) >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value * 1e9:.3g} ns"


def text_table(rows: Sequence[Sequence[str]]) -> list[str]:
    """Rows (the first is the header) as left-aligned columns, a rule under the header."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
             for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return lines


def junit_suite(title: str, props: Sequence[tuple[str, str]],
                cases: Sequence[tuple[str, str, str, str]], *, suite: str = "",
                classname: str = "") -> str:
    """A JUnit document: ``cases`` are (name, kind, message, detail), kind one of
    ``pass``, ``failure`` or ``skipped``; ``suite`` and ``classname`` default to
    ``title`` (dotted for the class)."""
    suites = ET.Element("testsuites", name=title)
    node = ET.SubElement(suites, "testsuite", {
        "name": suite or title, "tests": str(len(cases)),
        "failures": str(sum(c[1] == "failure" for c in cases)), "errors": "0",
        "skipped": str(sum(c[1] == "skipped" for c in cases)), "time": "0"})
    properties = ET.SubElement(node, "properties")
    for key, value in props:
        ET.SubElement(properties, "property", name=key, value=value)
    classname = classname or title.replace(" ", ".")
    for name, kind, message, detail in cases:
        case = ET.SubElement(node, "testcase", classname=classname, name=name, time="0")
        if kind == "failure":
            ET.SubElement(case, "failure", type="regression", message=message).text = detail
            continue
        if kind == "skipped":
            ET.SubElement(case, "skipped", message=message)
        if detail:
            ET.SubElement(case, "system-out").text = detail
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def write_text(path: Path, text: str, *, append: bool = False) -> None:
    """Write (or append) ``text``; a path that cannot be written is a usage error."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a" if append else "w", encoding="utf-8") as fh:
            fh.write(text)
    except OSError as exc:
        raise UsageError(f"{path}: cannot write ({exc.strerror or exc})") from None


def publish(markdown_text: str, junit_text: str, *, markdown: Path | None,
            junit: Path | None) -> None:
    """Write the Markdown and JUnit files asked for; append the Markdown to
    ``$GITHUB_STEP_SUMMARY`` when that is set."""
    for path, text in ((markdown, markdown_text), (junit, junit_text)):
        if path is not None:
            write_text(Path(path), text)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        write_text(Path(summary), markdown_text + "\n", append=True)
