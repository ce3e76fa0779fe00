"""The figures of a run's decisions: questions decided, when, and the rounds spent on points
already decided (issue 37's "rounds saved").

    python scripts/race_figures.py RUN_DIR [RUN_DIR ...]

For each run: the questions decided at the end (with the run's own looks and margin from
``run.json``), the stable share beside it, the seconds and rounds to each question's
decision (a raced run records them), and the share of steady point-rounds given to a point
that was already decided when the round was measured.  "Already decided" is replayed
round by round with the same looks for every run (a race's, 3 to 40 rounds, unless
``--looks FIRST,LAST``), so a raced run and one that was not are counted alike: a
point-round of round r is wasted when the point's verdict from the rounds before r was
worse or equivalent, or it was the pick of a question already decided.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from bench.results import decisions as dec
from bench.results.aggregate import load


def wasted(tidy: pd.DataFrame, looks: dec.Looks, delta: float) -> tuple[int, int]:
    """(point-rounds given to points already decided, steady point-rounds of questions)."""
    steady = tidy[tidy["metric"] == "steady"]
    measured = steady[["name", "round"]].drop_duplicates()
    asked = set(dec.decide(steady, looks, delta)["name"])
    measured = measured[measured["name"].isin(asked)]
    waste = 0
    for r in sorted(measured["round"].unique()):
        before = steady[steady["round"] < r]
        if before.empty:
            continue
        d = dec.decide(before, looks, delta)
        done = d.groupby(dec.QUESTION, sort=False)["verdict"].transform(
            lambda v: not (v == dec.UNDECIDED).any()).astype(bool)
        settled = set(d[(d["verdict"].isin([dec.WORSE, dec.EQUIVALENT]))
                        | (d["pick"] & done)]["name"])
        waste += int(measured[(measured["round"] == r)
                              & measured["name"].isin(settled)].shape[0])
    return waste, len(measured)


def report(run_dir: Path, looks: dec.Looks) -> None:
    """Print one run's figures."""
    data = load(run_dir / "results.json")
    manifest = json.loads((run_dir / "run.json").read_text())
    record = manifest.get("decisions") or {}
    delta = float(record.get("delta", 0.05))
    own = dec.Looks(int(record.get("first_look", looks.first)),
                    int(record.get("last_look", looks.last)))
    q = dec.questions(dec.decide(data.tidy, own, delta))
    s = data.summary
    steady = s[s["metric"] == "steady"]
    stable = int(steady["stable"].sum())
    waste, total = wasted(data.tidy, looks, delta)
    wall = (manifest.get("sweep") or {}).get("wall_s")
    print(f"{run_dir}: until {record.get('until', '?')}, {int(q['decided'].sum())} of "
          f"{len(q)} questions decided; stable {stable} of {len(steady)} steady points; "
          f"sweep {wall} s; point-rounds on points already decided: {waste} of {total} "
          f"({waste / max(total, 1):.0%})")
    for label, entry in (record.get("questions") or {}).items():
        print(f"  {label}: {'decided' if entry.get('decided') else 'undecided'}"
              f" at {entry.get('decided_s')} s, round {entry.get('decided_round')}")


def main() -> None:
    """Print the figures of every run directory named."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--looks", default="3,40", help="FIRST,LAST rounds of the replay")
    args = parser.parse_args()
    first, last = (int(x) for x in args.looks.split(","))
    for run in args.runs:
        report(run, dec.Looks(first, last))


if __name__ == "__main__":
    main()
