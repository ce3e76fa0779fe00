"""Workloads as specs: the built-in ones and the user's own functions, the same kind of entry.

A workload is a module-level function, ``def`` or ``async def``, named by a
reference ``"module:qualname"`` and called per task as ``func(i, size)``, or
as ``func(*args(i, size))`` when it declares an ``args`` factory.  Every stage
reads the spec's fields (what it spends its time on, sync or async, its unit
and sizes); nothing downstream tests a workload's name.

Standard library only: the measured children and every pool worker import
this module.  No catalogue is shared by the process: a run's catalogue
(:func:`catalogue`) is the built-ins and the workloads its user declared, and
every point carries its workload's spec to the child; pool workers get
functions pickled by reference, and a ``setup`` by its reference string.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from types import MappingProxyType
from typing import Any

#: What a task spends its time on; the model of the ideal (:mod:`bench.results.ideal`) reads it.
#: ``cpu_gil``: Python bytecode, holding the GIL; ``cpu_nogil``: CPU work in C that
#: releases the GIL; ``blocking_wait``: a blocking call that waits (I/O, sleep);
#: ``async_wait``: an awaitable that waits without blocking the event loop.
RESOURCES = ("cpu_gil", "cpu_nogil", "blocking_wait", "async_wait")
#: How a model's results are checked against the sequential ones (or a ``module:func``).
CHECKS = ("equal", "none")


@dataclass(frozen=True)
class Workload:
    """A kind of task: the function, what it spends its time on, its unit and sizes."""

    name: str
    #: ``"module:qualname"`` of the function run per task.
    func: str
    unit: str = "size"
    #: Task sizes measured when none are asked for (the first is the default).
    sizes: tuple[float, ...] = (1.0,)
    #: One of :data:`RESOURCES`, or "" when not declared (no ideal is drawn).
    resource: str = ""
    is_async: bool = False
    #: ``"module:qualname"`` of ``(i, size) -> tuple`` building a task's arguments
    #: before the clock starts; "" for ``(i, size)``.
    args: str = ""
    #: ``"module:qualname"`` called once per process and pool worker, untimed.
    setup: str = ""
    #: ``"equal"``, ``"none"`` or ``"module:qualname"`` of ``(got, want) -> bool``.
    check: str = "equal"
    #: A built-in stand-in: the profile's size scale applies to its sizes.
    builtin: bool = False
    #: Sizes are whole numbers of ``unit`` (never rounded to zero work).
    whole_units: bool = False
    description: str = ""
    #: The loopback service it calls (:mod:`bench.scenarios.service`'s spec text, e.g.
    #: ``latency=200ms``), started for the run; "" for none.
    service: str = ""
    #: A module it needs that may not be installed (an optional extra): absent without it.
    needs: str = ""
    #: ``"module:qualname"`` of ``() -> int``: the most connections its clients in this
    #: process allow at once (0: no cap, or none made here); "" where it has no pool.
    connection_cap: str = ""

    @property
    def default_size(self) -> float:
        """The size measured when none is asked for."""
        return self.sizes[0]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (for run.json and the child's job)."""
        data = asdict(self)
        data["sizes"] = list(self.sizes)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Workload:
        """Inverse of :meth:`to_dict` (unknown keys are ignored)."""
        known = {f.name for f in fields(cls)}
        kept = {k: v for k, v in data.items() if k in known}
        kept["sizes"] = tuple(float(s) for s in kept.get("sizes", (1.0,)))
        return cls(**kept)


def _builtin(name: str, func: str, unit: str, size: float, resource: str, description: str,
             *, is_async: bool = False, whole: bool = False) -> Workload:
    return Workload(name, f"cpu_tasks:{func}", unit, (size,), resource, is_async,
                    builtin=True, whole_units=whole, description=description)


#: The loopback service a built-in client calls unless --service says otherwise.
CLIENT_SERVICE = "latency=100ms"


def _client(name: str, needs: str, is_async: bool, description: str) -> Workload:
    """A built-in network client: one HTTP call to the loopback service per task, its
    answer checked in the call (a wrong one raises: the point fails with the reason)."""
    func = f"bench.scenarios.clients:{name.removeprefix('http_')}_call"
    return Workload(name, func, "call", (1.0,), "async_wait" if is_async else "blocking_wait",
                    is_async, check="none", builtin=True, whole_units=True,
                    description=f"GET from the loopback service through {description}",
                    service=CLIENT_SERVICE, needs=needs,
                    connection_cap="bench.scenarios.clients:connection_cap" if needs else "")


