"""Dependency floors: every library the package imports is declared, with a floor that is tested.

``make test-lowest`` installs each runtime dependency at exactly its floor
(``scripts/lowest_constraints.py``) and runs the suite there; these tests
keep that check honest: nothing imported goes undeclared (NumPy once did),
and the pins are the floors ``pyproject.toml`` states.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from pathlib import Path

from scripts.lowest_constraints import floors

ROOT = Path(__file__).resolve().parents[1]
#: Import name -> distribution name, where they differ.
DISTRIBUTIONS = {"jinja2": "jinja2"}


def third_party_imports() -> set[str]:
    """Top-level names of the non-stdlib, non-project modules ``bench/`` and cpu_tasks import."""
    found: set[str] = set()
    for path in [*ROOT.joinpath("bench").rglob("*.py"), ROOT / "cpu_tasks.py"]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.add(node.module.split(".")[0])
    return {m for m in found if m not in sys.stdlib_module_names
            and m not in {"bench", "cpu_tasks", "__future__"}}


def test_every_library_imported_is_a_declared_dependency() -> None:
    declared = set(floors())
    optional = {re.split(r"[<>=\[ ]", d)[0] for deps in tomllib.loads(
        (ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"].values()
        for d in deps}
    missing = {m for m in third_party_imports()
               if DISTRIBUTIONS.get(m, m) not in declared | optional}
    assert not missing, f"imported but not declared in pyproject.toml: {sorted(missing)}"


def test_the_lowest_pins_are_the_floors() -> None:
    text = (ROOT / "pyproject.toml").read_text()
    deps = tomllib.loads(text)["project"]["dependencies"]
    pins = floors()
    assert len(pins) == len(deps)
    for dep in deps:
        name = re.split(r"[<>=]", dep)[0]
        assert dep.startswith(f"{name}>={pins[name]}"), dep
