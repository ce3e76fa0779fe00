"""Native thread pools: the C threads of BLAS, OpenMP and their kind, read and limited.

numpy's BLAS (OpenBLAS, MKL, BLIS), OpenMP runtimes (torch's intra-op threads,
scikit-learn), numba and Rust pools (polars) each start their own pool of C
threads in every process that loads them: the measured child and every pool
worker.  How many threads each process's pools hold is a setting of the point
(:attr:`bench.scenarios.points.Point.native_threads`), never an accident: 0
keeps the library's default (one thread per core it sees), N limits every
native pool of the process to N threads, as loky (joblib) limits each of its
W workers to C / W.

Standard library only at import (pool workers import this module by name);
threadpoolctl is imported where a pool is read or limited, and the
environment variables the libraries read when they load cover those loaded
later, or where threadpoolctl is not installed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

#: Variables the native libraries read when they load: each process's limit for the
#: libraries it has not loaded yet (joblib's loky backend sets the same ones).
ENV_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
            "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS",
            "NUMBA_NUM_THREADS", "RAYON_NUM_THREADS", "POLARS_MAX_THREADS")


#: The shared libraries threadpoolctl reads and limits, by file-name prefix (its
#: controllers' ``filename_prefixes``, 3.8; a test holds them to threadpoolctl's own).
LIBRARIES = ("libopenblas", "libblas", "libscipy_openblas", "openblas", "libblis",
             "libmkl_rt", "mkl_rt", "libiomp", "libgomp", "libomp", "vcomp", "libflexiblas")


def loaded(maps: Path = Path("/proc/self/maps")) -> bool:
    """Whether this process has mapped a library of :data:`LIBRARIES` (True where it
    cannot tell).

    A look at ``maps`` costs well under a millisecond; importing threadpoolctl costs
    18-34 ms, which a pool's cold start would otherwise pay in every worker.
    """
    try:
        text = maps.read_text()
    except OSError:
        return True
    return any(line.rpartition("/")[2].startswith(LIBRARIES) for line in text.splitlines())


def limit(threads: int) -> None:
    """Limit this process's native thread pools to ``threads`` each (0: leave them).

    The environment covers the libraries loaded from now on; threadpoolctl, where
    installed, the ones already loaded (a forked worker inherits its parent's), only
    where some are (:func:`loaded`).
    """
    if threads <= 0:
        return
    for var in ENV_VARS:
        os.environ[var] = str(threads)
    if not loaded():
        return
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    threadpool_limits(limits=threads)


def _one(info: dict[str, Any]) -> str:
    name = info.get("internal_api") or info.get("prefix") or "?"
    layer = info.get("threading_layer")
    version = info.get("version")
    parts = [str(name), str(version) if version else "", f"x{info.get('num_threads', '?')}"]
    if layer and layer not in ("unknown", "disabled"):
        parts.append(str(layer))
    return " ".join(p for p in parts if p)


def pools(_: Any = None) -> str:
    """This process's native thread pools in one line (``"openblas 0.3.27 x2 pthreads"``).

    Each pool as ``library version xTHREADS [threading layer]``, joined by ``"; "``;
    ``"none"`` when no native pool is loaded, ``"unknown (threadpoolctl not installed)"``
    where it cannot be read.  The argument is ignored (a task's index).
    """
    if not loaded():
        return "none"
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown (threadpoolctl not installed)"
    found = sorted({_one(info) for info in threadpool_info()})
    return "; ".join(found) or "none"


async def apools(_: Any = None) -> str:
    """:func:`pools` as a coroutine, for the models that run coroutines."""
    return pools()


def held(description: str) -> bool:
    """Whether a :func:`pools` line names a pool ("" where none was recorded)."""
    return bool(description) and description != "none" and not description.startswith("unknown")


def libraries(description: str) -> list[str]:
    """The libraries a :func:`pools` line names (``["openblas"]``), sorted, each once."""
    return sorted({one.split()[0] for one in description.split("; ") if one})


def threads(description: str) -> int:
    """The largest thread count a :func:`pools` line names (0: none, or unknown)."""
    counts = [int(word[1:]) for one in description.split("; ") for word in one.split()
              if word.startswith("x") and word[1:].isdigit()]
    return max(counts, default=0)
