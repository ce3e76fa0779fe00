"""Pre-flight: check a user's workloads in the measuring interpreter before anything is measured.

Run as ``main([JOB.json])`` by :func:`preflight`,
with the run's import path: the measured children, every pool worker and a
``--python`` interpreter must import the function the same way.  For each
workload it checks, in order:

1. the module imports, the attribute exists (else: the closest name);
2. the function is not a lambda, nested or in ``__main__`` (spawn and
   forkserver workers import functions by module name);
3. ``args``, ``setup`` and ``check`` resolve; ``setup`` runs;
4. two sequential calls of a few tasks at the smallest size: the function
   raising is the user's error (exit 1 with the user's own traceback);
   ``check = "equal"`` with results that differ between the calls is a usage
   error;
5. the arguments and results pickle (else process pools cannot run it);
6. where the run has a model whose work crosses to another interpreter (an
   interpreter pool, 3.14+): in a fresh subinterpreter, the module imports
   and one task's arguments and result cross, under a watchdog (else that
   model is not applicable, with the reason: e.g. an extension module that
   does not support loading in subinterpreters).  A task still running when
   the watchdog fires cannot be stopped: this process then ends with
   ``os._exit`` once every verdict is printed.

This module imports only the standard library at import time, and
:mod:`bench.scenarios.workloads` when run.
"""

from __future__ import annotations

import asyncio
import difflib
import importlib
import inspect
import json
import os
import pickle
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bench.measure.interpreter import Interpreter
    from bench.scenarios.workloads import Workload

#: Tasks each of the two sequential calls runs.
TASKS = 2


@dataclass(frozen=True)
class Verdict:
    """What pre-flight found about one workload."""

    name: str
    #: "ok", "usage" (a mistake: exit 2) or "raises" (the function failed: exit 1).
    status: str
    message: str = ""
    is_async: bool = False
    #: Why the models whose work must cross that way cannot run it, by crossing
    #: (:data:`bench.scenarios.models.CROSSINGS`): ``{"pickle": "its results do not pickle ..."}``.
    refused: dict[str, str] = field(default_factory=dict)
    #: The user's own traceback when the function raised.
    details: str = ""


