"""Run a grid point by point, each in its own pyperf child, saving as points complete.

Points run one at a time (never two at once: they would share the cores they
measure).  Each runs ``python -m bench._child`` in its own session with a
timeout; a point that fails, crashes or hangs is recorded as failed with its
reason and the sweep goes on.  After every point the results file and the
manifest are rewritten atomically.  Ctrl-C or SIGTERM ends the running child's
whole process group and leaves both files valid.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import pyperf

import bench
from bench import noise, store
from bench.errors import UsageError
from bench.grid import DEFAULT_POINT_TIMEOUT, PROFILES, GridSpec, expand
from bench.host import FORMAT_VERSION, git_commit
from bench.interpreter import Interpreter, resolve
from bench.models import WORKLOADS, Point
from bench.progress import Progress
from bench.refine import Refiner

#: Cold-start points build a fresh pool per value: fewer values keep them affordable.
COLD_PYPERF_ARGS = ("--processes", "2", "--values", "4")


@dataclass
class RunConfig:
    """Everything ``concbench run`` was asked to do; stored for ``--resume``."""

    grid: GridSpec = field(default_factory=GridSpec)
    python: str | None = None
    output_dir: str = "reports"
    name: str = ""
    point_timeout: float = DEFAULT_POINT_TIMEOUT
    pyperf_args: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready settings."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        """Inverse of :meth:`to_dict`."""
        grid = dict(data.get("grid", {}))
        for key in ("workloads", "models", "tasks", "workers", "start_methods"):
            grid[key] = tuple(grid.get(key, ()))
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        fields["grid"] = GridSpec(**grid)
        fields["pyperf_args"] = tuple(fields.get("pyperf_args", ()))
        return cls(**fields)


@dataclass
class Outcome:
    """What became of one point."""

    point: Point
    ok: bool
    reason: str = ""
    seconds: float = 0.0
    benchmark: pyperf.Benchmark | None = None


@dataclass
class RunResult:
    """The end of a sweep."""

    run_dir: Path
    outcomes: list[Outcome]
    interrupted: bool = False

    @property
    def failed(self) -> list[Outcome]:
        """Points that did not complete."""
        return [o for o in self.outcomes if not o.ok]


def run_metadata(interp: Interpreter, config: RunConfig) -> dict[str, Any]:
    """Metadata shared by every benchmark of a run: settings and the host record."""
    meta: dict[str, Any] = {
        "work_scale": config.grid.work_scale,
        "profile": config.grid.profile,
        "run_name": config.name,
        "concbench_format": FORMAT_VERSION,
        "concbench_version": bench.__version__,
    }
    commit = git_commit()
    if commit:
        meta["git_commit"] = commit
    for key, value in interp.record.items():
        if isinstance(value, (int, float)) or (isinstance(value, str) and value.strip()):
            meta[f"host_{key}"] = value
    return meta


def point_metadata(point: Point, shared: dict[str, Any]) -> dict[str, Any]:
    """The metadata one benchmark carries (str, int and float values only)."""
    meta: dict[str, Any] = {
        **shared,
        "workload": point.workload,
        "model": point.model,
        "tasks": point.tasks,
        "task_size": point.size,
        "task_unit": WORKLOADS[point.workload].unit,
        "metric": point.metric,
    }
    if point.workers is not None:
        meta["workers"] = point.workers
    if point.start_method is not None:
        meta["start_method"] = point.start_method
    return meta


class _Terminated(KeyboardInterrupt):
    """SIGTERM arrived; handled like Ctrl-C."""


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    def handler(signum: int, frame: FrameType | None) -> None:
        raise _Terminated

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)


def measure_point(point: Point, meta: dict[str, Any], interp: Interpreter,
                  pyperf_args: Sequence[str], timeout: float) -> Outcome:
    """Run one point's pyperf child and load its benchmark."""
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="concbench-point-") as tmp:
        out = Path(tmp) / "point.json"
        cmd = interp.command(
            "bench._child", "--point", point.to_json(), "--meta", pyperf_json(meta),
            *interp.pyperf_args, *pyperf_args, "--output", str(out),
        )
        with (Path(tmp) / "log").open("w+b") as log:
            proc = subprocess.Popen(cmd, env=interp.env, stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
            try:
                code = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _kill_group(proc)
                return Outcome(point, False, f"timed out after {timeout:g} s",
                               time.monotonic() - t0)
            except BaseException:
                _kill_group(proc)
                raise
            finally:
                # pool workers left behind by a crashed child die with its group
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
            log.seek(0)
            text = log.read().decode("utf-8", "replace")
        seconds = time.monotonic() - t0
        if code != 0:
            return Outcome(point, False, _failure_reason(code, text), seconds)
        try:
            benchmark = pyperf.Benchmark.load(str(out))
        except Exception as exc:  # the child exited 0 but wrote no usable file
            return Outcome(point, False, f"no results from child ({exc})", seconds)
        return Outcome(point, True, "", seconds, benchmark)


def pyperf_json(meta: dict[str, Any]) -> str:
    """Metadata as compact JSON for the child's ``--meta``."""
    return json.dumps(meta, sort_keys=True, separators=(",", ":"))


def _failure_reason(code: int, text: str) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"child killed by {signal.Signals(-code).name}"
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    tail = next((ln for ln in reversed(lines) if not ln.startswith(("File ", "^", "~"))), "")
    return f"exit {code}: {tail[:300]}" if tail else f"exit {code}"


def _refine(refiner: Refiner, progress: Progress, save: Callable[[Outcome], None],
            measure: Callable[[Outcome], Outcome]) -> None:
    """Measure unstable points again, one round at a time, while the refiner allows."""
    if len(refiner):
        progress.note(f"re-measuring unstable points ({len(refiner)} now) "
                      "while the profile's time allows")
    while (outcome := refiner.next(time.monotonic())) is not None:
        progress.begin(outcome.point)
        before = refiner.width[outcome.point.name]
        after = refiner.merge(outcome, measure(outcome))
        save(outcome)
        n = len(outcome.benchmark.get_values()) if outcome.benchmark is not None else 0
        progress.note(f"{outcome.point.name}: CI \N{PLUS-MINUS SIGN}{before:.1%} -> "
                      + (f"\N{PLUS-MINUS SIGN}{after:.1%} over {n} values"
                         if not math.isnan(after) else "round failed, earlier values kept"))


def _merge_noise(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """A resumed run stays noisy if any of its sessions was."""
    if old and old.get("noisy"):
        new["noisy"] = True
        new["reasons"] = [*old.get("reasons", []), *new["reasons"]]
    return new


def new_manifest(config: RunConfig, interp: Interpreter, points: Sequence[Point]) -> dict[str, Any]:
    """The manifest of a fresh run: settings, host, every planned point pending."""
    return {
        "format": FORMAT_VERSION,
        "concbench_version": bench.__version__,
        "name": config.name,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "settings": config.to_dict(),
        "host": interp.record,
        "status": "running",
        "points": [{"name": p.name, "point": asdict(p), "status": "pending", "reason": ""}
                   for p in points],
    }


def default_name() -> str:
    """A timestamped run name."""
    return dt.datetime.now().strftime("run-%Y%m%d-%H%M%S")


def plan(config: RunConfig) -> tuple[Interpreter, list[Point]]:
    """Resolve the interpreter and expand the grid (raises UsageError)."""
    interp = resolve(config.python)
    methods = str(interp.record["start_methods"]).split(",")
    points = expand(config.grid, cores=int(interp.record["usable_cores"]),
                    start_methods=methods, python=interp.version)
    return interp, points


def execute(config: RunConfig, run_dir: Path, interp: Interpreter, points: Sequence[Point],
            manifest: dict[str, Any], benchmarks: list[pyperf.Benchmark],
            progress: Progress) -> RunResult:
    """Measure every pending point of ``manifest``, saving after each."""
    pyperf_args = [*PROFILES[config.grid.profile].pyperf_args, *config.pyperf_args]
    by_name = {p["name"]: p for p in manifest["points"]}
    todo = [p for p in points if by_name[p.name]["status"] != "done"]
    outcomes: list[Outcome] = []
    interrupted = False
    shared = run_metadata(interp, config)
    profile = PROFILES[config.grid.profile]
    t0 = time.monotonic()
    refiner = Refiner(profile.resample_rounds, t0 + profile.resample_until_s,
                      profile.resample_process_s)

    def save(outcome: Outcome) -> None:
        if outcome.benchmark is not None:
            store.save_results(run_dir / store.RESULTS, benchmarks)
        entry = by_name[outcome.point.name]
        # only once the values are on disk does the manifest say so
        entry["status"] = "done" if outcome.ok else "failed"
        entry["reason"] = outcome.reason
        entry["seconds"] = round(outcome.seconds, 3)
        entry["rounds"] = 1 + refiner.done.get(outcome.point.name, 0)
        store.write_manifest(run_dir, manifest)

    def args_for(point: Point) -> list[str]:
        return [*pyperf_args, *(COLD_PYPERF_ARGS if point.metric == "cold" else ())]

    def again(outcome: Outcome) -> Outcome:
        """One more round of a point: fresh pyperf processes, its planned values and loops.

        Its results were checked in the first round; this round does not check them again.
        """
        more = refiner.plan[outcome.point.name].child_args()
        return measure_point(outcome.point, point_metadata(outcome.point, shared), interp,
                             [*args_for(outcome.point), *more], config.point_timeout)

    with _sigterm_as_interrupt():
        try:
            before = noise.probe()
            progress.start(len(todo), done_before=len(points) - len(todo))
            for point in todo:
                progress.begin(point)
                meta = point_metadata(point, shared)
                outcome = measure_point(point, meta, interp, args_for(point),
                                        config.point_timeout)
                outcomes.append(outcome)
                if outcome.benchmark is not None:
                    benchmarks.append(outcome.benchmark)
                save(outcome)
                progress.end(outcome)
                refiner.consider(outcome)
            _refine(refiner, progress, save, again)
            manifest["noise"] = _merge_noise(manifest.get("noise"),
                                             noise.assess(before, noise.probe()))
        except KeyboardInterrupt:  # Ctrl-C, or SIGTERM through _Terminated
            interrupted = True
        finally:
            progress.close()
            failed = any(e["status"] == "failed" for e in manifest["points"])
            pending = any(e["status"] == "pending" for e in manifest["points"])
            manifest["status"] = ("interrupted" if interrupted or pending
                                  else "failed" if failed else "complete")
            store.write_manifest(run_dir, manifest)
    return RunResult(run_dir, outcomes, interrupted)


def _check_timeout(timeout: float) -> None:
    if not (isinstance(timeout, (int, float)) and math.isfinite(timeout) and timeout > 0):
        raise UsageError(f"--point-timeout must be a finite number > 0, got {timeout}")


def start(config: RunConfig, progress: Progress, *, force: bool = False) -> RunResult:
    """Plan, create the run directory and measure every point.

    Raises
    ------
    UsageError
        Bad grid values, a ``--python`` that does not run, an existing run
        directory without ``force``.
    """
    _check_timeout(config.point_timeout)
    config.name = config.name or default_name()
    interp, points = plan(config)
    run_dir = store.prepare_run_dir(Path(config.output_dir), config.name, force=force)
    manifest = new_manifest(config, interp, points)
    store.write_manifest(run_dir, manifest)
    return execute(config, run_dir, interp, points, manifest, [], progress)


def resume(run_dir: Path, progress: Progress) -> RunResult:
    """Measure the points a run directory is missing, with its original settings."""
    manifest = store.read_manifest(run_dir)
    where = run_dir / store.MANIFEST
    entries = manifest.get("points")
    if not isinstance(entries, list) or not all(
            isinstance(p, dict) and isinstance(p.get("point"), dict) for p in entries):
        raise UsageError(f"{where}: not a concbench run manifest (bad 'points' list)")
    try:
        config = RunConfig.from_dict(manifest["settings"])
        points = [Point(**p["point"]) for p in manifest["points"]]
        names = [p["name"] for p in manifest["points"]]
    except (TypeError, KeyError, ValueError, AttributeError) as exc:
        raise UsageError(f"{where}: malformed settings or points ({exc!r})") from None
    if names != [p.name for p in points]:
        raise UsageError(f"{where}: point names do not match their parameters")
    _check_timeout(config.point_timeout)
    interp, _ = plan(config)
    results = run_dir / store.RESULTS
    benchmarks = (list(store.load_results(results).get_benchmarks())
                  if results.exists() else [])
    have = {b.get_name() for b in benchmarks}
    for entry in manifest["points"]:  # the results file is the source of truth
        entry["status"] = "done" if entry["name"] in have else "pending"
    return execute(config, run_dir, interp, points, manifest, benchmarks, progress)
