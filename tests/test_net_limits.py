"""A host limit hit by a network point is a failed point that names the limit and what to
raise: never a hang, a traceback or a fast point."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.errors import one_line

REPO = Path(__file__).resolve().parent.parent


def test_limit_errors_name_what_to_raise() -> None:
    emfile = OSError(errno.EMFILE, os.strerror(errno.EMFILE))
    assert one_line(emfile).endswith("[the open-file limit of the process: raise it (ulimit -n)]")
    try:
        try:
            raise OSError(errno.EADDRNOTAVAIL, os.strerror(errno.EADDRNOTAVAIL))
        except OSError as exc:
            raise RuntimeError("call 3 failed") from exc
    except RuntimeError as wrapped:
        line = one_line(wrapped)
    assert line.startswith("RuntimeError: call 3 failed (from OSError: [Errno 99]")
    assert line.count("ip_local_port_range") == 1  # the hint once, at the end
    assert "ulimit -u" in one_line(RuntimeError("can't start new thread"))
    assert one_line(OSError(errno.ENOENT, "no such file")).endswith("no such file")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ulimit and /proc: Linux")
def test_too_many_open_files_fails_the_point_with_the_limit(tmp_path: Path) -> None:
    pytest.importorskip("aiohttp")
    # 300 calls at once on an uncapped pool need 300 sockets; the child may open 120 files
    run = ("ulimit -Sn 120 && exec " + " ".join([
        sys.executable, "-m", "bench", "run", "--profile", "smoke", "--workloads",
        "http_aiohttp_nocap", "--models", "asyncio_gather", "--tasks", "300", "--service",
        "latency=1ms", "--output-dir", str(tmp_path), "--name", "lim", "--no-report",
        "--budget", "0", "-q"]))
    done = subprocess.run(["bash", "-c", run], capture_output=True, text=True, timeout=240,
                          cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, check=False)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    points = {p["name"]: p for p in json.loads((tmp_path / "lim" / "run.json").read_text())
              ["points"]}
    failed = points["http_aiohttp_nocap/asyncio_gather/t300"]
    assert failed["status"] == "failed"
    assert "Too many open files" in failed["reason"]
    assert failed["reason"].endswith("(ulimit -n)]")
    assert points["http_aiohttp_nocap/sequential/t300"]["status"] == "done"
