"""A regressed ``crunch``: the same result after 1.6x the work, and noisier.

Each process draws its own speed factor (log-normal, sd 0.15) and each task
varies by +-20 %: a regression that also makes the point noisier, as
concurrency regressions often do.
"""

import random

_PROCESS_FACTOR = random.lognormvariate(0.0, 0.15)


def crunch(i: int, size: float) -> int:
    """Sum ``(k * i) % 7`` over ``size`` iterations, in about 1.6 x the time."""
    total = 0
    for k in range(int(size)):
        total += (k * i) % 7
    waste = 0
    for k in range(int(size * 0.6 * _PROCESS_FACTOR * random.uniform(0.8, 1.2))):
        waste += (k * i) % 7
    return total
