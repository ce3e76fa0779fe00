"""Dependency floors: every library the package imports is declared, with a floor that is tested.

``make test-lowest`` installs each runtime dependency at exactly its floor
(``scripts/lowest_constraints.py``) and runs the suite there; these tests
keep that check honest: nothing imported goes undeclared (NumPy once did),
and the pins are the floors ``pyproject.toml`` states.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

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


def test_the_lowest_pins_are_each_requirements_lowest_version() -> None:
    """The script's own output, read as pip reads constraints: one ``==`` pin per runtime
    dependency, a version its requirement allows, and the lowest one it allows (the
    greatest of its lower bounds); and this environment is not below any floor."""
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "lowest_constraints.py")],
                         capture_output=True, text=True, check=True).stdout
    pins = {Requirement(line).name: Requirement(line) for line in out.splitlines()}
    deps = [Requirement(d) for d in tomllib.loads(
        (ROOT / "pyproject.toml").read_text())["project"]["dependencies"]]
    assert sorted(pins) == sorted(d.name for d in deps)
    for dep in deps:
        (pin,) = pins[dep.name].specifier
        assert pin.operator == "=="
        assert dep.specifier.contains(pin.version), (dep, pin)
        lowest = max(Version(s.version) for s in dep.specifier if s.operator == ">=")
        assert Version(pin.version) == lowest, (dep, pin)
        assert Version(metadata.version(dep.name)) >= lowest, dep


def test_a_dependency_without_a_floor_is_refused(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\ndependencies = ["pyperf>=2.10", "pandas"]\n')
    with pytest.raises(SystemExit, match="'pandas' has no '>=' floor"):
        floors(pyproject)
