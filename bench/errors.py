"""The project's own error type: a user's mistake, shown as one line, exit 2."""

from __future__ import annotations


class UsageError(Exception):
    """A mistake in the user's input (a flag, a file, a value).

    The CLI prints ``concbench: <message>`` on stderr and exits with code 2.
    """


class WorkloadFailed(Exception):
    """The user's own function failed before anything was measured (exit 1).

    ``details`` is the user's traceback, without the harness's frames; the
    CLI prints it, then ``concbench: <message>``.
    """

    def __init__(self, message: str, details: str = "") -> None:
        super().__init__(message)
        self.details = details
