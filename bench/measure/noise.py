"""Is the host quiet enough to trust a run?  Probes taken before and after a sweep.

Each probe records the load average, how busy the CPUs were over a short
window while concbench itself sat idle (other work on the host), and a short
calibration: the median time of one fixed task.  A run is flagged noisy when
the calibration drifts between the two probes or other work showed up.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Collection
from pathlib import Path
from typing import Any

import cpu_tasks
from bench.measure import host

#: Calibration drift (relative) beyond which a run is noisy.
MAX_DRIFT = 0.10
#: CPU busy from other work, in cores, beyond which a run is noisy.
MAX_BUSY_CORES = 0.25
CALIBRATION_SIZE = 20_000
CALIBRATION_REPEATS = 7
#: Seconds a probe watches the CPUs, and warms one up before calibrating.
PROBE_S = 0.5


def _cpu_times(cpus: Collection[int] | None = None,
               stat: Path = Path("/proc/stat")) -> dict[int, tuple[float, float]] | None:
    """(busy, total) jiffies per CPU of ``cpus`` (None: every CPU), None without /proc/stat."""
    try:
        lines = stat.read_text().splitlines()
    except OSError:
        return None
    out = {}
    for line in lines:
        words = line.split()
        if not words or not words[0].startswith("cpu") or words[0] == "cpu":
            continue
        try:
            cpu, values = int(words[0][3:]), [float(v) for v in words[1:]]
        except ValueError:
            continue
        if (cpus is None or cpu in cpus) and len(values) >= 4:
            idle = values[3] + (values[4] if len(values) > 4 else 0.0)  # idle + iowait
            out[cpu] = (sum(values) - idle, sum(values))
    return out or None


def busy_cores(window: float = PROBE_S, stat: Path = Path("/proc/stat")) -> float:
    """Usable cores kept busy by other processes during ``window`` seconds (we sleep).

    Only the CPUs this process may run on (its affinity set) count, and a
    cgroup quota smaller than that set scales the figure down to the usable
    cores C (:func:`bench.measure.host.usable_cores`): a large host busy with
    other tenants is no noise for a run confined to two of its cores.
    """
    allowed = set(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    before = _cpu_times(allowed, stat)
    time.sleep(window)
    after = _cpu_times(allowed, stat)
    if before is None or after is None:
        return 0.0
    busy = 0.0
    for cpu, (b1, t1) in after.items():
        b0, t0 = before.get(cpu, (b1, t1))
        if t1 > t0:
            busy += (b1 - b0) / (t1 - t0)
    cpus = len(after)
    return busy * host.usable_cores(cpus, host.cgroup_quota()) / cpus


def calibrate(warmup: float = PROBE_S) -> float:
    """Median seconds of one fixed CPU task, run in this process.

    The task first runs untimed for ``warmup`` seconds so that a CPU clocked
    down while idle is at speed before the timed repeats.
    """
    end = time.perf_counter() + warmup
    while time.perf_counter() < end:
        cpu_tasks.cpu(0, CALIBRATION_SIZE)
    times = []
    for _ in range(CALIBRATION_REPEATS):
        t0 = time.perf_counter()
        cpu_tasks.cpu(0, CALIBRATION_SIZE)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def probe(seconds: float = PROBE_S) -> dict[str, float]:
    """One snapshot: load average, busy cores from other work, calibration time.

    ``seconds`` is the idle window that watches other work, and the warm-up
    before the calibration (a profile's ``probe_s``).
    """
    load1 = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    return {"load1": round(load1, 2), "busy_cores": round(busy_cores(seconds), 3),
            "calibration_s": calibrate(seconds)}


def assess(before: dict[str, float], after: dict[str, float]) -> dict[str, Any]:
    """Compare two probes: ``{"noisy": bool, "reasons": [...], "before":..., "after":...}``."""
    reasons = []
    cb, ca = before["calibration_s"], after["calibration_s"]
    drift = (ca - cb) / cb if cb > 0 else 0.0
    if abs(drift) > MAX_DRIFT:
        reasons.append(f"a fixed calibration task took {cb * 1e3:.2f} ms before the run and "
                       f"{ca * 1e3:.2f} ms after ({drift:+.0%})")
    for when, p in (("before", before), ("after", after)):
        if p["busy_cores"] > MAX_BUSY_CORES:
            reasons.append(f"other work kept {p['busy_cores']:.2f} cores busy {when} the run "
                           f"(load average {p['load1']:.2f})")
    return {"noisy": bool(reasons), "reasons": reasons, "before": before, "after": after,
            "calibration_drift": round(drift, 4)}
