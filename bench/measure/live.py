"""The report of a run in progress: ``index.html`` redrawn after each round, at idle priority.

A long run keeps its report current, so that a user can look before the end.
The sweep (:mod:`bench.measure.sweep`) asks for a redraw after each planned
round and, during extra rounds, at most every :data:`MIN_INTERVAL_S`
seconds; a redraw is skipped while the previous one is still drawing.  The
drawing is ``python -m bench.report.live RUN_DIR``, a process of its own
session (a Ctrl-C at the terminal is the runner's to handle) that lowers itself
to the idle scheduling class (``SCHED_IDLE``, and nice 19 where that class is
missing) before it imports anything: it runs on cycles the measured
children leave, and its forked chart workers inherit the class.  It draws into
a hidden folder of the run directory and moves each file into place, the
page last, so that every file a browser loads is whole.  When the sweep
ends, interrupted or not, it stops a redraw still drawing, chart processes
included, before the final report is drawn.

This module starts and stops the redraws and imports only the standard
library; :mod:`bench.report.live` draws.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

#: The hidden folder of the run directory a redraw draws into.
DRAFT = ".live"
#: Fewest seconds between two redraws during extra rounds.
MIN_INTERVAL_S = 30.0
#: Seconds a redraw is given to end its chart processes and exit once told to stop.
STOP_S = 10.0
#: Runs whose budget is at least this long get a live report unless told otherwise.
AUTO_MIN_BUDGET_S = 240.0


def wanted(live: bool | None, budget_s: float) -> bool:
    """Whether a run keeps a live report: as asked, else when its budget is long."""
    return budget_s >= AUTO_MIN_BUDGET_S if live is None else live


class LiveReport:
    """Redraws of one run directory's report, one at a time, in the background."""

    def __init__(self, run_dir: Path, python: str = sys.executable) -> None:
        self.run_dir, self.python = Path(run_dir), python
        self.proc: subprocess.Popen[bytes] | None = None
        self.last = -float("inf")
        self.started = 0

    def busy(self) -> bool:
        """Whether a redraw is still drawing."""
        return self.proc is not None and self.proc.poll() is None

    def update(self, *, at_most_every: float = 0.0) -> bool:
        """Start a redraw unless one is drawing, or one began less than ``at_most_every`` s ago."""
        now = time.monotonic()
        if self.busy() or now - self.last < at_most_every:
            return False
        self.proc = subprocess.Popen(
            [self.python, "-m", "bench.report.live", str(self.run_dir)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        self.last, self.started = now, self.started + 1
        return True

    def stop(self) -> None:
        """End a redraw still drawing, reap it, and remove what it had drawn but not yet moved
        into place.

        SIGTERM first: the redraw ends its chart server and drawers (a process group of their
        own) before it exits, so nothing draws into :data:`DRAFT` once it is reaped.  One
        that has not ended within :data:`STOP_S` is killed with its group; its server then
        ends itself and its drawers on seeing the redraw go.
        """
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=STOP_S)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.proc.wait(timeout=10)
        self.proc = None
        shutil.rmtree(self.run_dir / DRAFT, ignore_errors=True)
