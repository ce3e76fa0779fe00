"""The run report: ``index.html``, ``report.md``, ``summary.csv``, ``recommendations.csv``, charts.

``index.html`` is one self-contained file: the charts are embedded as
``data:`` URIs and the style is inline, so nothing is fetched.  Every string
from a results file or manifest reaches HTML through the autoescaping
environment of :func:`bench.report.export.render` and Markdown through
:func:`bench.report.export.md_escape`.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.axes import Axes

from bench.errors import UsageError
from bench.report import plots
from bench.report.export import (
    data_uri,
    fmt_ms,
    fmt_num,
    fmt_range,
    markdown_table,
    md_escape,
    new_figure,
    render,
    save_figure,
)
from bench.report.findings import (
    break_even_table,
    findings,
    recommendation_table,
    stable_share,
)
from bench.results import store
from bench.results.aggregate import STABLE_HALF_WIDTH, SUMMARY_COLUMNS, load
from bench.results.recommend import break_even, recommendations, with_units
from bench.scenarios.grid import PROFILES

#: Summary tables longer than this fold into <details> in report.md.
MD_FOLD_ROWS = 40
#: At most this many processes draw charts.
MAX_RENDER_WORKERS = 4


@dataclass(frozen=True)
class Chart:
    """One saved chart: file stem, title, and its PNG and SVG files."""

    stem: str
    title: str
    png: Path
    svg: Path


@dataclass
class RunStatus:
    """What the manifest ``run.json`` tells about the run (all optional)."""

    status: str = ""
    failed: list[dict[str, str]] = field(default_factory=list)
    noise: dict[str, Any] | None = None
    problem: str = ""
    #: Points measured in more rounds than planned, and their extra rounds in all.
    remeasured: int = 0
    extra_rounds: int = 0
    planned_rounds: int = 0
    #: The unit of each declared workload's task sizes (the run's settings).
    units: dict[str, str] = field(default_factory=dict)


def run_status(results: Path) -> RunStatus:
    """Read failed points, extra rounds and the noise verdict from ``run.json`` next to ``results``.

    A missing manifest gives an empty status; an unreadable one is reported
    in ``problem`` rather than stopping the report.
    """
    run_dir = results.parent
    if not (run_dir / store.MANIFEST).is_file():
        return RunStatus()
    try:
        manifest = store.read_manifest(run_dir)
    except UsageError as exc:
        return RunStatus(problem=str(exc))
    except (TypeError, ValueError) as exc:  # e.g. a "format" that is not a number
        return RunStatus(problem=f"{run_dir / store.MANIFEST}: not a valid run manifest ({exc})")
    entries = manifest.get("points")
    points = [p for p in entries if isinstance(p, dict)] if isinstance(entries, list) else []
    failed = [{"name": str(p.get("name", "?")), "reason": str(p.get("reason") or "no reason")}
              for p in points if p.get("status") == "failed"]
    rounds = [r for p in points
              if isinstance(r := p.get("rounds"), int) and not isinstance(r, bool) and r > 0]
    settings = manifest.get("settings")
    grid = settings.get("grid") if isinstance(settings, dict) else None
    profile = PROFILES.get(str(grid.get("profile"))) if isinstance(grid, dict) else None
    planned = profile.rounds if profile is not None else min(rounds, default=0)
    more = [r - planned for r in rounds if r > planned]
    noise = manifest.get("noise")
    if isinstance(noise, dict) and "noisy" in noise:
        reasons = noise.get("reasons")
        verdict = {"noisy": bool(noise["noisy"]),
                   "reasons": [str(r) for r in reasons] if isinstance(reasons, list) else []}
        extra = {k: v for k, v in noise.items() if k not in ("noisy", "reasons")
                 and isinstance(v, int | float | str)}
        noise = {**verdict, "details": {k: fmt_num(v, 3) for k, v in sorted(extra.items())}}
    else:
        noise = None
    declared = settings.get("declared") if isinstance(settings, dict) else None
    units = {str(w["name"]): str(w["unit"]) for w in declared or []
             if isinstance(w, dict) and "name" in w and w.get("unit")} \
        if isinstance(declared, list) else {}
    return RunStatus(str(manifest.get("status", "")), failed, noise,
                     remeasured=len(more), extra_rounds=sum(more), units=units,
                     planned_rounds=planned)


# ------------------------------------------------------------------------ charts
def _cores(summary: pd.DataFrame, host: dict[str, Any]) -> int:
    return int(host.get("usable_cores") or (summary["cores"].max() if len(summary) else 1))


def _panel_figure(stem: str, title: str, panels: list[str],
                  draw: Callable[[Axes, str], None], host: dict[str, Any],
                  out_dir: Path, *, width: float = 6.4) -> Chart:
    ncols = min(len(panels), 2)
    fig, axes = new_figure(ncols, math.ceil(len(panels) / ncols), width=width)
    for ax, panel in zip(axes, panels, strict=False):
        draw(ax, panel)
    for ax in axes[len(panels):]:
        ax.remove()
    plots.add_caption(fig, host)
    paths = save_figure(fig, out_dir, stem)
    return Chart(paths["png"].stem, title, paths["png"], paths["svg"])


def _workloads(summary: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(plots.steady(summary)["workload"]))


def _speedup_chart(summary: pd.DataFrame, host: dict[str, Any], out_dir: Path) -> Chart:
    cores = _cores(summary, host)
    return _panel_figure(
        "speedup", "Speedup vs workers, per workload", _workloads(summary),
        lambda ax, wl: plots.plot_speedup(ax, summary, workload=wl, cores=cores), host, out_dir)


def _wall_time_chart(summary: pd.DataFrame, host: dict[str, Any], out_dir: Path) -> Chart:
    cores = _cores(summary, host)
    return _panel_figure(
        "wall_time", "Wall time vs task count (log-log), per workload", _workloads(summary),
        lambda ax, wl: plots.plot_wall_time(ax, summary, workload=wl, cores=cores),
        host, out_dir)


def _efficiency_chart(summary: pd.DataFrame, host: dict[str, Any], out_dir: Path) -> Chart:
    """One heatmap per pooled model, side by side, sharing one colour scale."""
    series = plots.pooled_series(summary)
    pooled = plots.steady(summary)
    pooled = pooled[pooled["workers"].notna()]
    top = float(pooled["efficiency"].max())
    # efficiency is 1 at best; cells beating the ideal (noise) stretch the scale a little
    vmax = plots.efficiency_vmax(pooled["efficiency"])
    rows = len(pooled.drop_duplicates(["workload", "tasks"]))
    ncols = min(len(series), 3 if rows < 8 else 5)
    fig, axes = new_figure(ncols, math.ceil(len(series) / ncols), width=4.2 if rows < 8 else 3.6,
                           height=max(3.0, 0.22 * rows + 1.4))
    for ax, (model, sm, _) in zip(axes, series, strict=False):
        plots.plot_efficiency_heatmap(ax, summary, model=model, start_method=sm,
                                      colorbar=False, vmax=vmax)
    for ax in axes[len(series):]:
        ax.remove()
    images = [im for ax in fig.axes for im in ax.images]
    fig.colorbar(images[0], ax=fig.axes, label=plots.EFFICIENCY_LABEL, shrink=0.9,
                 extend="max" if top > vmax else "neither")
    fig.suptitle("Efficiency = ideal time / measured time per pooled model, "
                 "tasks \N{MULTIPLICATION SIGN} workers")
    plots.add_caption(fig, host)
    paths = save_figure(fig, out_dir, "efficiency")
    title = "Efficiency heatmaps (tasks \N{MULTIPLICATION SIGN} workers) per pooled model"
    return Chart(paths["png"].stem, title, paths["png"], paths["svg"])


def _lesson_chart(summary: pd.DataFrame, host: dict[str, Any], out_dir: Path) -> Chart:
    cores = _cores(summary, host)
    return _panel_figure(
        "sleep_lesson", "The seed's lesson: waiting tasks, overlapped or one after another",
        ["lesson"],
        lambda ax, _: plots.plot_sleep_lesson(ax, summary, cores=cores), host, out_dir,
        width=8.0)


def _sized(summary: pd.DataFrame) -> list[str]:
    """Workloads measured at more than one task size."""
    return [wl for wl in _workloads(summary) if len(plots.sizes(summary, wl)) > 1]


def _size_chart(summary: pd.DataFrame, host: dict[str, Any], out_dir: Path) -> Chart:
    return _panel_figure(
        "speedup_size", "Speedup vs task size per pooled model (best W at each size)",
        _sized(summary), lambda ax, wl: plots.plot_speedup_vs_size(ax, summary, workload=wl),
        host, out_dir)


def _cold_chart(summary: pd.DataFrame, host: dict[str, Any], out_dir: Path) -> Chart:
    return _panel_figure("cold_start", "Pool cold start per start method vs warm batch",
                         ["cold"], lambda ax, _: plots.plot_cold_start(ax, summary),
                         host, out_dir)


ChartFn = Callable[[pd.DataFrame, dict[str, Any], Path], Chart]

#: Chart kinds in display order.
CHARTS: dict[str, ChartFn] = {
    "speedup": _speedup_chart, "speedup_size": _size_chart, "wall_time": _wall_time_chart,
    "efficiency": _efficiency_chart, "sleep_lesson": _lesson_chart, "cold_start": _cold_chart,
}


def chart_kinds(summary: pd.DataFrame, host: dict[str, Any]) -> list[str]:
    """The chart kinds the run's data supports, in display order."""
    kinds = []
    if _workloads(summary):
        kinds += ["speedup", *(["speedup_size"] if _sized(summary) else []), "wall_time"]
    if plots.pooled_series(summary) and summary["efficiency"].notna().any():
        kinds.append("efficiency")  # workloads of unknown resource kind have no ideal
    if not plots.lesson_bars(summary, cores=_cores(summary, host)).empty:
        kinds.append("sleep_lesson")
    if (summary["metric"] == "cold").any():
        kinds.append("cold_start")
    return kinds


