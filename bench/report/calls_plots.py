"""The network workloads' chart: throughput and added p99 latency against calls in flight."""

from __future__ import annotations

import pandas as pd
from matplotlib.axes import Axes

from bench.report.figures import worker_ticks
from bench.report.plots import style
from bench.results.calls import KNEE_SHARE, along_asked


def _series(frame: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """One line per model along its calls in flight (:func:`bench.results.calls.along_asked`):
    at each T where W bounds them, at each W of W event loops."""
    out = []
    for (model, t, w), g in along_asked(frame).groupby(["model", "axis", "w"], sort=False):
        label = model + (f", T = {t:,}" if t else "") + (f", W = {w}" if w else "")
        out.append((label, g.sort_values("asked")))
    return out


def plot_calls(ax: Axes, frame: pd.DataFrame, *, workload: str, throughput: bool) -> None:
    """``workload``'s calls a second (``throughput``) or added p99 (ms) against the calls
    allowed in flight, a line per model, 95 % CIs as bars; the knee's bound dotted."""
    rows = frame[(frame["workload"] == workload) & frame["asked"].notna()]  # closed loop
    for label, g in _series(rows):
        model, _, method = label.split(",")[0].partition("[")
        look = style(model, method.rstrip("]"))
        if throughput:
            y, lo, hi = g["throughput"], g["throughput_ci_low"], g["throughput_ci_high"]
        else:
            y, lo, hi = (g[c] * 1e3 for c in ("added_p99_s", "added_p99_ci_low",
                                              "added_p99_ci_high"))
        ax.errorbar(g["asked"], y, yerr=[(y - lo).clip(lower=0), (hi - y).clip(lower=0)],
                    capsize=2, label=label, **look)
    if not throughput and len(rows):
        ax.axhline(KNEE_SHARE * float(rows["own_p99_s"].median()) * 1e3, color="0.5",
                   linestyle=":", label=f"{KNEE_SHARE:.0%} of the service's p99")
    ax.set_xscale("log")
    ticks = worker_ticks(rows["asked"])  # the levels measured, as a worker axis shows W
    ax.set_xticks(ticks, [f"{t:,}" for t in ticks])
    ax.minorticks_off()
    ax.set_yscale("log")
    ax.set_xlabel("calls allowed in flight")
    ax.set_ylabel("calls / s" if throughput else "added p99 (ms)")
    ax.set_title(f"{workload}: {'throughput' if throughput else 'added p99 latency'}")
    ax.legend(fontsize="x-small")
