"""The options the subcommands share: how they are parsed, what their help says."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from bench.scenarios.grid import DEFAULT_POINT_TIMEOUT

_N = TypeVar("_N", int, float)


def number_list(parse: Callable[[str], _N], example: str) -> Callable[[str], tuple[_N, ...]]:
    """An argparse type: comma-separated numbers, at least one."""
    def convert(text: str) -> tuple[_N, ...]:
        try:
            values = tuple(parse(v) for v in text.split(",") if v.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {example}, got {text!r}") from None
        if not values:
            raise argparse.ArgumentTypeError("expected at least one number")
        return values

    return convert


int_list = number_list(int, "whole numbers like 1,4,16")
size_list = number_list(float, "sizes like 1e3,1e4,1e5")


def name_list(text: str) -> tuple[str, ...]:
    """An argparse type: comma-separated names."""
    return tuple(v.strip() for v in text.split(",") if v.strip())


def gate_metrics() -> tuple[str, ...]:
    """What ``check --metric`` and ``ab --metric`` can test (:mod:`bench.scenarios.metrics`)."""
    from bench.scenarios.metrics import gate_metrics

    return gate_metrics()


def metric_list(text: str) -> tuple[str, ...]:
    """An argparse type: comma-separated metric names (:mod:`bench.scenarios.metrics`), or all."""
    from bench.scenarios import metrics

    try:
        return metrics.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def margin(text: str) -> float:
    """``5%`` or ``0.05`` -> 0.05: a margin strictly between 0 and 100 %."""
    s = text.strip()
    try:
        value = float(s[:-1]) / 100 if s.endswith("%") else float(s)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a margin such as 5% or 0.05, got {text!r}") from None
    if not (0 < value < 1):
        raise argparse.ArgumentTypeError(f"a margin is between 0% and 100%, got {text!r}")
    return value


def grid_args(p: argparse.ArgumentParser) -> None:
    """The options that decide what a run measures (defaults: those of
    :func:`bench.measure.config.settings`).

    Every default is None, so that ``run --resume`` can tell an option given
    from one left out.
    """
    p.add_argument("--profile", default=None, help="smoke, quick (default) or full")
    p.add_argument("--workload", action="append", default=None, metavar="[NAME=]MOD:FUNC",
                   help="measure your own function (def or async def); repeatable")
    p.add_argument("--path", action="append", default=None, metavar="DIR",
                   help="a folder your workloads' modules import from; repeatable")
    p.add_argument("--workloads", type=name_list, default=None,
                   help="which workloads, built-in or declared, e.g. cpu,parse")
    p.add_argument("--sizes", type=size_list, default=None,
                   help="task sizes to sweep, as given, e.g. 1e3,1e4,1e5")
    p.add_argument("--models", type=name_list, default=None,
                   help="e.g. sequential,process_pool")
    p.add_argument("--tasks", type=int_list, default=None, help="task counts, e.g. 1,4,16")
    p.add_argument("--workers", "--limits", type=int_list, default=None,
                   help="worker counts W, e.g. 1,2,4; --limits names the same axis as the "
                        "calls in flight (asyncio_bounded's semaphore, a pool's workers)")
    p.add_argument("--arrivals", default=None, metavar="poisson:RATE",
                   help="open loop: send each call at a scheduled time (Poisson arrivals of "
                        "RATE calls a second, seeded), its latency counted from then; only "
                        "the models whose coroutines all overlap on one loop")
    p.add_argument("--service", default=None, metavar="SPEC",
                   help="the loopback service the network workloads call, e.g. "
                        "latency=200ms,p99=1s,chunks=20,rate=500 (the built-in clients' "
                        "default: latency=100ms); your --workload functions then call it")
    p.add_argument("--start-methods", type=name_list, default=None,
                   help="process start methods, e.g. fork,spawn")
    p.add_argument("--loops", type=name_list, default=None,
                   help="event loops for the models whose tasks run on one, e.g. "
                        "asyncio,uvloop (each other loop adds a variant, asyncio_gather[uvloop], "
                        "measured in the same rounds; default: asyncio's own)")
    p.add_argument("--work-scale", type=float, default=None,
                   help="multiply the built-in workloads' default task sizes (in whole units "
                        "where they have them; --sizes and your own declared sizes are "
                        "measured as given; default 1.0)")
    p.add_argument("--python", default=None,
                   help="interpreter(s) that run the measured children: a version (3.14, "
                        "3.14t), a command or a path; several, comma-separated (3.11,3.14), "
                        "make the interpreter an axis: each round runs every group under "
                        "each one (default: this one)")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--metrics", type=metric_list, default=None,
                       help="metrics collected beside time, never inside a timed value, e.g. "
                            "cores,lag,memory,dispatch (default: all)")
    which.add_argument("--no-metrics", action="store_true", default=None,
                       help="collect time only")


def measuring_args(p: argparse.ArgumentParser, report: str) -> None:
    """Where a measuring command writes, how long a point may take, how loud it is."""
    p.add_argument("--output-dir", type=Path, default=None,
                   help="where run directories go (default reports/)")
    p.add_argument("--name", default=None, help="run directory name (default: timestamped)")
    timeout_arg(p)
    p.add_argument("--force", action="store_true",
                   help="replace an existing run directory (all of its files)")
    p.add_argument("--no-report", action="store_true", help=f"skip {report}")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")


def timeout_arg(p: argparse.ArgumentParser) -> None:
    """``--point-timeout``."""
    p.add_argument("--point-timeout", type=float, default=None,
                   help=f"seconds before a point's child (or pre-flight) is killed "
                        f"(default {DEFAULT_POINT_TIMEOUT:g})")


def gate_args(p: argparse.ArgumentParser, alpha: float | None, what: str) -> None:
    """The options of a regression gate (``check``, ``ab``)."""
    p.add_argument("--max-slowdown", default="10%",
                   help="slowdown a regression must exceed, e.g. 10%% or 1.1x (default 10%%)")
    p.add_argument("--alpha", type=float, default=alpha,
                   help=what if alpha is None else f"{what} (default {alpha:g})")
    p.add_argument("--markdown", type=Path, default=None, help="write the verdict as Markdown")
    p.add_argument("--junit", type=Path, default=None, help="write a JUnit XML file")
    p.add_argument("--fail-on-undecided", action="store_true",
                   help="exit 1 when a point stays undecided (default: listed, exit 0)")


# ------------------------------------------------------------------ each subcommand's
def run_args(p: argparse.ArgumentParser) -> None:
    """``concbench run``."""
    grid_args(p)
    measuring_args(p, "the report at the end")
    p.add_argument("--budget", type=float, default=None, metavar="SECONDS",
                   help="seconds the whole command may take, report included: the planned "
                        "rounds always run, extra rounds while the budget allows (default: "
                        "the profile's, 150 for quick; 0: no extra rounds)")
    p.add_argument("--until", choices=("decided", "stable"), default=None,
                   help="after the first rounds, race to decisions: a rival decided worse "
                        "than the pick, or equivalent to it, gets no more rounds, and the run "
                        "ends when every question is decided or the budget is spent "
                        "(decided); or give extra rounds to the widest intervals (stable) "
                        "(default: the profile's, decided for quick)")
    p.add_argument("--delta", type=margin, default=None, metavar="MARGIN",
                   help="equivalence margin: a rival whose time is surely within it of the "
                        "pick's is equivalent, e.g. 5%% or 0.05 (default 5%%)")
    p.add_argument("--live-report", action=argparse.BooleanOptionalAction, default=None,
                   help="redraw the run's index.html after each round, at idle priority "
                        "(default: when the budget is 4 minutes or more)")
    p.add_argument("--resume", metavar="DIR", default=None,
                   help="finish an interrupted run directory with its original settings")


def list_args(p: argparse.ArgumentParser) -> None:
    """``concbench list``."""
    grid_args(p)
    timeout_arg(p)


def report_args(p: argparse.ArgumentParser) -> None:
    """``concbench report``."""
    p.add_argument("results", type=Path, help="results.json or a run directory")
    p.add_argument("-o", "--output-dir", type=Path, default=None,
                   help="where to write the report (default: next to the results file)")


def compare_args(p: argparse.ArgumentParser) -> None:
    """``concbench compare``."""
    p.add_argument("results", type=Path, nargs="+", help="two or more results files or run dirs")
    p.add_argument("-o", "--output-dir", type=Path, default=Path("reports/compare"),
                   help="where to write the comparison (default reports/compare)")


def check_args(p: argparse.ArgumentParser) -> None:
    """``concbench check``."""
    p.add_argument("runs", type=Path, nargs="+", metavar="RUN",
                   help="BASELINE CURRENT (results files or run directories), or CURRENT "
                        "alone with --history")
    p.add_argument("--history", type=Path, default=None, metavar="HISTORY.json",
                   help="judge CURRENT against the spread of a history file instead")
    p.add_argument("--min-runs", type=int, default=None,
                   help="--history only: fewest matching runs a point is judged from "
                        "(default 5)")
    p.add_argument("--metric", choices=gate_metrics(), default=None,
                   help="compare batch times, within-run speedups (cancels machine speed) "
                        "or a metric's readings (cores, lag, memory, dispatch); default time, "
                        "or with --history time and speedup")
    gate_args(p, None, "false discovery rate of the Mann-Whitney tests (default 0.002), "
              "or with --history the chance of any false alarm in a run (default 0.05)")


def history_args(p: argparse.ArgumentParser) -> None:
    """``concbench history append``."""
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    h = actions.add_parser("append", help="add a run to HISTORY.json (created if missing)")
    h.add_argument("history", type=Path, metavar="HISTORY.json")
    h.add_argument("run", type=Path, help="results file or run directory")
    h.add_argument("--keep", type=int, default=0, help="keep only the newest N runs")


def ab_args(p: argparse.ArgumentParser) -> None:
    """``concbench ab``."""
    p.add_argument("a", metavar="A", help="python=PATH, path=DIR or scale=X")
    p.add_argument("b", metavar="B", help="python=PATH, path=DIR or scale=X; the same as A "
                   "for an A/A (scale=1 scale=1): two arms measured apart, so what it fails "
                   "is a false alarm")
    grid_args(p)
    gate_args(p, 0.05, "family-wise error rate of the regressed verdicts")
    p.add_argument("--metric", choices=[m for m in gate_metrics() if m != "speedup"],
                   default="time", help="gate batch times (default) or a metric's readings, "
                                        "e.g. memory")
    p.add_argument("--max-time", type=float, default=0.0,
                   help="seconds after which no extra round starts (default: the profile's)")
    p.add_argument("--max-rounds", type=int, default=0,
                   help="most rounds a point gets (default: the profile's, at least 3x "
                        "its planned rounds)")
    measuring_args(p, "the comparison report")


def info_args(p: argparse.ArgumentParser) -> None:
    """``concbench info``."""
    p.add_argument("--python", default=None, help="describe this interpreter instead")
    p.add_argument("--json", action="store_true", help="as JSON")