def _render(kind: str, summary: pd.DataFrame, host: dict[str, Any], out_dir: Path) -> Chart:
    return CHARTS[kind](summary, host, out_dir)


def render_workers(n_charts: int) -> int:
    """Processes to draw charts in: up to the usable CPUs, 1 where forking is unsafe.

    Drawing is pure-Python matplotlib work; forked workers (which inherit
    the imports) roughly divide the report's time by the CPUs.  Only on
    Linux, and never from a process already running threads.
    """
    if n_charts < 2 or threading.active_count() > 1 or not sys.platform.startswith("linux"):
        return 1
    return max(1, min(n_charts, len(os.sched_getaffinity(0)), MAX_RENDER_WORKERS))


#: Signals the chart workers leave to the parent.
_INTERRUPTS = frozenset({signal.SIGINT, signal.SIGTERM})


def _chart_worker_init() -> None:
    """Start of a chart worker: Ctrl-C is the parent's business, SIGTERM ends the worker.

    A terminal's Ctrl-C reaches the whole foreground process group, workers
    included; the parent stops and ends them itself, so they ignore SIGINT
    rather than each printing a traceback.  They were forked with both
    signals blocked (see :func:`build_charts`) and unblock them here.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _INTERRUPTS)


def build_charts(summary: pd.DataFrame, host: dict[str, Any], out_dir: Path, *,
                 workers: int | None = None) -> list[Chart]:
    """Draw and save every chart the run's data supports, one figure per chart kind.

    Panels are per workload or pooled model, never per point, so the number
    of figures stays bounded however large the grid.  ``workers`` (default
    :func:`render_workers`) processes draw the figures.  Interrupted (Ctrl-C,
    SIGTERM), the workers are ended at once rather than left to finish their
    charts.
    """
    kinds = chart_kinds(summary, host)
    workers = render_workers(len(kinds)) if workers is None else workers
    if workers <= 1:
        return [_render(k, summary, host, out_dir) for k in kinds]
    costly_first = sorted(kinds, key=lambda k: k not in ("efficiency", "wall_time"))
    ctx = multiprocessing.get_context("fork")
    # Signals stay blocked while the pool forks its workers (they inherit the mask
    # until their initializer runs), so an interrupt never lands half-way through
    # its start; a pending one is raised inside the with block, which ends the pool.
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, _INTERRUPTS)
    try:
        with ctx.Pool(workers, initializer=_chart_worker_init) as pool:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
            pending = {k: pool.apply_async(_render, (k, summary, host, out_dir))
                       for k in costly_first}
            return [pending[k].get() for k in kinds]
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)


# ------------------------------------------------------------------------ tables
#: What the recommendation and break-even tables show (HTML and Markdown).
SECTION_NOTES = {
    "picks": ("For each workload, task size and task count T: the fastest model and worker "
              "count, its speedup over sequential with its 95 % CI, and the points statistically "
              "tied with it (the 95 % CI of their per-round ratio to it contains 1). All columns "
              "are in recommendations.csv."),
    "break_even": ("The smallest measured task size at which each pool, at some worker count, "
                   "beats sequential with 95 % confidence (its speedup CI's low end above 1)."),
}
#: Headings of the summary table shown in HTML and Markdown.
TABLE_COLUMNS = ("point", "n", "median ms", "95 % CI ms", "CI ± %", "speedup",
                 "speedup 95 % CI", "ideal ms", "efficiency", "precision")


def table_rows(summary: pd.DataFrame) -> list[dict[str, Any]]:
    """The summary table as display strings, one dict per point.

    Each dict has ``cells`` (in the order of :data:`TABLE_COLUMNS`) and
    ``stable`` (the CI half-width is within 5 % of the median).
    """
    rows = []
    for r in summary.itertuples(index=False):
        stable = bool(r.stable)
        cells = [str(r.name), str(r.n), fmt_ms(r.median_s), fmt_range(r.ci_low_s, r.ci_high_s, 1e3),
                 fmt_num(float(r.ci_half_pct), 2), fmt_num(float(r.speedup)),
                 fmt_range(r.speedup_ci_low, r.speedup_ci_high), fmt_ms(r.ideal_s),
                 fmt_num(float(r.efficiency)),
                 "stable" if stable else "unstable"]
        rows.append({"cells": cells, "stable": stable})
    return rows


def _host_rows(host: dict[str, Any]) -> list[tuple[str, str]]:
    return [(str(k), str(v)) for k, v in sorted(host.items())]


def _context(results: Path, data_host: dict[str, Any], summary: pd.DataFrame,
             status: RunStatus, charts: list[Chart],
             recommended: pd.DataFrame | None = None) -> dict[str, Any]:
    cores = _cores(summary, data_host)
    picks = recommendation_table(summary, recommended) if recommended is not None else None
    even = break_even_table(summary, break_even(summary))
    stable, total = stable_share(summary)
    return {
        "run_name": str(data_host.get("run_name") or results.parent.name),
        "results": str(results),
        "caption": plots.host_caption(data_host),
        "host_rows": _host_rows(data_host),
        "findings": findings(summary, cores, recommended=recommended),
        "picks": picks if picks is not None and len(picks) else None,
        "break_even": even if len(even) else None,
        "stable": stable, "total": total,
        "stable_pct": f"{stable / total:.0%}" if total else "",
        "threshold_pct": f"{STABLE_HALF_WIDTH:.0%}",
        "status": status,
        "remeasured": remeasured_text(status) if status.remeasured else "",
        "charts": charts,
        "notes": SECTION_NOTES,
        "columns": TABLE_COLUMNS,
        "rows": table_rows(summary),
    }


def remeasured_text(status: RunStatus) -> str:
    """One sentence on the points that got extra rounds because their intervals were widest."""
    s = "s" if status.remeasured != 1 else ""
    return (f"{status.remeasured} point{s} whose intervals were widest after the "
            f"{status.planned_rounds} planned round{'s' * (status.planned_rounds != 1)} got extra "
            "rounds, in fresh processes at later "
            f"moments ({status.extra_rounds} extra round{'s' * (status.extra_rounds != 1)} "
            "in all).")


# ----------------------------------------------------------------------- writers
def render_html(ctx: dict[str, Any]) -> str:
    """``index.html``: charts embedded as PNG ``data:`` URIs."""
    charts = [{"title": c.title, "uri": data_uri(c.png), "png": c.png.name, "svg": c.svg.name}
              for c in ctx["charts"]]
    tables = {k: None if ctx[k] is None else
              {"columns": list(ctx[k].columns), "rows": ctx[k].to_numpy().tolist()}
              for k in ("picks", "break_even")}
    return render("report.html.j2", **{**ctx, "charts": charts, "tables": tables})


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
        out += [f"> Run status: **{md_escape(status.status)}**", ""]
    out += ["## Findings", ""] + [f"- {md_escape(f)}" for f in ctx["findings"]] + [""]
    out += ["## Precision", "",
            f"{ctx['stable']} of {ctx['total']} points ({ctx['stable_pct']}) are stable "
            f"(95 % CI half-width ≤ {ctx['threshold_pct']} of the median).", ""]
    if status.remeasured:
        out += [remeasured_text(status), ""]
    if status.noise is not None:
        verdict = "noisy" if status.noise["noisy"] else "quiet"
        reasons = "; ".join(md_escape(r) for r in status.noise["reasons"])
        out += [f"Noise check: **{verdict}**" + (f": {reasons}" if reasons else "."), ""]
    if status.failed:
        out += ["## Failed points", "",
                markdown_table(pd.DataFrame(status.failed, columns=["name", "reason"]))]
    for title, key in (("Recommendation", "picks"), ("Break-even size", "break_even")):
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
    out += ["## Host", "", markdown_table(pd.DataFrame(ctx["host_rows"],
                                                       columns=["record", "value"]))]
    return "\n".join(out)


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
    data = load(results)
    status = run_status(results)
    summary = with_units(data.summary, status.units)
    out_dir.mkdir(parents=True, exist_ok=True)
    charts = build_charts(summary, data.host, out_dir)
    recommended = recommendations(data.tidy, data.summary)
    ctx = _context(results, data.host, summary, status, charts, recommended)
    data.summary[list(SUMMARY_COLUMNS)].to_csv(out_dir / "summary.csv", index=False)
    recommended.to_csv(out_dir / "recommendations.csv", index=False)
    (out_dir / "report.md").write_text(render_markdown(ctx), encoding="utf-8")
    index = out_dir / "index.html"
    index.write_text(render_html(ctx), encoding="utf-8")
    return index
