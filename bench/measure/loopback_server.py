"""The loopback server: HTTP/1.1 with keep-alive on ``asyncio.Protocol``, in its own process.

Standard library only (uvloop where importable).  :class:`bench.measure.loopback.Service`
starts it (``main`` is re-exported there; that module's docstring says what it answers
and why this code).  Bounded: a header block of :data:`HEADER_LIMIT` bytes, :data:`MAX_REQUESTS`
a connection, :data:`IDLE_TIMEOUT` idle, ``--max-seconds`` in all.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import json
import math
import os
import re
import resource
import signal
import sys
import threading
import time
from collections.abc import Callable
from functools import lru_cache
from types import FrameType
from typing import Any, cast
from urllib.parse import parse_qs

from bench.scenarios import service
from bench.scenarios.service import ServiceSpec

#: A header block beyond this many bytes is answered 431 and its connection closed.
HEADER_LIMIT = 64 * 1024
#: Requests one connection may carry; the last is answered with ``Connection: close``.
MAX_REQUESTS = 100_000
#: Seconds a connection may stay idle (no call in flight) before the server closes it.
IDLE_TIMEOUT = 60.0
#: Set to "0" by a parent that starts the server from a thread other than its main one
#: (``PR_SET_PDEATHSIG`` fires when the starting *thread* exits, not the process).
PDEATHSIG_ENV = "CONCBENCH_LOOPBACK_PDEATHSIG"
_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
            429: "Too Many Requests", 431: "Request Header Fields Too Large",
            501: "Not Implemented"}
_CALL = re.compile(r"/call/(\d{1,18})", re.ASCII)


@lru_cache(maxsize=256)
def _head(status: int, length: int | None, ctype: str, extra: str) -> bytes:
    """A response's status line and headers (``length`` None: no ``Content-Length``)."""
    size = "" if length is None else f"Content-Length: {length}\r\n"
    return (f"HTTP/1.1 {status} {_REASONS[status]}\r\nContent-Type: {ctype}\r\n{size}"
            f"{extra}\r\n").encode("latin-1")


class _State:
    """The server's counters, its rate bucket and its open connections."""

    def __init__(self, spec: ServiceSpec, loop_name: str, loop: asyncio.AbstractEventLoop) -> None:
        self.spec, self.loop_name, self.loop = spec, loop_name, loop
        self.requests = self.rejected = self.inflight = self.max_inflight = self.max_connections = 0
        self.connections: set[_Http] = set()
        self.capacity = max(spec.rate, 1.0)
        self.tokens, self.refilled = self.capacity, time.monotonic()
        self.body = b"x" * spec.body
        self.event = service.event(self.body)
        self.chunk = f"{len(self.event):x}\r\n".encode() + self.event + b"\r\n"

    def admit(self) -> int:
        """0 where a call may go on (a token taken), else its ``Retry-After`` in seconds.

        A token bucket: capacity ``max(rate, 1)``, refilled at ``rate`` a second.
        """
        rate = self.spec.rate
        if not rate:
            return 0
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.refilled) * rate)
        self.refilled = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0
        self.rejected += 1
        return max(1, math.ceil((1 - self.tokens) / rate))

    def stats(self, reset: bool) -> dict[str, Any]:
        """The figures of ``/stats``; ``reset``: then the maxima fall back to the current."""
        out = {"requests": self.requests, "rejected": self.rejected, "inflight": self.inflight,
               "max_inflight": self.max_inflight, "cpu_s": time.process_time(),
               "loop": self.loop_name, "connections": len(self.connections),
               "max_connections": self.max_connections, "pid": os.getpid(),
               "spec": self.spec.to_text()}
        if reset:
            self.max_inflight, self.max_connections = self.inflight, len(self.connections)
        return out


