"""What the manifest ``run.json`` beside a results file says about the run, for its report."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from bench.errors import UsageError
from bench.report.export import fmt_num
from bench.results import store
from bench.results.decisions import ALPHA, DELTA, Looks, looks_for
from bench.results.recommend import data_looks
from bench.scenarios.grid import PROFILES


@dataclass
class RunStatus:
    """What the manifest ``run.json`` tells about the run (all optional)."""

    status: str = ""
    failed: list[dict[str, str]] = field(default_factory=list)
    noise: dict[str, Any] | None = None
    problem: str = ""
    #: Points measured in more rounds than planned, and their extra rounds in all.
    remeasured: int = 0
    extra_rounds: int = 0
    planned_rounds: int = 0
    #: The unit of each declared workload's task sizes (the run's settings).
    units: dict[str, str] = field(default_factory=dict)
    #: How far a run still going has got, in words (empty once it ended).
    progress: str = ""
    #: The host's speed during the run: the 10th and 90th percentiles of the median core's
    #: seconds for the fixed task (:mod:`bench.measure.speed`), and how many readings.
    speed: tuple[float, float, int] | None = None
    #: The manifest's ``decisions`` record: the margin and the looks the verdicts are read
    #: with, and a race's questions (None: an older run's manifest lacks it).
    decisions: dict[str, Any] | None = None


def run_status(results: Path) -> RunStatus:
    """Read failed points, extra rounds and the noise verdict from ``run.json`` next to ``results``.

    A missing manifest gives an empty status; an unreadable one is reported
    in ``problem`` rather than stopping the report.
    """
    run_dir = results.parent
    if not (run_dir / store.MANIFEST).is_file():
        return RunStatus()
    try:
        manifest = store.read_manifest(run_dir)
    except UsageError as exc:
        return RunStatus(problem=str(exc))
    except (TypeError, ValueError) as exc:  # e.g. a "format" that is not a number
        return RunStatus(problem=f"{run_dir / store.MANIFEST}: not a valid run manifest ({exc})")
    entries = manifest.get("points")
    points = [p for p in entries if isinstance(p, dict)] if isinstance(entries, list) else []
    failed = [{"name": str(p.get("name", "?")), "reason": str(p.get("reason") or "no reason")}
              for p in points if p.get("status") == "failed"]
    rounds = [r for p in points
              if isinstance(r := p.get("rounds"), int) and not isinstance(r, bool) and r > 0]
    settings = manifest.get("settings")
    grid = settings.get("grid") if isinstance(settings, dict) else None
    profile = PROFILES.get(str(grid.get("profile"))) if isinstance(grid, dict) else None
    planned = profile.rounds if profile is not None else min(rounds, default=0)
    more = [r - planned for r in rounds if r > planned]
    noise = manifest.get("noise")
    speed = None
    if isinstance(noise, dict) and all(_number(noise.get(k)) for k in
                                       ("speed_fast_s", "speed_slow_s", "speed_readings")):
        speed = (float(noise["speed_fast_s"]), float(noise["speed_slow_s"]),
                 int(noise["speed_readings"]))
    if isinstance(noise, dict) and "noisy" in noise:
        reasons = noise.get("reasons")
        verdict = {"noisy": bool(noise["noisy"]),
                   "reasons": [str(r) for r in reasons] if isinstance(reasons, list) else []}
        extra = {k: v for k, v in noise.items() if k not in ("noisy", "reasons")
                 and isinstance(v, int | float | str)}
        noise = {**verdict, "details": {k: fmt_num(v, 3) for k, v in sorted(extra.items())}}
    else:
        noise = None
    declared = settings.get("declared") if isinstance(settings, dict) else None
    units = {str(w["name"]): str(w["unit"]) for w in declared or []
             if isinstance(w, dict) and "name" in w and w.get("unit")} \
        if isinstance(declared, list) else {}
    status = str(manifest.get("status", ""))
    return RunStatus(status, failed, noise,
                     remeasured=len(more), extra_rounds=sum(more), units=units,
                     planned_rounds=planned,
                     progress=progress_text(manifest.get("progress"))
                     if status == "running" else "", speed=speed,
                     decisions=_record(manifest.get("decisions")))


def run_looks(status: RunStatus, tidy: pd.DataFrame) -> tuple[Looks, float]:
    """The looks and the margin the run's verdicts are read with.

    The manifest's ``decisions`` record where it has one; else (an older run) a run of
    the planned rounds extended up to the most rounds a point has in ``tidy``
    (:func:`bench.results.decisions.looks_for`, not raced) and the default margin.
    """
    record = status.decisions or {}
    try:
        looks = Looks(first=int(record["first_look"]), last=int(record["last_look"]),
                      alpha=float(record.get("alpha", ALPHA)))
        delta = float(record.get("delta", DELTA))
    except (KeyError, TypeError, ValueError):
        fallback = data_looks(tidy)
        planned = status.planned_rounds or fallback.first
        return looks_for(planned, max(planned, fallback.last), raced=False), DELTA
    return looks, delta


def _record(value: Any) -> dict[str, Any] | None:
    """The manifest's ``decisions`` record, None when it has none (an older run)."""
    return value if isinstance(value, dict) else None


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def progress_text(progress: Any) -> str:
    """``Still measuring: 27 of 54 planned group-rounds (round 3 of 6) ...``, or ``""``."""
    if not isinstance(progress, dict):
        return ""
    try:
        done, total = int(progress["group_rounds_done"]), int(progress["planned_group_rounds"])
        rounds, extra = int(progress["planned_rounds"]), int(progress.get("extra_group_rounds", 0))
    except (KeyError, TypeError, ValueError):
        return ""
    per_round = max(1, total // max(1, rounds))
    where = (f"{done} of {total} planned group-rounds done (round "
             f"{min(rounds, done // per_round + 1)} of {rounds})" if done < total
             else f"all {total} planned group-rounds done, {extra} extra so far")
    return (f"Still measuring: {where}; results as of {progress.get('updated', '?')}. "
            "This page is redrawn as the run goes on; its intervals narrow and may move "
            "until the run ends.")


def remeasured_text(status: RunStatus) -> str:
    """One sentence on the points that got extra rounds: raced to decisions, or because
    their intervals were widest."""
    s = "s" if status.remeasured != 1 else ""
    if (status.decisions or {}).get("until") == "decided":
        return (f"{status.remeasured} point{s} raced on past the {status.planned_rounds} "
                f"planned round{'s' * (status.planned_rounds != 1)}, undecided or paired with "
                f"an undecided one ({status.extra_rounds} extra "
                f"round{'s' * (status.extra_rounds != 1)} in all); a point decided earlier "
                "left the race with the rounds it had.")
    return (f"{status.remeasured} point{s} whose intervals were widest after the "
            f"{status.planned_rounds} planned round{'s' * (status.planned_rounds != 1)} got extra "
            "rounds, in fresh processes at later "
            f"moments ({status.extra_rounds} extra round{'s' * (status.extra_rounds != 1)} "
            "in all).")


def scope_text(status: RunStatus) -> str:
    """What the times' intervals cover: this run's moments, at the host's speed it read."""
    speed = ""
    if status.speed is not None:
        fast, slow, n = status.speed
        speed = (f" (its median core ran a fixed task in {fast * 1e3:.2f}\N{EN DASH}"
                 f"{slow * 1e3:.2f} ms, 10th to 90th percentile of {n} readings: compare "
                 "this before comparing another run's times)")
    return ("The intervals are over this run's rounds, so they hold at the host's speed "
            f"during the run{speed}. A run at another moment, on a host running faster or "
            "slower, moves every time with it, beyond these intervals; the speedups, each "
            "model paired with its baseline in the same rounds, do not move with it.")
