"""An exception in one line keeps its cause (:func:`bench.errors.one_line`)."""

from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path

import pytest

from bench.errors import one_line
from bench.measure.interpreter import find

PY314 = find("3.14")
#: numpy's own shape: the real error wrapped in advice that starts with a blank line.
NUMPY_SHAPED = '''\
try:
    import _curses  # a real extension that does not support loading in subinterpreters
except ImportError as exc:
    raise ImportError(f"""

IMPORTANT: PLEASE READ THIS FOR ADVICE ON HOW TO SOLVE THIS ISSUE!

Importing the C-extensions failed.
Original error was: {exc}
""") from exc


def task(i, size):
    return i + int(size)
'''
CAUSE = "ImportError: module _curses does not support loading in subinterpreters"


def _raised(code: str) -> BaseException:
    try:
        exec(code, {})
    except Exception as exc:
        return exc
    raise AssertionError("did not raise")


def test_a_message_that_starts_with_a_newline_keeps_its_first_line_and_cause() -> None:
    exc = _raised('try:\n    raise ImportError("module numpy._core._multiarray_umath does not '
                  'support loading in subinterpreters")\nexcept ImportError as e:\n'
                  '    raise ImportError("\\n\\nIMPORTANT:   PLEASE READ\\n\\nmore") from e')
    assert one_line(exc) == ("ImportError: IMPORTANT: PLEASE READ (from ImportError: module "
                             "numpy._core._multiarray_umath does not support loading in "
                             "subinterpreters)")
    assert one_line(exc, root=True).endswith("does not support loading in subinterpreters")


def test_an_empty_message_reads_its_cause_and_an_import_error_its_module() -> None:
    exc = _raised("try:\n    {}['k']\nexcept KeyError:\n    raise RuntimeError()")
    assert one_line(exc) == "RuntimeError (from KeyError: 'k')"
    assert one_line(ImportError("", name="numpy")) == "ImportError: module numpy"
    assert one_line(ImportError("failed", name="numpy")) == "ImportError: failed (module numpy)"
    assert one_line(ImportError("no numpy", name="numpy")) == "ImportError: no numpy"
    assert one_line(ValueError("x" * 500)) == "ValueError: " + "x" * 288
    long = _raised(f"try:\n    raise KeyError('k')\nexcept KeyError:\n    raise "
                   f"ValueError('{'x' * 500}')")
    assert len(one_line(long)) == 300
    assert one_line(long).endswith(" (from KeyError: 'k')")


def test_another_interpreters_traceback_gives_the_line_that_ends_it() -> None:
    crossed = ImportError("\n\nIMPORTANT: PLEASE READ")
    crossed.__cause__ = Exception(f"ImportError: \n\nIMPORTANT: PLEASE READ\n\nUncaught in the "
                                  f"interpreter:\n\nTraceback (most recent call last):\n"
                                  f"  File x\n{CAUSE}\n\nThe above exception ...")
    assert one_line(crossed, root=True) == CAUSE


@pytest.mark.skipif(PY314 is None, reason="no CPython 3.14 here (PATH, uv, pyenv, "
                    "~/.cache/concbench-pythons)")
def test_a_real_subinterpreter_import_error_keeps_its_cause(tmp_path: Path) -> None:
    (tmp_path / "numpy_shaped.py").write_text(NUMPY_SHAPED)
    code = textwrap.dedent("""\
        import concurrent.futures as cf, importlib
        from bench.errors import one_line
        with cf.InterpreterPoolExecutor(1) as ex:
            try:
                ex.submit(importlib.import_module, "numpy_shaped").result()
            except ImportError as exc:
                print(one_line(exc))
                print(one_line(exc, root=True))
    """)
    root = str(Path(__file__).resolve().parent.parent)
    out = subprocess.run([str(PY314), "-c", code], capture_output=True, text=True, timeout=60,
                         check=False, cwd=tmp_path,
                         env={**os.environ, "PYTHONPATH": f"{root}:{tmp_path}"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        f"ImportError: IMPORTANT: PLEASE READ THIS FOR ADVICE ON HOW TO SOLVE THIS ISSUE! "
        f"(from {CAUSE})", CAUSE]
