"""The decisions in words: a sentence per question, and how many questions were decided.

Each sentence reads one question of :func:`bench.results.decisions.decide`'s frame:
its pick with the pick's speedup over the baseline, then its rivals by verdict,
e.g. ``cpu, 50000 iterations, T = 16: process_pool[fork] W=2, 1.79x (1.71-1.86) over
sequential in 12 rounds; equivalent within 5 %: process_pool[fork] W=4; worse:
thread_pool W=1, 2, 4 (after 3-6 rounds)``.

The speedup is the decisions' own: the geometric mean of the baseline's per-round time
over the pick's, with the interval the baseline's verdict reads (valid however a race
stopped, like every verdict), not the summary's median of per-round speedups, whose
interval assumes the rounds were fixed in advance.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from bench.report.findings import cost_sentence
from bench.report.frames import is_baseline
from bench.results.decisions import EQUIVALENT, QUESTION, UNDECIDED, WORSE, Looks
from bench.results.recommend import (
    margin_text,
    question_label,
    rival_label,
    task_unit,
)
from bench.scenarios.models import model_label

X = "\N{MULTIPLICATION SIGN}"


def grouped(rows: pd.DataFrame) -> str:
    """The rows' points, grouped by model: ``thread_pool W=1, 2, 4, sequential``."""
    groups: dict[str, list[str]] = {}
    for r in rows.to_dict("records"):
        label = model_label(str(r["model"]), str(r["start_method"] or ""))
        groups.setdefault(label, []).append(
            "" if pd.isna(r["workers"]) else str(int(r["workers"])))
    return ", ".join(f"{label} W={', '.join(w for w in ws if w)}" if any(ws) else label
                     for label, ws in groups.items())


def rounds_text(rows: pd.DataFrame) -> str:
    """``after 4 rounds``, ``after 3-12 rounds``: the round each point was last measured in."""
    last = rows["last_round"].astype(int) + 1
    lo, hi = int(last.min()), int(last.max())
    return f"after {lo} rounds" if lo == hi else f"after {lo}\N{EN DASH}{hi} rounds"


def needed_text(needed: float) -> str:
    """How many more rounds an undecided rival needs, in words."""
    if math.isnan(needed):
        return "too few rounds to tell"
    if math.isinf(needed):
        return "at the margin: no number of rounds would decide it"
    return f"about {needed:.0f} more round{'s' * (needed != 1)}"


def _speed(q: pd.DataFrame, delta: float, decided: bool) -> str:
    """What follows the pick: its speedup over the baseline, or a baseline's claim."""
    pick = q[q["pick"]].iloc[0]
    rounds = f" in {int(pick['rounds'])} rounds"
    if is_baseline(str(pick["model"])):
        return (f", no model faster by more than {margin_text(delta)}{rounds}" if decided
                else f" so far{rounds}")
    base = q[~q["pick"] & q["model"].astype(str).map(is_baseline).astype(bool)]
    so_far = "" if decided else " so far"
    if base.empty:
        return f"{so_far}{rounds}"
    b = base.iloc[0]
    ci = (f" ({b['ratio_low']:.2f}\N{EN DASH}{b['ratio_high']:.2f})"
          if math.isfinite(b["ratio_low"]) else " (too few rounds for an interval)")
    return f"{so_far}, {b['ratio']:.2f}{X}{ci} over {rival_label(b)}{rounds}"


