"""Example network workload: your own async client calling the loopback service a run starts.

``fetch(i, size)`` sends ``GET /call/{i}`` over plain asyncio streams to the
service at :func:`bench.scenarios.service.url` (``[tool.concbench.workloads.agent]``
declares ``service = "latency=100ms"``, ``--service`` replaces it) and returns
the body's length; any answer but 200 raises, so a broken client is a failed
point with its reason, never a fast one.  Connections are kept alive: each
event loop keeps its idle ones and reuses them (no cap: as many as the calls
in flight).  The service's ``chunks`` (server-sent events) are not read here:
the answer must carry a Content-Length.
"""

from __future__ import annotations

import asyncio
import urllib.parse
import weakref

from bench.scenarios import service

Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]
#: Each event loop's idle keep-alive connections (dropped with the loop).
_idle: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, list[Conn]] = (
    weakref.WeakKeyDictionary())


def _where() -> tuple[str, int]:
    parts = urllib.parse.urlsplit(service.url())
    return parts.hostname or "127.0.0.1", parts.port or 80


async def _answer(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """One response: its status, its body and whether the server keeps the connection."""
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("the service closed the connection")
    status = int(status_line.split()[1])
    length, keep = None, True
    while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        name, value = name.strip().lower(), value.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "connection" and value == "close":
            keep = False
    if length is None:
        raise RuntimeError(f"HTTP {status} without a Content-Length (chunks= is not read here)")
    return status, await reader.readexactly(length), keep


async def fetch(i: int, size: float) -> int:
    """``GET /call/{i}`` from the loopback service; return the body's length (200 only)."""
    host, port = _where()
    idle = _idle.setdefault(asyncio.get_running_loop(), [])
    reader, writer = idle.pop() if idle else await asyncio.open_connection(host, port)
    try:
        writer.write(f"GET /call/{i} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
        await writer.drain()
        status, body, keep = await _answer(reader)
    except BaseException:
        writer.close()
        raise
    if keep:
        idle.append((reader, writer))
    else:
        writer.close()
    if status != 200:
        raise RuntimeError(f"call {i}: HTTP {status}: {body[:80]!r}")
    return len(body)
