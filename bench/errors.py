"""The project's own error types, and any exception as one line that keeps its cause."""

from __future__ import annotations

import errno
import re


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


#: A line as a traceback ends: ``SomeError: message`` (another interpreter's error, as text).
_RAISED = re.compile(r"(?:[a-z_]\w*\.)*[A-Z]\w*(?:Error|Exception|Failed): \S")
#: A formatted exception whose message starts on a later line (numpy's ImportError does).
_BARE = re.compile(r"(?:[a-z_]\w*\.)*[A-Z]\w*:")


def _own_line(exc: BaseException) -> str:
    """``exc`` alone: ``Type: first non-empty line``, ``Type`` where the message is empty."""
    lines = [" ".join(ln.split()) for ln in str(exc).splitlines() if ln.strip()]
    head = lines[0] if lines else ""
    if head.startswith("Traceback ") or _BARE.fullmatch(head):
        head = next((ln for ln in lines if _RAISED.match(ln)), head)
    name = getattr(exc, "name", None) if isinstance(exc, ImportError) else None
    if name and name not in head:
        head = f"{head} (module {name})" if head else f"module {name}"
    if not head or _RAISED.match(head):
        return head or type(exc).__name__
    return f"{type(exc).__name__}: {head}"


#: A limit of the host that an error means it hit, by errno, and what to raise.
_LIMITS = {
    errno.EMFILE: "the open-file limit of the process: raise it (ulimit -n)",
    errno.ENFILE: "the host's open-file limit: raise fs.file-max",
    errno.EADDRNOTAVAIL: "the ephemeral ports: widen net.ipv4.ip_local_port_range, or reuse "
                         "connections",
}


def _limit_hint(exc: BaseException) -> str:
    """`` [a limit: what to raise]`` where ``exc`` means the host ran out of something."""
    if isinstance(exc, OSError) and exc.errno in _LIMITS:
        return f" [{_LIMITS[exc.errno]}]"
    if isinstance(exc, RuntimeError) and "can't start new thread" in str(exc):
        return " [the thread limit: raise ulimit -u, kernel.threads-max or the memory for stacks]"
    return ""


def one_line(exc: BaseException, *, root: bool = False, limit: int = 300) -> str:
    """An exception in one line that keeps its cause.

    Parameters
    ----------
    exc
        The exception.  Its message's first non-empty line counts, whitespace collapsed; where
        that line is a traceback's header or a bare type (another interpreter's error, as
        text), the line that ends the traceback; an ImportError adds its module's name where
        the message lacks it.
    root
        Only the chain's root cause (``__cause__``, else ``__context__``): what an error that
        crossed from another interpreter means, past the wrappers of the crossing.
    limit
        The most characters returned.

    Returns
    -------
    str
        ``Type: message``, then ``(from Type: message)`` for a root cause that says more,
        then ``[the limit: what to raise]`` where an error of the chain means the host ran
        out of open files, ports or threads.
    """
    chain: list[BaseException] = []
    link: BaseException | None = exc
    while link is not None and all(link is not seen for seen in chain):
        chain.append(link)
        link = link.__cause__ or (None if link.__suppress_context__ else link.__context__)
    lines = [_own_line(link) for link in chain]
    hint = next((h for link in chain if (h := _limit_hint(link))), "")
    cause = next((ln for ln in reversed(lines) if ":" in ln), lines[-1])
    if root:
        return (cause[:limit - len(hint)] + hint)[:limit]
    if cause in lines[0]:
        return lines[0][:limit - len(hint)] + hint
    tail = f" (from {cause[:limit // 2]}){hint}"
    return lines[0][:limit - len(tail)] + tail
