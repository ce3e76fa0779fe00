"""The loopback service: its spec, its HTTP answers, its figures, and that it never outlives
its parent (a parent killed, interrupted; the server terminated or out of time)."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.measure import loopback
from bench.measure.loopback import Service, stop_all
from bench.scenarios import service

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def plain() -> Iterator[Service]:
    with Service(service.parse("latency=0,body=100")) as running:
        yield running


@pytest.fixture(scope="module")
def sse() -> Iterator[Service]:
    with Service(service.parse("latency=400ms,chunks=5,body=10")) as running:
        yield running


def get(svc: Service, target: str, timeout: float = 10.0) -> tuple[int, bytes, dict[str, str]]:
    conn = http.client.HTTPConnection("127.0.0.1", svc.port, timeout=timeout)
    try:
        conn.request("GET", target)
        response = conn.getresponse()
        return response.status, response.read(), dict(response.getheaders())
    finally:
        conn.close()


def raw(svc: Service, data: bytes) -> bytes:
    """Send ``data`` on a fresh connection; everything answered until the server closes."""
    with socket.create_connection(("127.0.0.1", svc.port), timeout=10) as sock:
        sock.sendall(data)
        out = b""
        while chunk := sock.recv(65536):
            out += chunk
    return out


def gone(pid: int) -> bool:
    """No such process, or a zombie (its parent, dead, no longer reaps it: not running)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (FileNotFoundError, ProcessLookupError):
        return True


