"""The command line: subcommands mapped to functions, nothing else.

``main(argv) -> int``: 0 success, 1 a run with failed points or a regression,
2 a usage error (one line on stderr, never a traceback).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from bench import options
from bench.errors import UsageError, WorkloadFailed

if TYPE_CHECKING:
    from bench.gate.ab import ABConfig
    from bench.measure.config import RunConfig


#: The options (:mod:`bench.options`) that ``run --resume`` cannot change.
_PLANNING = ("profile", "workload", "path", "workloads", "sizes", "models", "loops", "tasks",
             "workers", "start_methods", "work_scale", "python", "output_dir", "name",
             "point_timeout", "force", "budget", "metrics", "no_metrics", "service", "arrivals",
             "until", "delta")


def run_config(args: argparse.Namespace) -> RunConfig:
    """The settings ``run``'s and ``list``'s options describe, declared workloads included."""
    from bench.measure.config import settings

    given = {k: getattr(args, k, None) for k in (
        "profile", "workload", "path", "workloads", "sizes", "models", "tasks", "workers",
        "start_methods", "loops", "work_scale", "python", "budget", "output_dir", "name",
        "point_timeout", "service", "arrivals", "until", "delta")}
    chosen = [] if getattr(args, "no_metrics", None) else getattr(args, "metrics", None)
    return settings(**given, metrics=chosen, live=getattr(args, "live_report", None))


def _note(lines: Sequence[str]) -> None:
    for line in lines:
        print(f"concbench: note: {line}", file=sys.stderr)


def cmd_run(args: argparse.Namespace) -> int:
    """Measure a grid (or finish one with --resume) and write its report."""
    import time

    started = time.monotonic()
    from bench.measure import runner
    from bench.measure.progress import make_progress

    if args.resume:
        given = [k for k in _PLANNING if getattr(args, k, None) not in (None, False)]
        if given:
            flag = "--" + given[0].replace("_", "-")
            raise UsageError(f"--resume continues the run as it was planned; {flag} cannot "
                             "change it (start a new run instead)")
        result = runner.resume(Path(args.resume), make_progress(args.quiet), started,
                               args.live_report)
    else:
        config = run_config(args)
        planned = runner.plan(config)
        _note(planned.notes)
        result = runner.start(config, make_progress(args.quiet), force=args.force,
                              planned=planned, started=started)
    from bench.report.finish import finish_run

    return finish_run(result, write_report=not args.no_report)


def cmd_list(args: argparse.Namespace) -> int:
    """Print the points a run would measure, without running them."""
    from bench.measure.runner import plan

    config = run_config(args)
    planned = plan(config)
    _note(planned.notes)
    for p in planned.points:
        print(p.name)
    chosen = ", ".join(config.metric_names())
    print("concbench: metrics beside time: "
          + (f"{chosen} (each where it applies)" if chosen else "none (time only)"),
          file=sys.stderr)
    for name, why in planned.not_applicable.items():
        print(f"concbench: not applicable: {name}: {why}", file=sys.stderr)
    for line in planned.absent:
        print(f"concbench: absent: {line}", file=sys.stderr)
    versions = ", ".join(str(i.record["python_version"]) for i in planned.interps.values())
    print(f"{len(planned.points)} points (usable cores C={planned.interp.record['usable_cores']}, "
          f"Python {versions}); its largest child holds {planned.footprint.describe()} at once",
          file=sys.stderr)
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    """Print the host record of the interpreter that would run the children."""
    from bench.measure.interpreter import resolve_all

    records = {t: i.record for t, i in resolve_all(args.python).items()}
    if args.json:
        print(json.dumps(records[""] if "" in records else records, indent=2, sort_keys=True))
        return 0
    for t, record in records.items():
        if t:
            print(f"[{t}]")
        width = max(map(len, record))
        for key, value in sorted(record.items()):
            print(f"{key:<{width}}  {value}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """Rebuild the report of any results file."""
    from bench.report.html import write_report
    from bench.results.store import resolve_results

    results = resolve_results(args.results)
    index = write_report(results, args.output_dir or results.parent)
    print(f"concbench: report in {index}", file=sys.stderr)
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    """Compare two or more runs side by side."""
    from bench.gate.compare_report import write_comparison

    if len(args.results) < 2:
        raise UsageError("compare needs at least two results files")
    index = write_comparison(args.results, args.output_dir)
    print(f"concbench: comparison in {index}", file=sys.stderr)
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    """The regression gate: 0 fine, 1 regressed, 2 bad input."""
    from bench.gate.check import parse_slowdown

    slowdown = parse_slowdown(args.max_slowdown)
    if args.history is not None:
        from bench.gate.history import MIN_RUNS
        from bench.gate.history_report import run_history_check

        if len(args.runs) != 1:
            raise UsageError("check --history HISTORY takes one run: the current one")
        alpha = 0.05 if args.alpha is None else args.alpha
        _check_alpha(alpha)
        return run_history_check(args.history, args.runs[0], max_slowdown=slowdown,
                                 alpha=alpha, min_runs=args.min_runs or MIN_RUNS,
                                 metric=args.metric, markdown=args.markdown, junit=args.junit,
                                 fail_on_undecided=args.fail_on_undecided)
    from bench.gate.check_report import run_check

    if args.min_runs is not None:
        raise UsageError("--min-runs applies to check --history only")
    if len(args.runs) != 2:
        raise UsageError("check takes two runs, BASELINE and CURRENT (or --history HISTORY "
                         "and one run)")
    alpha = 0.002 if args.alpha is None else args.alpha
    _check_alpha(alpha)
    return run_check(args.runs[0], args.runs[1], max_slowdown=slowdown,
                     metric=args.metric or "time", alpha=alpha, markdown=args.markdown,
                     junit=args.junit, fail_on_undecided=args.fail_on_undecided)


def _check_alpha(alpha: float) -> None:
    if not 0 < alpha < 1:
        raise UsageError(f"--alpha must be between 0 and 1, got {alpha}")


def cmd_history(args: argparse.Namespace) -> int:
    """Add a run to a history file."""
    from bench.gate.history import append
    from bench.results.aggregate import load

    n = append(args.history, load(args.run), keep=args.keep)
    print(f"concbench: {args.history} holds {n} run(s)", file=sys.stderr)
    return 0


def ab_config(args: argparse.Namespace) -> ABConfig:
    """The settings ``ab``'s options describe."""
    from bench.gate import ab
    from bench.gate.check import parse_slowdown

    return ab.ABConfig(run=run_config(args), a=ab.parse_variant(args.a),
                       b=ab.parse_variant(args.b),
                       max_slowdown=parse_slowdown(args.max_slowdown), alpha=args.alpha,
                       max_time=args.max_time, max_rounds=args.max_rounds)


