"""Is the host quiet enough to trust a run?  Probes taken before and after a sweep.

Each probe records the load average, how busy the CPUs were over a short
window while concbench itself sat idle (other work on the host), and a short
calibration: the time of one fixed task (:mod:`bench.measure.speed`).  Every
round adds two readings of the same task, taken in its child just before and
just after its timed sweeps.  A run is flagged noisy when the calibration
drifts between the two probes, when other work showed up, or when the
rounds' readings show the host's CPU running at different speeds.

Other work is judged against the host's size: a probe is noisy when other
work kept more than ``max(MAX_BUSY_CORES, MAX_BUSY_SHARE * C)`` cores busy,
C the usable cores (0.25 cores up to C = 5, then 5 % of C: 0.8 cores at
C = 16, 3.2 at 64, 6.4 at 128).  Other work on b cores takes at most b / C of
the CPU from a point that keeps every usable core busy, and nothing from one
that leaves cores idle: 5 % of C is the most it can move such a point's time,
the precision the run asks of a point (its interval within 5 % of its
median).  The floor of a quarter core is what a small host's own housekeeping
(kernel threads, the terminal) may read over a probe's half second, the rule
before this one.  An absolute figure summed over every CPU calls a 64-core
host with one core of background work noisy on every run.

The rounds' readings are judged core by core, each against its own usual
speed (the median of its readings over the run): a host whose cores differ
for good (performance and efficiency cores, 1.0 and 1.6 ms for the fixed
task) is the host, not noise, while a core whose speed flips between
readings still shows, as does a host whose cores all slow down together.
Cores apart at the same moment: in one reading, the largest of its cores'
times over their usual ones is more than :data:`MAX_SPEED_SPREAD` times the
smallest, in :data:`MAX_APART_SHARE` of the readings or more.  The host's
speed between rounds: each reading's median of its cores' times over their
usual ones, times the median core's usual time, so that readings of other
cores (a child reads at most 8, a different 8 from the next child,
:mod:`bench.measure.speed`) compare like with like.  Readings
from files before each core's time was written (``speed_{when}_cores``) are
judged as they were: the slowest core over the fastest, and the median
core's seconds.
"""

from __future__ import annotations

