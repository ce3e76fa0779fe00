"""``make run``'s budget: what the install left, never a budget concbench refuses or reads as none.

The recipe runs for real against a stand-in environment (``VENV=``) whose ``concbench``
prints the arguments it was given.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _budget_given(tmp_path: Path, run_budget: int) -> float:
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    for name in ("python", "concbench"):
        tool = venv / "bin" / name
        tool.write_text('#!/bin/sh\necho "$@"\n')
        tool.chmod(0o755)
    (venv / ".installed").touch()  # newer than pyproject.toml: nothing to install
    done = subprocess.run(["make", "-s", "-C", str(ROOT), "run", f"VENV={venv}",
                           f"RUN_BUDGET={run_budget}"], capture_output=True, text=True,
                          timeout=30, check=True)
    args = done.stdout.split()
    return float(args[args.index("--budget") + 1])


@pytest.mark.skipif(shutil.which("make") is None, reason="no make on this host")
@pytest.mark.parametrize(("run_budget", "low", "high"), [(177, 170, 177), (0, 1, 1),
                                                         (-60, 1, 1)])
def test_make_run_hands_concbench_what_the_install_left(tmp_path: Path, run_budget: int,
                                                        low: float, high: float) -> None:
    """An install that used the whole budget (or more) leaves a budget of 1 s, which runs
    the planned rounds and warns that they overrun it; 0 would be no budget, and below 0 a
    usage error after the install."""
    assert low <= _budget_given(tmp_path, run_budget) <= high
