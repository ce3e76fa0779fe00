"""The user's own workloads: ``--workload mod:func`` and ``[tool.concbench]`` in pyproject.toml.

Both give :class:`~bench.scenarios.workloads.Workload` entries of the same
kind as the built-in ones.  Nothing is imported here: whether a reference
imports, is sync or async and pickles is pre-flight's business
(:mod:`bench.measure.preflight`), in the measuring interpreter.

A pyproject table::

    [tool.concbench]
    path = ["src"]                     # relative to the pyproject.toml
    [tool.concbench.workloads.parse]   # the workload's name
    func = "app.parsing:parse"         # def or async def
    args = "app.parsing:make_args"     # optional: (i, size) -> tuple of positional args
    setup = "app.parsing:warm"         # optional: once per process / pool worker, untimed
    size = 10000                       # the task size (a list gives several)
    unit = "lines"
    check = "equal"                    # equal (default) | none | "mod:func" comparing two results
    resource = "cpu_gil"               # optional: what it spends time on (for the ideal)
    service = "latency=100ms"          # optional: the loopback service it calls (a run starts it)
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.errors import UsageError
from bench.scenarios import service
from bench.scenarios.workloads import BUILTINS, CHECKS, RESOURCES, Workload

_REF = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
_NAME = re.compile(r"^[A-Za-z_][\w-]*$")
_KEYS = {"func", "args", "setup", "size", "unit", "check", "resource", "description",
         "service"}


@dataclass
class Declared:
    """Workloads a user declared, and the folders their modules import from."""

    workloads: list[Workload] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    #: The pyproject.toml they came from, if any.
    source: Path | None = None


def _check_ref(where: str, key: str, ref: Any) -> str:
    if not isinstance(ref, str) or not _REF.match(ref):
        raise UsageError(f"{where}: {key} must be 'module:function', got {ref!r}")
    return ref


def _check_name(where: str, name: str) -> str:
    if not _NAME.match(name) or "/" in name:
        raise UsageError(f"{where}: workload name {name!r} must be letters, digits, _ or -")
    if name in BUILTINS:
        raise UsageError(f"{where}: workload name {name!r} is a built-in workload's; "
                         "choose another name")
    return name


def _sizes(where: str, value: Any) -> tuple[float, ...]:
    values = value if isinstance(value, list) else [value]
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int | float) or not (
                v > 0 and math.isfinite(v)):
            raise UsageError(f"{where}: size must be a number > 0 or a list of them, got {v!r}")
        out.append(float(v))
    if not out:
        raise UsageError(f"{where}: size is an empty list")
    return tuple(dict.fromkeys(out))


def workload_from_table(name: str, table: Any, where: str) -> Workload:
    """One ``[tool.concbench.workloads.NAME]`` table as a workload."""
    where = f"{where} [tool.concbench.workloads.{name}]"
    _check_name(where, name)
    if not isinstance(table, dict):
        raise UsageError(f"{where}: expected a table")
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise UsageError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(_KEYS))})")
    if "func" not in table:
        raise UsageError(f"{where}: no func = 'module:function'")
    check = table.get("check", "equal")
    if check not in CHECKS:
        _check_ref(where, "check", check)
    resource = table.get("resource", "")
    if resource and resource not in RESOURCES:
        raise UsageError(f"{where}: resource must be one of {', '.join(RESOURCES)}, "
                         f"got {resource!r}")
    for key in ("unit", "description", "service"):
        if not isinstance(table.get(key, ""), str):
            raise UsageError(f"{where}: {key} must be a string")
    served = _service(where, table.get("service", ""))
    return Workload(
        name, _check_ref(where, "func", table["func"]), unit=table.get("unit", "size") or "size",
        sizes=_sizes(where, table.get("size", 1.0)), resource=resource,
        args=_check_ref(where, "args", table["args"]) if "args" in table else "",
        setup=_check_ref(where, "setup", table["setup"]) if "setup" in table else "",
        check=check, description=table.get("description", ""), service=served)


def _service(where: str, text: str) -> str:
    """A table's ``service`` as the spec's canonical text ("" for none)."""
    if not text.strip():
        return ""
    try:
        return service.parse(text).to_text()
    except ValueError as exc:
        raise UsageError(f"{where}: service: {exc}") from None


def find_pyproject(start: Path) -> Path | None:
    """The nearest pyproject.toml with a ``[tool.concbench]`` table, from ``start`` upwards."""
    for folder in (start.resolve(), *start.resolve().parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            try:
                data = tomllib.loads(candidate.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
                raise UsageError(f"{candidate}: cannot read it as TOML ({exc})") from None
            if isinstance(data.get("tool"), dict) and "concbench" in data["tool"]:
                return candidate
    return None


def from_pyproject(path: Path) -> Declared:
    """The workloads and import path a pyproject.toml declares."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    table = data["tool"]["concbench"]
    if not isinstance(table, dict):
        raise UsageError(f"{path}: [tool.concbench] must be a table")
    unknown = sorted(set(table) - {"path", "workloads"})
    if unknown:
        raise UsageError(f"{path}: [tool.concbench] has unknown key {unknown[0]!r} "
                         "(known: path, workloads)")
    paths = table.get("path", [])
    if isinstance(paths, str):
        paths = [paths]
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        raise UsageError(f"{path}: [tool.concbench] path must be a list of folders")
    works = table.get("workloads", {})
    if not isinstance(works, dict):
        raise UsageError(f"{path}: [tool.concbench.workloads] must be tables, one per workload")
    return Declared([workload_from_table(n, t, str(path)) for n, t in works.items()],
                    [str((path.parent / p).resolve()) for p in paths], path)


def from_refs(refs: Sequence[str]) -> list[Workload]:
    """``--workload [NAME=]module:function`` options as workloads (named after the function)."""
    out = []
    for ref in refs:
        name, eq, target = ref.rpartition("=")
        target = target if eq else ref
        _check_ref("--workload", "the workload", target)
        name = name or target.rpartition(":")[2].rpartition(".")[2]
        out.append(Workload(_check_name("--workload", name), target))
    return out


def declared(refs: Sequence[str], paths: Sequence[str], cwd: Path) -> Declared:
    """Everything the user declared: the pyproject table (if any) and the command line's."""
    found = find_pyproject(cwd)
    result = from_pyproject(found) if found is not None else Declared()
    names = {w.name: w for w in result.workloads}
    for w in from_refs(refs):
        if w.name in names and names[w.name].func == w.func:
            continue  # the same function as the table's entry: that entry, with its settings
        if w.name in names:
            raise UsageError(f"--workload: a workload named {w.name!r} is declared already "
                             "(use --workload NAME=module:function)")
        result.workloads.append(w)
        names[w.name] = w
    for p in paths:
        if not Path(p).is_dir():
            raise UsageError(f"--path {p!r}: no such folder")
        result.paths.append(str(Path(p).resolve()))
    return result