def wait_gone(pid: int, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while not gone(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


# ----------------------------------------------------------------------------- the spec
@pytest.mark.parametrize(("text", "message"), [
    ("latency=fast", "not a number of seconds"),
    ("speed=1", "is not KEY=VALUE"),
    ("latency", "is not KEY=VALUE"),
    ("chunks=1.5", "is not a number"),
    ("latency=1s,p99=100ms", "is below the median"),
    ("rate=-1", "cannot be negative"),
    ("body=0", "at least 1 byte"),
])
def test_spec_rejects_bad_values(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        service.parse(text)


def test_spec_parses_units_and_round_trips() -> None:
    spec = service.parse("latency=200ms, p99=1s,chunks=20,rate=500,body=8")
    assert (spec.latency, spec.p99, spec.chunks, spec.rate, spec.body) == (0.2, 1.0, 20, 500, 8)
    assert service.parse("latency=250us").latency == pytest.approx(250e-6)
    assert service.parse(spec.to_text()) == spec
    assert spec.to_text() == "latency=0.2,p99=1,chunks=20,rate=500,body=8,seed=0"
    exact = service.ServiceSpec(latency=0.1234567891, seed=123_456_789_012, body=10**7)
    assert service.parse(exact.to_text()) == exact
    assert service.parse("") == service.ServiceSpec()


def test_latency_is_seeded_per_index_and_its_quantiles_match() -> None:
    spec = service.parse("latency=100ms,p99=1s")
    drawn = [service.latency_of(spec, i) for i in range(20_000)]
    assert drawn[:50] == [service.latency_of(spec, i) for i in range(50)]
    assert drawn[:50] != [service.latency_of(service.parse("latency=100ms,p99=1s,seed=1"), i)
                          for i in range(50)]
    drawn.sort()
    assert drawn[10_000] == pytest.approx(service.quantile(spec, 0.5), rel=0.03)
    assert drawn[19_800] == pytest.approx(service.quantile(spec, 0.99), rel=0.08)
    assert service.latency_of(service.parse("latency=30ms"), 7) == 0.03


# ------------------------------------------------------------------------ HTTP answers
def test_keep_alive_carries_several_calls(plain: Service) -> None:
    before = plain.stats()["requests"]
    conn = http.client.HTTPConnection("127.0.0.1", plain.port, timeout=10)
    for i in range(5):
        conn.request("GET", service.path(i))
        response = conn.getresponse()
        assert (response.status, len(response.read())) == (200, 100)
        assert response.getheader("Connection") is None
    conn.close()
    assert plain.stats()["requests"] - before == 5


def test_pipelined_and_partial_requests_answer_in_order(plain: Service) -> None:
    with socket.create_connection(("127.0.0.1", plain.port), timeout=10) as sock:
        sock.sendall(b"GET /call/1?latency=0.05 HTTP/1.1\r\nHost: a\r\n\r\nGET /ready HT")
        time.sleep(0.02)
        sock.sendall(b"TP/1.1\r\n\r\nGET /call/2 HTTP/1.1\r\nConnection: close\r\n\r\n")
        out = b""
        while chunk := sock.recv(65536):
            out += chunk
    answers = out.split(b"HTTP/1.1 ")[1:]
    assert [a.split(b"\r\n\r\n")[1] for a in answers] == [b"x" * 100, b"ok", b"x" * 100]
    assert b"Connection: close" in answers[2]


def test_http10_closes_after_the_answer(plain: Service) -> None:
    out = raw(plain, b"GET /call/3 HTTP/1.0\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 200 OK")
    assert out.endswith(b"x" * 100)


def test_a_call_waits_its_latency_and_the_query_overrides_it(plain: Service) -> None:
    started = time.monotonic()
    assert get(plain, service.path(1, latency=0.05))[0] == 200
    assert time.monotonic() - started >= 0.05
    spec = service.parse("latency=20ms,p99=200ms")
    assert service.latency_of(spec, 4, 0.05) == pytest.approx(
        0.05 / 0.02 * service.latency_of(spec, 4))


@pytest.mark.parametrize(("request_bytes", "status", "closes"), [
    (b"GET /nowhere HTTP/1.1\r\n\r\n", b"404", False),
    (b"GET /call/x HTTP/1.1\r\n\r\n", b"404", False),
    (b"GET /call/1?latency=soon HTTP/1.1\r\n\r\n", b"400", False),
    (b"POST /call/1 HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", b"405", False),
    (b"GARBAGE\r\n\r\n", b"400", True),
    (b"GET /call/1 HTTP/1.1\r\nno colon here\r\n\r\n", b"400", True),
    (b"GET /call/1 HTTP/1.1\r\nX: " + b"y" * 70_000 + b"\r\n\r\n", b"431", True),
])
def test_bad_requests_get_their_status(plain: Service, request_bytes: bytes, status: bytes,
                                       closes: bool) -> None:
    out = raw(plain, request_bytes + b"GET /ready HTTP/1.1\r\nConnection: close\r\n\r\n")
    assert out.split(b"\r\n")[0].split(b" ")[1] == status
    # malformed: closed at once; else the connection goes on (a body is skipped)
    assert out.endswith(b"ok") is not closes
    assert out.count(b"HTTP/1.1 ") == (1 if closes else 2)


def test_events_arrive_spread_over_the_latency(sse: Service) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", sse.port, timeout=10)
    started = time.monotonic()
    conn.request("GET", service.path(0))
    response = conn.getresponse()
    assert response.getheader("Content-Type") == "text/event-stream"
    assert response.getheader("Transfer-Encoding") == "chunked"
    body, arrivals = b"", []
    while chunk := response.read1(65536):
        body += chunk
        arrivals += [time.monotonic() - started] * chunk.count(b"data: ")
    conn.close()
    assert len(body) == service.expected_length(sse.spec)
    assert body == service.event(b"x" * 10) * 5
    assert arrivals[-1] >= 0.4
    assert arrivals[-1] - arrivals[0] >= 0.2  # five events at 80 ms steps, not one burst


def test_a_burst_beyond_the_rate_gets_429_with_retry_after() -> None:
    with Service(service.parse("latency=0,rate=20")) as limited:
        conn = http.client.HTTPConnection("127.0.0.1", limited.port, timeout=10)
        answers = []
        for i in range(60):
            conn.request("GET", service.path(i))
            response = conn.getresponse()
            response.read()
            answers.append((response.status, response.getheader("Retry-After")))
        conn.close()
        stats = limited.stats()
    ok = sum(status == 200 for status, _ in answers)
    assert 20 <= ok < 40
    assert {a for a in answers if a[0] != 200} == {(429, "1")}
    assert (stats["requests"], stats["rejected"]) == (ok, 60 - ok)


def test_stats_count_max_inflight_and_reset(plain: Service) -> None:
    plain.stats(reset=True)
    threads = [threading.Thread(target=get, args=(plain, service.path(i, 0.5)))
               for i in range(20)]
    for thread in threads:
        thread.start()
    time.sleep(0.25)
    during = plain.stats()
    for thread in threads:
        thread.join()
    after = plain.stats(reset=True)
    assert during["inflight"] == 20
    assert after["max_inflight"] >= 20
    assert after["max_connections"] >= 20
    assert after["inflight"] == 0
    assert after["loop"] in ("asyncio", "uvloop")
    assert after["cpu_s"] > 0
    assert plain.stats()["max_inflight"] == 0


def test_binds_loopback_only(plain: Service) -> None:
    listening = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, port = local.split(":")
            if int(port, 16) == plain.port and state == "0A":  # LISTEN
                listening.append(address)
    assert listening == ["0100007F"]  # 127.0.0.1, and nothing on IPv6 or 0.0.0.0


def test_env_points_at_the_service(plain: Service) -> None:
    env = plain.env()
    assert env[service.ENV] == plain.url == f"http://127.0.0.1:{plain.port}"
    assert service.parse(env[service.ENV + "_SPEC"]) == plain.spec


def test_a_server_that_cannot_start_raises_one_clear_line(tmp_path: Path) -> None:
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\necho 'no such spec' >&2\nexit 3\n")
    fake.chmod(0o755)
    with pytest.raises(RuntimeError, match=r"did not start: .*exit code 3.* no such spec$"):
        Service(service.ServiceSpec(), python=str(fake)).start()
    with pytest.raises(RuntimeError, match=r"did not start: .*No such file"):
        Service(service.ServiceSpec(), python=str(tmp_path / "missing")).start()


# ----------------------------------------------------------------------- never an orphan
PARENT = """
import sys, threading, time
from bench.measure.loopback import Service
from bench.scenarios import service
svc = Service(service.parse(sys.argv[1]), python=sys.argv[2])
print("starting", flush=True)
if sys.argv[3] == "thread":  # no PR_SET_PDEATHSIG then: only stdin's EOF can end it
    threading.Thread(target=svc.start).start()
    while svc.port == 0:
        time.sleep(0.01)
else:
    svc.start()
print(svc.pid, flush=True)
time.sleep(60)
"""


def servers_with(marker: str) -> list[int]:
    """Pids of processes whose command line holds ``marker`` (a spec's unique seed)."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if marker in (proc / "cmdline").read_bytes().decode(errors="replace"):
                    found.append(int(proc.name))
            except OSError:
                pass
    return [pid for pid in found if not gone(pid)]


def parent(python: str = sys.executable, start: str = "main") -> tuple[subprocess.Popen[str], str]:
    marker = f"seed={uuid.uuid4().int % 10**12}"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(PARENT), marker, python, start],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    assert proc.stdout.readline() == "starting\n"
    return proc, marker


@pytest.mark.parametrize("start", ["main", "thread"])
def test_a_killed_parent_leaves_no_server(start: str) -> None:
    proc, marker = parent(start=start)
    assert proc.stdout is not None
    pid = int(proc.stdout.readline())
    assert not gone(pid)
    deathsig = "CONCBENCH_LOOPBACK_PDEATHSIG=" + ("1" if start == "main" else "0")
    assert deathsig in Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace")
    proc.kill()
    proc.communicate()
    assert wait_gone(pid), servers_with(marker)


def test_ctrl_c_while_in_use_leaves_no_server() -> None:
    proc, marker = parent()
    assert proc.stdout is not None
    pid = int(proc.stdout.readline())
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=10)
    assert err.rstrip().endswith("KeyboardInterrupt")
    assert "During handling" not in err
    assert gone(pid), servers_with(marker)


def test_ctrl_c_during_start_leaves_no_server(tmp_path: Path) -> None:
    slow = tmp_path / "slow-python"  # starts the server half a second late
    slow.write_text(f'#!/bin/sh\nsleep 0.5\nexec {sys.executable} "$@"\n')
    slow.chmod(0o755)
    proc, marker = parent(str(slow))
    deadline = time.monotonic() + 5
    while not (found := servers_with(marker)) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert found, "the server was never started"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=10)
    assert out == ""  # interrupted before start() returned
    assert err.rstrip().endswith("KeyboardInterrupt")
    assert "During handling" not in err
    assert all(wait_gone(pid, 1.0) for pid in found)


def test_sigterm_ends_the_server_cleanly() -> None:
    svc = Service(service.parse("latency=0")).start()
    os.kill(svc.pid, signal.SIGTERM)
    assert svc.wait(5) == 0
    svc.stop()
    assert "Traceback" not in svc.stderr()


def test_max_seconds_ends_the_server_by_itself() -> None:
    svc = Service(service.parse("latency=0"), max_seconds=1).start()
    started = time.monotonic()
    assert svc.wait(5) == 0
    assert time.monotonic() - started < 1.5
    svc.stop()
    svc.stop()  # idempotent
    assert svc.returncode == 0


def test_stop_all_stops_every_started_service(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loopback, "_RUNNING", {})  # not the module's shared servers
    services = [Service(service.parse(f"latency=0,seed={i}")).start() for i in range(2)]
    stop_all()
    assert all(s.returncode is not None and gone(s.pid) for s in services)
