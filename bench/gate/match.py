"""What makes points of two runs comparable, and the per-round samples every gate tests.

Shared by ``compare``, ``check``, ``check --history`` and ``ab``, each reading it
one way:

* **Hosts**: :func:`run_host` is the record of a run's host and of each of
  its interpreters; :func:`host_differences` names the keys whose differences
  make times incomparable (:data:`TIME_KEYS`), each interpreter's included.
* **Points**: a point's identity is its name *and* its work (:data:`WORK_KEY`:
  workload, model, start method, tasks, workers, metric, task size).
  :func:`match_points` pairs the points of several runs; a point of the same
  name doing other work (a smoke run's 0.2x tasks against a quick run's) is
  *not comparable*, listed with the reason and never compared.
* **Samples**: the statistical unit is the round (a fresh process measuring
  the point at one moment), never the single value.  :func:`round_medians`
  gives each point's per-round medians; :func:`relative_times` the same
  divided, round by round, by the median of the point's sequential baseline
  measured in that round (a within-run speedup, inverted); :func:`paired_log_ratios`
  the per-round log ratios of two sides measured in the same rounds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from bench.errors import UsageError
from bench.results import stats
from bench.results.aggregate import RunData
from bench.results.pairs import KEYS, baselines
from bench.results.readings import readings_by_round
from bench.scenarios.metrics import METRICS
from bench.scenarios.models import BASELINE, STEADY
from bench.scenarios.workloads import BUILTINS

#: Host record keys whose differences make times incomparable (the gates warn).
TIME_KEYS = ("usable_cores", "cpu_model", "python_version", "python_build", "gil_enabled")

#: What a point does: the key of every summary row (:data:`bench.results.pairs.KEYS`).
WORK_KEY = tuple(KEYS)
_WORK_LABELS = {"task_size": "task size", "start_method": "start method"}


def run_host(run: RunData) -> dict[str, Any]:
    """The host record the gates compare: the run's (its first interpreter's) and, in a run of
    several interpreters, each other one's beside it, its keys tagged as its points' names
    are (``python_version@3.14``)."""
    out = dict(run.host)
    for tag, record in list(run.interpreters.items())[1:]:
        out.update({f"{k}@{tag}": v for k, v in record.items()})
    return out


def host_values(hosts: Sequence[Mapping[str, Any]], key: str) -> list[str]:
    """Each record's value of ``key`` as text ("" where it has none)."""
    return ["" if h.get(key) is None else str(h.get(key)) for h in hosts]


def host_keys(hosts: Sequence[Mapping[str, Any]], keys: Sequence[str]) -> list[str]:
    """``keys``, each followed by the other interpreters' copies of it (``key@3.14``,
    :func:`run_host`) whose values are not the key's own in every record: an interpreter's
    copy of a host fact (its CPU model) adds nothing."""
    out = []
    for key in keys:
        copies = sorted({k for h in hosts for k in h if k.startswith(f"{key}@")})
        out += [key, *(k for k in copies if host_values(hosts, k) != host_values(hosts, key))]
    return out


def host_differences(hosts: Sequence[Mapping[str, Any]],
                     keys: Sequence[str] = TIME_KEYS) -> list[str]:
    """Lines like ``usable_cores: 2 vs 4`` for the ``keys`` whose values differ, each other
    interpreter's included (``python_version@3.14: 3.14.0 vs 3.14.2``, :func:`host_keys`)."""
    out = []
    for key in host_keys(hosts, keys):
        values = host_values(hosts, key)
        if len(set(values)) > 1:
            out.append(f"{key}: {' vs '.join(v or '?' for v in values)}")
    return out


@dataclass
class PointMatch:
    """How the points of several runs (or summaries) match on name and work."""

    #: Names present in every frame with the same work everywhere (first frame's order).
    common: list[str]
    #: Per frame (by position), the names missing from at least one other frame.
    only_in: list[list[str]]
    #: Names present everywhere whose work differs: name -> why, e.g. ``task size 2 vs 10 MiB``.
    not_comparable: dict[str, str]


def _plain(value: Any) -> Any:
    """A cell as a plain Python value (``<NA>``/NaN -> None) for equality tests."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float | np.floating) and math.isnan(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def point_work(frame: pd.DataFrame) -> dict[str, tuple[Any, ...]]:
    """Each point's work (the :data:`WORK_KEY` columns) from a tidy or summary frame."""
    first = frame.drop_duplicates("name")
    cols = [first[c].tolist() if c in first else [None] * len(first) for c in WORK_KEY]
    return {str(n): tuple(_plain(v) for v in vals)
            for n, *vals in zip(first["name"], *cols, strict=True)}


def _fmt(value: Any) -> str:
    if value is None or value == "":
        return "none"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return f"{value:g}" if isinstance(value, float) else str(value)


def work_difference(works: Sequence[tuple[Any, ...]]) -> str:
    """Why points of one name do different work: ``task size 20000 vs 100000 iterations``.

    Parameters
    ----------
    works : Sequence[tuple]
        The point's :data:`WORK_KEY` values in each run.

    Returns
    -------
    str
        One clause per differing field, joined by ``"; "`` ("" when none differs).
    """
    parts = []
    for i, key in enumerate(WORK_KEY):
        values = [w[i] for w in works]
        if len(set(values)) < 2:
            continue
        text = f"{_WORK_LABELS.get(key, key)} {' vs '.join(_fmt(v) for v in values)}"
        spec = BUILTINS.get(str(works[0][0])) if key == "task_size" else None
        if spec is not None and len({w[0] for w in works}) == 1:
            text += f" {spec.unit}"
        parts.append(text)
    return "; ".join(parts)


