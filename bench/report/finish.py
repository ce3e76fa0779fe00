"""The end of ``concbench run``: summary lines, the report, ``latest``, the exit code."""

from __future__ import annotations

import sys
from pathlib import Path

from bench.errors import UsageError
from bench.measure.overhead import describe_overhead
from bench.measure.sweep import RunResult
from bench.results import store


def _noise(run_dir: Path) -> str:
    """The run's noise reasons in one line ("" when the host was quiet or nobody judged it)."""
    try:
        record = store.read_manifest(run_dir).get("noise")
    except (OSError, UsageError):  # no manifest, or an unreadable one: the report says so
        return ""
    if not isinstance(record, dict) or not record.get("noisy"):
        return ""
    return "; ".join(str(r) for r in record.get("reasons") or []) or "no reason recorded"


def finish_run(result: RunResult, *, write_report: bool = True) -> int:
    """Report what a sweep left and return the run's exit code.

    An interrupted sweep, or a Ctrl-C or SIGTERM while the report is drawn,
    ends with one line saying what is kept and how to go on.

    Returns
    -------
    int
        0 when every point was measured, 1 when some failed, 130 when the run
        was interrupted (its completed points are saved).
    """
    run_dir = result.run_dir
    results = run_dir / store.RESULTS
    done = sum(o.ok for o in result.outcomes)
    failed = len(result.failed)
    if result.interrupted:
        kept = (f"{done} point{'s' * (done != 1)} measured"
                + (f", {failed} failed" if failed else "")
                + (f", results in {results}" if results.exists() else ""))
        print(f"concbench: interrupted ({kept}); finish with: concbench run --resume {run_dir}",
              file=sys.stderr)
        return 130
    try:
        print(f"concbench: {done} point{'s' * (done != 1)} measured, {failed} failed; "
              f"results in {results}", file=sys.stderr)
        if result.overhead:
            print(f"concbench: {describe_overhead(result.overhead)}", file=sys.stderr)
        noise = _noise(run_dir)
        if noise:
            print(f"concbench: the host was noisy during this run: {noise}", file=sys.stderr)
        for o in result.failed:
            print(f"  FAILED {o.point.name}: {o.reason}", file=sys.stderr)
        if write_report and results.exists():
            try:
                from bench.report.html import write_report as _write
            except ModuleNotFoundError:  # the report module is optional for a bare sweep
                pass
            else:
                index = _write(results, run_dir)
                print(f"concbench: report in {index}", file=sys.stderr)
        store.point_latest(Path(run_dir).parent, Path(run_dir))
    except KeyboardInterrupt:
        print(f"concbench: interrupted after the sweep (results in {results}); "
              f"draw the report with: concbench report {run_dir}", file=sys.stderr)
        return 130
    return 1 if result.failed else 0