def cmd_ab(args: argparse.Namespace) -> int:
    """Measure two variants in the same rounds and gate B against A."""
    from bench.gate import ab
    from bench.gate.ab_report import check_metric, report_ab
    from bench.measure.progress import make_progress

    config = ab_config(args)
    check_metric(args.metric, config.run.metric_names())
    job = ab.start(config, make_progress(args.quiet), force=args.force)
    measured = sum(o.ok for r in job.sides.values() for o in r.outcomes)
    if job.interrupted:
        print(f"concbench: interrupted ({measured} side-points measured, kept in "
              f"{job.run_dir}); nothing decided", file=sys.stderr)
        return 130
    print(f"concbench: {measured} side-points measured; A/B run in {job.run_dir}",
          file=sys.stderr)
    return report_ab(job.run_dir, markdown=args.markdown, junit=args.junit,
                     fail_on_undecided=args.fail_on_undecided, comparison=not args.no_report,
                     metric=args.metric)


#: Each subcommand: its name, its help, the function adding its options
#: (:mod:`bench.options`) and the function running it.
COMMANDS = (
    ("run", "measure a scenario grid and write its report", options.run_args, cmd_run),
    ("list", "print the points a run would measure", options.list_args, cmd_list),
    ("report", "build the HTML/Markdown/CSV report of a results file", options.report_args,
     cmd_report),
    ("compare", "compare runs of other machines, interpreters or commits",
     options.compare_args, cmd_compare),
    ("check", "regression gate: exit 1 when CURRENT is slower", options.check_args,
     cmd_check),
    ("history", "keep run-level figures in a history file (CI artifact)",
     options.history_args, cmd_history),
    ("ab", "gate B against A, both measured in the same rounds", options.ab_args, cmd_ab),
    ("info", "print the host record", options.info_args, cmd_info),
)


def build_parser() -> argparse.ArgumentParser:
    """The argparse tree of every subcommand (:data:`COMMANDS`)."""
    from bench import __version__

    parser = _Parser(
        prog="concbench",
        description="Measure when Python work gains from asyncio, threads or processes.",
    )
    parser.add_argument("--version", action="version", version=f"concbench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, text, add, func in COMMANDS:
        p = sub.add_parser(name, help=text)
        p.set_defaults(func=func)
        add(p)
    return parser


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line and exit 2 (via UsageError)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog.removeprefix('concbench ')}: {message}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    parser = build_parser()
    try:
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:  # --help and --version
            return int(exc.code or 0)
        if not getattr(args, "func", None):
            parser.print_help(sys.stderr)
            return 2
        return int(args.func(args))
    except UsageError as exc:
        print(f"concbench: {exc}", file=sys.stderr)
        return 2
    except WorkloadFailed as exc:  # the user's own function: their traceback, then one line
        print(exc.details.rstrip(), file=sys.stderr)
        print(f"concbench: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("concbench: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
