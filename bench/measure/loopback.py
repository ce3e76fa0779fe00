"""The loopback service: an HTTP/1.1 server in its own process, and the parent's handle on it.

Standard library only at import (uvloop is used where importable).  The server
(:func:`main`) answers ``GET /call/{i}`` after the latency that
:func:`bench.scenarios.service.latency_of` draws for ``i``: one body, or
server-sent events spread over the latency; beyond the spec's rate it answers
429.  ``/ready`` and ``/stats`` report on it.  It binds 127.0.0.1 only, on a
free port it prints, and never outlives its parent: it exits at EOF on its
stdin (the parent holds the pipe's other end), on SIGTERM or SIGINT, and after
``--max-seconds``.  :class:`Service` starts, checks and stops it.

The server (:mod:`bench.measure.loopback_server`) is ``asyncio.Protocol`` code rather
than ``aiohttp.web`` because it costs less per request: ``scripts/loopback_cost.py``
measured ~31 µs of server CPU per request on uvloop (~35 µs on asyncio's loop)
against ~52 µs (~55 µs) for a minimal ``aiohttp.web`` app, on a noisy 2-core host.
"""

from __future__ import annotations

import atexit
import contextlib
import http.client
import json
import os
import select
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import bench
from bench.measure.loopback_server import PDEATHSIG_ENV, main
from bench.scenarios import service
from bench.scenarios.service import ServiceSpec

__all__ = ["Service", "main", "stop_all"]

_RUNNING: dict[int, Service] = {}
_CODE = "import sys; from bench.measure.loopback import main; sys.exit(main(sys.argv[1:]))"


class Service:
    """A loopback server in a child process, for as long as this handle (or process) lives.

    Parameters
    ----------
    spec
        What the server does with each call.
    python
        The interpreter that runs it.
    max_seconds
        The server exits by itself after this long.
    """

    def __init__(self, spec: ServiceSpec, python: str = sys.executable,
                 max_seconds: float = 3600) -> None:
        self.spec, self.python, self.max_seconds = spec, python, max_seconds
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self._stderr_text = ""

    @property
    def url(self) -> str:
        """The base URL, ``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        """The server's process id."""
        if self._proc is None:
            raise RuntimeError("the loopback service is not started")
        return self._proc.pid

    @property
    def returncode(self) -> int | None:
        """The server's exit code once reaped (by :meth:`stop`), else None."""
        return None if self._proc is None else self._proc.returncode

    def start(self) -> Service:
        """Start the server and wait until it answers ``/ready``.

        Raises
        ------
        RuntimeError
            It could not be run, or it did not print its port within 10 s or answer
            ``/ready`` within 5 s more (the message ends with its stderr's last line).
        """
        if self._proc is not None:
            raise RuntimeError("the loopback service is already started")
        env = dict(os.environ)
        root = str(Path(bench.__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        main_thread = threading.current_thread() is threading.main_thread()
        env[PDEATHSIG_ENV] = "1" if main_thread else "0"
        self._stderr = tempfile.TemporaryFile()
        _RUNNING[id(self)] = self
        argv = [self.python, "-c", _CODE, self.spec.to_text(), "--max-seconds",
                str(self.max_seconds)]
        try:
            try:
                self._proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                              stderr=self._stderr, env=env, start_new_session=False)
            except OSError as exc:
                raise RuntimeError(f"loopback service {argv[3]!r} did not start: {exc}") from None
            self.port = self._read_port(10.0)
            self._wait_ready(5.0)
        except BaseException:
            self.stop()
            raise
        return self

    def _read_port(self, timeout: float) -> int:
        assert self._proc is not None
        assert self._proc.stdout is not None
        fd, line = self._proc.stdout.fileno(), b""
        deadline = time.monotonic() + timeout
        while b"\n" not in line:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise self._failed(f"it printed no port within {timeout:g} s")
            chunk = os.read(fd, 64)
            if not chunk:
                raise self._failed("it closed its stdout before printing a port")
            line += chunk
        try:
            return int(line)
        except ValueError:
            raise self._failed(f"it printed {line.strip()!r}, not a port") from None

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                status = self._get("/ready", 1.0)[0]
                problem = f"/ready answered {status}"
                if status == 200:
                    return
            except (OSError, http.client.HTTPException) as exc:
                problem = f"/ready: {exc}"
            if time.monotonic() > deadline:
                raise self._failed(f"{problem} after {timeout:g} s")
            time.sleep(0.05)

    def _failed(self, reason: str) -> RuntimeError:
        assert self._proc is not None
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._proc.wait(0.5)
        code = "" if self._proc.returncode is None else f", exit code {self._proc.returncode}"
        last = self.stderr().strip().splitlines()[-1:]
        return RuntimeError(f"loopback service {self.spec.to_text()!r} did not start: {reason}"
                            f"{code}" + (f"; its stderr ends: {last[0]}" if last else ""))

    def _get(self, target: str, timeout: float) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request("GET", target)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def stats(self, reset: bool = False) -> dict[str, Any]:
        """The server's ``/stats`` (``reset``: its maxima then fall back to the current)."""
        status, body = self._get("/stats?reset=1" if reset else "/stats", 5.0)
        if status != 200:
            raise RuntimeError(f"loopback service /stats answered {status}")
        out: dict[str, Any] = json.loads(body)
        return out

    def env(self) -> dict[str, str]:
        """The environment a measured child needs to find this service."""
        return {service.ENV: self.url, service.ENV + "_SPEC": self.spec.to_text()}

    def stderr(self) -> str:
        """What the server wrote on its stderr (the last 64 KiB)."""
        if self._stderr is None:
            return self._stderr_text
        self._stderr.seek(0, os.SEEK_END)
        self._stderr.seek(max(0, self._stderr.tell() - 65536))
        return self._stderr.read().decode(errors="replace")

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the server to exit by itself; its exit code (``TimeoutExpired`` if not)."""
        if self._proc is None:
            raise RuntimeError("the loopback service is not started")
        return self._proc.wait(timeout)

    def stop(self) -> None:
        """Close its stdin, wait 2 s, then SIGTERM, 2 s, then SIGKILL; reap it (idempotent)."""
        proc = self._proc
        if proc is not None:
            for pipe in (proc.stdin, proc.stdout):
                if pipe is not None:
                    with contextlib.suppress(OSError):
                        pipe.close()
            for ask in (None, proc.terminate, proc.kill):
                if ask is not None:
                    ask()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(2.0)
                    break
        if self._stderr is not None:
            self._stderr_text = self.stderr()
            self._stderr.close()
            self._stderr = None
        _RUNNING.pop(id(self), None)

    def __enter__(self) -> Service:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def stop_all() -> None:
    """Stop every :class:`Service` this process started and has not stopped."""
    for running in list(_RUNNING.values()):
        running.stop()


atexit.register(stop_all)
