"""Byte-compile what concbench imports, once, at install time (``make install`` runs it).

The install skips pip's byte-compilation of every module of every dependency
(``--no-compile``: about half of a fresh install's time here).  This script
compiles only what a run and its report import, by doing what they do: the
measured child's modules, pyperf's metadata collection (which a round child
runs), and a whole report of a small synthetic results file (the one
``scripts/bench_report_speed.py`` makes) drawn into a temporary folder (its
forked chart workers compile what they import too), then every module of concbench's own.
It writes bytecode even where ``PYTHONDONTWRITEBYTECODE`` is set: without
it, every process of every run would compile those modules again.
"""

from __future__ import annotations

import sys

sys.dont_write_bytecode = False

import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402


def main() -> int:
    import pyperf

    import bench.cli
    import bench.measure.child
    from bench.report.html import write_report

    pyperf.Run([1.0], metadata={"name": "warm"}, collect_metadata=True)
    bench.cli.build_parser()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_report_speed import generate

    with tempfile.TemporaryDirectory() as tmp:
        write_report(generate(Path(tmp) / "results.json", 60), Path(tmp) / "report")
    # and all of concbench's own modules: the commands import theirs lazily (the runner,
    # pre-flight, the host record, the gates), each in processes of their own
    import compileall

    import cpu_tasks

    compileall.compile_dir(str(Path(bench.cli.__file__).parent), quiet=1)
    compileall.compile_file(cpu_tasks.__file__, quiet=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
