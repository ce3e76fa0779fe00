"""The Python API for scripts and notebooks: ``bench.run``, ``bench.ab`` and ``bench.load``.

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
from typing import TYPE_CHECKING, Any

from bench.errors import UsageError
from bench.results.aggregate import RunData, load

if TYPE_CHECKING:
    import pandas as pd

    from bench.gate.ab_report import ABResult
    from bench.measure.config import RunConfig

__all__ = ["ab", "decisions", "load", "run"]


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


def _settings(workloads: Sequence[str | Callable[..., Any]], *,
              python: str | Sequence[str] | None = None,
              metrics: Sequence[str] | None = None, **options: Any) -> RunConfig:
    """The :class:`~bench.measure.config.RunConfig` of :func:`run`'s and :func:`ab`'s
    keyword arguments: built-in names go to ``workloads``, functions and references to
    ``workload``."""
    from bench.measure.config import settings
    from bench.scenarios import metrics as metric_specs

    refs = [_ref(w) for w in workloads]
    try:
        chosen = None if metrics is None else metric_specs.parse(",".join(metrics))
    except ValueError as exc:
        raise UsageError(f"metrics: {exc}") from None
    return settings(workload=[r for r in refs if ":" in r],
                    workloads=[r for r in refs if ":" not in r],
                    python=python if python is None or isinstance(python, str)
                    else ",".join(python), metrics=chosen,
                    **options)


def run(workloads: Sequence[str | Callable[..., Any]] = (), *,
        models: Sequence[str] | None = None, tasks: Sequence[int] | None = None,
        workers: Sequence[int] | None = None, sizes: Sequence[float] | None = None,
        start_methods: Sequence[str] | None = None, profile: str = "quick",
        path: Sequence[str | Path] = (), output_dir: str | Path = "reports", name: str = "",
        python: str | Sequence[str] | None = None, work_scale: float = 1.0,
        point_timeout: float | None = None,
        force: bool = False, report: bool = True, quiet: bool = False,
        budget: float | None = None, metrics: Sequence[str] | None = None,
        loops: Sequence[str] | None = None, service: str | None = None,
        arrivals: str | None = None, until: str | None = None,
        delta: float | None = None) -> RunData:
    """Measure workloads under every model that can run them; return the run's data.

    Parameters
    ----------
    workloads
        Your functions (``"module:function"``, ``"name=module:function"`` or a
        module-level function object) and built-in workload names (``"cpu"``).
        Empty: the workloads of the nearest ``[tool.concbench]`` table, or the
        built-in ones.
    models, tasks, workers, sizes, start_methods, profile, path, output_dir, name, python,
    work_scale, point_timeout, force, budget, loops, service, arrivals, until, delta
        As ``concbench run``'s options of the same names (``delta`` a fraction: 0.05).
    metrics
        The metrics collected beside time (``["cores", "memory"]``; ``[]``: none;
        None: every one), as ``concbench run --metrics`` / ``--no-metrics``;
        they are columns of ``.summary`` (``cores_used``, ``lag``, ``memory``,
        ``dispatch`` and their intervals).
    report
        Write the HTML / Markdown / CSV report into the run directory.
    quiet
        No progress lines.

    Returns
    -------
    RunData
        ``bench.load`` of the new run: ``.summary``, ``.tidy``, ``.host``, and
        ``.failed``, the points that failed with their reasons (a failed point
        is data too: the others are measured and returned all the same).

    Raises
    ------
    UsageError
        A mistake in the arguments, or a workload pre-flight refuses.
    bench.errors.WorkloadFailed
        A workload raised before anything was measured (its traceback in ``.details``).
    KeyboardInterrupt
        The run was interrupted (the run directory keeps what was measured).

    Nothing of the calling process is changed: not ``sys.path``, not the
    workloads another call sees, not its signal handlers.

    Examples
    --------
    >>> data = bench.run(["examples.textparse:parse"], sizes=[1e3, 1e4],
    ...                  profile="smoke", path=["."])            # doctest: +SKIP
    >>> data.summary[["name", "speedup", "speedup_ci_low", "speedup_ci_high"]]  # doctest: +SKIP
    """
    from bench.measure import runner
    from bench.measure.progress import make_progress
    from bench.report.finish import finish_run

    config = _settings(workloads, models=models, tasks=tasks, workers=workers, sizes=sizes,
                       start_methods=start_methods, profile=profile, path=[str(p) for p in path],
                       output_dir=output_dir, name=name, python=python, work_scale=work_scale,
                       point_timeout=point_timeout, metrics=metrics, loops=loops,
                       budget=budget, service=service, arrivals=arrivals, until=until,
                       delta=delta)
    result = runner.start(config, make_progress(quiet), force=force)
    finish_run(result, write_report=report)
    if result.interrupted:
        raise KeyboardInterrupt
    if not quiet:
        print(f"concbench: run in {result.run_dir}", file=sys.stderr)
    return load(result.run_dir, missing_ok=True)


def ab(a: str, b: str, workloads: Sequence[str | Callable[..., Any]] = (), *,
       models: Sequence[str] | None = None, tasks: Sequence[int] | None = None,
       workers: Sequence[int] | None = None, sizes: Sequence[float] | None = None,
       start_methods: Sequence[str] | None = None, profile: str = "quick",
       path: Sequence[str | Path] = (), output_dir: str | Path = "reports", name: str = "",
       python: str | None = None, point_timeout: float | None = None, force: bool = False,
       max_slowdown: str = "10%", alpha: float = 0.05, max_time: float = 0.0,
       max_rounds: int = 0, quiet: bool = False, metric: str = "time",
       metrics: Sequence[str] | None = None, loops: Sequence[str] | None = None) -> ABResult:
    """Measure variants ``a`` and ``b`` in the same rounds; return the verdict of every point.

    Parameters
    ----------
    a, b
        Variants as ``concbench ab`` takes them: ``"python=PATH"``, ``"path=DIR"``
        or ``"scale=X"``.
    workloads, models, tasks, workers, sizes, start_methods, profile, path, output_dir, name,
    python, point_timeout, force, loops
        As :func:`run`.
    max_slowdown, alpha, max_time, max_rounds
        As ``concbench ab``'s options of the same names.
    quiet
        No progress lines.
    metric
        What is gated: ``"time"`` or a metric's readings (``"memory"``, ...), as
        ``concbench ab --metric``.
    metrics
        The metrics collected, as :func:`run`'s.

    Returns
    -------
    bench.gate.ab_report.ABResult
        ``.tests`` (one verdict per point: ``regressed``, ``within``, ``faster`` or
        ``undecided``, with the ratio B / A and its 95 % interval), ``.run_dir``.

    Raises
    ------
    UsageError
        A mistake in the arguments.
    KeyboardInterrupt
        The job was interrupted (what was measured stays in its run directory).

    Examples
    --------
    >>> res = bench.ab("path=../base", "path=.", ["mymod:work"], profile="smoke")  # doctest: +SKIP
    >>> [t.name for t in res.tests if t.failed]                                   # doctest: +SKIP
    """
    from bench.gate import ab as job
    from bench.gate.ab_report import check_metric, evaluate
    from bench.gate.check import parse_slowdown
    from bench.measure.progress import make_progress

    config = job.ABConfig(
        run=_settings(workloads, models=models, tasks=tasks, workers=workers, sizes=sizes,
                      start_methods=start_methods, profile=profile,
                      path=[str(p) for p in path], output_dir=output_dir, name=name,
                      python=python, point_timeout=point_timeout, metrics=metrics,
                      loops=loops),
        a=job.parse_variant(a), b=job.parse_variant(b),
        max_slowdown=parse_slowdown(max_slowdown), alpha=alpha, max_time=max_time,
        max_rounds=max_rounds)
    check_metric(metric, config.run.metric_names())
    done = job.start(config, make_progress(quiet), force=force)
    if done.interrupted:
        raise KeyboardInterrupt
    return evaluate(done.run_dir, metric=metric)


def decisions(results: str | Path) -> pd.DataFrame:
    """Every question's pick and every rival's verdict, as the run's report reads them.

    Parameters
    ----------
    results
        A run directory or its ``results.json``; the looks and the margin come from the
        ``run.json`` beside it (an older run's: its planned rounds, 5 %).

    Returns
    -------
    pandas.DataFrame
        :data:`bench.results.decisions.DECISION_COLUMNS`: one row per candidate of each
        question, the pick first (``verdict`` "worse", "equivalent" or "undecided";
        ``ratio`` the rival's time over the pick's, with its interval).

    Examples
    --------
    >>> d = bench.decisions("reports/latest")                       # doctest: +SKIP
    >>> d[~d["pick"]][["name", "verdict", "ratio", "ratio_low", "ratio_high"]]  # doctest: +SKIP
    """
    from bench.report.status import run_looks, run_status
    from bench.results import store
    from bench.results.decisions import decide

    path = store.resolve_results(Path(results))
    data = load(path)
    looks, delta = run_looks(run_status(path), data.tidy)
    return decide(data.tidy, looks, delta)
