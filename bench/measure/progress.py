"""Progress of a sweep: a rich bar on a terminal, plain lines in CI logs.

The unit of progress is one child: one group of points measured for one round.
"""

from __future__ import annotations

import io
import sys
import time
from collections.abc import Sequence
from typing import IO, Protocol


class Progress(Protocol):
    """What the runner reports while it sweeps."""

    def start(self, total: int, done_before: int = 0) -> None:
        """``total`` planned children (``done_before`` of them already on disk)."""

    def begin(self, label: str) -> None:
        """A child starts."""

    def end(self, label: str, points: int, problems: Sequence[str]) -> None:
        """A child ended having measured ``points`` points (their values are on disk);
        ``problems`` are lines about the ones that failed."""

    def note(self, message: str) -> None:
        """A line about the sweep (e.g. extra rounds begin)."""

    def close(self) -> None:
        """The sweep is over."""


def _fmt_eta(seconds: float) -> str:
    seconds = max(0, round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


class PlainProgress:
    """One line per child: ``[i/N] label: k points (ETA)``; for CI logs and pipes."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream or sys.stderr
        self.total = 0
        self.done = 0
        self.t0 = 0.0

    def start(self, total: int, done_before: int = 0) -> None:
        self.total, self.done, self.t0 = total - done_before, 0, time.monotonic()
        note = f" ({done_before} already on disk)" if done_before else ""
        print(f"concbench: {total} planned group-rounds{note}", file=self.stream, flush=True)

    def begin(self, label: str) -> None:
        pass

    def end(self, label: str, points: int, problems: Sequence[str]) -> None:
        self.done += 1
        elapsed = time.monotonic() - self.t0
        left = max(0, self.total - self.done)
        eta = f" (ETA {_fmt_eta(elapsed / self.done * left)})" if left else ""
        print(f"[{self.done}] {label}: {points} points{eta}", file=self.stream, flush=True)
        for line in problems:
            print(f"  {line}", file=self.stream, flush=True)

    def note(self, message: str) -> None:
        print(f"concbench: {message}", file=self.stream, flush=True)

    def close(self) -> None:
        pass


class RichProgress:
    """A live bar with the current child, count and ETA; for terminals."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.console = Console(stderr=True)
        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                            console=self.console)
        self.task = self.bar.add_task("", total=0)

    def start(self, total: int, done_before: int = 0) -> None:
        self.bar.update(self.task, total=total, completed=done_before)
        self.bar.start()

    def begin(self, label: str) -> None:
        self.bar.update(self.task, description=label)

    def end(self, label: str, points: int, problems: Sequence[str]) -> None:
        for line in problems:
            self.console.print(f"[red]{line}[/red]", highlight=False)
        task = self.bar.tasks[0]
        if task.total is not None and task.completed < task.total:  # extra rounds: not planned
            self.bar.advance(self.task)

    def note(self, message: str) -> None:
        self.console.print(message, markup=False, highlight=False)

    def close(self) -> None:
        self.bar.stop()


def make_progress(quiet: bool = False) -> Progress:
    """A rich bar when stderr is a terminal, plain lines otherwise."""
    if quiet:
        return PlainProgress(io.StringIO())
    return RichProgress() if sys.stderr.isatty() else PlainProgress()
