"""The figures of a run's decisions: questions decided, when, and the rounds spent on points
already decided (issue 37's "rounds saved").

    python scripts/race_figures.py RUN_DIR [RUN_DIR ...]
    python scripts/race_figures.py --agree RUN_A RUN_B

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
import math
from pathlib import Path

import numpy as np
import pandas as pd

import bench
from bench.report.status import run_looks, run_status
from bench.results import decisions as dec
from bench.results import stats
from bench.results.aggregate import load
from bench.results.pairs import baselines


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
    own, delta = run_looks(run_status(run_dir / "results.json"), data.tidy)
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


def decided(run_dir: Path) -> pd.DataFrame:
    """A run's decisions with its own looks and margin (as its report reads them), and
    whether each question is decided (column ``done``)."""
    d = bench.decisions(run_dir)
    d["done"] = d.groupby(dec.QUESTION, sort=False)["verdict"].transform(
        lambda v: not (v == dec.UNDECIDED).any()).astype(bool)
    return d


def agree(a: Path, b: Path) -> None:
    """Print the questions decided in both runs, and those decided one way in one and
    another way in the other: a run's pick decided worse than the other run's pick."""
    da, db = decided(a), decided(b)
    both = 0
    for key, qa in da[da["done"]].groupby(dec.QUESTION, sort=False):
        qb = db[(db[dec.QUESTION] == pd.Series(key, index=dec.QUESTION)).all(axis=1)]
        if qb.empty or not qb["done"].iloc[0]:
            continue
        both += 1
        pa, pb = str(qa["pick_name"].iloc[0]), str(qb["pick_name"].iloc[0])
        va = qa.set_index("name")["verdict"].get(pb, "")
        vb = qb.set_index("name")["verdict"].get(pa, "")
        same = "same pick" if pa == pb else f"picks {pa} / {pb}: {va or '-'} / {vb or '-'}"
        clash = dec.WORSE in (va, vb)
        print(f"  {'DISAGREE' if clash else 'agree'} {key}: {same}")
    print(f"{both} questions decided in both runs")


def speedups(run_dir: Path) -> pd.DataFrame:
    """Each steady point's speedup over its question's baseline as the decisions read it:
    the geometric mean of the per-round paired ratios and its interval at the run's last
    look reached (columns ``name``, ``log``, ``half``: the log speedup, half the log
    interval's width)."""
    data = load(run_dir / "results.json")
    looks, _ = run_looks(run_status(run_dir / "results.json"), data.tidy)
    steady = data.tidy[data.tidy["metric"] == "steady"]
    medians = np.log(stats.round_medians(steady).unstack("round"))
    rows = []
    for name, base in baselines(steady.drop_duplicates("name").set_index("name")).items():
        if name == base:
            continue
        mean, low, high = dec.log_interval((medians.loc[base] - medians.loc[name]).to_numpy(),
                                           looks)
        rows.append((name, mean, (high - low) / 2))
    return pd.DataFrame(rows, columns=["name", "log", "half"])


def joint(a: Path, b: Path) -> None:
    """Print the points whose decisions' speedups two runs place beyond their joint 95 %
    intervals: |log s1 - log s2| > sqrt(h1^2 + h2^2)."""
    both = speedups(a).merge(speedups(b), on="name", suffixes=("_a", "_b")).dropna()
    gap = (both["log_a"] - both["log_b"]).abs()
    beyond = both[gap > np.hypot(both["half_a"], both["half_b"])]
    for r in beyond.itertuples():
        print(f"  BEYOND {r.name}: {math.exp(r.log_a):.3f} (\u00b1{r.half_a:.3f} log) / "
              f"{math.exp(r.log_b):.3f} (\u00b1{r.half_b:.3f} log)")
    print(f"{len(beyond)} of {len(both)} speedups (decisions' intervals) beyond their joint "
          "95 % interval")


def main() -> None:
    """Print the figures of every run directory named."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--looks", default="3,40", help="FIRST,LAST rounds of the replay")
    parser.add_argument("--agree", action="store_true",
                        help="compare the decisions of two runs (back to back)")
    args = parser.parse_args()
    if args.agree:
        agree(*args.runs[:2])
        joint(*args.runs[:2])
        return
    first, last = (int(x) for x in args.looks.split(","))
    for run in args.runs:
        report(run, dec.Looks(first, last))


if __name__ == "__main__":
    main()
