"""Signals while a run measures: SIGTERM as Ctrl-C, and none at all on the way out."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from types import FrameType
from typing import Any


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived; handled like Ctrl-C."""


@contextlib.contextmanager
def _handlers(new: dict[signal.Signals, Any]) -> Iterator[None]:
    """Install signal handlers for the block, then put the previous ones back (main thread only)."""
    try:
        previous = {sig: signal.signal(sig, handler) for sig, handler in new.items()}
    except ValueError:  # not the main thread: signals are not ours to handle
        yield
        return
    try:
        yield
    finally:
        for sig, old in previous.items():
            if old is not None:
                signal.signal(sig, old)


def interruptible() -> contextlib.AbstractContextManager[None]:
    """SIGTERM as Ctrl-C during the sweep; after the first signal, both are ignored.

    So that the manifest written on the way out cannot be interrupted by a
    second signal.  Where the command line's entry already handles SIGTERM,
    its handler stays.  The previous handlers are restored at the end.
    """
    def handler(signum: int, frame: FrameType | None) -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise Terminated

    current = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    if current[signal.SIGTERM] == signal.SIG_DFL:
        current[signal.SIGTERM] = handler
    return _handlers({sig: h for sig, h in current.items() if h is not None})


def no_signals() -> contextlib.AbstractContextManager[None]:
    """Ignore SIGINT and SIGTERM while the way out writes the manifest (main thread only)."""
    return _handlers({signal.SIGINT: signal.SIG_IGN, signal.SIGTERM: signal.SIG_IGN})
