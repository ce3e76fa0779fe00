"""Is the host quiet enough to trust a run?  Probes taken before and after a sweep.

Each probe records the load average, how busy the CPUs were over a short
window while concbench itself sat idle (other work on the host), and a short
calibration: the median time of one fixed task.  A run is flagged noisy when
the calibration drifts between the two probes or other work showed up.
"""

from __future__ import annotations

import os
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
#: Seconds the calibration task runs back to back after its warm-up.
CALIBRATION_S = 0.25
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


def _task_times(window: float) -> list[float]:
    """Seconds of each run of the fixed task, run back to back for ``window`` seconds."""
    times: list[float] = []
    end = time.perf_counter() + window
    while not times or time.perf_counter() < end:
        t0 = time.perf_counter()
        cpu_tasks.cpu(0, CALIBRATION_SIZE)
        times.append(time.perf_counter() - t0)
    return times


def calibrate(warmup: float = PROBE_S, window: float = CALIBRATION_S) -> float:
    """Seconds of one fixed CPU task, run in this process, when the CPU is at speed.

    The task first runs untimed for ``warmup`` seconds, so that a CPU clocked
    down while idle speeds up; then it runs back to back for ``window``
    seconds, and the reading is the 10th percentile of those times.  On a
    shared host a core's speed flips between two levels many times a second
    (another tenant on its sibling; on the project's host, 1.0 ms and 1.45 ms
    for this task, in bursts of 0.1-0.5 s): a median of a few repeats reads
    whichever level it landed on, while the fast level says what the CPU
    itself can do, which is what drift between the two probes is about.
    """
    end = time.perf_counter() + warmup
    while time.perf_counter() < end:
        cpu_tasks.cpu(0, CALIBRATION_SIZE)
    times = sorted(_task_times(window))
    return times[len(times) // 10]


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
