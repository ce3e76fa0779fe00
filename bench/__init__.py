"""concbench: when does Python work gain from asyncio, threads or processes?

The public API is loaded lazily so that the measured children, which import
``bench.scenarios.models`` and ``bench.measure.child``, pull in nothing beyond the standard
library, pyperf and ``cpu_tasks``, and so that the entry of the command
line (:mod:`bench._entry`) can take over SIGINT and SIGTERM before anything
heavy is imported.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs milliseconds before the entry takes over the signals
if TYPE_CHECKING:
    from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "run": "bench.api",
    "ab": "bench.api",
    "decisions": "bench.api",
    "load": "bench.results.aggregate",
    "tidy": "bench.results.aggregate",
    "summarize": "bench.results.aggregate",
    "expand": "bench.scenarios.grid",
    "GridSpec": "bench.scenarios.grid",
    "host_record": "bench.measure.host",
    "Point": "bench.scenarios.models",
    "UsageError": "bench.errors",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'bench' has no attribute {name!r}")
