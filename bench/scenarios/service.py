"""The loopback service's spec: what a network workload asks of the server it calls.

Standard library only: the measured children, the built-in clients and the
server itself (:mod:`bench.measure.loopback`) import this module.

A spec is text such as ``latency=200ms,p99=1s,chunks=20,rate=500``: each
request waits a latency drawn for its index (fixed, or lognormal given its
median and p99), seeded, so that request ``i`` waits the same in every round
and every model; its body is ``body`` bytes, or ``chunks`` server-sent events
spread over the latency; beyond ``rate`` requests a second the service
answers 429 with ``Retry-After``.

Where the client finds the service: the environment variable :data:`ENV`
holds its base URL (``http://127.0.0.1:PORT``) in every measured child and
pool worker of a point whose workload declares a service; :func:`url` reads it.
"""

from __future__ import annotations

import math
import os
import random
from dataclasses import dataclass, fields

#: The environment variable holding the running service's base URL (the one place to read).
ENV = "CONCBENCH_SERVICE"
#: The standard normal's 99th percentile: a lognormal's sigma is ln(p99 / median) / Z99.
Z99 = 2.3263478740408408
_UNITS = {"us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0}


@dataclass(frozen=True)
class ServiceSpec:
    """What the loopback service does with each request."""

    #: Median seconds a request waits before its answer (the only one where ``p99`` is 0).
    latency: float = 0.1
    #: 99th percentile of a lognormal latency, seconds; 0: every request waits ``latency``.
    p99: float = 0.0
    #: Server-sent events spread over the latency; 0: one body once the latency passed.
    chunks: int = 0
    #: Requests a second beyond which the answer is 429 with ``Retry-After``; 0: no limit.
    rate: float = 0.0
    #: Bytes of the body (of each event's data where ``chunks``).
    body: int = 64
    seed: int = 0

    def __post_init__(self) -> None:
        if self.latency < 0 or self.p99 < 0 or self.rate < 0:
            raise ValueError("latency, p99 and rate cannot be negative")
        if self.p99 and self.p99 < self.latency:
            raise ValueError(f"p99 {self.p99:g} s is below the median latency {self.latency:g} s")
        if self.chunks < 0 or self.body < 1:
            raise ValueError("chunks cannot be negative, and a body holds at least 1 byte")

    def to_text(self) -> str:
        """The canonical text (equal specs, equal text: one server serves them).

        It parses back to an equal spec: ``%g`` where that is exact, else every digit.
        """
        return ",".join(f"{f.name}={_exact(getattr(self, f.name))}" for f in fields(self))

    @property
    def sigma(self) -> float:
        """The lognormal's sigma (0 for a fixed latency)."""
        return math.log(self.p99 / self.latency) / Z99 if self.p99 and self.latency else 0.0


def _exact(value: float) -> str:
    """An int in full; a float as short as ``%g`` writes it where that reads back equal."""
    if isinstance(value, int):
        return str(value)
    short = f"{value:g}"
    return short if float(short) == value else repr(value)


def _seconds(key: str, text: str) -> float:
    for unit in sorted(_UNITS, key=len, reverse=True):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * _UNITS[unit]
    return float(text)


def parse(text: str) -> ServiceSpec:
    """``latency=200ms,p99=1s,chunks=20`` -> a :class:`ServiceSpec` ("" gives the defaults).

    Raises
    ------
    ValueError
        An unknown key or a value that is not a number (of seconds, for the times).
    """
    known = {f.name: f.type for f in fields(ServiceSpec)}
    kwargs: dict[str, float | int] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        key, eq, value = (s.strip() for s in item.partition("="))
        if key not in known or not eq:
            raise ValueError(f"service spec {text!r}: {item!r} is not KEY=VALUE with KEY one of "
                             f"{', '.join(known)}")
        try:
            kwargs[key] = (_seconds(key, value) if key in ("latency", "p99")
                           else int(value) if key in ("chunks", "body", "seed") else float(value))
        except ValueError:
            raise ValueError(f"service spec {text!r}: {key}={value!r} is not a number"
                             f"{' of seconds (200ms, 1s)' if key in ('latency', 'p99') else ''}"
                             ) from None
    return ServiceSpec(**kwargs)  # type: ignore[arg-type]


def latency_of(spec: ServiceSpec, i: int, median: float | None = None) -> float:
    """Seconds request ``i`` waits: the same in every round (seeded by ``spec.seed`` and ``i``);
    ``median`` replaces the spec's (a request's ``?latency=``)."""
    med = spec.latency if median is None else median
    if not spec.sigma:
        return med
    z = random.Random(f"{spec.seed}/{i}").gauss(0.0, 1.0)
    return med * math.exp(spec.sigma * z)


def quantile(spec: ServiceSpec, q: float, median: float | None = None) -> float:
    """The ``q`` quantile (0-1) of the service's own latency, seconds."""
    med = spec.latency if median is None else median
    if not spec.sigma:
        return med
    from statistics import NormalDist

    return med * math.exp(spec.sigma * NormalDist().inv_cdf(q))


def path(i: int, latency: float | None = None) -> str:
    """The request line's target for call ``i`` (its latency's median given, or the spec's)."""
    return f"/call/{i}" + ("" if latency is None else f"?latency={latency:.9g}")


def event(data: bytes) -> bytes:
    """One server-sent event carrying ``data``."""
    return b"data: " + data + b"\n\n"


def expected_length(spec: ServiceSpec) -> int:
    """Bytes of a successful answer's body: ``body``, or ``chunks`` events of ``body`` bytes."""
    return spec.chunks * len(event(b"x" * spec.body)) if spec.chunks else spec.body


def url() -> str:
    """The running service's base URL (``http://127.0.0.1:PORT``), from :data:`ENV`.

    Raises
    ------
    RuntimeError
        No service runs for this process (the workload declares none).
    """
    found = os.environ.get(ENV, "")
    if not found:
        raise RuntimeError(f"{ENV} is not set: the workload declares no service "
                           "(service = \"latency=100ms\" in its table, or --service)")
    return found


def spec_here() -> ServiceSpec:
    """The running service's spec (``CONCBENCH_SERVICE_SPEC``, set beside :data:`ENV`)."""
    return parse(os.environ.get(f"{ENV}_SPEC", ""))
