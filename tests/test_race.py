"""A real race (``--until decided``): decided rivals leave, a decided question gets no more
rounds, the manifest keeps when each question was decided, the report leads with it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.results import store
from bench.results.aggregate import load
from tests.test_run import run_main


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


def _question(workload: str, rivals: dict[str, tuple[str, float]]) -> list[dict[str, object]]:
    """Decision rows of one question: a thread_pool pick, rivals by name: (verdict, needed)."""
    key = {"workload": workload, "task_size": 1.0, "tasks": 4, "python": ""}
    pick = {**key, "name": f"{workload}/thread_pool/t4/w4", "pick": True, "verdict": "",
            "needed": 0.0}
    return [pick, *({**key, "name": n, "pick": False, "verdict": v, "needed": need}
                    for n, (v, need) in rivals.items())]


def test_the_race_goes_to_the_question_nearest_a_decision_then_the_hopeless_evenly() -> None:
    import pandas as pd

    from bench.measure.progress import make_progress
    from bench.measure.race import Race
    from bench.measure.rounds import ExtraRounds
    from bench.results.decisions import Looks
    from bench.scenarios.models import Point

    def group(w: str) -> list[Point]:
        return [Point(w, "sequential", 4, size=1.0), Point(w, "thread_pool", 4, 4, size=1.0),
                Point(w, "thread_pool", 4, 2, size=1.0), Point(w, "thread_pool", 4, 1, size=1.0)]

    grid = {(w, 4, 1.0, "steady"): group(w) for w in ("near", "far", "hopeless", "done")}
    rows = (_question("near", {"near/sequential/t4": ("worse", 0.0),
                               "near/thread_pool/t4/w2": ("undecided", 3.0),
                               "near/thread_pool/t4/w1": ("worse", 0.0)})
            + _question("far", {"far/sequential/t4": ("worse", 0.0),
                                "far/thread_pool/t4/w2": ("undecided", 12.0),
                                "far/thread_pool/t4/w1": ("undecided", 2.0)})
            + _question("hopeless", {"hopeless/sequential/t4": ("worse", 0.0),
                                     "hopeless/thread_pool/t4/w2": ("undecided", 500.0),
                                     "hopeless/thread_pool/t4/w1": ("undecided", 2.0)})
            + _question("done", {"done/sequential/t4": ("worse", 0.0),
                                 "done/thread_pool/t4/w2": ("equivalent", 0.0),
                                 "done/thread_pool/t4/w1": ("worse", 0.0)}))
    race = Race(Looks(3, 40), 0.05, make_progress(quiet=True), decisions=pd.DataFrame(rows))
    rounds = {p.name: 10 for ps in grid.values() for p in ps}
    costs = ExtraRounds(0.05, 40)
    key, todo = race.next(grid, rounds, [], 40, costs, 60.0) or ((), [])
    assert key[0] == "near"  # the most its undecided rivals need: 3, against 12 and 500
    # the pick, its undecided rival and the baseline it is paired with; not the decided W=1
    assert {p.name for p in todo} == {"near/thread_pool/t4/w4", "near/thread_pool/t4/w2",
                                      "near/sequential/t4"}
    assert race.racing(grid[("done", 4, 1.0, "steady")]) == []
    rounds.update({p.name: 40 for p in grid[("near", 4, 1.0, "steady")]})
    assert (race.next(grid, rounds, [], 40, costs, 60.0) or ((),))[0][0] == "far"
    rounds.update({p.name: 40 for p in grid[("far", 4, 1.0, "steady")]})
    assert (race.next(grid, rounds, [], 40, costs, 60.0) or ((),))[0][0] == "hopeless"
    rounds.update({p.name: 40 for p in grid[("hopeless", 4, 1.0, "steady")]})
    assert race.next(grid, rounds, [], 40, costs, 60.0) is None  # every rival at its most


def test_an_extra_round_measures_a_rival_with_its_pick_at_its_most_rounds() -> None:
    """The round cap holds the undecided rivals only: a pick (and the baseline) at 40 rounds
    is still measured beside a rival that has fewer, or the rival's rounds would pair with
    nothing (after a pick changed, the new pick can have more rounds than its rivals)."""
    import pandas as pd

    from bench.measure.progress import make_progress
    from bench.measure.race import Race
    from bench.measure.rounds import ExtraRounds
    from bench.results.decisions import Looks
    from bench.scenarios.models import Point

    members = [Point("near", "sequential", 4, size=1.0),
               Point("near", "thread_pool", 4, 4, size=1.0),
               Point("near", "thread_pool", 4, 2, size=1.0)]
    rows = _question("near", {"near/sequential/t4": ("worse", 0.0),
                              "near/thread_pool/t4/w2": ("undecided", 3.0)})
    race = Race(Looks(3, 40), 0.05, make_progress(quiet=True), decisions=pd.DataFrame(rows))
    rounds = {"near/sequential/t4": 40, "near/thread_pool/t4/w4": 40,
              "near/thread_pool/t4/w2": 12}
    got = race.next({("near", 4, 1.0, "steady"): members}, rounds, [], 40,
                    ExtraRounds(0.05, 40), 60.0)
    assert got is not None
    assert {p.name for p in got[1]} == set(rounds)
