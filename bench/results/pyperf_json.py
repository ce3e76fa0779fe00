"""pyperf's JSON results format, read as pyperf's loader reads it, without its suite.

:func:`benchmarks` refuses what ``pyperf.BenchmarkSuite`` refuses (its
``_json_load`` down to ``Run``'s checks; of what it reads, only a name that is not
text and a value too large for a float), gives the metadata it gives (suite,
benchmark and run metadata merged in that order, string values stripped, a
benchmark's metadata what all its runs share), and takes linear time: pyperf's
suite checks each benchmark's name against every earlier one and parses each
run's merged metadata again, most of a 1,000-point report's time.  Each run is
still checked by ``pyperf.Run`` itself (its values and warm-ups), then kept as
plain lists.
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Mapping
from typing import Any

import pyperf

# pyperf has no public way to check a loaded file but building its objects: its own
# metadata check, the keys its Benchmark.add_run compares and the JSON versions it reads
# are private names, pinned by tests/test_store_pyperf.py against pyperf's own loader
from pyperf._bench import _CHECKED_METADATA, _JSON_MAP_VERSION
from pyperf._metadata import parse_metadata


class StoredRun:
    """One run of a :class:`StoredBenchmark`: its metadata and values (pyperf's names)."""

    __slots__ = ("_metadata", "values")

    def __init__(self, metadata: Mapping[str, Any], values: list[float]) -> None:
        self._metadata, self.values = metadata, values

    def get_metadata(self) -> Mapping[str, Any]:
        """The run's metadata, its benchmark's and the suite's included (a read-only view)."""
        return self._metadata


class StoredBenchmark:
    """A benchmark read straight from the JSON: what the summary needs of ``pyperf.Benchmark``."""

    __slots__ = ("_metadata", "_name", "_runs")

    def __init__(self, name: str, metadata: dict[str, Any], runs: list[StoredRun]) -> None:
        self._name, self._metadata, self._runs = name, metadata, runs

    def get_name(self) -> str:
        """The benchmark's name."""
        return self._name

    def get_metadata(self) -> dict[str, Any]:
        """Metadata every run shares, as ``pyperf.Benchmark.get_metadata`` gives it."""
        return self._metadata

    def get_runs(self) -> list[StoredRun]:
        """The runs, in the file's order."""
        return self._runs


_ABSENT = object()


def _shared(base: dict[str, Any], owns: list[dict[str, Any]], keys: set[str]) -> dict[str, Any]:
    """The metadata every run has with the same value (pyperf's benchmark metadata), each
    run's being ``base`` overlaid with its own: only the ``keys`` some run sets itself can
    differ, so only those are compared."""
    shared = dict(base)
    for key in keys:
        values = [own.get(key, base.get(key, _ABSENT)) for own in owns]
        if values[0] is _ABSENT or any(v is _ABSENT or v != values[0] for v in values[1:]):
            shared.pop(key, None)
        else:
            shared[key] = values[0]
    return shared


def _run(run: Any, version: tuple[int, ...],
         base: dict[str, Any]) -> tuple[dict[str, Any], list[float]]:
    """A run's own metadata (parsed alone: parsing the merge is parsing its parts) and its
    values, refused as pyperf's ``Run._json_load`` and ``Run`` refuse them."""
    own = run.get("metadata", {})
    own = parse_metadata({**own}) if base or own else {}  # as pyperf's dict(base, **own)
    warmups = run.get("warmups")
    if warmups:  # before 1.0, raw values: pyperf divides them by loops, refusing the same
        warmups = [tuple(w) for w in warmups]
    values = run.get("values", ()) if version >= (0, 9, 6) else run["samples"]
    checked = pyperf.Run(values, warmups=warmups, collect_metadata=False)
    return own, [float(v) for v in checked.values]


def _benchmark(entry: Any, version: tuple[int, ...], suite: dict[str, Any]) -> StoredBenchmark:
    """One benchmark of the JSON, refused as ``pyperf.Benchmark`` refuses it."""
    key = "metadata" if version >= (0, 9, 6) else "common_metadata"
    base = {**suite, **parse_metadata(entry.get(key, {}))}
    read = [_run(run, version, base) for run in entry["runs"]]
    if not read:
        raise ValueError("a benchmark without runs")
    owns = [own for own, _ in read]
    name, keys = owns[0].get("name", base.get("name")), {k for own in owns for k in own}
    for key in _CHECKED_METADATA:  # what Benchmark.add_run compares, as it does (!=)
        first, *rest = ([own.get(key, base.get(key)) for own in owns] if key in keys
                        else [base.get(key)] * min(len(owns), 2))  # a NaN differs from itself
        if any(v != first for v in rest):
            raise ValueError(f"the runs of {name!r} differ in their {key!r}")
    if name is None:
        raise ValueError("a benchmark without a name")
    if not isinstance(name, str):  # concbench's own: pyperf's stats fail on it too
        raise ValueError(f"benchmark name {name!r} is not text")
    runs = [StoredRun(ChainMap(own, base), values) for own, values in read]
    return StoredBenchmark(name, _shared(base, owns, keys), runs)


def benchmarks(data: dict[str, Any]) -> list[StoredBenchmark]:
    """The benchmarks of a pyperf results file's JSON, in the file's order.

    Raises
    ------
    AttributeError, KeyError, OverflowError, TypeError, ValueError
        Where pyperf's loader refuses the file (a value too large for a
        float too, which pyperf would keep as an int); two benchmarks of the
        same name, as its suite refuses them.
    """
    version = _JSON_MAP_VERSION.get(data.get("version"))
    if not version:
        raise ValueError(f"pyperf JSON version {data.get('version')!r}, not one pyperf reads")
    suite = data.get("metadata", {}) if version >= (0, 9, 6) else {}
    suite = {} if suite is None else parse_metadata(suite)
    out: dict[str, StoredBenchmark] = {}
    for entry in data["benchmarks"]:
        bench = _benchmark(entry, version, suite)
        if out.setdefault(bench.get_name(), bench) is not bench:
            raise ValueError(f"two benchmarks called {bench.get_name()!r}")
    return list(out.values())
