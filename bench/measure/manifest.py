"""The run manifest ``run.json``: settings, host, every planned point's status, noise.

Written atomically after every child (:func:`bench.results.store.write_manifest`),
so that ``--resume`` can continue a run from its settings alone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import bench
from bench.errors import UsageError
from bench.measure.config import RunConfig
from bench.results import store
from bench.results.store import FORMAT_VERSION
from bench.scenarios.models import Point

if TYPE_CHECKING:
    from bench.measure.interpreter import Interpreter

#: A point's status in the manifest.
PENDING, DONE, FAILED = "pending", "done", "failed"


def new_manifest(config: RunConfig, interps: Mapping[str, Interpreter], points: list[Point],
                 not_applicable: dict[str, str]) -> dict[str, Any]:
    """The manifest of a fresh run: settings, host, every planned point pending, and the
    points no model can measure.

    ``host`` is the first interpreter's record; a run of several keeps each one's
    under ``interpreters``, by tag, in the run's order.
    """
    first = next(iter(interps.values()))
    extra = {"interpreters": {t: i.record for t, i in interps.items()}} if len(interps) > 1 \
        else {}
    return {
        "format": FORMAT_VERSION,
        "concbench_version": bench.__version__,
        "name": config.name,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "settings": config.to_dict(),
        "seed": config.seed,
        "host": first.record,
        **extra,
        "status": "running",
        "points": [{"name": p.name, "point": p.to_dict(), "status": PENDING, "reason": "",
                    "rounds": 0}
                   for p in points],
        "not_applicable": not_applicable,
    }


def merge_noise(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """A resumed run stays noisy if any of its sessions was."""
    if old and old.get("noisy"):
        new["noisy"] = True
        new["reasons"] = [*old.get("reasons", []), *new["reasons"]]
    return new


def final_status(manifest: dict[str, Any], interrupted: bool) -> str:
    """The run's status once a session ends: interrupted, failed or complete."""
    statuses = {e["status"] for e in manifest["points"]}
    return ("interrupted" if interrupted or PENDING in statuses
            else FAILED if FAILED in statuses else "complete")


def read_for_resume(run_dir: Path) -> tuple[dict[str, Any], RunConfig, list[Point]]:
    """The manifest of ``run_dir``, its settings and its planned points.

    Every point whose values are not in ``results.json`` is pending again
    (failures are retried): the results file is the source of truth.

    Raises
    ------
    UsageError
        Not a run manifest, malformed settings or points, no seed.
    """
    manifest = store.read_manifest(run_dir)
    where = run_dir / store.MANIFEST
    entries = manifest.get("points")
    if not isinstance(entries, list) or not all(
            isinstance(p, dict) and isinstance(p.get("point"), dict) for p in entries):
        raise UsageError(f"{where}: not a concbench run manifest (bad 'points' list)")
    try:
        config = RunConfig.from_dict(manifest["settings"])
        works = config.catalogue()
        points = [Point.from_dict({"spec": works[p["point"]["workload"]].to_dict(),
                                   **p["point"]}) for p in entries]
        names = [p["name"] for p in entries]
    except (TypeError, KeyError, ValueError, AttributeError) as exc:
        raise UsageError(f"{where}: malformed settings or points ({exc!r})") from None
    if names != [p.name for p in points]:
        raise UsageError(f"{where}: point names do not match their parameters")
    if not config.seed:
        raise UsageError(f"{where}: no seed in the settings (written by an older concbench?)")
    return manifest, config, points


def reset_statuses(manifest: dict[str, Any], measured: set[str]) -> None:
    """Mark the points with values done and every other one pending (for ``--resume``)."""
    for entry in manifest["points"]:
        entry["status"] = DONE if entry["name"] in measured else PENDING
        entry["reason"] = ""
