"""What does the loopback service cost per request?  Server CPU µs, by implementation.

Usage: python scripts/loopback_cost.py [--requests N] [--connections C] [--reps R]

Four servers, each in its own process, all answering ``GET /call/{i}`` at
latency 0 with the same 64-byte body: concbench's ``asyncio.Protocol`` server
(:mod:`bench.measure.loopback_server`) on asyncio's loop and on uvloop, and,
for comparison, a minimal ``aiohttp.web`` application on each loop.  This
process loads each in turn with N requests over C keep-alive connections
(an aiohttp client, C workers on one session limited to C connections), after
one warm-up load, and reads the server's own CPU time (``time.process_time()``
through its ``/stats``) before and after.  The servers take turns within each
repetition, so drift on a noisy host spreads over all of them.  Printed: server
CPU µs per request, median and range of R repetitions.  Nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
OURS = "import sys; from bench.measure.loopback import main; sys.exit(main(sys.argv[1:]))"
AIOHTTP_WEB = """
import asyncio, sys, time
from aiohttp import web
from bench.scenarios import service
SPEC = service.parse(sys.argv[1])
BODY = b"x" * SPEC.body

async def call(request):
    service.latency_of(SPEC, int(request.match_info["i"]))
    return web.Response(body=BODY, content_type="application/octet-stream")

async def stats(request):
    return web.json_response({"cpu_s": time.process_time()})

async def main():
    app = web.Application()
    app.router.add_get("/call/{i}", call)
    app.router.add_get("/stats", stats)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=4096)
    await site.start()
    print(runner.addresses[0][1], flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.buffer.read)

if sys.argv[2] == "uvloop":
    import uvloop
    uvloop.run(main())
else:
    asyncio.run(main())
"""
SPEC = "latency=0,body=64"


def start(name: str) -> tuple[subprocess.Popen[bytes], int]:
    """Start server ``name`` (``ours/asyncio``, ``aiohttp.web/uvloop``...); its process, port."""
    kind, loop = name.split("/")
    argv = ([sys.executable, "-c", OURS, SPEC, "--loop", loop] if kind == "ours"
            else [sys.executable, "-c", AIOHTTP_WEB, SPEC, loop])
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=ROOT,
                            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert proc.stdout is not None
    return proc, int(proc.stdout.readline())


async def cpu(session: aiohttp.ClientSession, port: int) -> float:
    async with session.get(f"http://127.0.0.1:{port}/stats") as response:
        return float((await response.json())["cpu_s"])


async def load(port: int, requests: int, connections: int) -> float:
    """Server CPU seconds per request over ``requests`` calls on ``connections`` connections."""
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as session:
        async def worker(first: int) -> None:
            for i in range(first, requests, connections):
                async with session.get(f"http://127.0.0.1:{port}/call/{i}") as response:
                    assert response.status == 200
                    await response.read()

        await asyncio.gather(*(worker(w) for w in range(connections)))  # connections open
        before = await cpu(session, port)
        await asyncio.gather(*(worker(w) for w in range(connections)))
        return (await cpu(session, port) - before) / requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--connections", type=int, default=100)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    names = ["ours/asyncio", "ours/uvloop", "aiohttp.web/asyncio", "aiohttp.web/uvloop"]
    servers = {name: start(name) for name in names}
    costs: dict[str, list[float]] = {name: [] for name in names}
    try:
        for _ in range(args.reps):
            for name, (_, port) in servers.items():
                cost = asyncio.run(load(port, args.requests, args.connections))
                costs[name].append(cost * 1e6)
    finally:
        for proc, _ in servers.values():
            assert proc.stdin is not None
            proc.stdin.close()
            proc.wait(5)
    print(f"server CPU µs per request ({args.requests} requests over {args.connections} "
          f"keep-alive connections, latency 0, {args.reps} reps)")
    for name, values in costs.items():
        print(f"  {name:22} median {statistics.median(values):6.1f}  "
              f"range {min(values):6.1f} - {max(values):6.1f}")


if __name__ == "__main__":
    main()
