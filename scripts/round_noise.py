"""Extract this host's round noise from recorded quick runs, for the race simulations.

::

    python scripts/round_noise.py [RESULTS.json ...] [--out tests/data/round_noise.json]
                                  [--pairs 500] [--seed 20261208]

Without paths it reads ``/tmp/fresh*/reports/quick-*/results.json``.  For every run, every
group of steady points that answers one question (same workload, task count, task size
and interpreter: :data:`bench.results.decisions.QUESTION`) and every pair of its points,
it takes the per-round paired log ratio ``log(a_r / b_r)`` of the two points' round
medians (:func:`bench.results.stats.round_medians`) over the rounds both were measured
in, in round order, and keeps the pairs with at least :data:`MIN_SHARED` shared rounds.
Each pair's vector is centred (its mean subtracted): what is left is the round-to-round
noise of a paired comparison on this host, its spread and tails as they were, with the
true ratio taken out.  A sample of ``--pairs`` of them, drawn with a fixed seed and
rounded to 5 decimals, goes to the JSON file that ``tests/test_decisions.py`` and
``scripts/race_simulation.py`` resample.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.results import stats
from bench.results.aggregate import load
from bench.results.decisions import QUESTION
from bench.scenarios.models import STEADY

ROOT = Path(__file__).resolve().parents[1]
#: Where the recorded quick runs are: under this folder, matching this pattern.
SOURCES = (Path("/tmp"), "fresh*/reports/quick-*/results.json")
#: Fewest rounds a pair must share to be kept.
MIN_SHARED = 6
#: Decimals kept of each residual.
DECIMALS = 5


def run_pairs(tidy: pd.DataFrame) -> list[dict[str, Any]]:
    """Every pair of steady points of one question in one run, with its centred residuals.

    Parameters
    ----------
    tidy : pandas.DataFrame
        One run's tidy frame (:attr:`bench.results.aggregate.Results.tidy`).

    Returns
    -------
    list of dict
        ``a``, ``b`` (point names, ``a`` before ``b`` in the file's order), ``workload``,
        ``tasks``, ``sd`` (the spread of ``log(a / b)`` over rounds, ddof 1) and
        ``residuals``: ``log(a_r / b_r)`` minus its mean, in round order, for the pairs
        sharing at least :data:`MIN_SHARED` rounds.
    """
    steady = tidy[tidy["metric"] == STEADY]
    medians = stats.round_medians(steady).unstack("round").sort_index(axis=1)
    points = steady.drop_duplicates("name").set_index("name").reindex(medians.index)
    points = points.assign(python=points["python"].fillna("").astype(str))
    logs = np.log(medians.to_numpy(dtype=float))
    out = []
    for _, at in points.groupby(QUESTION, sort=False).indices.items():
        for i, j in itertools.combinations(sorted(at), 2):
            d = logs[i] - logs[j]
            d = d[np.isfinite(d)]
            if d.size < MIN_SHARED:
                continue
            out.append({"a": str(points.index[i]), "b": str(points.index[j]),
                        "workload": str(points["workload"].iloc[i]),
                        "tasks": int(points["tasks"].iloc[i]),
                        "sd": float(np.std(d, ddof=1)), "residuals": d - d.mean()})
    return out


def extract(paths: list[Path], pairs: int, seed: int) -> dict[str, Any]:
    """The JSON document: a header and a seeded sample of ``pairs`` pairs of all runs."""
    found = []
    for run, path in enumerate(paths):
        for pair in run_pairs(load(path).tidy):
            found.append({"run": run, **pair})
    rng = np.random.default_rng(seed)
    chosen = sorted(rng.choice(len(found), size=min(pairs, len(found)), replace=False))
    sample = [{**{k: v for k, v in found[i].items() if k not in ("residuals", "sd")},
               "r": [round(float(x), DECIMALS) for x in found[i]["residuals"]]}
              for i in chosen]
    sds = np.array([p["sd"] for p in found])
    header = {
        "what": "per-round paired log ratios log(a_r / b_r) of two steady points of one "
                "question (workload, tasks, task_size, python) measured in the same rounds, "
                "each pair's vector centred (its mean subtracted): the host's round noise",
        "how": f"scripts/round_noise.py: bench.results.stats.round_medians of each run's "
               f"tidy frame, pairs sharing >= {MIN_SHARED} rounds, in round order; "
               f"{len(sample)} of {len(found)} pairs drawn with "
               f"numpy.random.default_rng({seed}), rounded to {DECIMALS} decimals",
        "date": datetime.date.today().isoformat(),
        "sources": [str(p.parent.name) for p in paths],
        "source_paths": [str(p) for p in paths],
        "pairs_found": len(found),
        "sd_quantiles_found": {str(q): round(float(np.quantile(sds, q)), 4)
                               for q in (0.1, 0.5, 0.9)},
        "fields": {"run": "index into sources", "a": "point name", "b": "point name",
                   "workload": "the workload", "tasks": "T",
                   "r": "centred residuals of log(a_r / b_r), round order"},
    }
    return {"header": header, "pairs": sample}


def main(argv: list[str] | None = None) -> None:
    """Write the sample and print a summary of its spreads."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("paths", nargs="*", type=Path)
    parser.add_argument("--out", type=Path, default=ROOT / "tests" / "data" / "round_noise.json")
    parser.add_argument("--pairs", type=int, default=500)
    parser.add_argument("--seed", type=int, default=20261208)
    args = parser.parse_args(argv)
    paths = args.paths or sorted(SOURCES[0].glob(SOURCES[1]))
    if not paths:
        parser.error(f"no results files (looked for {SOURCES[0] / SOURCES[1]})")
    doc = extract(paths, args.pairs, args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, separators=(",", ":")) + "\n")
    frame = pd.DataFrame({"workload": [p["workload"] for p in doc["pairs"]],
                          "process": ["process_pool" in p["a"] or "process_pool" in p["b"]
                                      for p in doc["pairs"]],
                          "rounds": [len(p["r"]) for p in doc["pairs"]],
                          "sd": [float(np.std(p["r"], ddof=1)) for p in doc["pairs"]]})
    print(f"{len(doc['pairs'])} of {doc['header']['pairs_found']} pairs from {len(paths)} runs "
          f"-> {args.out} ({args.out.stat().st_size / 1000:.0f} kB)")
    print(frame.groupby(["workload", "process"])
          .agg(pairs=("sd", "size"), rounds=("rounds", "median"),
               sd_median=("sd", "median"), sd_p90=("sd", lambda s: s.quantile(0.9)))
          .round(4).to_string())


if __name__ == "__main__":
    main()
