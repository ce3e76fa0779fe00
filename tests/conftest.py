"""Shared fixtures: sample data, the measuring interpreter, the CLI run in-process."""

from __future__ import annotations

import importlib.util
import json
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyperf
import pytest

from bench.api import load
from bench.cli import main
from bench.measure.interpreter import Interpreter, resolve
from bench.measure.noise import round_readings

DATA = Path(__file__).parent / "data"

# A test run started in the background (``make test &`` in a script, some CI launchers)
# inherits SIGINT ignored, and so would every child it starts: the interrupt tests need
# Ctrl-C's usual meaning.  A handler (unlike SIG_IGN) is reset to the default in children.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@dataclass
class CliResult:
    """What ``bench.cli.main`` returned and printed."""

    code: int
    out: str
    err: str


@pytest.fixture
def data_dir() -> Path:
    """``tests/data``: small sample files."""
    return DATA


@pytest.fixture(scope="session")
def interp() -> Interpreter:
    """The interpreter that runs the children by default (this one), with its host record."""
    return resolve(None)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    """Run ``concbench ARGS`` in-process; return its exit code, stdout and stderr."""

    def run(*argv: str) -> CliResult:
        capsys.readouterr()
        code = main(list(argv))
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


#: Whether uvloop can be measured here (the test extra installs it).
HAS_UVLOOP = importlib.util.find_spec("uvloop") is not None


@dataclass
class Real:
    """The shared real run: its summary by name, the cores its host had free, and how much
    slower its slowest core ran than its fastest at one moment (the largest of the rounds'
    readings, :mod:`bench.measure.speed`; 1.0 on a host whose cores keep one speed)."""

    s: pd.DataFrame
    free_cores: float
    core_spread: float = 1.0

    def __getitem__(self, key: Any) -> Any:
        return self.s[key]

    @property
    def loc(self) -> Any:
        return self.s.loc


@pytest.fixture(scope="session")
def real(tmp_path_factory: pytest.TempPathFactory) -> Real:
    """One small quick-profile run with every metric (about 20 s here), shared by the tests of
    the metrics (tests/test_metrics.py) and of event loops (uvloop variants, where installed)."""
    out = tmp_path_factory.mktemp("metrics")
    cmd = [sys.executable, "-m", "bench", "run", "--profile", "quick", "--budget", "0",
           "--workloads", "cpu,async_sleep", "--tasks", "16", "--workers", "1,2",
           "--models", "sequential,asyncio_gather,asyncio_create_task,asyncio_blocking,"
           "thread_pool,process_pool", "--start-methods", "fork", "--output-dir", str(out),
           "--name", "m", "--no-report", "-q",
           *(["--loops", "asyncio,uvloop"] if HAS_UVLOOP else [])]
    subprocess.run(cmd, check=True, timeout=600, capture_output=True)
    noise = json.loads((out / "m" / "run.json").read_text(encoding="utf-8"))["noise"]
    busy = max(float(noise[k]["busy_cores"]) for k in ("before", "after"))
    data = load(out / "m")
    cores = float(data.host["usable_cores"])
    suite = pyperf.BenchmarkSuite.load(str(out / "m" / "results.json"))
    spread = max((sp for _, sp in round_readings(suite.get_benchmarks())), default=1.0)
    return Real(data.summary.set_index("name"), max(1.0, cores - busy), spread)
