"""The network figures of runs (issue 36's note): per point, calls a second and the added p99
with their 95 % CIs, the calls in flight asked and seen; caps and knees as the report says
them; for a thread pool, memory per thread in flight as a slope over W with its interval
(per round, the least-squares slope of the point's peak memory against W; the median and
order-statistic CI over rounds); and each loop variant's paired ratio to asyncio's loop.

    python scripts/net_figures.py RUN_DIR [RUN_DIR ...]
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd

import bench
from bench.results import calls, stats


def _memory_slopes(data: bench.RunData) -> list[str]:
    p = data.probes
    if not len(p) or "memory" not in set(p["probe"]):
        return []
    mem = p[p["probe"] == "memory"].merge(
        data.summary[["name", "workload", "model", "tasks", "workers"]], on="name")
    out = []
    for (wl, model, t), g in mem[mem["workers"].notna()].groupby(["workload", "model", "tasks"]):
        per_round = []
        for _, r in g.groupby("round"):
            if r["workers"].nunique() >= 2:
                per_round.append(float(np.polyfit(r["workers"].astype(float),
                                                  r["value"].astype(float), 1)[0]))
        if len(per_round) >= 2:
            ci = stats.median_interval(np.array(per_round))  # positive slopes only
            out.append(f"{wl}, {model}, T = {t}: memory per worker in flight "
                       f"{np.median(per_round) / 1e3:.1f} kB (95 % CI {ci.low / 1e3:.1f}-"
                       f"{ci.high / 1e3:.1f}; {len(per_round)} rounds, W = "
                       f"{', '.join(str(int(w)) for w in sorted(set(g['workers'])))})")
    return out


def main(argv: list[str]) -> int:
    pd.set_option("display.width", 250)
    pd.set_option("display.max_columns", 30)
    for run in argv:
        data = bench.load(run)
        frame = calls.calls_frame(data.summary)
        print(f"== {run}")
        cols = ["workload", "model", "workers", "tasks", "asked", "inflight", "throughput",
                "throughput_ci_low", "throughput_ci_high", "added_p99_s", "added_p99_ci_low",
                "added_p99_ci_high", "p99_sent_s", "late", "client_us", "service_us"]
        print(frame[cols].round(4).to_string(index=False))
        for line in (calls.cap_findings(frame) + calls.knee_sentences(calls.knees(frame))
                     + _memory_slopes(data)):
            print("-", line)
        loops = data.summary[data.summary["loop_ratio"].notna()]
        for r in loops.itertuples(index=False):
            print(f"- {r.name}: {r.loop_ratio:.3f}x asyncio's loop (95 % CI "
                  f"{r.loop_ratio_ci_low:.3f}-{r.loop_ratio_ci_high:.3f}; > 1: faster)")
        for name, why in data.failed.items():
            print(f"- FAILED {name}: {why}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
