"""One redraw of a running run's report (``python -m bench.report.live RUN_DIR``).

Started by :class:`bench.measure.live.LiveReport`.  It lowers itself to the idle
scheduling class before it imports anything heavy, draws into a hidden
folder of the run directory, and moves each file into place, the page last,
so that every file a browser loads is whole.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
from pathlib import Path
from types import FrameType

from bench.measure.live import DRAFT  # standard library only: nothing heavy before idle_priority


def idle_priority() -> str:
    """Move this process to the idle scheduling class; say which one it got."""
    if hasattr(os, "sched_setscheduler") and hasattr(os, "SCHED_IDLE"):
        with contextlib.suppress(OSError):
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
            return "SCHED_IDLE"
    with contextlib.suppress(OSError):
        os.nice(19)
        return "nice 19"
    return "normal"


def redraw(run_dir: Path) -> Path:
    """Draw ``run_dir``'s report into :data:`DRAFT` and move each file into place, page last."""
    from bench.report.html import write_report
    from bench.results import store

    draft = run_dir / DRAFT
    index = write_report(store.resolve_results(run_dir), draft)
    files = sorted((p for p in draft.iterdir() if p.is_file()), key=lambda p: p == index)
    for path in files:
        path.replace(run_dir / path.name)
    with contextlib.suppress(OSError):
        draft.rmdir()
    return run_dir / index.name


def _stopped(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(1)  # through the chart pool's exit, which ends its server and drawers


def main(argv: list[str]) -> int:
    """``python -m bench.report.live RUN_DIR``: one redraw at idle priority; SIGTERM stops it."""
    signal.signal(signal.SIGTERM, _stopped)
    idle_priority()
    try:
        redraw(Path(argv[0]))
    except BaseException:  # a redraw that fails leaves the last good page; the final one reports
        shutil.rmtree(Path(argv[0]) / DRAFT, ignore_errors=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
