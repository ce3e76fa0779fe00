"""Run directories and results files: paths, atomic writes, loading with clear errors.

A run directory ``<output-dir>/<name>/`` holds:

``results.json``
    A pyperf results file (``python -m pyperf stats`` reads it), one benchmark
    per completed point, every benchmark carrying concbench's metadata.  It is
    the source of truth: everything else can be rebuilt from it.
``run.json``
    The manifest: settings (for ``--resume``), host record, the planned
    points with their status, failures and noise checks.

Both are rewritten atomically (temporary file, fsync, rename) after every
point, so an interruption never leaves a half-written file.  Stored data is
JSON only.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Generic, TypeAlias, TypeVar

import pyperf

from bench.errors import UsageError
from bench.results import pyperf_json
from bench.results.pyperf_json import StoredBenchmark

#: Version of the metadata concbench writes into results files (2: rounds).
FORMAT_VERSION = 2
RESULTS = "results.json"
MANIFEST = "run.json"
#: The record of an A/B job (``concbench ab``) in its run directory.
AB_FILE = "ab.json"
LATEST = "latest"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _publish(tmp: str, path: Path) -> None:
    """fsync ``tmp``, give it the mode a plain open() would, rename it onto ``path``."""
    with Path(tmp).open("rb") as fh:
        os.fsync(fh.fileno())
    Path(tmp).chmod(0o666 & ~_umask())  # mkstemp makes 0600 files
    Path(tmp).replace(path)


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old or the new file, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        _publish(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            Path(tmp).unlink()
        raise


def save_results(path: Path, benchmarks: Iterable[pyperf.Benchmark]) -> None:
    """Write the benchmarks as one pyperf results file, atomically.

    The text is what ``pyperf.BenchmarkSuite(benchmarks).dump(compact=True)``
    writes (a test compares them byte for byte), built in linear time: pyperf's
    suite checks each benchmark's name against every earlier one, and its
    ``dump`` encodes with json's pure-Python encoder, while a run saves its whole
    results after every child.

    Raises
    ------
    ValueError
        No benchmarks, or two of the same name (as pyperf's suite refuses them).
    """
    benchmarks = list(benchmarks)
    names = [b.get_name() for b in benchmarks]
    if len(set(names)) != len(names):
        raise ValueError("the suite has two benchmarks of the same name")
    suite = pyperf.BenchmarkSuite(benchmarks[:1])
    suite._benchmarks = benchmarks  # pyperf's own list; the names were checked above
    text = json.dumps(suite._as_json(), sort_keys=True, separators=(",", ":")) + "\n"
    atomic_write_text(path, text)


def write_manifest(run_dir: Path, manifest: dict[str, Any]) -> None:
    """Write ``run.json`` atomically."""
    atomic_write_text(run_dir / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def read_json(path: Path, what: str) -> Any:
    """Read a JSON file, turning every way it can be wrong into a UsageError."""
    return _parse(path, _read_text(path, what), what)


def _read_text(path: Path, what: str) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"{path}: is a directory, expected a {what}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read ({exc})") from None
    if not text.strip():
        raise UsageError(f"{path}: empty file, expected a {what}")
    return text


def _parse(path: Path, text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg});"
            " truncated?"
        ) from None


def read_manifest(run_dir: Path) -> dict[str, Any]:
    """Load ``run.json`` of a run directory."""
    where = run_dir / MANIFEST
    data = read_json(where, "concbench run manifest")
    if not isinstance(data, dict) or not isinstance(data.get("settings"), dict):
        raise UsageError(f"{where}: not a concbench run manifest (no 'settings' object)")
    fmt = data.get("format", 0)
    if not isinstance(fmt, int) or isinstance(fmt, bool) or fmt < 1:
        raise UsageError(f"{where}: bad format {fmt!r}, expected a whole number >= 1")
    if fmt > FORMAT_VERSION:
        raise UsageError(
            f"{run_dir / MANIFEST}: written by a newer concbench (format {data['format']}; "
            f"this one reads up to {FORMAT_VERSION})"
        )
    return data


def failures(run_dir: Path) -> dict[str, str]:
    """The failed points of the run in ``run_dir``: name -> why ({} without a manifest)."""
    if not (run_dir / MANIFEST).is_file():
        return {}
    try:
        points = read_manifest(run_dir).get("points")
    except UsageError:
        return {}
    if not isinstance(points, list):
        return {}
    return {str(p.get("name")): str(p.get("reason") or "failed")
            for p in points if isinstance(p, dict) and p.get("status") == "failed"}


def resolve_results(path: Path) -> Path:
    """Accept a results file or a run directory holding one."""
    return path / RESULTS if path.is_dir() else path


def _check_formats(path: Path, formats: set[Any]) -> None:
    if formats == {None}:
        raise UsageError(f"{path}: a pyperf file, but not from concbench (no concbench metadata)")
    for fmt in formats:
        if not isinstance(fmt, int) or fmt < 1:
            raise UsageError(f"{path}: bad concbench_format {fmt!r} in metadata")
        if fmt > FORMAT_VERSION:
            raise UsageError(
                f"{path}: written by a newer concbench (format {fmt}; "
                f"this one reads up to {FORMAT_VERSION})"
            )


def _suite_json(path: Path) -> tuple[str, dict[str, Any]]:
    path = resolve_results(path)
    what = "pyperf results file"
    text = _read_text(path, what)
    data = _parse(path, text, what)
    if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), list):
        raise UsageError(f"{path}: not a pyperf results file (no 'benchmarks' list)")
    if not data["benchmarks"]:
        raise UsageError(f"{path}: holds no benchmarks")
    return text, data


def load_results(path: Path) -> pyperf.BenchmarkSuite:
    """Load a concbench results file (or run directory), refusing foreign files.

    Raises
    ------
    UsageError
        Missing, empty, truncated or invalid JSON; JSON that is not a pyperf
        results file; a pyperf file without concbench metadata; a file of a
        newer format version.
    """
    text, _ = _suite_json(path)
    path = resolve_results(path)
    try:
        suite = pyperf.BenchmarkSuite.loads(text)
    except Exception as exc:  # pyperf raises assorted errors on malformed files
        raise UsageError(f"{path}: not a valid pyperf results file ({exc})") from None
    _check_formats(path, {b.get_metadata().get("concbench_format")
                          for b in suite.get_benchmarks()})
    return suite


#: A benchmark as the readers take it: one read from the file (:class:`StoredBenchmark`),
#: or pyperf's own.
B = TypeVar("B")


class StoredSuite(Generic[B]):
    """Benchmarks in a list, read as a suite: a results file's (:func:`read_suite`), or
    pyperf's in hand (``pyperf.BenchmarkSuite`` would check each name against every earlier
    one, which the runner cannot afford after every extra round)."""

    def __init__(self, benchmarks: list[B]) -> None:
        self._benchmarks = benchmarks

    def get_benchmarks(self) -> list[B]:
        """Every benchmark, in the order given."""
        return self._benchmarks


#: What the readers of a results file's benchmarks take.
Suite: TypeAlias = pyperf.BenchmarkSuite | StoredSuite[Any]


def read_suite(path: Path) -> StoredSuite[StoredBenchmark]:
    """Read a results file's values and metadata for the summary, without building pyperf objects.

    The file :func:`load_results` reads, refused where it is refused, read
    as pyperf reads it and in linear time (:mod:`bench.results.pyperf_json`).
    The report, :func:`bench.load` and every gate (check, compare, history,
    ab) read results here; only ``run --resume`` loads them with pyperf
    (:func:`load_results`), to add to its benchmarks.
    """
    _, data = _suite_json(path)
    path = resolve_results(path)
    try:
        out = pyperf_json.benchmarks(data)
    except (AttributeError, KeyError, OverflowError, TypeError, ValueError) as exc:
        raise UsageError(f"{path}: not a valid pyperf results file ({exc})") from None
    _check_formats(path, {b.get_metadata().get("concbench_format") for b in out})
    return StoredSuite(out)


# ------------------------------------------------------------------ the records it holds
def interpreter_order(suite: Suite) -> list[str]:
    """The tags of a run's interpreters in the run's order (``["3.11", "3.14"]``; ``[""]``
    for a run of one)."""
    for b in suite.get_benchmarks():
        order = b.get_metadata().get("interpreters")
        if order:
            return str(order).split(",")
    return [""]


def _host_record(meta: Mapping[str, Any]) -> dict[str, Any]:
    """The ``host_*`` metadata of a benchmark, the prefix removed."""
    return {k[5:]: v for k, v in meta.items() if k.startswith("host_")}


def interpreters(suite: Suite) -> dict[str, dict[str, Any]]:
    """Each interpreter's host record by tag, in the run's order (one keyed "" for a run
    of one)."""
    out: dict[str, dict[str, Any]] = {}
    for tag in interpreter_order(suite):
        for b in suite.get_benchmarks():
            meta = b.get_metadata()
            if str(meta.get("python", "")) == tag:
                out[tag] = _host_record(meta)
                break
    return out


def host_info(suite: Suite) -> dict[str, Any]:
    """The run's host record (``host_*`` metadata, prefix removed) and run fields: in a run
    of several interpreters, the first one's."""
    first = interpreter_order(suite)[0]
    meta = next((m for b in suite.get_benchmarks()
                 if str((m := b.get_metadata()).get("python", "")) == first),
                suite.get_benchmarks()[0].get_metadata())
    info = _host_record(meta)
    for key in ("run_name", "profile", "work_scale", "git_commit", "concbench_version",
                "cpu_model_name", "cpu_freq", "cpu_config", "interpreters"):
        if key in meta:
            info.setdefault(key, meta[key])
    return info


