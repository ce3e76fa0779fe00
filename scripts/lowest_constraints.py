"""Print pip constraints pinning every runtime dependency to its floor in pyproject.toml.

Usage: python scripts/lowest_constraints.py > constraints.txt
       pip install -c constraints.txt -e '.[test]'

``make test-lowest`` runs the suite against these pins, so a floor that is
too low for a feature concbench uses (``scipy.stats.bootstrap(rng=)`` needs
SciPy 1.15) fails there rather than on a user's machine.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def floors(pyproject: Path = PYPROJECT) -> dict[str, str]:
    """``{package: lowest allowed version}`` of the ``[project] dependencies``."""
    deps = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    out = {}
    for dep in deps:
        found = re.match(r"^([A-Za-z0-9_.-]+)\s*>=\s*([0-9][^,;\s]*)", dep)
        if found is None:
            raise SystemExit(f"{pyproject}: dependency {dep!r} has no '>=' floor")
        out[found[1]] = found[2]
    return out


if __name__ == "__main__":
    for name, version in floors().items():
        sys.stdout.write(f"{name}=={version}\n")
