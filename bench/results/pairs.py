"""What names a point (:data:`KEYS`), and which point each point is compared with: its
baseline, its default-loop twin, its reference interpreter's twin. Each pairing maps a
summary row's name to its partner's."""

from __future__ import annotations

import pandas as pd

from bench.scenarios.models import BASELINE, MODELS, STEADY

__all__ = ["KEYS", "baselines", "loop_pairs", "python_pairs"]

#: The columns that name a point: every stage keys its rows by these.
KEYS = ["workload", "model", "start_method", "tasks", "workers", "metric", "task_size", "python"]


def baselines(s: pd.DataFrame) -> dict[str, str]:
    """Map each steady point with a baseline to its sequential point (same workload, T, size
    and interpreter)."""
    steady = s["metric"] == STEADY
    seq = s[steady & (s["model"] == BASELINE)]
    cols = ["workload", "tasks", "task_size", "python"]
    base = dict(zip(zip(*(seq[c] for c in cols), strict=True), seq.index, strict=True))
    keys = zip(*(s[c] for c in cols), strict=True)
    return {n: base[k] for n, k, st in zip(s.index, keys, steady, strict=True)
            if st and k in base}


def loop_pairs(s: pd.DataFrame) -> dict[str, str]:
    """Map each point of a loop variant (``asyncio_gather[uvloop]``) to the same point on
    the default loop (``asyncio_gather``): same workload, T, W, task size and metric."""
    other = [k for k in KEYS if k != "model"]
    index = {(m, *k): n for n, m, *k in zip(s.index, s["model"], *(s[c] for c in other),
                                             strict=True)}
    out = {}
    for n, m, *k in zip(s.index, s["model"], *(s[c] for c in other), strict=True):
        spec = MODELS.get(str(m))
        if spec is not None and spec.variant_of and (spec.variant_of, *k) in index:
            out[str(n)] = str(index[(spec.variant_of, *k)])
    return out


def python_pairs(s: pd.DataFrame, first: str) -> dict[str, str]:
    """Map each point of an interpreter other than ``first`` to the same point under
    ``first`` (every key but the interpreter the same)."""
    other = [k for k in KEYS if k != "python"]
    index = {tuple(k): n for n, p, *k in zip(s.index, s["python"], *(s[c] for c in other),
                                             strict=True) if p == first}
    return {str(n): str(index[tuple(k)])
            for n, p, *k in zip(s.index, s["python"], *(s[c] for c in other), strict=True)
            if p != first and tuple(k) in index}
