"""Is the host quiet enough to trust a run?  Probes taken before and after a sweep.

Each probe records the load average, how busy the CPUs were over a short
window while concbench itself sat idle (other work on the host), and a short
calibration: the time of one fixed task (:mod:`bench.measure.speed`).  Every
round adds two readings of the same task, taken in its child just before and
just after its timed sweeps.  A run is flagged noisy when the calibration
drifts between the two probes, when other work showed up, or when the
rounds' readings show the host's CPU running at different speeds.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Collection, Iterable, Sequence
from pathlib import Path
from typing import Any

from bench.measure import host, speed
from bench.results import store

#: Calibration drift (relative) beyond which a run is noisy.
MAX_DRIFT = 0.10
#: Spread of the rounds' speed readings (slowest tenth over fastest tenth) beyond which a
#: run is noisy: the host's CPU ran at different speeds while the rounds were measured.
MAX_SPEED_SPREAD = 1.10
#: Readings needed before their spread is judged.
MIN_SPEED_READINGS = 10
#: Share of readings whose cores differed by more than MAX_SPEED_SPREAD beyond which a run
#: is noisy: its cores ran at different speeds at the same moment.
MAX_APART_SHARE = 0.10
#: CPU busy from other work, in cores, beyond which a run is noisy.
MAX_BUSY_CORES = 0.25
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


def calibrate(warmup: float = PROBE_S, window: float = CALIBRATION_S) -> float:
    """Seconds of one fixed CPU task, run in this process, on the host's fastest core at speed.

    The task first runs untimed for ``warmup`` seconds, so that a CPU clocked
    down while idle speeds up; then it runs back to back on each usable core
    in turn (:func:`bench.measure.speed.on_each_core`), ``window`` seconds in
    all, and the reading is the fastest core's 10th percentile.  On a shared
    host each core's speed flips between two levels on its own (on the
    project's host, 1.0 ms and 1.4 ms for this task, in stretches of 0.1 s to
    tens of seconds): a median on whichever core the probe landed reads that
    core's level of the moment, while the fastest core's fast level says what
    the CPU itself can do, which is what drift between the two probes is
    about.  Cores apart, and speeds that change between rounds, are judged
    from the rounds' own readings (:func:`assess`).
    """
    speed.task_times(warmup)
    share = window / max(1, len(speed.cores()))

    def fast_level() -> float:
        times = sorted(speed.task_times(share))
        return times[len(times) // 10]

    return min(speed.on_each_core(fast_level))


def probe(seconds: float = PROBE_S) -> dict[str, float]:
    """One snapshot: load average, busy cores from other work, calibration time.

    ``seconds`` is the idle window that watches other work, and the warm-up
    before the calibration (a profile's ``probe_s``).
    """
    load1 = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    return {"load1": round(load1, 2), "busy_cores": round(busy_cores(seconds), 3),
            "calibration_s": calibrate(seconds)}


def round_readings(benchmarks: Iterable[Any]) -> list[tuple[float, float]]:
    """The host's speed readings the rounds' children wrote (:mod:`bench.measure.speed`):
    (the median core's seconds, the slowest core's over the fastest's) each.

    ``benchmarks``: pyperf benchmarks of a run.  A child writes its two readings
    into each of its points' runs: they are counted once per child.
    """
    children: dict[tuple[Any, ...], list[tuple[float, float]]] = {}
    for b in benchmarks:
        for run in b.get_runs():
            md = run.get_metadata()
            pairs = store.speed_readings(md)
            children.setdefault((md.get("date"), md.get("round"), md.get("python"), *pairs),
                                pairs)
    return [pair for pairs in children.values() for pair in pairs]


def speed_spread(readings: Sequence[float]) -> tuple[float, float, float] | None:
    """(fast, slow, slow / fast) of speed readings: their 10th and 90th percentiles; None
    with fewer than :data:`MIN_SPEED_READINGS`."""
    values = sorted(r for r in readings if r > 0 and math.isfinite(r))
    if len(values) < MIN_SPEED_READINGS:
        return None
    fast, slow = values[len(values) // 10], values[-1 - len(values) // 10]
    return fast, slow, slow / fast


def _speed_reasons(speeds: Sequence[tuple[float, float]]) -> tuple[list[str], dict[str, float]]:
    """What the rounds' readings (median core's seconds, slowest core / fastest) say."""
    over_time = speed_spread([t for t, _ in speeds])
    if over_time is None:
        return [], {}
    fast, slow, ratio = over_time
    apart = [sp for _, sp in speeds if sp > MAX_SPEED_SPREAD]
    share = len(apart) / len(speeds)
    extra = {"speed_fast_s": fast, "speed_slow_s": slow, "speed_spread": round(ratio, 4),
             "speed_readings": len(speeds), "cores_apart_share": round(share, 4)}
    reasons = []
    if share >= MAX_APART_SHARE:
        apart.sort()
        reasons.append(
            f"the host's cores ran at different speeds at the same moment: in {share:.0%} of "
            f"{len(speeds)} readings taken beside the rounds' sweeps, a fixed task was "
            f"{apart[len(apart) // 2]:.2f}x slower (median) on the slowest core than on the "
            "fastest, so a round's times depend on the cores the kernel gave it")
    if ratio > MAX_SPEED_SPREAD:
        reasons.append(f"the host's speed changed between rounds: on the median core a fixed "
                       f"task took from {fast * 1e3:.2f} to {slow * 1e3:.2f} ms ({ratio:.2f}x; "
                       f"10th to 90th percentile of {len(speeds)} readings)")
    return reasons, extra


def assess(before: dict[str, float], after: dict[str, float],
           speeds: Sequence[tuple[float, float]] = ()) -> dict[str, Any]:
    """Compare two probes, and judge the rounds' speed readings (``speeds``: the median
    core's seconds of the fixed task and the slowest core's over the fastest's, each).

    Returns ``{"noisy": bool, "reasons": [...], "before":..., "after":...,
    "calibration_drift":...}``, plus ``speed_fast_s``, ``speed_slow_s``,
    ``speed_spread``, ``speed_readings`` and ``cores_apart_share`` when there
    were enough readings.
    """
    reasons, extra = _speed_reasons(speeds)
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
            "calibration_drift": round(drift, 4), **extra}
