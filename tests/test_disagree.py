"""scripts/disagree.py: medians and speedups outside their joint 95 % CI, on known answers."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pandas as pd
import pytest

from bench.scenarios.models import Point
from tests.factory import make_benchmark, write_results

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "disagree.py"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("disagree", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["disagree"] = module
    spec.loader.exec_module(module)
    return module


disagree = _script()
NAN = math.nan


def row(name: str, median: tuple[float, float, float], speedup: tuple[float, float, float],
        *, model: str = "process_pool", size: float = 1000.0) -> dict[str, Any]:
    """A summary row: (value, CI low, CI high) of the median and of the speedup."""
    return {"name": name, "workload": "cpu", "model": model, "start_method": "",
            "tasks": 4, "workers": 2, "metric": "steady", "task_size": size,
            "median_s": median[0], "ci_low_s": median[1], "ci_high_s": median[2],
            "speedup": speedup[0], "speedup_ci_low": speedup[1],
            "speedup_ci_high": speedup[2]}


def summaries() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two runs whose answer is known: 1 of 3 medians and 1 of 1 speedups disagree."""
    a = pd.DataFrame([
        row("seq", (1.0, 0.95, 1.05), (1.0, 1.0, 1.0), model="sequential"),
        row("far", (1.0, 0.99, 1.01), (2.0, 1.9, 2.1)),
        # |log 1 - log 1.1| = 0.095 < hypot(0.100, 0.091) = 0.136: they agree
        row("near", (1.0, 0.9, 1.1), (NAN, NAN, NAN)),
        row("resized", (1.0, 0.99, 1.01), (1.0, 0.99, 1.01)),
        row("only_a", (1.0, 0.99, 1.01), (1.0, 0.99, 1.01)),
    ])
    b = pd.DataFrame([
        row("seq", (1.0, 0.97, 1.03), (1.0, 1.0, 1.0), model="sequential"),
        row("far", (1.2, 1.19, 1.21), (2.5, 2.4, 2.6)),
        row("near", (1.1, 1.0, 1.2), (NAN, NAN, NAN)),
        row("resized", (0.2, 0.19, 0.21), (1.0, 0.99, 1.01), size=200.0),
    ])
    return a, b


def test_known_answer() -> None:
    a, b = summaries()
    report = disagree.disagreements(a, b, label_a="A", label_b="B")
    assert report.counts("median") == (1, 3)
    assert report.counts("speedup") == (1, 1)
    [worst] = report.worst("median", 10)
    assert worst.name == "far"
    assert worst.distance == pytest.approx(math.log(1.2))
    assert worst.joint == pytest.approx(math.hypot(math.log(1.01 / 0.99) / 2,
                                                   math.log(1.21 / 1.19) / 2))
    assert [p.name for p in report.worst("speedup", 10)] == ["far"]
    assert report.no_interval == {"speedup": ["seq", "near"]}
    assert report.not_comparable == {"resized": "task size 1000 vs 200 iterations"}
    assert report.only_in == {"A": ["only_a"], "B": []}
    text = disagree.text(report, 10)
    assert "medians: 1 of 3 (33 %)" in text
    assert "speedups: 1 of 1 (100 %)" in text
    assert "not comparable resized: task size 1000 vs 200 iterations" in text


def test_exact_values_that_differ_disagree_infinitely() -> None:
    a = pd.DataFrame([row("x", (1.0, 1.0, 1.0), (2.0, 2.0, 2.0))])
    b = pd.DataFrame([row("x", (1.0, 1.0, 1.0), (2.2, 2.2, 2.2))])
    report = disagree.disagreements(a, b)
    assert report.counts("median") == (0, 1)
    assert report.counts("speedup") == (1, 1)
    assert report.worst("speedup", 1)[0].excess == math.inf
    assert disagree.as_json(report, 5)["speedup"]["worst"][0]["excess"] is None


SEQ = Point("cpu", "sequential", 4, size=1000.0)
POOL = Point("cpu", "process_pool", 4, workers=2, start_method="fork", size=1000.0)


def write(path: Path, factor: float) -> Path:
    values = {SEQ: [0.040, 0.041, 0.039, 0.040, 0.042, 0.038],
              POOL: [0.020, 0.021, 0.019, 0.020, 0.021, 0.019]}
    return write_results(path, [make_benchmark(p, [v * (factor if p == POOL else 1) for v in vs],
                                               runs=6)
                                for p, vs in values.items()])


def test_cli_text_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = write(tmp_path / "a.json", 1.0), write(tmp_path / "b.json", 1.5)
    assert disagree.main([str(a), str(a)]) == 0
    assert "medians: 0 of 2 (0 %)" in capsys.readouterr().out
    assert disagree.main([str(a), str(b), "--json", "--top", "1"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["median"]["disagree"] == 1
    assert data["median"]["compared"] == 2
    assert data["median"]["worst"][0]["name"] == POOL.name
    assert data["speedup"]["disagree"] == 1
    assert data["not_comparable"] == {}


@pytest.mark.parametrize("args", [["missing.json", "missing.json"], ["--top", "-1", "A", "A"]])
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          args: list[str]) -> None:
    a = write(tmp_path / "a.json", 1.0)
    argv = [str(tmp_path / x) if x.endswith(".json") else str(a) if x == "A" else x
            for x in args]
    assert disagree.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("disagree: ")
    assert err.count("\n") == 1


def test_no_comparable_point() -> None:
    a, b = summaries()
    with pytest.raises(disagree.UsageError, match="no comparable point"):
        disagree.disagreements(a[a.name == "resized"], b[b.name == "resized"])
    with pytest.raises(disagree.UsageError, match="lacks speedup"):
        disagree.disagreements(a.drop(columns="speedup"), b)
