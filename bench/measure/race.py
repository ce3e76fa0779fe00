"""Racing (``--until decided``): the rounds go to the questions still undecided.

Every point is measured in the race's first :data:`bench.results.decisions.FIRST_LOOK`
rounds.  From then on, after each group-round, the group's questions are decided
again (:func:`bench.results.decisions.decide`): a rival decided worse than the pick, or
equivalent to it, leaves the race (it gets no more rounds; its values and the round it
left in stay), and a group whose questions are all decided gets no more rounds at all.
The rounds left go to the undecided: the planned rounds measure only the points still
racing (each question's pick and its undecided rivals, with their baseline), and the extra
rounds go to the group whose undecided question is nearest to a decision (the fewest
rounds needed at the spread seen), as long as the budget holds its next child.  The
run ends when every question is decided, every undecided rival has its most rounds, or
the budget is spent.

A group without a question (cold starts, a single point) keeps the planned rounds.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyperf

from bench.measure.progress import Progress
from bench.measure.rounds import ExtraRounds, GroupKey, with_partners
from bench.results import store

if TYPE_CHECKING:  # pandas and scipy load once a race runs, not with the CLI
    import pandas as pd

    from bench.results.decisions import Looks


@dataclass
class Race:
    """The state of a race: the latest decisions and what each question last said."""

    looks: Looks
    delta: float
    progress: Progress
    #: When the race began (``time.monotonic``): questions record when they were decided.
    started: float = field(default_factory=time.monotonic)
    #: The latest decisions (:func:`bench.results.decisions.decide`; None: none yet).
    decisions: pd.DataFrame | None = None
    #: Each question's label -> its state (pick, verdicts) when last announced.
    said: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: Each question's label -> what the manifest keeps: its pick, whether decided,
    #: the seconds and the round count when it was first decided.
    record: dict[str, dict[str, Any]] = field(default_factory=dict)

    def settings(self) -> dict[str, Any]:
        """The race's settings as the manifest keeps them (the report reads them back)."""
        return {"until": "decided", "delta": self.delta, "alpha": self.looks.alpha,
                "first_look": self.looks.first, "last_look": self.looks.last,
                "looks": list(self.looks.counts), "questions": self.record}

    def update(self, benchmarks: Iterable[pyperf.Benchmark], group: Iterable[str]) -> None:
        """Decide again the questions of ``benchmarks`` (one group's live points: every
        value so far), in place of every earlier decision of the points named ``group``
        (a point that failed leaves the decisions); say each question whose state changed."""
        import pandas as pd

        from bench.results import decisions as dec
        from bench.results.aggregate import tidy
        from bench.results.recommend import question_label

        suite = list(benchmarks)
        names = set(group)
        fresh = (dec.decide(tidy(store.StoredSuite(suite)), self.looks, self.delta) if suite
                 else pd.DataFrame(columns=dec.DECISION_COLUMNS))
        kept = (fresh.iloc[:0] if self.decisions is None
                else self.decisions[~self.decisions["name"].isin(names)])
        self.decisions = (fresh if kept.empty else kept if fresh.empty
                          else pd.concat([kept, fresh], ignore_index=True))
        for _, q in fresh.groupby(dec.QUESTION, sort=False):
            label = question_label(q)
            state = (str(q["pick_name"].iloc[0]), *map(str, q["verdict"]))
            if self.said.get(label) == state:
                continue
            self.said[label] = state
            self.progress.note(_line(label, q))
            decided = not (q["verdict"] == dec.UNDECIDED).any()
            entry = self.record.setdefault(label, {"decided_s": None, "decided_round": None})
            entry.update(pick=state[0], decided=decided)
            if decided and entry["decided_s"] is None:
                entry["decided_s"] = round(time.monotonic() - self.started, 2)
                entry["decided_round"] = int(q["last_round"].max()) + 1

    def racing(self, members: Sequence[Any]) -> list[Any] | None:
        """The points of one group the race still measures (each question's pick and its
        undecided rivals, with what they are paired with: the baseline, so that the pick's
        speedup has every round the pick has, and the same points under every other
        interpreter of the run, so that interpreter ratios stay paired); None for a group
        with no question (it keeps its planned rounds)."""
        from bench.results.decisions import racing

        names = {str(p.name) for p in members}
        if self.decisions is None or not set(self.decisions["name"].astype(str)) & names:
            return None
        on = racing(self.decisions) & names
        return with_partners([p for p in members if p.name in on], members) if on else []

    def next(self, grid: Mapping[GroupKey, Sequence[Any]], rounds: Mapping[str, int],
             failed: Iterable[str], most: int, costs: ExtraRounds,
             time_left: float) -> tuple[GroupKey, list[Any]] | None:
        """The group and points of the next extra round, or None when the race is over.

        The group whose undecided question needs the fewest rounds at the spread seen
        (the most its undecided rivals need) goes first, fewest rounds first among
        equals; then the questions that would need more rounds than they have left, the
        fewest rounds first (their other rivals may still be decided); a rival with
        ``most`` rounds races no more; a group whose child would not end within
        ``time_left`` is passed over.
        """
        from bench.results.decisions import UNDECIDED

        if self.decisions is None:
            return None
        dead = set(failed)
        rows = self.decisions.set_index("name")
        undecided = set(rows.index[rows["verdict"] == UNDECIDED].astype(str))
        candidates = []
        for key, members in grid.items():
            alive = [p for p in members if p.name not in dead]
            todo = self.racing(alive) or []
            # the cap on the undecided rivals only: the pick and the baseline they are
            # paired with are measured beside them whatever rounds these have
            open_ = [p.name for p in todo if p.name in undecided
                     and rounds.get(p.name, 0) < most]
            if not open_:
                continue
            needed = max(float(rows.at[n, "needed"]) for n in open_)
            fewest = min(rounds.get(n, 0) for n in open_)
            hopeless = needed > most - fewest
            candidates.append((hopeless, fewest if hopeless else needed, fewest, key, todo))
        for *_, key, todo in sorted(candidates, key=lambda c: c[:3]):
            if costs.estimate(key, len(todo)) <= time_left:
                return key, todo
        return None




def _line(label: str, q: pd.DataFrame) -> str:
    """One question's state: its pick and how many rivals each verdict has."""
    from bench.results import decisions as dec
    from bench.results.recommend import rival_label

    pick = rival_label(q[q["pick"]].iloc[0])
    rivals = q[~q["pick"]]
    counts = rivals["verdict"].value_counts()
    parts = [f"{counts[v]} {v}" for v in (dec.WORSE, dec.EQUIVALENT, dec.UNDECIDED)
             if counts.get(v, 0)]
    rounds = int(q[q["pick"]]["last_round"].iloc[0]) + 1
    state = "decided" if not counts.get(dec.UNDECIDED, 0) else "so far"
    needed = rivals["needed"].max() if counts.get(dec.UNDECIDED, 0) else 0.0
    more = ("" if state == "decided" else
            f"; about {needed:.0f} more rounds needed" if math.isfinite(needed) else
            "; a rival sits at the margin")
    return f"{label}: {pick} ({state}, {rounds} rounds): {', '.join(parts)}{more}"
