"""A numeric workload: one n x n matrix product per task, in numpy's BLAS.

BLAS runs the product on a native thread pool of its own (OpenBLAS, MKL or
BLIS: as many threads as cores by default), in every process that loads it:
the measuring process and each process-pool worker.  concbench records those
pools per point and sets each process-pool worker's to C / W threads.

The matrices hold small whole numbers, so every product is exact whatever
order the threads add in, and the models' results compare equal.  The three
left-hand matrices are made once: a temporary ``A + k`` per task would time
glibc's heap instead (freeing it trims the heap, and the next task's pages
fault in again; that doubled a task's time here, by an amount that depends on
what else the process had allocated).
"""

from __future__ import annotations

import functools

import numpy as np


@functools.cache
def _matrices(n: int) -> tuple[list[np.ndarray], np.ndarray]:
    rng = np.random.default_rng(n)
    a = rng.integers(0, 10, (n, n)).astype(np.float64)
    return [a + k for k in range(3)], rng.integers(0, 10, (n, n)).astype(np.float64)


def product(i: int, size: float) -> tuple[int, int]:
    """``(i, sum of (A + i % 3) @ B)`` for the seeded ``size`` x ``size`` matrices."""
    lefts, b = _matrices(int(size))
    return i, int((lefts[i % 3] @ b).sum())