def decision_sentence(q: pd.DataFrame, *, unit: str, delta: float, native: str = "") -> str:
    """One question's decision in words.

    Parameters
    ----------
    q
        The question's rows of :func:`bench.results.decisions.decide` (the pick's and
        every rival's).
    unit
        The unit of the workload's task sizes.
    delta
        The equivalence margin the verdicts were read with.
    native
        The native thread pools the pick held (:func:`bench.results.recommend.native_text`).

    Returns
    -------
    str
        The pick (and its speedup over the baseline, with its interval), then the
        rivals equivalent to it, those worse (the baseline left out where the
        speedup names it) and those undecided, each with the rounds it needs.
    """
    rivals = q[~q["pick"]]
    undecided = rivals[rivals["verdict"] == UNDECIDED]
    head = question_label(q, unit) + ("" if undecided.empty else ", not yet decided")
    pick = rival_label(q[q["pick"]].iloc[0]) + (f" with {native}" if native else "")
    parts = [f"{head}: {pick}{_speed(q, delta, undecided.empty)}"]
    equivalent = rivals[rivals["verdict"] == EQUIVALENT]
    if len(equivalent):
        parts.append(f"equivalent within {margin_text(delta)}: {grouped(equivalent)} "
                     f"({rounds_text(equivalent)})")
    worse = rivals[rivals["verdict"] == WORSE]
    if not is_baseline(str(q[q["pick"]]["model"].iloc[0])):
        # the speedup says so
        worse = worse[~worse["model"].astype(str).map(is_baseline).astype(bool)]
    if len(worse):
        parts.append(f"worse: {grouped(worse)} ({rounds_text(worse)})")
    if len(undecided):
        needed = undecided["needed"].astype(float)
        parts.append("undecided: " + ", ".join(
            f"{rival_label(r)} ({needed_text(float(r['needed']))})"
            for r in undecided.to_dict("records"))
            + (" at the spread seen" if needed.map(math.isfinite).any() else ""))
    return "; ".join(parts) + "."


def decision_sentences(decisions: pd.DataFrame, recommended: pd.DataFrame,
                       summary: pd.DataFrame, *, delta: float) -> list[str]:
    """A sentence per question (:func:`decision_sentence`), each followed by what the pick
    costs beyond a rival equivalent to it
    (:func:`bench.report.findings.cost_sentence`).

    ``recommended`` is :func:`bench.results.recommend.recommendations` of the same
    decisions; ``summary`` (with a ``task_unit`` column where known) names the units.
    """
    if decisions.empty:
        return []
    picks: dict[str, Mapping[str, Any]] = {
        str(r["name"]): r for r in recommended.to_dict("records")}
    by_name = summary.set_index("name")
    out = []
    for _, q in decisions.groupby(QUESTION, sort=False):
        rec = picks.get(str(q["pick_name"].iloc[0]), {})
        text = decision_sentence(q, unit=task_unit(summary, str(q["workload"].iloc[0])),
                                 delta=delta, native=str(rec.get("native") or ""))
        cost = cost_sentence(rec, by_name) if rec else ""
        out.append(f"{text} {cost}" if cost else text)
    return out


def decided_text(recommended: pd.DataFrame, delta: float) -> str:
    """``1 of 2 questions decided``: how many questions have every rival decided."""
    total = len(recommended)
    if not total:
        return "No question to decide (no workload, size and T has two steady points)"
    done = int(recommended["decided"].astype(bool).sum())
    return (f"{done} of {total} question{'s' * (total != 1)} decided (every rival worse "
            f"than the pick or equivalent to it within {margin_text(delta)})")


def decisions_note(looks: Looks, delta: float) -> str:
    """What the decisions say and how far to trust them, for the section's opening."""
    counts = ", ".join(map(str, looks.counts))
    return ("Per workload, task size and task count T: the pick, the fastest point by its "
            "per-round time ratios (the plain loop where the fastest is equivalent to it), "
            "and each rival's verdict from its per-round time over the pick's: worse (the "
            "interval wholly above 1), equivalent (wholly within "
            f"\N{PLUS-MINUS SIGN}{margin_text(delta)}) or undecided. Ratios are geometric "
            "means of the rounds; each interval is read at the last of the run's looks it "
            f"reached (after {counts} rounds), at a level spent over those looks, so that "
            f"a verdict is wrong with a chance of at most {looks.alpha:.0%} however the run "
            "stopped, against a pick fixed in advance (a pick that is the fastest of "
            "near-copies errs more often: 8 % of simulated questions of 4 identical points "
            "had a false 'worse').")
