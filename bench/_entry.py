"""The process entry of ``concbench`` and ``python -m bench``: signals first, then the CLI.

This module imports only ``os``, ``signal`` and ``sys``, so that the console
script and ``python -m bench`` take over SIGINT and SIGTERM a few
milliseconds after the interpreter starts, before :mod:`bench.cli` pulls in
pandas, matplotlib and pyperf.  From then on:

* the first SIGINT or SIGTERM raises :class:`KeyboardInterrupt` wherever the
  program is (importing a module, parsing arguments, starting a child,
  writing results, drawing the report), and every later one is ignored, so
  the clean-up it triggers runs to its end and a second Ctrl-C never prints
  a traceback;
* an interrupted run ends with one line on stderr and exit code 130 (SIGTERM
  too), and no child process of ours is left: whatever is still running when
  we leave is killed with its process group;
* the interpreter shuts down (``atexit`` handlers, joins of
  ``concurrent.futures`` threads) with both signals ignored;
* an interrupt raised where Python can only report it, not propagate it (in
  a ``__del__`` method or a finaliser that the signal happened to land in),
  is not printed but delivered again a millisecond later.

A signal that lands before this module runs (the interpreter's own start-up,
20-30 ms) gets Python's default behaviour.  :func:`bench.cli.main` stays
the testable core; this is only its process wrapper.
"""

from __future__ import annotations

import atexit
import os
import signal
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from sys import UnraisableHookArgs
    from types import FrameType
    from typing import NoReturn

#: Exit code of an interrupted command, for SIGINT and SIGTERM alike (128 + SIGINT).
INTERRUPTED = 130
_SIGNALS = (signal.SIGINT, signal.SIGTERM)
#: An interrupt is being handled: further signals are ignored.
_stopping = False
#: The command is over: nothing re-arms the signals any more.
_exiting = False
_previous_hook = sys.unraisablehook


def _ignore_signals() -> None:
    for sig in _SIGNALS:
        signal.signal(sig, signal.SIG_IGN)


def _on_signal(signum: int, frame: FrameType | None) -> None:
    """The first SIGINT or SIGTERM raises KeyboardInterrupt; later ones do nothing."""
    global _stopping
    if _stopping:
        return
    _stopping = True
    _ignore_signals()  # also over any handler installed later (the runner's for SIGTERM)
    raise KeyboardInterrupt


def _take_signals() -> None:
    """Route SIGINT and SIGTERM to :func:`_on_signal`.

    A SIGINT that our parent set to be ignored (``nohup``, ``cmd &`` in a
    script) stays ignored, as Python itself would leave it.
    """
    for sig in _SIGNALS:
        if sig == signal.SIGINT and signal.getsignal(sig) is signal.SIG_IGN:
            continue
        signal.signal(sig, _on_signal)


def _stop() -> None:
    """From here on, SIGINT and SIGTERM are ignored (clean-up and interpreter shutdown)."""
    global _stopping, _exiting
    _stopping = _exiting = True
    _ignore_signals()
    if hasattr(signal, "setitimer"):
        signal.setitimer(signal.ITIMER_REAL, 0)


def _on_alarm(signum: int, frame: FrameType | None) -> None:
    """The re-delivered interrupt (see :func:`_unraisable`)."""
    global _stopping
    if _exiting:
        return
    _stopping = True
    _ignore_signals()
    raise KeyboardInterrupt


def _unraisable(unraisable: UnraisableHookArgs) -> None:
    """Swallow a KeyboardInterrupt Python could not propagate, and raise it again soon.

    The signal handler raises wherever the main thread is; inside a
    ``__del__`` method or a finaliser Python can only print the exception
    (``Exception ignored in ...``) and carry on.  Instead, a timer delivers
    the interrupt again once that code has returned.
    """
    if isinstance(unraisable.exc_value, KeyboardInterrupt) and hasattr(signal, "setitimer"):
        if not _exiting:
            signal.signal(signal.SIGALRM, _on_alarm)
            signal.setitimer(signal.ITIMER_REAL, 0.001)
        return
    _previous_hook(unraisable)


def _children() -> list[tuple[int, int]]:
    """``(pid, process group)`` of this process's live children, read from ``/proc`` (Linux)."""
    from pathlib import Path  # only on the way out: the entry imports nothing heavy

    me = os.getpid()
    found = []
    try:
        entries = list(Path("/proc").iterdir())
    except OSError:
        return []
    for entry in entries:
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_bytes()
        except OSError:
            continue
        # pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses
        fields = stat[stat.rfind(b")") + 2:].split()
        if len(fields) >= 3 and fields[0] != b"Z" and int(fields[1]) == me:
            found.append((int(entry.name), int(fields[2])))
    return found


def end_children() -> None:
    """Kill every child process still running, with its process group when it leads one.

    The sweep ends each point's child and its process group itself; this is
    the last resort for a signal that landed in a window where a child had
    been started but not yet recorded.  Our own process group is never
    signalled as a whole, only our children in it.
    """
    ours = os.getpgrp()
    for pid, group in _children():
        try:
            if group == pid and group != ours:
                os.killpg(group, signal.SIGKILL)
            else:
                os.kill(pid, signal.SIGKILL)
        except OSError:  # gone meanwhile, or not ours to signal
            pass


def console(argv: Sequence[str] | None = None) -> int:
    """Run the concbench command line as a process and return its exit code.

    Parameters
    ----------
    argv
        Arguments after the program name (default ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit code of :func:`bench.cli.main`.  Interrupted by SIGINT or
        SIGTERM, the process ends here with exit code 130, after one line on
        stderr (see :func:`_exit_interrupted`).
    """
    _take_signals()
    sys.unraisablehook = _unraisable
    signalled = False
    try:
        try:
            from bench.cli import main

            code = main(argv)
        finally:
            signalled = _stopping  # before _stop(), which sets it for the clean-up
            _stop()
    except KeyboardInterrupt:
        code = INTERRUPTED
        _say("concbench: interrupted")
    except Exception:
        if not signalled:
            raise  # a bug: its traceback is wanted
        # an interrupt that surfaced as another error (a KeyboardInterrupt during an
        # import compiling "\N{...}" escapes becomes a SyntaxError)
        code = INTERRUPTED
        _say("concbench: interrupted")
    if code == INTERRUPTED:
        _exit_interrupted()
    return code


def _say(line: str) -> None:
    try:
        print(line, file=sys.stderr, flush=True)
    except OSError:  # stderr closed or a broken pipe
        pass


def _exit_interrupted() -> NoReturn:
    """End the process with exit code 130, children gone, ``atexit`` handlers run.

    Not through the interpreter's own exit: a KeyboardInterrupt that once
    escaped code run by ``exec`` of a string (dataclasses, namedtuple) marks
    the interpreter, which then ends itself with SIGINT (status -2) instead of
    the code returned.  Non-daemon threads do not hold the exit up.
    """
    end_children()
    try:
        atexit._run_exitfuncs()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError, AttributeError):
                pass
        os._exit(INTERRUPTED)
