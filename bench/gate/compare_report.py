"""Write a comparison: ``index.html``, ``comparison.md``, ``points.csv``, ``hosts.csv``, charts.

Every string from a results file reaches HTML through the autoescaping
environment of :func:`bench.report.export.render`, and Markdown through
:func:`bench.report.export.md_escape`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd

from bench.errors import UsageError
from bench.gate.compare import NOT_COMPARABLE, Comparison, compare_runs
from bench.gate.compare_plots import plot_efficiency_overlay, plot_speedup_overlay, series
from bench.report.export import (
    data_uri,
    fmt_ms,
    fmt_num,
    fmt_range,
    markdown_table,
    md_escape,
    render,
)
from bench.report.figures import new_figure, save_figure
from bench.report.tables import metrics_text
from bench.results.aggregate import load


def point_rows(c: Comparison) -> list[dict[str, Any]]:
    """One dict per common point: its name, its interpreter's tag ("" in runs of one) and,
    per run, formatted cells."""
    by_name = {name: g.set_index("run") for name, g in c.points.groupby("name", sort=False)}
    rows = []
    for name in c.common:
        g = by_name[name]
        cells = []
        for i, label in enumerate(c.labels):
            r = g.loc[label]
            cells.append({
                "median": fmt_ms(r["median_s"]), "ci": fmt_range(r["ci_low_s"] * 1e3,
                                                        r["ci_high_s"] * 1e3),
                "ratio": "" if i == 0 else fmt_num(float(r["ratio"])),
                "ratio_ci": "" if i == 0 else fmt_range(r["ratio_ci_low"], r["ratio_ci_high"]),
                "slower": i > 0 and float(r["ratio_ci_low"]) > 1,
                "faster": i > 0 and float(r["ratio_ci_high"]) < 1,
                "speedup": fmt_num(float(r["speedup"])),
                "efficiency": fmt_num(float(r["efficiency"])),
                "metrics": metrics_text(r.to_dict()),
            })
        rows.append({"name": name, "python": str(g["python"].iloc[0]), "cells": cells})
    return rows


def charts(c: Comparison, out_dir: Path) -> list[dict[str, str]]:
    """Draw the overlay charts; return ``[{"title", "png", "svg", "uri"}]``."""
    out = []
    keys = c.points[["workload", "tasks"]].drop_duplicates().itertuples(index=False)
    for workload, tasks in keys:
        if series(c.points, workload=str(workload), tasks=int(tasks)).empty:
            continue
        fig, (ax1, ax2) = new_figure(2)
        plot_speedup_overlay(ax1, c.points, workload=str(workload), tasks=int(tasks))
        plot_efficiency_overlay(ax2, c.points, workload=str(workload), tasks=int(tasks))
        paths = save_figure(fig, out_dir / "charts", f"compare_{workload}_t{tasks}")
        out.append({"title": f"{workload}, T={tasks}",
                    "png": paths["png"].relative_to(out_dir).as_posix(),
                    "svg": paths["svg"].relative_to(out_dir).as_posix(),
                    "uri": data_uri(paths["png"])})
    return out


def markdown(c: Comparison) -> str:
    """The comparison as GitHub-flavoured Markdown."""
    lines = ["# concbench comparison", "",
             "Runs (the first is the reference of the ratios): "
             + ", ".join(f"{md_escape(label)} ({md_escape(r.path)})"
                         for label, r in zip(c.labels, c.runs, strict=True)) + ".", ""]
    if c.differences:
        lines += ["**Host records differ:** "
                  + "; ".join(md_escape(d) for d in c.differences) + ".", ""]
    hosts = c.hosts.copy()
    hosts["key"] = [f"{k} (differs)" if d and m else k
                    for k, d, m in zip(hosts["key"], hosts["differs"], hosts["matters"],
                                       strict=True)]
    lines += ["## Hosts", "", markdown_table(hosts[["key", *c.labels]])]
    records = []
    rows = point_rows(c)
    several = any(row["python"] for row in rows)  # runs of several interpreters
    for row in rows:
        rec: dict[str, str] = {"point": row["name"]}
        if several:
            rec["python"] = row["python"]
        for label, cell in zip(c.labels, row["cells"], strict=True):
            text = f"{cell['median']} ms"
            if cell["ratio"]:
                text += f" ({cell['ratio']}x, CI {cell['ratio_ci']})"
            rec[f"{label}: median"] = text
            rec[f"{label}: speedup"] = cell["speedup"]
            rec[f"{label}: metrics"] = cell["metrics"]
        records.append(rec)
    table = pd.DataFrame.from_records(records)
    lines += ["## Points", "", "Median batch time, ratio to the first run with its 95 % CI, "
              "each run's own speedup, and its metrics.", "", markdown_table(table)]
    left = [(label, names) for label, names in c.left_out.items() if names]
    if left:
        lines += ["## Points left out (not in every run)", ""]
        lines += [f"- {md_escape(label)}: " + ", ".join(md_escape(n) for n in names)
                  for label, names in left]
        lines.append("")
    return "\n".join(lines)


def write_files(c: Comparison, out_dir: Path) -> Path:
    """Write every file of the comparison into ``out_dir``; return ``index.html``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    c.points.to_csv(out_dir / "points.csv", index=False)
    c.hosts.to_csv(out_dir / "hosts.csv", index=False)
    (out_dir / "comparison.md").write_text(markdown(c), encoding="utf-8")
    hosts = [{"key": r["key"], "values": [r[label] for label in c.labels],
              "differs": bool(r["differs"]), "matters": bool(r["matters"])}
             for _, r in c.hosts.iterrows()]
    rows = point_rows(c)
    html = render(
        "compare.html.j2",
        runs=[{"label": label, "path": str(r.path)}
              for label, r in zip(c.labels, c.runs, strict=True)],
        labels=c.labels, hosts=hosts, differences=c.differences, rows=rows,
        several=any(row["python"] for row in rows),
        left_out=[(label, names) for label, names in c.left_out.items() if names],
        charts=charts(c, out_dir),
    )
    index = out_dir / "index.html"
    index.write_text(html, encoding="utf-8")
    return index


def write_comparison(paths: Sequence[Path], out_dir: Path) -> Path:
    """Compare the runs at ``paths`` and write HTML, Markdown and CSV to ``out_dir``.

    Parameters
    ----------
    paths : Sequence[pathlib.Path]
        Results files or run directories, two or more; the first is the
        reference of the ratios.
    out_dir : pathlib.Path
        Where ``index.html``, ``comparison.md``, ``points.csv``, ``hosts.csv``
        and the charts go (created if needed).

    Returns
    -------
    pathlib.Path
        The path of ``index.html``.

    Points of the same name doing different work are listed under
    :data:`NOT_COMPARABLE` with the points left out, each with its reason.

    Raises
    ------
    UsageError
        Fewer than two runs, an unreadable file, or no comparable common point.
    """
    if len(paths) < 2:
        raise UsageError("compare needs at least two results files")
    comparison = compare_runs([load(p) for p in paths])
    if comparison.not_comparable:
        # the renderers list left-out points; the not comparable ones go with them, reasons shown
        listed = [f"{n} ({why})" for n, why in comparison.not_comparable.items()]
        comparison = replace(comparison,
                             left_out={**comparison.left_out, NOT_COMPARABLE: listed})
    return write_files(comparison, Path(out_dir))
