"""Profiles: how much a run measures when its axes are not given (``--profile``).

Data only: task counts, worker counts as factors of the usable cores C, rounds,
values, the workloads and models measured by default.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.scenarios.workloads import Workload


@dataclass(frozen=True)
class Profile:
    """How much to measure: axes defaults and the rounds of a run.

    A run is ``rounds`` planned rounds (see :mod:`bench.measure.rounds`); in each, every
    point takes ``warmups`` warm-up values and ``values`` values, a value
    lasting at least ``min_time`` seconds (that many batches).  Then, while
    the run's time budget allows (``budget_s`` seconds for the whole command,
    see :mod:`bench.measure.budget`; 0: no extra rounds), extra rounds go to
    the groups whose points' 95 % intervals are wider than 5 % of their
    estimate, until a point has ``max_rounds`` rounds.

    ``sweep_start_methods`` lists the start methods measured at every worker
    count; the others are measured at W = C only, and only on the built-in
    workloads whose resource is in ``start_method_resources`` when it is not
    empty (once a pool is warm its workers run the same code whatever started
    them: the start method's cost is the cold start, measured per method on
    its own).  Cold-start points go to the built-in workloads whose resource
    is in ``cold_resources``.  The profiles choose by a workload's kind,
    never its name: your own workloads (not :attr:`Workload.builtin`) always
    get every start method and cold starts.
    """

    name: str
    tasks: tuple[int, ...]
    worker_factors: tuple[str, ...]
    rounds: int
    values: int
    warmups: int
    min_time: float
    work_scale: float = 1.0
    sweep_start_methods: tuple[str, ...] = ("fork",)
    #: Resources of the built-in workloads measured with every start method ((): all).
    start_method_resources: tuple[str, ...] = ()
    start_methods: tuple[str, ...] = ("fork", "forkserver", "spawn")
    cold: bool = True
    #: Resources of the built-in workloads whose pools also get cold-start points.
    cold_resources: tuple[str, ...] = ("cpu_gil",)
    #: Built-in workloads measured when none are named (the seed notebook's lessons).
    workloads: tuple[str, ...] = ("cpu", "hash", "sleep", "async_sleep")
    budget_s: float = 0.0
    max_rounds: int = 0
    #: Seconds each noise probe (before and after the sweep) watches the host.
    probe_s: float = 0.5
    #: Models measured when none are named ((): every one).
    models: tuple[str, ...] = ()
    #: After the planned rounds' first looks: "decided" races the points to decisions,
    #: "stable" gives extra rounds to the widest intervals (:data:`UNTIL`).
    until: str = "stable"
    description: str = ""

    def every_start_method(self, work: Workload) -> bool:
        """Whether ``work`` is measured with every start method (else the swept ones only)."""
        return (not work.builtin or not self.start_method_resources
                or work.resource in self.start_method_resources)

    def cold_starts(self, work: Workload) -> bool:
        """Whether ``work``'s pools get cold-start points (when the run measures them)."""
        return not work.builtin or work.resource in self.cold_resources


#: What ``--until`` takes: race to decisions (:mod:`bench.measure.race`), or extend the
#: widest intervals toward stability.
UNTIL = ("decided", "stable")
#: The equivalence margin of the decisions when the user names none: within 5 %.
DELTA = 0.05

#: The seed notebook's models: what the smoke and quick profiles measure.
LESSON_MODELS = ("sequential", "asyncio_await", "asyncio_gather", "asyncio_create_task",
                 "asyncio_eager", "asyncio_taskgroup", "asyncio_blocking", "to_thread",
                 "thread_pool", "process_pool", "interpreter_pool")

PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile(
            "smoke", (4,), ("C",), rounds=6, values=3, warmups=1, min_time=0.005,
            work_scale=0.2, start_methods=("fork",), cold=False, probe_s=0.2,
            models=LESSON_MODELS,
            description="seconds; for tests and the gate's own A/A checks",
        ),
        Profile(
            "quick", (4, 16), ("1", "C", "2C"), rounds=6, values=2, warmups=1, min_time=0.03,
            work_scale=0.5, start_method_resources=("cpu_gil",), budget_s=150.0, max_rounds=40,
            models=LESSON_MODELS, until="decided",
            description="the default: every workload and model at half the default task "
                        "sizes, 150 s on any host (report included)",
        ),
        Profile(
            "full", (1, 4, 16, 64), ("1", "2", "C", "2C", "4C"), rounds=10, values=5,
            warmups=1, min_time=0.05, sweep_start_methods=("fork", "forkserver", "spawn"),
            budget_s=3600.0, max_rounds=30,
            description="thorough: more task counts, worker counts, rounds and values",
        ),
        Profile(
            "agent", (16, 1000, 10000), ("10", "100", "1000"), rounds=6, values=1,
            warmups=1, min_time=0.0, cold=False, probe_s=0.2,
            workloads=("http_aiohttp", "http_httpx", "http_client"),
            models=("sequential", "asyncio_gather", "asyncio_bounded", "thread_pool"),
            description="agent-scale waits: HTTP calls to the loopback service (100 ms "
                        "each) through aiohttp, httpx and http.client, up to 10,000 calls "
                        "and 1,000 in flight",
        ),
    )
}
