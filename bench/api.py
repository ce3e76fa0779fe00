"""The Python API for scripts and notebooks: ``bench.run(...)`` and ``bench.load(...)``.

``run`` takes keyword arguments named after ``concbench run``'s options and
returns what :func:`bench.load` returns for the run it made.  It measures in
child processes, as the command line does, so it works inside a running
event loop (a Jupyter cell).  A workload is a ``"module:function"`` string
or a function defined at module level in an importable module; a function
defined in the notebook itself lives in ``__main__``, which spawn and
forkserver workers cannot import: it is refused with a clear error, never a
hang.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.errors import UsageError
from bench.results.aggregate import RunData, load

__all__ = ["load", "run"]


def _ref(work: str | Callable[..., Any]) -> str:
    """A workload as ``[name=]module:function``."""
    if isinstance(work, str):
        return work
    module = getattr(work, "__module__", None)
    qualname = getattr(work, "__qualname__", None)
    if not module or not qualname:
        raise UsageError(f"workload {work!r} is not a function")
    if module == "__main__":
        raise UsageError(
            f"workload {qualname!r} is defined in __main__ (this notebook or script); spawn and "
            "forkserver workers import functions by module name: put it in a .py file next to "
            "the notebook, import it from there, and pass it (or 'module:function')")
    if "<lambda>" in qualname or "<locals>" in qualname:
        raise UsageError(f"workload {qualname!r} is a lambda or nested function; define it with "
                         "def at module level in an importable module")
    return f"{module}:{qualname}"


def _csv(values: Sequence[Any] | None) -> str | None:
    return None if values is None else ",".join(str(v) for v in values)


def run(workloads: Sequence[str | Callable[..., Any]] = (), *,
        models: Sequence[str] | None = None, tasks: Sequence[int] | None = None,
        workers: Sequence[int] | None = None, sizes: Sequence[float] | None = None,
        start_methods: Sequence[str] | None = None, profile: str = "quick",
        path: Sequence[str | Path] = (), output_dir: str | Path = "reports", name: str = "",
        python: str | None = None, work_scale: float = 1.0, point_timeout: float | None = None,
        force: bool = False, report: bool = True, quiet: bool = False) -> RunData:
    """Measure workloads under every model that can run them; return the run's data.

    Parameters
    ----------
    workloads
        Your functions (``"module:function"``, ``"name=module:function"`` or a
        module-level function object) and built-in workload names (``"cpu"``).
        Empty: the workloads of the nearest ``[tool.concbench]`` table, or the
        built-in ones.
    models, tasks, workers, sizes, start_methods, profile, path, output_dir, name, python,
    work_scale, point_timeout, force
        As ``concbench run``'s options of the same names.
    report
        Write the HTML / Markdown / CSV report into the run directory.
    quiet
        No progress lines.

    Returns
    -------
    RunData
        ``bench.load`` of the new run: ``.summary``, ``.tidy``, ``.host``.

    Raises
    ------
    UsageError
        A mistake in the arguments, or a workload pre-flight refuses.
    bench.errors.WorkloadFailed
        A workload raised before anything was measured (its traceback in ``.details``).
    RuntimeError
        Points failed or the run was interrupted (the run directory keeps what was measured).

    Examples
    --------
    >>> data = bench.run(["examples.textparse:parse"], sizes=[1e3, 1e4],
    ...                  profile="smoke", path=["."])            # doctest: +SKIP
    >>> data.summary[["name", "speedup", "speedup_ci_low", "speedup_ci_high"]]  # doctest: +SKIP
    """
    from bench.cli import build_parser, run_config
    from bench.measure import runner
    from bench.measure.progress import make_progress
    from bench.report.finish import finish_run

    refs = [_ref(w) for w in workloads]
    builtin = [r for r in refs if ":" not in r]
    argv = ["run", "--profile", profile, "--output-dir", str(output_dir),
            "--work-scale", str(work_scale)]
    for ref in refs:
        if ":" in ref:
            argv += ["--workload", ref]
    if builtin:
        declared = [r.partition("=")[0] if "=" in r else r.rpartition(":")[2].rpartition(".")[2]
                    for r in refs]
        argv += ["--workloads", ",".join(declared)]
    for option, value in (("--models", _csv(models)), ("--tasks", _csv(tasks)),
                          ("--workers", _csv(workers)), ("--sizes", _csv(sizes)),
                          ("--start-methods", _csv(start_methods)), ("--name", name or None),
                          ("--python", python),
                          ("--point-timeout", None if point_timeout is None
                           else str(point_timeout))):
        if value is not None:
            argv += [option, value]
    for folder in path:
        argv += ["--path", str(folder)]
    if force:
        argv.append("--force")
    args = build_parser().parse_args(argv)

    result = runner.start(run_config(args), make_progress(quiet), force=force)
    code = finish_run(result, write_report=report)
    if result.interrupted:
        raise KeyboardInterrupt
    if code != 0:
        failed = ", ".join(f"{o.point.name} ({o.reason})" for o in result.failed)
        raise RuntimeError(f"{len(result.failed)} points failed: {failed}; "
                           f"what was measured is in {result.run_dir}")
    if not quiet:
        print(f"concbench: run in {result.run_dir}", file=sys.stderr)
    return load(result.run_dir)
