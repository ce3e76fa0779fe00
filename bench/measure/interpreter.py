"""The interpreter that runs the measured children (``--python``).

The harness needs Python >= 3.11, but the children may run under any CPython
>= 3.10 that can import pyperf, ``bench`` and ``cpu_tasks``.  For another
interpreter those three are exposed through a small directory of symlinks on
``PYTHONPATH`` (pyperf is pure Python; its psutil import is optional), and
pyperf is told to pass ``PYTHONPATH`` on to its workers.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyperf
import threadpoolctl

import bench
import cpu_tasks
from bench.errors import UsageError


@dataclass
class Interpreter:
    """A Python that runs children, with the environment it needs."""

    executable: str
    env: dict[str, str] = field(default_factory=dict)
    record: dict[str, Any] = field(default_factory=dict)
    #: Working directory of the children (None: this process's).  ``concbench ab`` runs
    #: them in an empty one, so that the current folder shadows no variant's modules.
    cwd: str | None = None

    @property
    def version(self) -> tuple[int, int]:
        """``(major, minor)`` of this interpreter."""
        major, minor = str(self.record["python_version"]).split(".")[:2]
        return int(major), int(minor)

    def command(self, module: str, *args: str) -> list[str]:
        """Command line that runs ``module.main(args)`` in this interpreter.

        Through ``-c``, not ``-m``: the main module is then one that spawn and forkserver
        workers do not re-import (it has neither a spec nor a file), so a pool worker's
        cold start imports what its tasks need, as a user's program's would, not the
        harness module that made the pool.
        """
        code = f"import sys; from {module} import main; sys.exit(main(sys.argv[1:]))"
        return [self.executable, "-c", code, *args]


@functools.cache
def _shim() -> Path:
    """A directory exposing pyperf, bench, cpu_tasks and threadpoolctl to another interpreter
    (one per process)."""
    root = Path(tempfile.mkdtemp(prefix="concbench-path-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    for src in (Path(pyperf.__file__).parent, Path(bench.__file__).parent,
                Path(cpu_tasks.__file__), Path(threadpoolctl.__file__)):
        (root / src.name).symlink_to(src)
    return root


def _clean_env() -> dict[str, str]:
    env = dict(os.environ)
    # asyncio debug mode makes loops ~20x slower; never measure with it on
    for var in ("PYTHONASYNCIODEBUG", "PYTHONDEVMODE"):
        env.pop(var, None)
    return env


#: Where ``debian-python VERSION`` (and such unpackers) leave interpreters: VERSION/root/usr/bin.
UNPACKED = Path.home() / ".cache" / "concbench-pythons"


def find(spec: str) -> str | None:
    """The executable a ``--python`` spec names, or None.

    A path or a command on PATH as given (``python3.14t``, ``/opt/py/bin/python``);
    a version such as ``3.14`` (or ``3.14t``) as ``python3.14`` on PATH, then
    ``uv python find`` where uv is installed, then pyenv's versions, then an
    interpreter unpacked under ``~/.cache/concbench-pythons/VERSION``.
    """
    found = shutil.which(spec)
    if found is not None or not spec[:1].isdigit():
        return found
    found = shutil.which(f"python{spec}")
    if found is not None and Path(found).parent.name != "shims":  # pyenv's shims may refuse
        return found
    if shutil.which("uv"):
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(["uv", "python", "find", spec], capture_output=True, text=True,
                                 timeout=30, check=False)
            if out.returncode == 0 and out.stdout.strip():
                return out.stdout.strip().splitlines()[-1]
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates = sorted(root.glob(f"{spec}*/bin/python{spec}"))
    candidates += sorted((UNPACKED / spec).glob(f"root/usr/bin/python{spec}"))
    return str(candidates[-1]) if candidates else None


def resolve(python: str | None, paths: Sequence[str] = ()) -> Interpreter:
    """Find the interpreter and read its host record.

    ``paths`` (the folders the user's workloads import from) join the import
    path of the children and every pool worker, ahead of ``PYTHONPATH``;
    this process's own ``sys.path`` is left as it is.

    Raises
    ------
    UsageError
        When ``python`` cannot be found or does not run the probe.
    """
    env = _clean_env()
    if python is None:
        executable = sys.executable
    else:
        found = find(python)
        if found is None:
            raise UsageError(f"--python {python!r}: no such interpreter (looked on PATH, "
                             "with uv, in pyenv's versions and ~/.cache/concbench-pythons)")
        executable = found
        # not resolved: a venv's python is a link to the interpreter it was made from, and
        # the interpreter run by its own path has none of the venv's packages
        if Path(executable).absolute() != Path(sys.executable).absolute():
            env["PYTHONPATH"] = os.pathsep.join(
                p for p in (str(_shim()), env.get("PYTHONPATH", "")) if p)
    if paths:
        env["PYTHONPATH"] = os.pathsep.join([*paths, *filter(None, [env.get("PYTHONPATH", "")])])
    interp = Interpreter(executable, env)
    try:
        out = subprocess.run(
            interp.command("bench.measure.host"), env=env, capture_output=True, text=True,
            timeout=60, check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise UsageError(f"--python {python!r} does not run ({exc})") from None
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["no output"])[-1]
        raise UsageError(f"--python {python!r} cannot run the children: {last}")
    interp.record = json.loads(out.stdout)
    if interp.version < (3, 10):
        raise UsageError(
            f"--python {python!r} is Python {interp.record['python_version']}; "
            "the children need 3.10 or newer"
        )
    return interp


def specs(python: str | None) -> list[str | None]:
    """The interpreters ``--python`` names, in order: ``"3.11,3.14"`` -> ``["3.11", "3.14"]``
    (None: this one)."""
    named = [s.strip() for s in (python or "").split(",") if s.strip()]
    twice = sorted({s for s in named if named.count(s) > 1})
    if twice:
        raise UsageError(f"--python {python}: names {', '.join(twice)} more than once")
    return list[str | None](named) or [None]


def tag(record: dict[str, Any], full: bool = False) -> str:
    """An interpreter's short name in point names and tables: ``3.14``, ``3.14t`` for a
    free-threaded build (``full``: the whole version, ``3.14.0``)."""
    version = str(record["python_version"])
    short = version if full else ".".join(version.split(".")[:2])
    return short + ("t" if "free-threading" in str(record.get("python_build", "")) else "")


def resolve_all(python: str | None, paths: Sequence[str] = ()) -> dict[str, Interpreter]:
    """Every interpreter ``--python A,B,...`` names, by tag (:func:`tag`), in order.

    One interpreter is keyed "" (its points' names carry no tag); several by
    their minor versions, or their whole versions where two share one, and two
    builds of one version (two executables) by their order among that version's
    (``3.14.0``, ``3.14.0-2``).

    Raises
    ------
    UsageError
        An interpreter that cannot be found or run (see :func:`resolve`), a
        spec given twice, or two specs that name the same executable.
    """
    found = [resolve(spec, paths) for spec in specs(python)]
    if len(found) == 1:
        return {"": found[0]}
    # one interpreter: one binary in one environment (a venv and its base are two)
    ids = [(os.path.realpath(i.executable), i.record.get("python_prefix")) for i in found]
    same = [i.executable for n, i in enumerate(found) if ids[n] in ids[:n]]
    if same:
        raise UsageError(f"--python {python}: names the same interpreter ({same[0]}) "
                         "more than once")
    for full in (False, True):
        tags = [tag(i.record, full) for i in found]
        if len(set(tags)) == len(tags):
            return dict(zip(tags, found, strict=True))
    tags = [t if not (k := tags[:n].count(t)) else f"{t}-{k + 1}" for n, t in enumerate(tags)]
    return dict(zip(tags, found, strict=True))
