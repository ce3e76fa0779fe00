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
from pathlib import Path
from typing import Any

import cpu_tasks

#: Calibration drift (relative) beyond which a run is noisy.
MAX_DRIFT = 0.10
#: CPU busy from other work, in cores, beyond which a run is noisy.
MAX_BUSY_CORES = 0.25
CALIBRATION_SIZE = 20_000
CALIBRATION_REPEATS = 7
#: Seconds a probe watches the CPUs, and warms one up before calibrating.
PROBE_S = 0.5


def _cpu_times(stat: Path = Path("/proc/stat")) -> tuple[float, float] | None:
    """(busy, total) jiffies over all CPUs, or None where /proc/stat is absent."""
    try:
        first = stat.read_text().splitlines()[0].split()
    except (OSError, IndexError):
        return None
    values = [float(v) for v in first[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0.0)  # idle + iowait
    return sum(values) - idle, sum(values)


def busy_cores(window: float = PROBE_S) -> float:
    """CPU cores kept busy by other processes during ``window`` seconds (we sleep)."""
    before = _cpu_times()
    time.sleep(window)
    after = _cpu_times()
    if before is None or after is None or after[1] <= before[1]:
        return 0.0
    cores = os.cpu_count() or 1
    return cores * (after[0] - before[0]) / (after[1] - before[1])


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
