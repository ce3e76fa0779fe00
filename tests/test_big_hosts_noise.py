"""The noise verdict past 2 cores (issue 34): simulated hosts of C = 16, 64 and 128 usable
cores, hybrid CPUs, and a cgroup quota read from the process's own cgroup.  Known truth.

Each simulated child reads the cores :func:`bench.measure.speed.spread_over` picks for it
(its offset standing in for its process id) and writes them as a real child does
(:func:`bench.measure.speed.metadata`), so the verdict judges what a run's files hold.
"""

from __future__ import annotations

import math
import os
import re
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from bench.measure import host, noise, speed
from bench.scenarios.models import Point
from tests.factory import make_benchmark

P_CORE, E_CORE = 1.0e-3, 1.6e-3  # a hybrid CPU's performance and efficiency cores
JITTER = 0.02
SEQ = Point("cpu", "sequential", 4, size=2000.0)

#: Seconds of the fixed task on ``core`` at reading ``i`` (0, 1: the first child's two).
Host = Callable[[int, int], float]


def simulate(levels: Host, cores: int, children: int = 60, seed: int = 1) -> list[noise.Reading]:
    """The readings a run of ``children`` children writes on a host of ``cores`` usable
    cores whose core ``c`` takes ``levels(c, i)`` seconds at reading ``i`` (2 % jitter)."""
    rng = np.random.default_rng(seed)
    meta = []
    for child in range(children):
        which = speed.spread_over(range(cores), offset=child * 7919)  # pids differ
        md: dict[str, object] = {"date": f"2026-12-04 10:{child:04d}", "round": child}
        for k, when in enumerate(speed.WHEN):
            times = {c: levels(c, 2 * child + k) * float(np.exp(rng.normal(0.0, JITTER)))
                     for c in which}
            md.update(speed.metadata(when, times))
        meta.append(md)
    bench = make_benchmark(SEQ, [0.05] * children, runs=children, run_metadata=meta)
    return noise.round_readings([bench])


def hybrid(c: int, i: int) -> float:
    """16 cores: 0-7 performance cores, 8-15 efficiency cores, each at one speed."""
    return P_CORE if c < 8 else E_CORE


def probe_(busy: float = 0.0, cores: float | None = None) -> dict[str, float]:
    p = {"load1": 0.5, "busy_cores": busy, "calibration_s": P_CORE}
    return p if cores is None else {**p, "usable_cores": cores}


# ------------------------------------------------------------------ hybrid CPUs
def test_a_stable_hybrid_host_is_quiet() -> None:
    readings = simulate(hybrid, 16)
    verdict = noise.assess(probe_(), probe_(), readings)
    assert verdict["noisy"] is False, verdict["reasons"]
    assert verdict["cores_apart_share"] < noise.MAX_APART_SHARE
    assert verdict["speed_spread"] < noise.MAX_SPEED_SPREAD
    assert all(len(r.cores) == speed.MAX_CORES for r in readings)
    # judged on the median core and the slowest over the fastest, it was "noisy" throughout
    old = noise.assess(probe_(), probe_(), [noise.Reading(r.seconds, r.spread) for r in readings])
    assert old["cores_apart_share"] == 1.0


def test_a_hybrid_core_flipping_speed_in_over_a_tenth_of_the_readings_is_noisy() -> None:
    """Core 3 (a performance core) runs 1.4x slower in 30 % of its readings; it is read in
    half the children, so it is off its usual speed in about 15 % of the run's readings."""
    rng = np.random.default_rng(7)
    slow = {i for i in range(240) if rng.random() < 0.30}

    def flipping(c: int, i: int) -> float:
        return hybrid(c, i) * (1.4 if c == 3 and i in slow else 1.0)

    readings = simulate(flipping, 16, children=120)
    verdict = noise.assess(probe_(), probe_(), readings)
    assert verdict["noisy"] is True
    assert verdict["cores_apart_share"] == pytest.approx(0.15, abs=0.06)
    apart = [r for r in verdict["reasons"] if "different speeds at the same moment" in r]
    assert len(apart) == 1
    assert "each core against its own usual speed" in apart[0]
    found = re.search(r"was (\d\.\d\d)x slower", apart[0])
    assert found is not None
    assert float(found.group(1)) == pytest.approx(1.4, rel=0.06)


def test_a_hybrid_core_slow_in_a_brief_burst_is_quiet() -> None:
    """The same core slow in 3 % of the run's readings: a burst, not the run."""
    def burst(c: int, i: int) -> float:
        return hybrid(c, i) * (1.4 if c == 3 and 50 <= i < 60 else 1.0)

    assert noise.assess(probe_(), probe_(), simulate(burst, 16, children=120))["noisy"] is False


def test_the_false_alarm_rate_on_a_stable_hybrid_host() -> None:
    alarms = sum(noise.assess(probe_(), probe_(), simulate(hybrid, 16, 20, seed))["noisy"]
                 for seed in range(100))
    assert alarms <= 1