class _Http(asyncio.Protocol):
    """One connection: requests parsed in order, each answered before the next is read."""

    def __init__(self, state: _State) -> None:
        self.state = state
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.busy = self.closing = self.looping = self.paused = self.write_paused = False
        self.keep, self.http10, self.served, self.skip = True, False, 0, 0
        self.timer: asyncio.TimerHandle | None = None
        self.idle_since = self.start = time.monotonic()
        self.delay, self.sent = 0.0, 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass
        self.state.connections.add(self)
        self.state.max_connections = max(self.state.max_connections, len(self.state.connections))

    def connection_lost(self, exc: Exception | None) -> None:
        self.state.connections.discard(self)
        self.closing = True
        if self.timer is not None:
            self.timer.cancel()
        if self.busy:
            self.busy = False
            self.state.inflight -= 1

    def data_received(self, data: bytes) -> None:
        self.buf += data
        self.idle_since = time.monotonic()
        self._process()

    def pause_writing(self) -> None:
        self.write_paused = True
        self._flow()

    def resume_writing(self) -> None:
        self.write_paused = False
        self._flow()

    def close(self) -> None:
        """Close the connection once what was written is sent."""
        self.closing = True
        if self.transport is not None:
            self.transport.close()

    def _flow(self) -> None:
        """Read only while the client reads our answers and the buffer stays bounded."""
        want = self.write_paused or len(self.buf) > HEADER_LIMIT
        if want != self.paused and not self.closing and self.transport is not None:
            self.paused = want
            (self.transport.pause_reading if want else self.transport.resume_reading)()

    def _process(self) -> None:
        """Answer the complete requests buffered, in order, until one is in flight."""
        if self.looping:
            return
        self.looping = True
        buf = self.buf
        while buf and not self.busy and not self.closing:
            if self.skip:  # a request body, not read
                taken = min(self.skip, len(buf))
                del buf[:taken]
                self.skip -= taken
                continue
            if buf.startswith(b"\r\n"):
                del buf[:2]
                continue
            end = buf.find(b"\r\n\r\n", 0, HEADER_LIMIT + 4)
            if end < 0:
                if len(buf) >= HEADER_LIMIT + 4:
                    self._reply(431, b"header block too large\n", close=True)
                break
            head = bytes(buf[:end])
            del buf[: end + 4]
            self._request(head.decode("latin-1"))
        self.looping = False
        self._flow()

    def _request(self, head: str) -> None:
        """Parse one request's head and route it."""
        lines = head.split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or parts[2] not in ("HTTP/1.1", "HTTP/1.0") or parts[1][:1] != "/":
            return self._reply(400, b"malformed request line\n", close=True)
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, colon, value = line.partition(":")
            if not colon or not name or name != name.strip() or " " in name:
                return self._reply(400, b"malformed header\n", close=True)
            headers[name.lower()] = value.strip()
        self.http10 = parts[2] == "HTTP/1.0"
        token = headers.get("connection", "").lower()
        self.served += 1
        self.keep = ("keep-alive" in token if self.http10 else "close" not in token) and (
            self.served < MAX_REQUESTS)
        length = headers.get("content-length", "0")
        if "transfer-encoding" in headers:
            return self._reply(501, b"request bodies in chunks are not read\n", close=True)
        if not (length.isascii() and length.isdigit()):
            return self._reply(400, b"malformed Content-Length\n", close=True)
        self.skip = int(length)
        if parts[0] != "GET":
            return self._reply(405, b"GET only\n", extra="Allow: GET\r\n")
        route, _, query = parts[1].partition("?")
        self._route(route, query)

    def _route(self, route: str, query: str) -> None:
        call = _CALL.fullmatch(route)
        if call:
            return self._call(int(call[1]), query)
        if route == "/ready":
            return self._reply(200, b"ok")
        if route == "/stats":
            reset = parse_qs(query).get("reset", ["0"])[-1] not in ("", "0")
            body = json.dumps(self.state.stats(reset)).encode()
            return self._reply(200, body, "application/json")
        self._reply(404, b"not found\n")

    def _conn(self) -> str:
        if not self.keep:
            return "Connection: close\r\n"
        return "Connection: keep-alive\r\n" if self.http10 else ""

    def _reply(self, status: int, body: bytes, ctype: str = "text/plain",
               extra: str = "", close: bool = False) -> None:
        """Answer at once (not a call in flight)."""
        self.keep = self.keep and not close
        assert self.transport is not None
        self.transport.write(_head(status, len(body), ctype, extra + self._conn()) + body)
        if not self.keep:
            self.close()

    def _call(self, i: int, query: str) -> None:
        """``/call/{i}``: rate limit, then the answer after the latency drawn for ``i``."""
        st = self.state
        median = None
        if query and "latency" in (values := parse_qs(query)):
            try:
                median = float(values["latency"][-1])
            except ValueError:
                median = -1.0
            if not 0 <= median <= 86400:
                return self._reply(400, b"latency is not a number of seconds\n")
        wait = st.admit()
        if wait:
            return self._reply(429, b"too many requests\n", extra=f"Retry-After: {wait}\r\n")
        self.delay = service.latency_of(st.spec, i, median)
        self.busy, st.inflight, self.start = True, st.inflight + 1, time.monotonic()
        st.max_inflight = max(st.max_inflight, st.inflight)
        if st.spec.chunks:
            self._stream()
        elif self.delay > 0:
            self.timer = st.loop.call_later(self.delay, self._answer)
        else:
            self._answer()

    def _answer(self) -> None:
        """The body, once the latency passed (uvloop's timers, in cached ms, may fire early)."""
        self.timer = None
        if (left := self.start + self.delay - time.monotonic()) > 0:
            self.timer = self.state.loop.call_later(left, self._answer)
            return
        assert self.transport is not None
        self.transport.write(_head(200, len(self.state.body), "application/octet-stream",
                                   self._conn()) + self.state.body)
        self._done()

    def _stream(self) -> None:
        """Start the events of a call (chunked; an HTTP/1.0 client: until the close)."""
        self.keep = self.keep and not self.http10
        extra = ("" if self.http10 else "Transfer-Encoding: chunked\r\n") + self._conn()
        assert self.transport is not None
        self.transport.write(_head(200, None, "text/event-stream", "Cache-Control: no-cache\r\n"
                                   + extra))
        self.sent = 0
        self._events()

    def _events(self) -> None:
        """Write the events now due (event k at latency * (k + 1) / K); schedule the next."""
        self.timer = None
        st, k = self.state, self.state.spec.chunks
        out, now = bytearray(), time.monotonic()
        while self.sent < k and self.start + self.delay * (self.sent + 1) / k <= now:
            self.sent += 1
            out += st.event if self.http10 else st.chunk
        if self.sent == k and not self.http10:
            out += b"0\r\n\r\n"
        assert self.transport is not None
        if out:
            self.transport.write(out)
        if self.sent == k:
            return self._done()
        due = self.start + self.delay * (self.sent + 1) / k
        self.timer = st.loop.call_later(max(0.0, due - now), self._events)

    def _done(self) -> None:
        """A call answered: count it, then close or go on with the buffered requests."""
        self.busy = False
        self.state.inflight -= 1
        self.state.requests += 1
        self.idle_since = time.monotonic()
        if not self.keep:
            self.close()
        else:
            self._process()


