"""The host record: usable cores, CPU, Python build, GIL.

Standard library only (and, for the event loops it can import, the model catalogue's
``LOOPS``): ``main()`` runs under any interpreter a
run measures with (``--python``) and prints its record as JSON, so the record
always describes the interpreter that ran the children.

Usable cores ``C = min(affinity set, ceil(cgroup quota / period))``:
``os.cpu_count()`` alone ignores both the affinity mask and a cgroup quota.
The quota is the one bounding this process: read at its own cgroup (from
``/proc/self/cgroup``) and at each ancestor up to the mount root, the smallest
one counting (:func:`cgroup_limit`); a quota set on a user's slice or on a
container's nested cgroup, with "max" at the root, still counts.
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
from collections.abc import Callable
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


#: Where the cgroup hierarchies are mounted.
CGROUP_ROOT = Path("/sys/fs/cgroup")
#: The process's own cgroups, one line a hierarchy.
PROC_CGROUP = Path("/proc/self/cgroup")
#: Where a cgroup v1 hierarchy holding the cpu controller may be mounted, under the root.
V1_CPU_MOUNTS = ("cpu", "cpu,cpuacct", "cpuacct,cpu", ".")


def own_cgroups(proc: Path = PROC_CGROUP) -> dict[str, str]:
    """The process's cgroup in each hierarchy, from ``/proc/self/cgroup``.

    Returns
    -------
    dict
        The controllers of each hierarchy (``"cpu,cpuacct"``; ``""`` for cgroup
        v2's ``0::/path`` line) -> the cgroup's path (``"/user.slice/a"``); {}
        without the file.
    """
    try:
        lines = proc.read_text().splitlines()
    except OSError:
        return {}
    out = {}
    for line in lines:
        _, controllers, path = [*line.split(":", 2), "", ""][:3]
        if path.startswith("/"):
            out[controllers] = path
    return out


def _up_from(mount: Path, path: str) -> list[Path]:
    """The cgroup ``path``'s directory under ``mount``, then each ancestor up to ``mount``."""
    parts = [p for p in path.split("/") if p not in ("", ".", "..")]
    return [mount.joinpath(*parts[:n]) for n in range(len(parts), -1, -1)]


def _relative(folder: Path, mount: Path) -> str:
    """A cgroup's folder as its path under the mount: ``"/a/b"``, ``"/"`` for the root."""
    rel = folder.relative_to(mount).as_posix()
    return "/" if rel == "." else "/" + rel


def _v2_quota(folder: Path) -> float | None:
    return parse_cpu_max((folder / "cpu.max").read_text())


def _v1_quota(folder: Path) -> float | None:
    return parse_cfs((folder / "cpu.cfs_quota_us").read_text(),
                     (folder / "cpu.cfs_period_us").read_text())


def _smallest(folders: list[Path],
              read: Callable[[Path], float | None]) -> tuple[bool, float | None, Path | None]:
    """(whether any of ``folders`` had a readable quota, the smallest quota, its folder)."""
    found, best, where = False, None, None
    for folder in folders:
        try:
            quota = read(folder)
        except (OSError, ValueError):  # no such cgroup here, or no cpu controller in it
            continue
        found = True
        if quota is not None and (best is None or quota < best):
            best, where = quota, folder
    return found, best, where


def cgroup_limit(root: Path = CGROUP_ROOT,
                 proc: Path = PROC_CGROUP) -> tuple[float | None, str]:
    """The CPU quota bounding this process, read at its own cgroup and every ancestor.

    A parent's quota bounds its children, so the smallest one counts.  cgroup v2
    (``cpu.max`` along the path of the ``0::`` line) wins where any of its files
    is there; else cgroup v1 (``cpu.cfs_quota_us`` over ``cpu.cfs_period_us``
    along the path of the hierarchy holding the ``cpu`` controller, mounted at
    one of :data:`V1_CPU_MOUNTS`).  A cgroup whose folder is missing (a
    container that shows its own cgroup at the mount root) is skipped: the
    mount root is always read.

    Returns
    -------
    tuple
        The quota in CPUs (None when there is none) and the cgroup it was read
        at (``"/a/b"``, relative to the mount; the process's own cgroup when
        there is no quota, ``"/"`` when that is unknown).
    """
    groups = own_cgroups(proc)
    v1 = next((p for c, p in groups.items() if "cpu" in c.split(",")), "/")
    tries = [(root, groups.get("", "/"), _v2_quota)]
    tries += [(root / m, v1, _v1_quota) for m in dict.fromkeys(
        [*(c for c in groups if "cpu" in c.split(",")), *V1_CPU_MOUNTS])]
    for mount, path, read in tries:
        found, quota, where = _smallest(_up_from(mount, path), read)
        if found:
            return quota, path if where is None else _relative(where, mount)
    return None, groups.get("", v1)


def cgroup_quota(root: Path = CGROUP_ROOT, proc: Path = PROC_CGROUP) -> float | None:
    """The cgroup CPU quota in CPUs bounding this process (:func:`cgroup_limit`), or None
    when there is none."""
    return cgroup_limit(root, proc)[0]


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


def host_record(root: Path = CGROUP_ROOT, proc: Path = PROC_CGROUP) -> dict[str, Any]:
    """Describe this host and interpreter.

    Parameters
    ----------
    root, proc
        Where the cgroup hierarchies are mounted, and the process's cgroups
        (:func:`cgroup_limit`).

    Returns
    -------
    dict
        Flat record of str, int and float values (pyperf metadata accepts
        nothing else): CPU model, logical cores, affinity, cgroup quota (0.0
        when unlimited) and the cgroup it was read at, usable cores, Python
        version, implementation, build, GIL, JIT, available start methods and
        the default one.
    """
    affinity = affinity_count()
    quota, cgroup = cgroup_limit(root, proc)
    free_threaded = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
    return {
        "cpu_model": cpu_model(),
        "logical_cores": os.cpu_count() or 1,
        "cpu_affinity": affinity,
        "cgroup_cpu_quota": 0.0 if quota is None else round(quota, 3),
        "cgroup_path": cgroup or "/",
        "usable_cores": usable_cores(affinity, quota),
        "python_version": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "python_build": " ".join(platform.python_build())
        + (" free-threading" if free_threaded else ""),
        "python_executable": sys.executable,
        "python_prefix": sys.prefix,  # a venv's own, beside its base interpreter's
        "gil_enabled": int(gil_enabled()),
        "start_methods": ",".join(multiprocessing.get_all_start_methods()),
        "event_loops": ",".join(event_loops()),
        # what a pool made without a start method gets (forkserver on Linux from 3.14)
        "default_start_method": multiprocessing.get_start_method(),
        "jit_enabled": int(jit_enabled()),
        "platform": platform.platform(),
        "hostname": platform.node() or "unknown",
    }


def main(argv: list[str]) -> int:
    """Print this interpreter's host record as one line of JSON (``argv`` is unused)."""
    json.dump(host_record(), sys.stdout, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
