"""The results reader and pyperf's loader agree: both read a file, or both refuse it.

Every summary (the report, ``bench.load``, each gate) reads results through
:func:`bench.results.store.read_suite`, not through pyperf, so each hand-broken
file of the tests is put to ``python -m pyperf stats`` (a real subprocess) and
to ``concbench check`` (in-process: its start-up imports pandas, seconds a case).
"""

from __future__ import annotations

import copy
import json
import math
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import bench
from bench.errors import UsageError
from bench.results import store
from bench.scenarios.models import Point
from tests.factory import make_benchmark, write_results
from tests.test_bad_input import METADATA_CASES, RESULT_CASES, assert_usage_error, run_main

SEQ = Point("cpu", "sequential", 4, size=2000.0)
POOL = Point("cpu", "process_pool", 4, 2, "fork", 2000.0)
VALUES = [1e-3, 1.1e-3, 0.9e-3, 1e-3]
DROP = object()
#: Where a case edits the file: the suite's metadata, the first benchmark's, its second run.
SUITE, BENCH, RUN = ("metadata",), ("benchmarks", 0, "metadata"), ("benchmarks", 0, "runs", 1)
RUN_META = (*RUN, "metadata")


def _edit(edit: Callable[[dict[str, Any]], object]) -> Callable[[Path], Path]:
    """A builder of a good two-point file, two runs each (so metadata at suite, benchmark
    and run level, as pyperf writes it), with its JSON edited."""
    def build(path: Path) -> Path:
        write_results(path, [make_benchmark(SEQ, VALUES, runs=2),
                             make_benchmark(POOL, [v / 2 for v in VALUES], runs=2)])
        data = json.loads(path.read_text())
        edit(data)
        path.write_text(json.dumps(data))
        return path
    return build


def _set(where: tuple[str | int, ...], key: str, value: Any = DROP) -> Callable[[Path], Path]:
    """The good file with ``key`` of the object at ``where`` set to ``value`` (or deleted)."""
    def edit(data: Any) -> None:
        for k in where:
            data = data[k]
        if value is DROP:
            del data[key]
        else:
            data[key] = value
    return _edit(edit)


def _duplicate(data: dict[str, Any]) -> None:
    data["benchmarks"].append(copy.deepcopy(data["benchmarks"][0]))


def _duplicate_padded(data: dict[str, Any]) -> None:
    data["benchmarks"][1]["metadata"]["name"] = f" {SEQ.name} "  # pyperf strips values


def _no_values_nor_warmups(data: dict[str, Any]) -> None:
    run = data["benchmarks"][0]["runs"][1]
    del run["values"], run["warmups"]


#: name -> builder of a hand-broken results file at the given path: test_bad_input's, then these.
CASES: dict[str, Callable[[Path], Path]] = {
    **RESULT_CASES,
    "version_missing": _set((), "version"),
    "version_2": _set((), "version", "2.0"),
    "version_5": _set((), "version", 5),  # 'samples', 'common_metadata': the names are lost
    "version_6": _set((), "version", 6),
    "runs_missing": _set(("benchmarks", 0), "runs"),
    "runs_not_a_list": _set(("benchmarks", 0), "runs", "nope"),
    "no_runs": _set(("benchmarks", 0), "runs", []),
    "duplicated_benchmark": _edit(_duplicate),
    "duplicated_once_stripped": _edit(_duplicate_padded),
    "no_name": _set(BENCH, "name"),
    "name_not_text": _set(BENCH, "name", 5),  # pyperf reads it, then its stats fail on it
    "mixed_units": _set(RUN_META, "unit", "byte"),
    "mixed_names": _set(RUN_META, "name", "other"),
    "checked_key_in_one_run": _set(RUN_META, "hostname", "elsewhere"),
    "unchecked_key_differs": _set(RUN_META, "loops", 2),
    "unknown_unit": _set(BENCH, "unit", "parsec"),
    "loops_0": _set(BENCH, "loops", 0),
    "loops_0_in_a_run": _set(RUN_META, "loops", 0),
    "loops_not_whole": _set(BENCH, "loops", 1.5),
    "inner_loops_negative_in_suite": _set(SUITE, "inner_loops", -1),
    "newline_in_a_value": _set(BENCH, "profile", "te\nst"),
    "carriage_return_in_a_run_value": _set(RUN_META, "note", "a\rb"),
    "empty_value": _set(BENCH, "profile", ""),
    "blank_value": _set(SUITE, "profile", "   "),
    "padded_value": _set(BENCH, "profile", "  test  "),
    "null_value": _set(BENCH, "profile", None),
    "list_value": _set(RUN_META, "note", [1]),
    "date_not_text": _set(RUN_META, "date", 5),
    "duration_negative": _set(RUN_META, "duration", -1.0),
    "benchmark_metadata_null": _set(("benchmarks", 0), "metadata", None),
    "run_metadata_null": _set(RUN, "metadata", None),
    "values_0": _set(RUN, "values", [0.0]),
    "values_nan": _set(RUN, "values", [math.nan]),
    "values_true": _set(RUN, "values", [True]),  # pyperf: a bool is an int
    "values_only_warmups": _set(RUN, "values", []),
    "no_values_nor_warmups": _edit(_no_values_nor_warmups),
    "warmups_malformed": _set(RUN, "warmups", [[1]]),
    "warmups_loops_0": _set(RUN, "warmups", [[0, 1e-3]]),
    "warmups_negative": _set(RUN, "warmups", [[1, -1.0]]),
    "warmups_0": _set(RUN, "warmups", 0),
    "warmups_empty_text": _set(RUN, "warmups", ""),
}
#: Files pyperf reads that concbench refuses by design: not concbench's, of a newer
#: concbench, or concbench's own metadata out of range.
CONCBENCH_REFUSES = {"foreign_pyperf", "newer_format", "format_not_int", *METADATA_CASES}


