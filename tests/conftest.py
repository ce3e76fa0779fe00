"""Shared fixtures: sample data, the measuring interpreter, the CLI run in-process; and how
the suite shares the host when pytest-xdist runs it in several processes (``make test``)."""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import json
import os
import signal
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
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


# ----------------------------------------------------------- sharing the host under xdist
# ``make test`` runs the suite in one process per core (pytest-xdist, ``--dist loadfile``:
# a file's module fixtures, such as a shared real run, are made once).  A test that asserts
# what it measured of the host (cores used, a loop's lag, a gate's verdict on timings, a
# redraw in the idle scheduling class) runs alone: marked ``alone``, or the first test of a
# worker that uses ``real`` (whose setup makes the run, or reads the one another worker
# made).  It holds the host to itself from its setup to its teardown, the fixtures it makes
# included, while every other test holds a share of it, so nothing else runs meanwhile; the
# rest overlap, as ``make test-busy`` shows they may.  Without xdist nothing is locked.


def _alone(item: pytest.Item) -> bool:
    return item.get_closest_marker("alone") is not None \
        or ("real" in getattr(item, "fixturenames", ()) and not _REAL)


def _lock_files(run: str | None = None) -> tuple[Path, Path] | None:
    """The gate and host lock files of an xdist run (this worker's; None without xdist)."""
    run = run or os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if not run:
        return None
    base = Path(tempfile.gettempdir()) / f"concbench-tests-{run}"
    return base.with_suffix(".gate"), base.with_suffix(".host")


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("numprocesses", None) and not os.environ.get("PYTEST_XDIST_WORKER"):
        # the controller names the run (xdist hands the id to its workers) to remove its
        # lock files once every worker is done
        config.option.testrunuid = config.getoption("testrunuid", None) or uuid.uuid4().hex


def pytest_unconfigure(config: pytest.Config) -> None:
    files = None if os.environ.get("PYTEST_XDIST_WORKER") \
        else _lock_files(config.getoption("testrunuid", None))
    for path in files or ():
        path.unlink(missing_ok=True)


#: The test files that take longest (``pytest --durations``: 33-54 s each here), handed to the
#: xdist workers first (``make test`` keeps this order, ``--no-loadscope-reorder``) so that the
#: suite does not end with one of them still running while the other worker has nothing left.
#: The other files follow in their usual order.
LONGEST_FIRST = ("test_interrupt.py", "test_pythons.py", "test_user.py", "test_metrics.py",
                 "test_faults.py", "test_bad_input.py", "test_ab.py", "test_net.py", "test_run.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: files stay whole


@contextlib.contextmanager
def _hold(alone: bool) -> Iterator[None]:
    """Hold the host alone (exclusive) or with others (shared), those waiting to be alone first.

    Every taker passes a gate, which one waiting to be alone keeps until it is done, so a
    stream of shared holders cannot starve it.
    """
    files = _lock_files()
    if files is None:
        yield
        return
    with files[0].open("a") as gate, files[1].open("a") as host:
        fcntl.flock(gate, fcntl.LOCK_EX)
        try:
            fcntl.flock(host, fcntl.LOCK_EX if alone else fcntl.LOCK_SH)
        finally:
            if not alone:
                fcntl.flock(gate, fcntl.LOCK_UN)
        try:
            yield
        finally:
            fcntl.flock(host, fcntl.LOCK_UN)
            if alone:
                fcntl.flock(gate, fcntl.LOCK_UN)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    with _hold(_alone(item)):
        yield


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


#: The shared real run once made (its first test, alone, made it).
_REAL: list[Path] = []

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
    # under xdist, one worker makes the run and the others read it: the base temporary
    # folder's parent is the test run's, shared by its workers (and the test holds the host
    # alone meanwhile, see _alone)
    base = tmp_path_factory.getbasetemp()
    out = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "metrics"
    # every point in all 6 planned rounds (a race would let a decided point leave at 3): the
    # metrics' intervals need them
    cmd = [sys.executable, "-m", "bench", "run", "--profile", "quick", "--budget", "0",
           "--until", "stable",
           "--workloads", "cpu,async_sleep", "--tasks", "16", "--workers", "1,2",
           "--models", "sequential,asyncio_gather,asyncio_create_task,asyncio_blocking,"
           "thread_pool,process_pool", "--start-methods", "fork", "--output-dir", str(out),
           "--name", "m", "--no-report", "-q",
           *(["--loops", "asyncio,uvloop"] if HAS_UVLOOP else [])]
    manifest = out / "m" / "run.json"
    if not manifest.is_file():
        subprocess.run(cmd, check=True, timeout=600, capture_output=True)
    _REAL.append(out)
    run = json.loads(manifest.read_text(encoding="utf-8"))
    assert run["status"] == "complete", run["status"]  # not a run another worker left broken
    noise = run["noise"]
    busy = max(float(noise[k]["busy_cores"]) for k in ("before", "after"))
    data = load(out / "m")
    cores = float(data.host["usable_cores"])
    suite = pyperf.BenchmarkSuite.load(str(out / "m" / "results.json"))
    spread = max((r.spread for r in round_readings(suite.get_benchmarks())), default=1.0)
    return Real(data.summary.set_index("name"), max(1.0, cores - busy), spread)