def test_between_rounds_compares_each_core_with_itself() -> None:
    """Children that read only performance cores or only efficiency cores: the median
    core's seconds differ 1.6x between them, the host's speed does not."""
    readings = []
    for child in range(40):
        which = range(8) if child % 2 else range(8, 16)
        readings += [noise.Reading(1.0, 1.0, tuple((c, hybrid(c, 0) * (1 + 0.001 * c))
                                                   for c in which))
                     for _ in speed.WHEN]
    verdict = noise.assess(probe_(), probe_(), readings)
    assert verdict["noisy"] is False, verdict["reasons"]
    assert verdict["speed_spread"] == pytest.approx(1.0, abs=0.01)


@pytest.mark.parametrize("cores", [16, 64, 128])
def test_a_host_that_slows_down_as_a_whole_is_noisy(cores: int) -> None:
    """Every core 1.3x slower in the second half of the run: not apart, but between rounds."""
    def drift(c: int, i: int) -> float:
        return (P_CORE if c % 3 else E_CORE) * (1.3 if i >= 60 else 1.0)

    verdict = noise.assess(probe_(), probe_(), simulate(drift, cores))
    assert verdict["noisy"] is True
    assert verdict["cores_apart_share"] < noise.MAX_APART_SHARE
    assert verdict["speed_spread"] == pytest.approx(1.3, rel=0.05)
    assert any("changed between rounds" in r for r in verdict["reasons"])


@pytest.mark.parametrize("cores", [16, 64, 128])
def test_a_large_stable_host_is_quiet(cores: int) -> None:
    verdict = noise.assess(probe_(), probe_(), simulate(lambda c, i: P_CORE, cores))
    assert verdict["noisy"] is False, verdict["reasons"]


# ------------------------------------------------------------ what a child reads
def test_a_128_core_reading_reads_eight_cores_and_every_core_over_a_run(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(128)), raising=False)
    pinned: list[set[int]] = []
    monkeypatch.setattr(os, "sched_setaffinity", lambda pid, cpus: pinned.append(cpus),
                        raising=False)
    monkeypatch.setattr(speed, "current_core", lambda: 5)
    got = speed.on_cores(lambda: 1.0)
    assert len(got) == speed.MAX_CORES
    assert pinned[-1] == set(range(128))  # the thread's own affinity restored
    assert len(pinned) <= speed.MAX_CORES + 2  # one pin a core read, the core it was on last
    seen = {c for offset in range(16) for c in speed.spread_over(range(128), offset)}
    assert seen == set(range(128))


@pytest.mark.parametrize(("n", "picked"), [(2, 2), (12, 8), (16, 8), (128, 8)])
def test_spread_over_visits_every_core(n: int, picked: int) -> None:
    seen: set[int] = set()
    for offset in range(n):
        which = speed.spread_over(range(n), offset)
        assert len(which) == picked
        seen.update(which)
    assert seen == set(range(n))


def test_a_reading_file_without_each_cores_seconds_is_judged_as_before() -> None:
    assert speed.core_seconds({"speed_start_s": 1e-3}, "start") == {}
    assert speed.core_seconds({"speed_start_cores": "0:x"}, "start") == {}
    assert speed.core_seconds({"speed_start_cores": "0:-1"}, "start") == {}
    assert speed.core_seconds({"speed_end_cores": "3:0.001,7:0.0016"}, "end") == {
        3: 0.001, 7: 0.0016}


# ----------------------------------------------------------------- other work
def _stat(busy_per_cpu: list[float], total: float) -> str:
    """A /proc/stat text: per CPU, ``busy`` jiffies of ``total``."""
    return "\n".join(["cpu  0 0 0 0"] + [f"cpu{n} {b:.0f} 0 0 {total - b:.0f} 0 0 0"
                                         for n, b in enumerate(busy_per_cpu)]) + "\n"


@pytest.mark.parametrize(("cores", "busy", "noisy"), [
    (16, 0.5, False), (16, 1.0, True),      # limit 0.8 cores (5 % of 16)
    (64, 1.0, False), (64, 3.0, False), (64, 4.0, True),   # limit 3.2
    (128, 1.0, False), (128, 6.0, False), (128, 7.0, True),  # limit 6.4
])
def test_other_work_is_judged_against_the_hosts_size(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cores: int, busy: float,
        noisy: bool) -> None:
    """``busy`` cores of background work, plus 0.2 % housekeeping on every CPU."""
    stat = tmp_path / "stat"
    after = [2.0 + (998.0 if n < int(busy) else 0.0) for n in range(cores)]
    after[int(busy) % cores] += 1000.0 * (busy - int(busy))
    stat.write_text(_stat([0.0] * cores, 1000.0))
    monkeypatch.setattr(time, "sleep",
                        lambda s: stat.write_text(_stat(after, 2000.0)))
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cores)), raising=False)
    monkeypatch.setattr(host, "cgroup_quota", lambda: None)
    seen = noise.busy_cores(window=0.5, stat=stat)
    assert seen == pytest.approx(sum(after) / 1000.0)  # every usable CPU summed
    assert busy < seen < busy + 0.002 * cores + 1e-9
    assert seen > noise.MAX_BUSY_CORES  # what the old, absolute rule called noisy
    verdict = noise.assess(probe_(seen, float(cores)), probe_(0.0, float(cores)))
    assert verdict["noisy"] is noisy
    if noisy:
        assert f"of {cores} usable cores" in verdict["reasons"][0]