def match_points(frames: Sequence[pd.DataFrame]) -> PointMatch:
    """Match points across frames on their name and their work (:data:`WORK_KEY`).

    Parameters
    ----------
    frames : Sequence[pandas.DataFrame]
        Tidy or summary frames, with a ``name`` column and the work columns.

    Returns
    -------
    PointMatch
        The comparable points, each frame's unmatched names, the ones not comparable.
    """
    works = [point_work(f) for f in frames]
    shared = set(works[0]).intersection(*map(set, works[1:]))
    not_comparable: dict[str, str] = {}
    common = []
    for name in works[0]:
        if name not in shared:
            continue
        if len({w[name] for w in works}) == 1:
            common.append(name)
        else:
            not_comparable[name] = work_difference([w[name] for w in works])
    return PointMatch(common, [[n for n in w if n not in shared] for w in works],
                      not_comparable)


def common_points(runs: Sequence[RunData]) -> PointMatch:
    """The points every run has, doing the same work everywhere (see :func:`match_points`).

    Raises
    ------
    UsageError
        When the runs have no comparable point in common.
    """
    match = match_points([r.tidy for r in runs])
    if not match.common:
        files = ", ".join(str(r.path) for r in runs)
        if match.not_comparable:
            first, why = next(iter(match.not_comparable.items()))
            raise UsageError(
                f"the runs have no comparable point ({files}): the "
                f"{len(match.not_comparable)} points they share measure different work "
                f"(e.g. {first}: {why}); nothing to compare")
        raise UsageError(f"the runs have no point in common ({files}): nothing to compare")
    return match


def round_medians(run: RunData, names: Sequence[str]) -> dict[str, pd.Series]:
    """Each named point's per-round medians (seconds), indexed by round, in round order."""
    med = stats.round_medians(run.tidy).sort_index()
    return {n: med.loc[n].astype(float) for n in names}


def samples(run: RunData, names: Sequence[str]) -> dict[str, np.ndarray]:
    """The per-round medians (seconds) of each named point of ``run``: one value per round."""
    return {n: s.to_numpy(dtype=float) for n, s in round_medians(run, names).items()}


def metric_rounds(run: RunData, metric: str) -> pd.Series:
    """Per-round readings of ``metric`` (the stored value), indexed by (point, round).

    Oriented as the gates read every sample, bigger is worse: the inverse of a
    metric whose higher values are better (``cores``).
    """
    per = readings_by_round(run.probes, metric).sort_index()
    spec = METRICS.get(metric)
    return 1 / per if spec is not None and not spec.lower_is_better else per


def metric_samples(run: RunData, names: Sequence[str], metric: str) -> dict[str, np.ndarray]:
    """:func:`metric_rounds` of each named point that has readings: one value per round."""
    per = metric_rounds(run, metric)
    have = set(per.index.get_level_values(0))
    return {n: per.loc[n].to_numpy(dtype=float) for n in names if n in have}


def relative_times(run: RunData, names: Sequence[str]) -> tuple[dict[str, np.ndarray],
                                                                 dict[str, str]]:
    """Per-round relative times: a point's round median / its sequential's, same round.

    Bigger is worse, like a time: the inverse of the round's paired speedup.
    Only points that have a speedup are returned; the others are skipped with
    the reason.  Rounds the sequential point lacks are left out (a point and
    its baseline are paired within a round, never across moments).
    """
    s = run.summary.set_index("name")
    pairs = baselines(s)
    med = round_medians(run, list(dict.fromkeys([*names, *pairs.values()])))
    out: dict[str, np.ndarray] = {}
    skipped: dict[str, str] = {}
    for n in names:
        row = s.loc[n]
        if row["metric"] != STEADY:
            skipped[n] = f"{row['metric']} point: no speedup"
        elif row["model"] == BASELINE:
            skipped[n] = "sequential point: the speedup baseline itself"
        elif n not in pairs:
            skipped[n] = "no sequential point in the run: no speedup"
        else:
            rel = (med[n] / med[pairs[n]]).dropna()
            if rel.empty:
                skipped[n] = "no round shared with its sequential point: no paired speedup"
            else:
                out[n] = rel.to_numpy(dtype=float)
    return out, skipped


def paired_log_ratios(med_a: pd.Series, med_b: pd.Series,
                      pairs: Sequence[tuple[str, str]]) -> dict[str, np.ndarray]:
    """Per-round log(B / A) of each pair both sides measured, keyed by the A name.

    ``med_a`` and ``med_b`` are two sides' per-round medians
    (:func:`bench.results.stats.round_medians`, indexed by name and round),
    measured in the same rounds: only rounds both sides have count.
    """
    have_a, have_b = set(med_a.index.get_level_values(0)), set(med_b.index.get_level_values(0))
    return {a: _log_ratios(med_a.loc[a].to_dict(), med_b.loc[b].to_dict())
            for a, b in pairs if a in have_a and b in have_b}


def _log_ratios(a: Mapping[int, float], b: Mapping[int, float]) -> np.ndarray:
    """log(b / a) over the rounds both sides measured, in round order."""
    common = sorted(set(a) & set(b))
    return np.array([math.log(b[r] / a[r]) for r in common
                     if a[r] > 0 and b[r] > 0], dtype=float)