import math
import os
import statistics
import time
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
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
#: CPU busy from other work, in cores, beyond which a run is noisy on a small host (the floor
#: of :func:`busy_limit`).
MAX_BUSY_CORES = 0.25
#: CPU busy from other work, as a share of the usable cores, beyond which a run is noisy.
MAX_BUSY_SHARE = 0.05
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
    down while idle speeds up; then it runs back to back on each core read
    (at most :data:`bench.measure.speed.MAX_CORES`) in turn
    (:func:`bench.measure.speed.on_each_core`), ``window`` seconds in all, and
    the reading is the fastest core's 10th percentile.  On a shared host each
    core's speed flips between two levels on its own (on the project's host,
    1.0 ms and 1.4 ms for this task, in stretches of 0.1 s to tens of
    seconds): a median on whichever core the probe landed reads that core's
    level of the moment, while the fastest core's fast level says what the
    CPU itself can do, which is what drift between the two probes is about.
    Both probes run in the runner's process, so they read the same cores
    (:func:`bench.measure.speed.cores`).  Cores apart, and speeds that change
    between rounds, are judged from the rounds' own readings (:func:`assess`).
    """
    speed.task_times(warmup)
    share = window / max(1, len(speed.cores()))

    def fast_level() -> float:
        times = sorted(speed.task_times(share))
        return times[len(times) // 10]

    return min(speed.on_each_core(fast_level))


def busy_limit(cores: float | None) -> float:
    """Cores busy from other work beyond which a probe is noisy, on a host of ``cores``
    usable cores: ``max(MAX_BUSY_CORES, MAX_BUSY_SHARE * cores)``; :data:`MAX_BUSY_CORES`
    where C is unknown (probes from before they recorded it)."""
    if cores is None or not cores > 0:
        return MAX_BUSY_CORES
    return max(MAX_BUSY_CORES, MAX_BUSY_SHARE * cores)


def probe(seconds: float = PROBE_S) -> dict[str, float]:
    """One snapshot: load average, busy cores from other work, the usable cores C they are
    judged against (:func:`busy_limit`), calibration time.

    ``seconds`` is the idle window that watches other work, and the warm-up
    before the calibration (a profile's ``probe_s``).
    """
    load1 = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    cores = host.usable_cores(host.affinity_count(), host.cgroup_quota())
    return {"load1": round(load1, 2), "busy_cores": round(busy_cores(seconds), 3),
            "usable_cores": float(cores), "calibration_s": calibrate(seconds)}


@dataclass(frozen=True)
class Reading:
    """One reading of the host's speed, as a round's child wrote it (:mod:`bench.measure.speed`).

    ``seconds``: the median core's seconds of the fixed task; ``spread``: the slowest
    core's over the fastest's; ``cores``: the ``(core, seconds)`` of each core read,
    () in files from before the child wrote them.
    """

    seconds: float
    spread: float
    cores: tuple[tuple[int, float], ...] = ()


def round_readings(benchmarks: Iterable[Any]) -> list[Reading]:
    """The host's speed readings the rounds' children wrote (:mod:`bench.measure.speed`):
    (the median core's seconds, the slowest core's over the fastest's) each, with each
    core's own seconds where the child wrote them (:attr:`Reading.cores`).

    ``benchmarks``: pyperf benchmarks of a run.  A child writes its two readings
    into each of its points' runs: they are counted once per child.
    """
    children: dict[tuple[Any, ...], list[Reading]] = {}
    for b in benchmarks:
        for run in b.get_runs():
            md = run.get_metadata()
            pairs = store.speed_readings(md)
            per_core = [tuple(speed.core_seconds(md, when).items()) for when in speed.WHEN]
            if len(pairs) != len(per_core):  # a reading missing: no way to tell which
                per_core = [()] * len(pairs)
            readings = [Reading(t, sp, tuple(c)) for (t, sp), c in zip(pairs, per_core,
                                                                       strict=False)]
            children.setdefault((md.get("date"), md.get("round"), md.get("python"), *readings),
                                readings)
    return [r for readings in children.values() for r in readings]


def _usual_speeds(readings: Sequence[Reading]) -> dict[int, float]:
    """Each core's usual seconds over the run: the median of its readings."""
    seen: dict[int, list[float]] = {}
    for r in readings:
        for core, t in r.cores:
            seen.setdefault(core, []).append(t)
    return {core: statistics.median(times) for core, times in seen.items()}


def core_relative(readings: Sequence[Reading]) -> tuple[list[float], list[float]]:
    """Each reading judged core by core, each core against its own usual speed.

    Returns
    -------
    tuple of two lists, one value per reading
        The host's speed: the median of the reading's cores' seconds over their
        usual ones, times the median core's usual seconds; and its cores apart:
        the largest of those ratios over the smallest.  A reading without its
        cores' seconds gives its median core's seconds and its spread.
    """
    usual = _usual_speeds(readings)
    level = statistics.median(usual.values()) if usual else 0.0
    speeds, apart = [], []
    for r in readings:
        if r.cores:
            rel = [t / usual[core] for core, t in r.cores]
            speeds.append(level * statistics.median(rel))
            apart.append(max(rel) / min(rel))
        else:
            speeds.append(r.seconds)
            apart.append(r.spread)
    return speeds, apart


def speed_spread(readings: Sequence[float]) -> tuple[float, float, float] | None:
    """(fast, slow, slow / fast) of speed readings: their 10th and 90th percentiles; None
    with fewer than :data:`MIN_SPEED_READINGS`."""
    values = sorted(r for r in readings if r > 0 and math.isfinite(r))
    if len(values) < MIN_SPEED_READINGS:
        return None
    fast, slow = values[len(values) // 10], values[-1 - len(values) // 10]
    return fast, slow, slow / fast


def _speed_reasons(speeds: Sequence[Reading]) -> tuple[list[str], dict[str, float]]:
    """What the rounds' readings say (see the module docstring)."""
    times, spreads = core_relative(speeds)
    over_time = speed_spread(times)
    if over_time is None:
        return [], {}
    fast, slow, ratio = over_time
    apart = sorted(sp for sp in spreads if sp > MAX_SPEED_SPREAD)
    share = len(apart) / len(speeds)
    extra = {"speed_fast_s": fast, "speed_slow_s": slow, "speed_spread": round(ratio, 4),
             "speed_readings": len(speeds), "cores_apart_share": round(share, 4)}
    own = ", each core against its own usual speed" if any(r.cores for r in speeds) else ""
    reasons = []
    if share >= MAX_APART_SHARE:
        reasons.append(
            f"the host's cores ran at different speeds at the same moment: in {share:.0%} of "
            f"{len(speeds)} readings taken beside the rounds' sweeps, a fixed task was "
            f"{apart[len(apart) // 2]:.2f}x slower (median) on the slowest core than on the "
            f"fastest{own}, so a round's times depend on the cores the kernel gave it")
    if ratio > MAX_SPEED_SPREAD:
        reasons.append(f"the host's speed changed between rounds: on the median core a fixed "
                       f"task took from {fast * 1e3:.2f} to {slow * 1e3:.2f} ms ({ratio:.2f}x; "
                       f"10th to 90th percentile of {len(speeds)} readings{own})")
    return reasons, extra


def assess(before: dict[str, float], after: dict[str, float],
           speeds: Sequence[Reading] = ()) -> dict[str, Any]:
    """Compare two probes, and judge the rounds' speed readings (``speeds``, as
    :func:`round_readings` gives them).

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
        cores = p.get("usable_cores")
        if p["busy_cores"] > busy_limit(cores):
            of = f"{p['busy_cores'] / cores:.0%} of {cores:.0f} usable cores; " if cores else ""
            reasons.append(f"other work kept {p['busy_cores']:.2f} cores busy {when} the run "
                           f"({of}load average {p['load1']:.2f})")
    return {"noisy": bool(reasons), "reasons": reasons, "before": before, "after": after,
            "calibration_drift": round(drift, 4), **extra}
