"""Shared fixtures: sample data, the measuring interpreter, the CLI run in-process."""

from __future__ import annotations

import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from bench.cli import main
from bench.measure.interpreter import Interpreter, resolve

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