def prepare_run_dir(output_dir: Path, name: str, *, force: bool) -> Path:
    """Create ``output_dir/name``; refuse an existing run unless ``force``.

    ``name`` must be a plain directory name: it cannot climb out of
    ``output_dir``.
    """
    if not name or name in (".", "..", LATEST) or "/" in name or "\\" in name or "\0" in name:
        raise UsageError(f"--name {name!r} must be a plain directory name")
    run_dir = output_dir / name
    if run_dir.exists() and any(run_dir.iterdir()):
        if not force:
            raise UsageError(
                f"{run_dir} exists already; use --resume {run_dir} to finish it "
                "or --force to overwrite it"
            )
        if not is_run_dir(run_dir):
            raise UsageError(f"{run_dir} is not a concbench run directory (no {MANIFEST}, "
                             f"{RESULTS} or {AB_FILE}): --force replaces only those")
        shutil.rmtree(run_dir)  # every file of the old run: charts, report, sides
    run_dir.mkdir(parents=True, exist_ok=True)
    return run_dir


def is_run_dir(path: Path) -> bool:
    """Whether ``path`` holds a concbench run (or A/B job): a manifest or results file."""
    return any((path / f).is_file() for f in (MANIFEST, RESULTS, AB_FILE))


def point_latest(output_dir: Path, run_dir: Path) -> None:
    """Point ``output_dir/latest`` at ``run_dir`` (a relative symlink, swapped atomically)."""
    link = output_dir / LATEST
    if link.exists() and not link.is_symlink():
        return  # a real directory named latest: leave the user's data alone
    tmp = output_dir / f".{LATEST}.tmp"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(os.path.relpath(run_dir, output_dir))
    tmp.replace(link)


def speed_readings(meta: Mapping[str, Any]) -> list[tuple[float, float]]:
    """The host's speed readings a run's metadata holds, as its child wrote them
    (:func:`bench.measure.speed.metadata`): (the median core's seconds, the slowest
    core's over the fastest's), before the sweeps then after; [] for a run without them."""
    out = []
    for when in ("start", "end"):
        t, spread = meta.get(f"speed_{when}_s"), meta.get(f"speed_{when}_spread")
        if isinstance(t, float) and isinstance(spread, float) and t > 0:
            out.append((t, spread))
    return out
