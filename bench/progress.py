"""Progress of a sweep: a rich bar on a terminal, plain lines in CI logs."""

from __future__ import annotations

import io
import sys
import time
from typing import IO, TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from bench.models import Point
    from bench.runner import Outcome


class Progress(Protocol):
    """What the runner reports while it sweeps."""

    def start(self, total: int, done_before: int = 0) -> None:
        """``total`` points to measure now (``done_before`` already on disk)."""

    def begin(self, point: Point) -> None:
        """A point starts."""

    def end(self, outcome: Outcome) -> None:
        """A point finished (measured or failed)."""

    def note(self, message: str) -> None:
        """A line about the sweep (e.g. a point measured again)."""

    def close(self) -> None:
        """The sweep is over."""


def _fmt_eta(seconds: float) -> str:
    seconds = max(0, round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def _describe(outcome: Outcome) -> str:
    if not outcome.ok:
        return f"FAILED ({outcome.reason})"
    assert outcome.benchmark is not None
    values = outcome.benchmark.get_values()
    med = sorted(values)[len(values) // 2]
    return f"median {med * 1e3:.3g} ms over {len(values)} values"


class PlainProgress:
    """One line per point: ``[i/N] name: result (ETA)``; for CI logs and pipes."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream or sys.stderr
        self.total = 0
        self.done = 0
        self.t0 = 0.0

    def start(self, total: int, done_before: int = 0) -> None:
        self.total, self.done, self.t0 = total, 0, time.monotonic()
        note = f" ({done_before} already measured)" if done_before else ""
        print(f"concbench: measuring {total} points{note}", file=self.stream, flush=True)

    def begin(self, point: Point) -> None:
        pass

    def end(self, outcome: Outcome) -> None:
        self.done += 1
        elapsed = time.monotonic() - self.t0
        eta = elapsed / self.done * (self.total - self.done)
        print(f"[{self.done}/{self.total}] {outcome.point.name}: {_describe(outcome)}"
              f" (ETA {_fmt_eta(eta)})", file=self.stream, flush=True)

    def note(self, message: str) -> None:
        print(f"concbench: {message}", file=self.stream, flush=True)

    def close(self) -> None:
        pass


class RichProgress:
    """A live bar with the current point, count and ETA; for terminals."""

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
        self.bar.update(self.task, total=total)
        self.bar.start()

    def begin(self, point: Point) -> None:
        self.bar.update(self.task, description=point.name)

    def end(self, outcome: Outcome) -> None:
        if not outcome.ok:
            self.console.print(f"[red]{outcome.point.name}: {_describe(outcome)}[/red]")
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

