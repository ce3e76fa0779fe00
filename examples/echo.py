"""Example workload: an async client against a local asyncio echo server.

``start_server()`` (the ``setup``) starts an echo server on 127.0.0.1 in a
background thread, once per process; ``fetch(i, size)`` connects, sends
``size`` bytes and reads them back.  Only loopback traffic, bounded in size.
"""

from __future__ import annotations

import asyncio
import threading

_port: int | None = None


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()


def start_server() -> None:
    """Start the echo server in a daemon thread (its own event loop); remember its port."""
    global _port
    ready = threading.Event()
    loop = asyncio.new_event_loop()

    def serve() -> None:
        global _port
        asyncio.set_event_loop(loop)
        server = loop.run_until_complete(asyncio.start_server(_echo, "127.0.0.1", 0))
        _port = server.sockets[0].getsockname()[1]
        ready.set()
        loop.run_forever()

    threading.Thread(target=serve, name="echo-server", daemon=True).start()
    if not ready.wait(10):
        raise RuntimeError("the echo server did not start")


async def fetch(i: int, size: float) -> int:
    """Send ``size`` bytes to the echo server and read them back; return how many came back."""
    if _port is None:
        raise RuntimeError("start_server() has not run in this process")
    reader, writer = await asyncio.open_connection("127.0.0.1", _port)
    payload = bytes([i % 256]) * int(size)
    writer.write(payload)
    await writer.drain()
    received = await reader.readexactly(len(payload))
    writer.close()
    await writer.wait_closed()
    return len(received) if received == payload else -1
