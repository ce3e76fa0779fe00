"""The built-in network clients: one HTTP call to the loopback service per task.

Each task function is ``(i, size)``: it sends ``GET /call/i`` to the service
at :func:`bench.scenarios.service.url` and checks the answer (status 200 and
the body's length the service's spec gives); a wrong answer raises, so a
failing client is a failed point with its reason, never a fast one.

The clients and their connection pools are made once per event loop (per
thread for ``http.client``) and kept: the model's opening runs one batch
before any clock (:mod:`bench.measure.child`), so every timed batch reuses
warm keep-alive connections.  Their caps are the libraries' own defaults
(aiohttp's and httpx's pools allow 100 connections) unless the workload's
name says ``nocap``; :func:`connection_cap` reads the cap back from the
clients this process made.

Standard library at import: aiohttp and httpx (the ``net`` extra) are imported
by the first call that needs them.
"""

from __future__ import annotations

import asyncio
import http.client
import threading
import urllib.parse
from typing import Any

from bench.scenarios import service

_clients: dict[tuple[str, asyncio.AbstractEventLoop], Any] = {}
_caps: dict[str, int] = {}
_local = threading.local()


def _expected() -> int:
    return service.expected_length(service.spec_here())


def _checked(i: int, status: int, length: int, retry_after: str | None = None) -> int:
    """The body's length, once the answer is the one asked for; else raise with what came."""
    if status == 429:
        raise RuntimeError(f"call {i}: HTTP 429 from the service's rate limit "
                           f"(Retry-After: {retry_after}): the client sends faster than "
                           "the service's rate= allows")
    want = _expected()
    if status != 200 or length != want:
        raise RuntimeError(f"call {i}: HTTP {status} with {length} bytes (expected 200 with "
                           f"{want})")
    return length


def _per_loop(kind: str, make: Any) -> Any:
    """The client of ``kind`` made for the running loop (keyed by the loop itself: a closed
    loop's id may come back for a new one, its client bound to the old)."""
    loop = asyncio.get_running_loop()
    found = _clients.get((kind, loop))
    if found is None:
        found = _clients[kind, loop] = make()
    return found


def _aiohttp(cap: bool) -> Any:
    import aiohttp

    session = (aiohttp.ClientSession() if cap
               else aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)))
    _caps["aiohttp"] = int(getattr(session.connector, "limit", 0) or 0)
    return session


async def _aiohttp_get(i: int, cap: bool) -> int:
    session = _per_loop(f"aiohttp{cap}", lambda: _aiohttp(cap))
    async with session.get(service.url() + service.path(i)) as answer:
        body = await answer.read()
        return _checked(i, answer.status, len(body), answer.headers.get("Retry-After"))


async def aiohttp_call(i: int, size: float) -> int:
    """One GET through aiohttp's ``ClientSession`` with its default pool (100 connections)."""
    return await _aiohttp_get(i, cap=True)


async def aiohttp_nocap_call(i: int, size: float) -> int:
    """One GET through aiohttp's ``ClientSession`` with ``TCPConnector(limit=0)`` (no cap)."""
    return await _aiohttp_get(i, cap=False)


def _httpx(cap: bool) -> Any:
    import httpx

    client = (httpx.AsyncClient() if cap else httpx.AsyncClient(
        limits=httpx.Limits(max_connections=None, max_keepalive_connections=None),
        timeout=None))
    pool = getattr(getattr(client, "_transport", None), "_pool", None)
    _caps["httpx"] = int(getattr(pool, "_max_connections", 0) or 0)
    return client


async def _httpx_get(i: int, cap: bool) -> int:
    import httpx

    client = _per_loop(f"httpx{cap}", lambda: _httpx(cap))
    try:
        answer = await client.get(service.url() + service.path(i))
    except httpx.PoolTimeout:
        raise RuntimeError(
            f"call {i}: httpx.PoolTimeout: no connection of httpx's pool (max_connections="
            f"{_caps.get('httpx', 0)}) came free within its timeout (5 s by default, which "
            "covers the wait for a slot): raise httpx.Limits(max_connections=...) or the "
            "timeout, or send fewer calls at once") from None
    return _checked(i, answer.status_code, len(answer.content),
                    answer.headers.get("Retry-After"))


async def httpx_call(i: int, size: float) -> int:
    """One GET through httpx's ``AsyncClient`` with its default limits (100 connections)."""
    return await _httpx_get(i, cap=True)


async def httpx_nocap_call(i: int, size: float) -> int:
    """One GET through httpx's ``AsyncClient`` without a connection cap or a timeout."""
    return await _httpx_get(i, cap=False)


def client_call(i: int, size: float) -> int:
    """One GET through ``http.client``: a keep-alive connection of this thread's own."""
    conn: http.client.HTTPConnection | None = getattr(_local, "conn", None)
    if conn is None:
        where = urllib.parse.urlsplit(service.url())
        conn = _local.conn = http.client.HTTPConnection(where.hostname or "127.0.0.1",
                                                        where.port, timeout=600)
    try:
        conn.request("GET", service.path(i))
        answer = conn.getresponse()
        body = answer.read()
    except (OSError, http.client.HTTPException):
        conn.close()
        _local.conn = None
        raise
    return _checked(i, answer.status, len(body), answer.getheader("Retry-After"))


def connection_cap() -> int:
    """The most connections the pools this process made allow at once (0: none made here,
    or no cap)."""
    return max(_caps.values(), default=0)