#: The built-in stand-ins (``cpu_tasks.py``): adding one is one entry here.
BUILTINS: Mapping[str, Workload] = MappingProxyType({
    w.name: w
    for w in (
        _builtin("cpu", "cpu", "iterations", 100_000, "cpu_gil",
                 "the seed's cpu_bound loop (pure Python, holds the GIL)", whole=True),
        _builtin("hash", "hash_rounds", "MiB", 10, "cpu_nogil",
                 "SHA-256 over a 1 MiB buffer (releases the GIL)", whole=True),
        _builtin("compress", "compress", "KiB", 256, "cpu_nogil",
                 "zlib compression of text-like data (releases the GIL)", whole=True),
        _builtin("sleep", "blocking_sleep", "s", 0.003, "blocking_wait",
                 "blocking time.sleep (blocking I/O)"),
        _builtin("async_sleep", "async_sleep", "s", 0.003, "async_wait",
                 "await asyncio.sleep (non-blocking I/O)", is_async=True),
        *(_client(*c) for c in (
            ("http_aiohttp", "aiohttp", True, "aiohttp's ClientSession, its default pool"),
            ("http_aiohttp_nocap", "aiohttp", True,
             "aiohttp's ClientSession, its pool uncapped (TCPConnector(limit=0))"),
            ("http_httpx", "httpx", True, "httpx's AsyncClient, its default pool"),
            ("http_httpx_nocap", "httpx", True,
             "httpx's AsyncClient, its pool uncapped (Limits(max_connections=None))"),
            ("http_client", "", False,
             "the standard library's blocking http.client, one keep-alive connection per "
             "thread"))),
    )
})


def missing(work: Workload) -> str:
    """Why ``work`` cannot run here ("" where it can): a module it needs is not installed."""
    if work.needs and not _installed(work.needs):
        return (f"needs {work.needs}, which is not installed "
                "(pip install 'concbench[net]')")
    return ""


@functools.cache
def _installed(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def catalogue(declared: Iterable[Workload] = ()) -> dict[str, Workload]:
    """A run's workloads: the built-ins, then the ``declared`` ones (a fresh dict)."""
    return {**BUILTINS, **{w.name: w for w in declared}}


_resolved: dict[str, Any] = {}


def resolve(ref: str) -> Any:
    """Import ``"module:qualname"`` and return the object (cached).

    Raises
    ------
    ImportError, AttributeError
        From the import or the attribute lookup.
    """
    found = _resolved.get(ref)
    if found is None:
        module, _, qualname = ref.partition(":")
        found = importlib.import_module(module)
        for part in qualname.split("."):
            found = getattr(found, part)
        _resolved[ref] = found
    return found


def function(work: Workload) -> Callable[..., Any]:
    """The workload's task function."""
    func: Callable[..., Any] = resolve(work.func)
    return func


def task_args(work: Workload, tasks: int, size: float) -> list[tuple[Any, ...]]:
    """The positional arguments of a batch's ``tasks`` tasks (built before any clock)."""
    if not work.args:
        return [(i, size) for i in range(tasks)]
    factory = resolve(work.args)
    return [tuple(factory(i, size)) for i in range(tasks)]


def import_ref(module: str) -> str:
    """Import ``module`` here (pre-flight, in another interpreter); return its name."""
    importlib.import_module(module)
    return module


def call_task(work: dict[str, Any], args: Sequence[Any]) -> Any:
    """One task of the workload ``work`` (a :meth:`Workload.to_dict`), its setup run first."""
    spec = Workload.from_dict(work)
    set_up(spec.setup)
    return function(spec)(*args)


_set_up: set[str] = set()


def set_up(ref: str) -> None:
    """Call the ``setup`` function ``ref`` once in this process (nothing for "")."""
    if ref and ref not in _set_up:
        resolve(ref)()
        _set_up.add(ref)


def worker_init(barrier: Any, setup: str = "", native_threads: int = 0) -> None:
    """Process pool initializer: limit the worker's native thread pools to ``native_threads``
    (0: the libraries' default), run the workload's ``setup`` once, keep the warm-up barrier.

    Imported by module name, so spawn and forkserver workers run it too.
    """
    import cpu_tasks
    from bench.scenarios import native

    native.limit(native_threads)
    set_up(setup)
    cpu_tasks.barrier_init(barrier)


def same_results(work: Workload, got: Sequence[Any], want: Sequence[Any]) -> bool:
    """Whether a model's results match the sequential ones, by the workload's ``check``."""
    if work.check == "none":
        return True
    if len(got) != len(want):
        return False
    if work.check == "equal":
        return list(got) == list(want)
    compare = resolve(work.check)
    return all(bool(compare(g, w)) for g, w in zip(got, want, strict=True))
