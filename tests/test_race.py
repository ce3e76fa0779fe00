"""A real race (``--until decided``): decided rivals leave, a decided question gets no more
rounds, the manifest keeps when each question was decided, the report leads with it."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest

from bench.cli import main
from bench.results import store
from bench.results.aggregate import load


def run_main(*argv: str) -> tuple[int, str]:
    """``concbench ARGV`` in-process: exit code and stderr."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, err.getvalue()


@pytest.fixture(scope="module")
def raced(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """Sleeps of 1.5 ms, 4 tasks: 4 threads do them in one wave, 1 thread in four and
    sequential in four; a smoke race of 6 planned rounds and no extra ones."""
    out = tmp_path_factory.mktemp("race")
    code, err = run_main("run", "--profile", "smoke", "--workloads", "sleep", "--models",
                         "sequential,thread_pool", "--tasks", "4", "--workers", "1,4",
                         "--until", "decided", "--no-metrics", "--output-dir", str(out),
                         "--name", "r")
    assert code == 0, err
    return out / "r", err


def test_a_decided_question_gets_no_more_rounds(raced: tuple[Path, str]) -> None:
    run_dir, _ = raced
    rounds = {b.get_name(): {int(r.get_metadata()["round"]) for r in b.get_runs()}
              for b in store.load_results(run_dir / store.RESULTS).get_benchmarks()}
    # every point in the first 3 rounds (the first look); the 4x gap is decided there
    assert all({0, 1, 2} <= got for got in rounds.values()), rounds
    assert all(len(got) < 6 for got in rounds.values()), rounds


def test_the_manifest_keeps_the_decision_and_its_looks(raced: tuple[Path, str]) -> None:
    run_dir, _ = raced
    record = json.loads((run_dir / store.MANIFEST).read_text())["decisions"]
    assert record["until"] == "decided"
    assert record["delta"] == pytest.approx(0.05)
    assert record["looks"][0] == 3
    assert record["looks"][-1] == record["last_look"]
    (question,) = record["questions"].values()
    assert question["decided"] is True
    assert question["pick"] == "sleep/thread_pool/t4/w4"
    assert question["decided_round"] in (3, 4)
    assert 0 < question["decided_s"] < 300


def test_progress_says_each_question_when_it_changes(raced: tuple[Path, str]) -> None:
    _, err = raced
    lines = [line for line in err.splitlines() if "T = 4: thread_pool W=4" in line]
    assert lines
    assert "(decided" in lines[-1]
    assert "2 worse" in lines[-1]


def test_the_report_leads_with_the_decision(raced: tuple[Path, str]) -> None:
    run_dir, _ = raced
    text = (run_dir / "report.md").read_text()
    assert text.index("Decisions") < text.index("Details")
    rec = (run_dir / "recommendations.csv").read_text().splitlines()
    header = rec[0].split(",")
    assert {"decided", "worse", "equivalent", "undecided", "needed"} <= set(header)
    data = load(run_dir / store.RESULTS)
    assert set(data.summary["name"]) == {"sleep/sequential/t4", "sleep/thread_pool/t4/w1",
                                         "sleep/thread_pool/t4/w4"}


@pytest.mark.parametrize(("flag", "value"), [("--until", "never"), ("--delta", "0"),
                                             ("--delta", "150%"), ("--delta", "five")])
def test_a_bad_race_option_is_one_line_and_exit_2(flag: str, value: str,
                                                  tmp_path: Path) -> None:
    code, err = run_main("run", "--profile", "smoke", flag, value, "--output-dir",
                         str(tmp_path))
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_the_api_reads_the_decisions_as_the_report_does(raced: tuple[Path, str]) -> None:
    import bench

    run_dir, _ = raced
    d = bench.decisions(run_dir)
    assert d[d["pick"]]["name"].tolist() == ["sleep/thread_pool/t4/w4"]
    assert sorted(d[~d["pick"]]["verdict"]) == ["worse", "worse"]
    assert (d[~d["pick"]]["ratio_low"] > 1).all()
