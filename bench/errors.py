"""The project's own error type: a user's mistake, shown as one line, exit 2."""

from __future__ import annotations


class UsageError(Exception):
    """A mistake in the user's input (a flag, a file, a value).

    The CLI prints ``concbench: <message>`` on stderr and exits with code 2.
    """
