"""The collector of a network workload's ``calls`` metric (:mod:`bench.scenarios.metrics`
holds its entry): each call's latency in a batch of its own, and what the loopback
service saw meanwhile.  That batch is untimed, after the point's warm-up value, with
no other probe running.  Standard library only.
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.parse
from typing import Any

from bench.scenarios import latency, service, workloads
from bench.scenarios.procfs import proc_cpu_s


def _own(q: float) -> float:
    """The service's own latency at quantile ``q`` (seconds)."""
    return service.quantile(service.spec_here(), q)


def calls(ctx: Any) -> dict[str, float]:
    """One batch of the point's calls, each timed (:class:`~bench.scenarios.latency.Recorder`),
    the service's counters read just before and just after it.

    Its value: the p99 of each call's seconds from when it was allowed to start (past the
    model's semaphore, or in its worker) to its end, less the service's own p99: the
    latency the client and its model add.  Beside it: the p50 and p90 (less the service's
    own at the same quantile) and the max (less its p99.9); the p99 from the batch's
    submission (waiting for a slot included; open loop, from its intended send); the share
    of calls that started over 1 ms after their intended send (open loop); the client's CPU
    microseconds per call; the batch's calls a second; the most calls the service held at
    once (the concurrency reached, whatever was asked); the service's CPU microseconds per
    request; and the connection cap of the point's clients in this process (0: none, or
    none made here).
    """
    cap = ctx.work.connection_cap if ctx.work is not None else ""
    before = stats(reset=True)
    rec = ctx.batch.recorder = latency.Recorder(ctx.tasks)
    cpu = time.process_time() + sum(proc_cpu_s(p) for p in ctx.pids)
    try:
        ctx.batch.run()
    finally:
        ctx.batch.recorder = None
    cpu = time.process_time() + sum(proc_cpu_s(p) for p in ctx.pids) - cpu
    after = stats()
    run, since = rec.seconds()
    pct, served = latency.percentile, max(after["requests"] - before["requests"], 1)
    return {"": pct(run, 0.99) - _own(0.99), "p50": pct(run, 0.5) - _own(0.5),
            "p90": pct(run, 0.9) - _own(0.9), "max": run[-1] - _own(0.999),
            "p99_queued": pct(since, 0.99), "own_p99": _own(0.99),
            "client_us": cpu / ctx.tasks * 1e6,
            "throughput": ctx.tasks / max(rec.wall(), 1e-9),
            "inflight": float(after["max_inflight"]),
            "service_us": (after["cpu_s"] - before["cpu_s"]) / served * 1e6,
            "cap": float(workloads.resolve(cap)()) if cap else 0.0,
            "late": rec.late() / ctx.tasks}


def stats(reset: bool = False) -> dict[str, Any]:
    """The running service's counters (``GET /stats``; ``reset``: its maxima start afresh)."""
    where = urllib.parse.urlsplit(service.url())
    conn = http.client.HTTPConnection(where.hostname or "127.0.0.1", where.port, timeout=10)
    try:
        conn.request("GET", "/stats?reset=1" if reset else "/stats")
        found: dict[str, Any] = json.loads(conn.getresponse().read())
    finally:
        conn.close()
    return found
