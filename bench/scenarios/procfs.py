"""Readings of ``/proc`` (Linux) the metrics and the plan take: a process's CPU seconds, its
set sizes and its peak resident memory.  Standard library only; 0 where ``/proc`` cannot tell.
"""

from __future__ import annotations

import contextlib
from pathlib import Path


def own_bytes() -> int:
    """This process's proportional set size, bytes (0 where /proc cannot tell)."""
    return rollup_bytes("self", "Pss")


def proc_cpu_s(pid: int) -> float:
    """CPU seconds of every thread of ``pid`` (``/proc/PID/task/*/schedstat``, nanoseconds)."""
    total = 0
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError, ValueError, IndexError):
                total += int((task / "schedstat").read_text().split()[0])
    return total / 1e9


def rollup_bytes(pid: int | str, *keys: str) -> int:
    """The sum of ``keys`` of ``/proc/PID/smaps_rollup``, bytes; 0 if unreadable."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        lines = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
        return sum(int(ln.split()[1]) * 1024 for ln in lines if ln.partition(":")[0] in keys)
    return 0


def status_kib(pid: int | str, key: str) -> int:
    """A ``kB`` line of ``/proc/PID/status`` (``VmRSS``, ``VmHWM``); 0 if unreadable."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1])
    return 0


def reset_peak(pid: int | str) -> bool:
    """Reset the kernel's peak RSS of ``pid`` to its current RSS (``clear_refs``: 5)."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def held_bytes(proc: int | str) -> int:
    """What :class:`_Memory` counts of a process: this process's PSS, a pool worker's USS
    (unique set size: the pages no other process maps)."""
    return rollup_bytes(proc, *(("Pss",) if proc == "self"
                                 else ("Private_Clean", "Private_Dirty")))