def _ref_problem(name: str, ref: str, what: str) -> str | None:
    """Why ``ref`` cannot be imported by module name, or None."""
    module, sep, qualname = ref.partition(":")
    if not sep or not module or not qualname:
        return f"workload {name!r}: {what} {ref!r} is not 'module:function'"
    if module == "__main__":
        return (f"workload {name!r}: {what} {qualname!r} is defined in __main__ (a script or "
                "notebook); spawn and forkserver workers import functions by module name: "
                "move it to a module file and name it 'module:function' (add its folder with "
                "--path)")
    try:
        found: Any = importlib.import_module(module)
    except ImportError as exc:
        return (f"workload {name!r}: cannot import module {module!r} of {what} {ref!r} "
                f"({exc}); add its folder with --path or PYTHONPATH")
    for part in qualname.split("."):
        if not hasattr(found, part):
            options = [n for n in dir(found) if not n.startswith("_")]
            close = difflib.get_close_matches(part, options, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            return f"workload {name!r}: {module} has no {part!r}{hint}"
        found = getattr(found, part)
    if "<lambda>" in qualname or getattr(found, "__name__", "") == "<lambda>":
        return (f"workload {name!r}: {what} {ref!r} is a lambda; workers import functions by "
                "name: define it with def at module level")
    if "<locals>" in getattr(found, "__qualname__", ""):
        return (f"workload {name!r}: {what} {ref!r} is nested in another function; workers "
                "import functions by name: define it at module level")
    return None


def _user_traceback(exc: BaseException) -> str:
    """The traceback of ``exc`` without this module's frames: the user's code only."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename != __file__]
    lines = traceback.format_list(frames) + traceback.format_exception_only(type(exc), exc)
    return "Traceback (most recent call last):\n" + "".join(lines)


def _call_twice(work: Workload, size: float) -> tuple[list[Any], list[Any], list[Any]]:
    """The task arguments and two sequential calls' results."""
    from bench.scenarios import workloads

    workloads.set_up(work.setup)
    func = workloads.function(work)
    argv = workloads.task_args(work, TASKS, size)
    if inspect.iscoroutinefunction(func):
        def call() -> list[Any]:
            return [asyncio.run(func(*a)) for a in argv]
    else:
        def call() -> list[Any]:
            return [func(*a) for a in argv]
    return argv, call(), call()


#: Tasks of another interpreter still running after the watchdog (this process cannot join them).
_stuck: list[Any] = []


def check_interpreters(work: Workload, argv: list[Any], want: Any, watch: float) -> str:
    """Why an interpreter pool cannot run ``work`` ("" when it can): step 6 of the docstring."""
    import concurrent.futures as cf

    from bench.errors import one_line
    from bench.scenarios import workloads

    module = work.func.partition(":")[0]
    executor = cf.InterpreterPoolExecutor(1)  # type: ignore[attr-defined,unused-ignore]
    try:
        steps: list[tuple[str, Callable[..., Any], tuple[Any, ...]]] = [
            ("importing its module", workloads.import_ref, (module,)),
            ("running one task", workloads.call_task, (work.to_dict(), argv[0]))]
        for what, func, args in steps:
            task = executor.submit(func, *args)
            try:
                got = task.result(timeout=watch)
            except cf.TimeoutError:
                _stuck.append(executor)
                return (f"in a subinterpreter, {what} did not finish within {watch:g} s "
                        "(a hang or a spin)")
            except Exception as exc:
                return f"in a subinterpreter, {what} failed: {one_line(exc, root=True)}"[:300]
        if work.check == "equal" and got != want:
            return "in a subinterpreter, one task returned another result than in the main one"
    finally:
        if executor not in _stuck:
            executor.shutdown(wait=True)
    return ""


def check_one(work: Workload, size: float, crossings: tuple[str, ...] = ("pickle",),
              watch: float = 10.0) -> Verdict:
    """Pre-flight one workload in this process (see the module's docstring).

    ``crossings`` are those of the run's models (:data:`bench.scenarios.models.CROSSINGS`);
    ``watch`` the seconds the watchdog gives a task in another interpreter.
    """
    from bench.errors import one_line
    from bench.scenarios import workloads

    for what, ref in (("function", work.func), ("args", work.args), ("setup", work.setup),
                      ("check", "" if work.check in workloads.CHECKS else work.check)):
        problem = _ref_problem(work.name, ref, what) if ref else None
        if problem:
            return Verdict(work.name, "usage", problem)
    is_async = inspect.iscoroutinefunction(workloads.function(work))
    try:
        argv, first, second = _call_twice(work, size)
    except Exception as exc:
        return Verdict(work.name, "raises", f"workload {work.name!r} raised {type(exc).__name__} "
                       "in the sequential reference, before anything was measured",
                       is_async, details=_user_traceback(exc))
    if work.check == "equal" and first != second:
        return Verdict(work.name, "usage",
                       f"workload {work.name!r}: two sequential calls returned different results, "
                       "so check = \"equal\" cannot verify the models; declare check = \"none\" "
                       "or a comparison 'module:function' (in pyproject.toml)", is_async)
    refused: dict[str, str] = {}
    for what, obj in (("arguments", argv), ("results", first)):
        try:
            pickle.loads(pickle.dumps(obj))
        except Exception as exc:
            refused["pickle"] = f"its {what} do not pickle ({one_line(exc)})"
            break
    if "shareable" in crossings and not is_async:
        if "pickle" in refused:  # what crosses to another interpreter is pickled too
            refused["shareable"] = refused["pickle"]
        elif why := check_interpreters(work, argv, first[0], watch):
            refused["shareable"] = why
    return Verdict(work.name, "ok", "", is_async, refused)


def main(argv: list[str]) -> int:
    """Pre-flight the job's workloads; print one JSON verdict per line."""
    from bench.scenarios.workloads import Workload

    job = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    crossings = tuple(job.get("crossings", ("pickle",)))
    for data, size in zip(job["workloads"], job["sizes"], strict=True):
        verdict = check_one(Workload.from_dict(data), size, crossings, job.get("watch", 10.0))
        print(json.dumps(verdict.__dict__), flush=True)
    if _stuck:  # a subinterpreter's task still runs: exiting normally would wait for it
        sys.stdout.flush()
        os._exit(0)
    return 0


def preflight(interp: Interpreter, works: list[Workload], sizes: list[float],
              timeout: float, crossings: tuple[str, ...] = ("pickle",)) -> list[Verdict]:
    """Run :func:`main` in ``interp`` (the measuring interpreter, with the run's import path).

    ``crossings``: those of the run's models; each check in another interpreter gets a
    watchdog of a third of ``timeout`` (the whole pre-flight's limit).

    Raises
    ------
    bench.errors.UsageError
        When the pre-flight itself cannot run or hangs.
    """
    from bench.errors import UsageError

    with tempfile.TemporaryDirectory(prefix="concbench-preflight-") as tmp:
        job = Path(tmp) / "job.json"
        job.write_text(json.dumps({"workloads": [w.to_dict() for w in works],
                                   "sizes": sizes, "crossings": list(crossings),
                                   "watch": timeout / 3}), encoding="utf-8")
        try:
            out = subprocess.run(interp.command("bench.measure.preflight", str(job)),
                                 env=interp.env, capture_output=True, text=True,
                                 timeout=timeout, check=False, stdin=subprocess.DEVNULL,
                                 cwd=interp.cwd)
        except subprocess.TimeoutExpired:
            raise UsageError(f"pre-flight of {', '.join(w.name for w in works)} did not end "
                             f"within {timeout:g} s (does a workload hang?)") from None
    verdicts = [Verdict(**json.loads(line)) for line in out.stdout.splitlines()
                if line.startswith("{")]
    if out.returncode != 0 or len(verdicts) != len(works):
        last = (out.stderr.strip().splitlines() or ["no output"])[-1]
        raise UsageError(f"pre-flight of the workloads failed: {last}")
    return verdicts


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
