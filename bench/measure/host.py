"""The host record: usable cores, CPU, Python build, GIL.

Standard library only (and, for the event loops it can import, the model catalogue's
``LOOPS``): ``python -m bench.measure.host`` runs under any interpreter a
run measures with (``--python``) and prints its record as JSON, so the record
always describes the interpreter that ran the children.

Usable cores ``C = min(affinity set, ceil(cgroup quota / period))``:
``os.cpu_count()`` alone ignores both the affinity mask and a cgroup quota.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import platform
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any


def parse_cpu_max(text: str) -> float | None:
    """Parse cgroup v2 ``cpu.max`` (``"200000 100000"`` or ``"max 100000"``).

    Returns
    -------
    float or None
        The quota in CPUs (quota / period), or None when unlimited.
    """
    parts = text.split()
    if len(parts) != 2 or parts[0] == "max":
        return None
    quota, period = float(parts[0]), float(parts[1])
    if quota <= 0 or period <= 0:
        return None
    return quota / period


def parse_cfs(quota_text: str, period_text: str) -> float | None:
    """Parse cgroup v1 ``cpu.cfs_quota_us`` and ``cpu.cfs_period_us``.

    Returns
    -------
    float or None
        The quota in CPUs, or None when the quota is -1 (unlimited).
    """
    quota, period = float(quota_text.strip()), float(period_text.strip())
    if quota <= 0 or period <= 0:
        return None
    return quota / period


def cgroup_quota(root: Path = Path("/sys/fs/cgroup")) -> float | None:
    """The cgroup CPU quota in CPUs (v2, then v1), or None when there is none."""
    try:
        return parse_cpu_max((root / "cpu.max").read_text())
    except (OSError, ValueError):
        pass
    for sub in ("cpu", "cpu,cpuacct", "."):
        try:
            return parse_cfs(
                (root / sub / "cpu.cfs_quota_us").read_text(),
                (root / sub / "cpu.cfs_period_us").read_text(),
            )
        except (OSError, ValueError):
            continue
    return None


def affinity_count() -> int:
    """Number of CPUs this process may run on (the affinity mask)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def usable_cores(affinity: int, quota: float | None) -> int:
    """``min(affinity, ceil(quota))``, at least 1."""
    cores = affinity if quota is None else min(affinity, math.ceil(quota))
    return max(1, cores)


def cpu_model() -> str:
    """The CPU model name, from /proc/cpuinfo where there is one."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def gil_enabled() -> bool:
    """Whether the GIL is on (False only on a free-threaded build with it off)."""
    check = getattr(sys, "_is_gil_enabled", None)
    return True if check is None else bool(check())


def event_loops() -> list[str]:
    """The event loops (``bench.scenarios.models.LOOPS``) this interpreter can import."""
    import importlib.util

    from bench.scenarios.models import LOOPS

    return [name for name, factory in LOOPS.items()
            if not factory or importlib.util.find_spec(factory.partition(":")[0]) is not None]


def jit_enabled() -> bool:
    """Whether the experimental JIT is on (``sys._jit``, 3.14+; False before)."""
    jit = getattr(sys, "_jit", None)
    return bool(jit is not None and jit.is_enabled())


def git_commit(cwd: Path | None = None) -> str:
    """The git commit of the working directory, or "" outside a repository."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def host_record(root: Path = Path("/sys/fs/cgroup")) -> dict[str, Any]:
    """Describe this host and interpreter.

    Returns
    -------
    dict
        Flat record of str, int and float values (pyperf metadata accepts
        nothing else): CPU model, logical cores, affinity, cgroup quota (0.0
        when unlimited), usable cores, Python version, implementation, build,
        GIL, JIT, available start methods and the default one.
    """
    affinity = affinity_count()
    quota = cgroup_quota(root)
    free_threaded = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
    return {
        "cpu_model": cpu_model(),
        "logical_cores": os.cpu_count() or 1,
        "cpu_affinity": affinity,
        "cgroup_cpu_quota": 0.0 if quota is None else round(quota, 3),
        "usable_cores": usable_cores(affinity, quota),
        "python_version": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "python_build": " ".join(platform.python_build())
        + (" free-threading" if free_threaded else ""),
        "python_executable": sys.executable,
        "gil_enabled": int(gil_enabled()),
        "start_methods": ",".join(multiprocessing.get_all_start_methods()),
        "event_loops": ",".join(event_loops()),
        # what a pool made without a start method gets (forkserver on Linux from 3.14)
        "default_start_method": multiprocessing.get_start_method(),
        "jit_enabled": int(jit_enabled()),
        "platform": platform.platform(),
        "hostname": platform.node() or "unknown",
    }


if __name__ == "__main__":
    json.dump(host_record(), sys.stdout, sort_keys=True)
    sys.stdout.write("\n")
