"""The host and interpreter records a results file holds (its ``host_*`` metadata)."""

from __future__ import annotations

from typing import Any

from bench.results import store


def interpreter_order(suite: store.Suite) -> list[str]:
    """The tags of a run's interpreters in the run's order (``["3.11", "3.14"]``; ``[""]``
    for a run of one)."""
    for b in suite.get_benchmarks():
        order = b.get_metadata().get("interpreters")
        if order:
            return str(order).split(",")
    return [""]


def interpreters(suite: store.Suite) -> dict[str, dict[str, Any]]:
    """Each interpreter's host record by tag, in the run's order (one keyed "" for a run
    of one)."""
    out: dict[str, dict[str, Any]] = {}
    for tag in interpreter_order(suite):
        for b in suite.get_benchmarks():
            meta = b.get_metadata()
            if str(meta.get("python", "")) == tag:
                out[tag] = {k[5:]: v for k, v in meta.items() if k.startswith("host_")}
                break
    return out


def host_info(suite: store.Suite) -> dict[str, Any]:
    """The run's host record (``host_*`` metadata, prefix removed) and run fields: in a run
    of several interpreters, the first one's."""
    first = interpreter_order(suite)[0]
    meta = next((m for b in suite.get_benchmarks()
                 if str((m := b.get_metadata()).get("python", "")) == first),
                suite.get_benchmarks()[0].get_metadata())
    info = {k[5:]: v for k, v in meta.items() if k.startswith("host_")}
    for key in ("run_name", "profile", "work_scale", "git_commit", "concbench_version",
                "cpu_model_name", "cpu_freq", "cpu_config", "interpreters"):
        if key in meta:
            info.setdefault(key, meta[key])
    return info
