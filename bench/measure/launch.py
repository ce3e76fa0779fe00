"""Run one round child (:mod:`bench.measure.child`) and tell what became of each point.

The child runs in its own session, so that a hang, a crash or an interruption
ends it with every pool worker it made (its whole process group).  It writes
progress lines to a status file; the parent reads them while it waits, so a
point that hangs (no new line for ``timeout`` seconds) or crashes the process
is known by name.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyperf

from bench.measure.interpreter import Interpreter
from bench.scenarios.models import Point

#: Seconds between two looks at a running child.
POLL_S = 0.05


@dataclass
class ChildResult:
    """What one child left: its benchmarks, the points that failed and why."""

    benchmarks: list[pyperf.Benchmark] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)
    #: The point that crashed or hung the child (its other points were not measured).
    culprit: str | None = None
    #: Wall seconds of the child, from its start to its results loaded.
    seconds: float = 0.0
    #: Seconds of the child's own phases (``open``, ``sweeps``, ``timed``, ``write``, ``main``).
    phases: dict[str, float] = field(default_factory=dict)


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL a child's whole process group (pool workers included) and reap it."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)


def _status(path: Path) -> list[list[str]]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    return [line.split(" ", 2) for line in text.splitlines() if line.strip()]


def _last_point(lines: list[list[str]]) -> str | None:
    for words in reversed(lines):
        if words[0] in ("open", "probe", "run") and len(words) > 1:
            return words[1]
    return None


def _exit_reason(code: int, log: str) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"child killed by {signal.Signals(-code).name}"
    lines = [ln.strip() for ln in log.splitlines() if ln.strip()]
    tail = next((ln for ln in reversed(lines) if not ln.startswith(("File ", "^", "~"))), "")
    return f"exit {code}: {tail[:300]}" if tail else f"exit {code}"


def run_child(interp: Interpreter, job: dict[str, Any], points: list[Point],
              timeout: float, run_name: str = "",
              env: dict[str, str] | None = None) -> ChildResult:
    """Measure ``points`` (one group) for one round in a fresh child.

    Parameters
    ----------
    interp
        The interpreter that runs the child.
    job
        The job's settings (see :class:`bench.measure.child.Job`), less its points
        and file paths.
    points
        The points to measure together.
    timeout
        Seconds the child may spend on one point (opening it, or one value)
        before it is killed.
    run_name
        Set as ``CONCBENCH_RUN`` in the environment of the child and of every
        process it starts, so that a run's processes can be told apart.
    env
        More of the child's environment (a loopback service's address).
    """
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="concbench-round-") as tmp:
        status, output = Path(tmp) / "status", Path(tmp) / "round.json"
        job_file = Path(tmp) / "job.json"
        job_file.write_text(json.dumps({**job, "points": [p.to_dict() for p in points],
                                        "status": str(status), "output": str(output)}),
                            encoding="utf-8")
        with (Path(tmp) / "log").open("w+b") as log:
            proc: subprocess.Popen[bytes] | None = None
            try:
                proc = subprocess.Popen(interp.command("bench.measure.child", str(job_file)),
                                        env={**interp.env, **(env or {}),
                                             "CONCBENCH_RUN": run_name},
                                        stdout=log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, start_new_session=True,
                                        cwd=interp.cwd)
                code, hung = _wait(proc, status, timeout)
            finally:
                if proc is not None:  # pool workers a crashed child left behind die too
                    kill_group(proc)
            log.seek(0)
            text = log.read().decode("utf-8", "replace")
        lines = _status(status)
        result = ChildResult(seconds=time.monotonic() - t0)
        result.failures = {w[1]: (w[2] if len(w) > 2 else "failed")
                           for w in lines if w[0] == "fail" and len(w) > 1}
        if hung or code != 0 or not lines or lines[-1][0] != "done":
            culprit = _last_point(lines) or points[0].name
            result.culprit = culprit
            result.failures[culprit] = (f"timed out after {timeout:g} s" if hung
                                        else _exit_reason(code, text))
            return result
        if output.exists():
            result.benchmarks = list(pyperf.BenchmarkSuite.load(str(output)).get_benchmarks())
        result.phases = _phases(lines[-1][1:])
        result.seconds = time.monotonic() - t0  # its results loaded too
        return result


def _phases(words: list[str]) -> dict[str, float]:
    """``open=0.1 sweeps=2.3`` (the words of the child's ``done`` line) as a dict."""
    out = {}
    for word in " ".join(words).split():
        key, _, value = word.partition("=")
        with contextlib.suppress(ValueError):
            out[key] = float(value)
    return out


def _wait(proc: subprocess.Popen[bytes], status: Path, timeout: float) -> tuple[int, bool]:
    """Wait for the child; (exit code, whether it hung on one point past ``timeout``)."""
    size, since = -1, time.monotonic()
    while True:
        try:
            return proc.wait(timeout=POLL_S), False
        except subprocess.TimeoutExpired:
            pass
        now = time.monotonic()
        with contextlib.suppress(FileNotFoundError):
            new = status.stat().st_size
            if new != size:
                size, since = new, now
        if now - since > timeout:
            return -signal.SIGKILL, True