def _sweep(state: _State) -> None:
    """Close the connections idle for longer than :data:`IDLE_TIMEOUT`; again in a while."""
    now = time.monotonic()
    for conn in list(state.connections):
        if not conn.busy and now - conn.idle_since > IDLE_TIMEOUT:
            conn.close()
    state.loop.call_later(IDLE_TIMEOUT / 4, _sweep, state)


def _watch_stdin(loop: asyncio.AbstractEventLoop, stop: Callable[[], None]) -> None:
    """Call ``stop`` in the loop once stdin reaches EOF (the parent is gone or let go)."""
    def watch() -> None:
        with contextlib.suppress(OSError):
            while os.read(0, 4096):
                pass
        with contextlib.suppress(RuntimeError):  # the loop already closed
            loop.call_soon_threadsafe(stop)

    threading.Thread(target=watch, name="loopback-stdin", daemon=True).start()


async def _serve(spec: ServiceSpec, max_seconds: float, loop_name: str) -> int:
    """Listen on 127.0.0.1, print the port, serve until told to stop."""
    loop = asyncio.get_running_loop()
    state = _State(spec, loop_name, loop)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    server = await loop.create_server(lambda: _Http(state), "127.0.0.1", 0, backlog=4096)
    _watch_stdin(loop, stop.set)
    loop.call_later(max_seconds, stop.set)
    loop.call_later(IDLE_TIMEOUT / 4, _sweep, state)
    print(server.sockets[0].getsockname()[1], flush=True)
    await stop.wait()
    server.close()
    for conn in list(state.connections):
        if conn.transport is not None:
            conn.transport.abort()
    return 0


def _limits() -> None:
    """Open files: the soft limit raised to the hard one; SIGTERM when the parent dies."""
    with contextlib.suppress(ValueError, OSError):
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if sys.platform == "linux" and os.environ.get(PDEATHSIG_ENV, "1") != "0":
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None).prctl(1, int(signal.SIGTERM), 0, 0, 0)  # PR_SET_PDEATHSIG


def _loop(choice: str) -> tuple[str, Callable[[], asyncio.AbstractEventLoop]]:
    """The event loop asked for: uvloop where importable (``auto``), or asyncio's."""
    if choice != "asyncio":
        try:
            import uvloop
        except ImportError:
            if choice == "uvloop":
                raise
        else:
            return "uvloop", uvloop.new_event_loop
    return "asyncio", asyncio.new_event_loop


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: list[str]) -> int:
    """Run the loopback server: ``SPEC_TEXT [--max-seconds N] [--loop auto|asyncio|uvloop]``.

    Returns
    -------
    int
        0 once stopped (stdin's EOF, SIGTERM, SIGINT, ``--max-seconds``); 2 for a bad spec.
    """
    signal.signal(signal.SIGTERM, _interrupt)  # until the loop takes over: exit 0, no trace
    parser = argparse.ArgumentParser(prog="loopback", description="the loopback service")
    parser.add_argument("spec", help="service spec text, e.g. latency=100ms,chunks=5")
    parser.add_argument("--max-seconds", type=float, default=3600.0)
    parser.add_argument("--loop", choices=("auto", "asyncio", "uvloop"), default="auto")
    try:
        args = parser.parse_args(argv)
        try:
            spec = service.parse(args.spec)
        except ValueError as exc:
            print(f"loopback: {exc}", file=sys.stderr)
            return 2
        _limits()
        name, factory = _loop(args.loop)
        with asyncio.Runner(loop_factory=factory) as runner:
            return runner.run(_serve(spec, args.max_seconds, name))
    except KeyboardInterrupt:
        return 0