def _same_as_pyperf(path: Path) -> None:
    """read_suite gives the names, metadata and values that pyperf's loader gives."""
    fast, slow = store.read_suite(path), store.load_results(path)
    assert [b.get_name() for b in fast.get_benchmarks()] == slow.get_benchmark_names()
    for a, b in zip(slow.get_benchmarks(), fast.get_benchmarks(), strict=True):
        assert b.get_metadata() == a.get_metadata()
        assert [r.get_metadata() for r in b.get_runs()] == [r.get_metadata() for r in a.get_runs()]
        assert [list(r.values) for r in b.get_runs()] == [list(r.values) for r in a.get_runs()]


@pytest.mark.parametrize("case", sorted(CASES))
def test_concbench_reads_what_pyperf_reads(tmp_path: Path, case: str) -> None:
    path = CASES[case](tmp_path / "results.json")
    pyperf_reads = subprocess.run([sys.executable, "-m", "pyperf", "stats", str(path)],
                                  capture_output=True, timeout=60, check=False).returncode == 0
    code, _, err = run_main(["check", str(path), str(path)])
    if case in CONCBENCH_REFUSES:
        assert pyperf_reads, "pyperf refuses it too: not concbench's own refusal"
    if pyperf_reads and case not in CONCBENCH_REFUSES:
        assert code in (0, 1), err  # a verdict on the file against itself
        assert "Traceback" not in err
        _same_as_pyperf(path)
    else:
        assert "results.json" in assert_usage_error(code, err)


def test_load_refuses_a_duplicated_point(tmp_path: Path) -> None:
    """bench.load merged both copies into one point, counting its rounds twice."""
    path = CASES["duplicated_benchmark"](tmp_path / "results.json")
    with pytest.raises(UsageError, match=re.escape(f"two benchmarks called {SEQ.name!r}")):
        bench.load(path)


def test_the_private_pyperf_names_it_calls_still_mean_that(tmp_path: Path) -> None:
    """bench.results.pyperf_json calls pyperf's private parse_metadata and reads its
    _CHECKED_METADATA and _JSON_MAP_VERSION: a pyperf that changes them fails here."""
    from pyperf import _bench, _metadata

    assert set(_bench._JSON_MAP_VERSION) == {5, 6, "1.0"}, "a JSON version to read as pyperf does"
    assert _metadata.parse_metadata({"a": " x ", "loops": 2}) == {"a": "x", "loops": 2}
    for key in (*_bench._CHECKED_METADATA, "loops", "date"):  # the last two: not compared
        path = _set(RUN_META, key, {"unit": "byte", "inner_loops": 3, "loops": 2}.get(
            key, "other"))(tmp_path / f"{key}.json")
        try:
            store.load_results(path)
        except UsageError:
            assert key in _bench._CHECKED_METADATA, key
            with pytest.raises(UsageError, match=re.escape(f"differ in their {key!r}")):
                store.read_suite(path)
        else:
            assert key not in _bench._CHECKED_METADATA, key
            _same_as_pyperf(path)