def test_the_busy_limit() -> None:
    assert noise.busy_limit(None) == noise.MAX_BUSY_CORES  # probes from before C was kept
    assert noise.busy_limit(2.0) == noise.MAX_BUSY_CORES
    assert noise.busy_limit(64.0) == pytest.approx(3.2)
    assert noise.busy_limit(128.0) == pytest.approx(6.4)


# ------------------------------------------------------------ the own cgroup's quota
def _tree(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)


def test_a_v2_quota_of_the_processs_nested_cgroup(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    root, proc = tmp_path / "cgroup", tmp_path / "proc_self_cgroup"
    proc.write_text("0::/machine.slice/job.scope/inner\n")
    _tree(root, {"cpu.max": "max 100000\n", "machine.slice/cpu.max": "max 100000\n",
                 "machine.slice/job.scope/cpu.max": "400000 100000\n",
                 "machine.slice/job.scope/inner/cpu.max": "max 100000\n"})
    assert host.cgroup_quota(root) is None  # the root alone: what was read before
    assert host.cgroup_limit(root, proc) == (4.0, "/machine.slice/job.scope")
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(64)), raising=False)
    record = host.host_record(root, proc)
    assert record["usable_cores"] == 4
    assert record["cgroup_cpu_quota"] == 4.0
    assert record["cgroup_path"] == "/machine.slice/job.scope"
    # the probe judges other work against the same 4 cores
    quota = host.cgroup_quota(root, proc)
    monkeypatch.setattr(host, "cgroup_quota", lambda: quota)
    monkeypatch.setattr(noise, "busy_cores", lambda seconds: 0.0)
    monkeypatch.setattr(noise, "calibrate", lambda seconds: P_CORE)
    assert noise.probe(0.0)["usable_cores"] == 4.0


#: /proc/self/cgroup, the cgroup tree, and what the quota is and where it was read.
CGROUPS = {
    "a parent's quota bounds its child": (
        "0::/a/b\n", {"a/cpu.max": "200000 100000\n", "a/b/cpu.max": "800000 100000\n"},
        (2.0, "/a")),
    "a v1 quota of the process's own cgroup (hybrid: v2 mounted without cpu)": (
        "5:memory:/elsewhere\n4:cpu,cpuacct:/user.slice/job\n0::/\n",
        {"cpu,cpuacct/cpu.cfs_quota_us": "-1\n", "cpu,cpuacct/cpu.cfs_period_us": "100000\n",
         "cpu,cpuacct/user.slice/job/cpu.cfs_quota_us": "400000\n",
         "cpu,cpuacct/user.slice/job/cpu.cfs_period_us": "100000\n",
         "unified/cgroup.controllers": "\n"},
        (4.0, "/user.slice/job")),
    # /proc/self/cgroup names the host's path, the mount holds the container's cgroup
    "a container that shows its own cgroup at the mount root": (
        "1:cpu:/docker/0123abcd\n",
        {"cpu/cpu.cfs_quota_us": "300000\n", "cpu/cpu.cfs_period_us": "100000\n"},
        (3.0, "/")),
}


@pytest.mark.parametrize("case", CGROUPS)
def test_the_quota_along_the_processs_own_cgroup(tmp_path: Path, case: str) -> None:
    own, tree, limit = CGROUPS[case]
    root, proc = tmp_path / "cgroup", tmp_path / "cgroup_file"
    proc.write_text(own)
    _tree(root, tree)
    assert host.cgroup_limit(root, proc) == limit
    assert host.usable_cores(64, host.cgroup_quota(root, proc)) == math.ceil(limit[0])


def test_no_quota_anywhere_names_the_processs_own_cgroup(tmp_path: Path) -> None:
    root, proc = tmp_path / "cgroup", tmp_path / "cgroup_file"
    proc.write_text("0::/user.slice/session.scope\n")
    _tree(root, {"cpu.max": "max 100000\n", "user.slice/cpu.max": "max 100000\n"})
    assert host.cgroup_limit(root, proc) == (None, "/user.slice/session.scope")
    assert host.cgroup_limit(root, tmp_path / "missing") == (None, "/")
    assert host.own_cgroups(tmp_path / "missing") == {}
