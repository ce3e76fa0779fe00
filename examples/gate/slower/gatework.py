"""A regressed ``crunch``: 1.6x the work, and noisier.

Each process draws its own speed factor (log-normal, sd 0.15) and each task
varies by +-20 %: a regression that also makes the point noisier, as
concurrency regressions often do.
"""

import random

_PROCESS_FACTOR = random.lognormvariate(0.0, 0.15)


def crunch(i: int, size: float) -> int:
    """Sum ``(k * i) % 7`` over about 1.6 x ``size`` iterations."""
    n = int(size * 1.6 * _PROCESS_FACTOR * random.uniform(0.8, 1.2))
    total = 0
    for k in range(n):
        total += (k * i) % 7
    return total
