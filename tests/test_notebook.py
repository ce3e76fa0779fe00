"""The example notebook runs in a real Jupyter kernel (nbclient + ipykernel).

``bench.run`` inside a kernel's running event loop measures the example's
``textparse.parse`` (smoke profile), writes recommendations.csv, and refuses a
function defined in the notebook itself (it lives in ``__main__``) at once.
"""

from __future__ import annotations

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="the test extra's nbformat is not installed")
nbclient = pytest.importorskip("nbclient", reason="the test extra's nbclient is not installed")
pytest.importorskip("ipykernel", reason="the test extra's ipykernel is not installed")

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

pytestmark = pytest.mark.slow


def _text(cell: dict) -> str:  # type: ignore[type-arg]
    out = []
    for o in cell.get("outputs", []):
        out.append(o.get("text", ""))
        out.extend(str(v) for v in o.get("data", {}).values())
    return "\n".join(out)


def test_example_notebook_runs_in_a_kernel(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONCBENCH_NOTEBOOK_OUT", str(tmp_path))
    monkeypatch.setenv("CONCBENCH_NOTEBOOK_PROFILE", "smoke")
    nb = nbformat.read(EXAMPLES / "notebook.ipynb", as_version=4)
    client = nbclient.NotebookClient(nb, timeout=240, kernel_name="python3",
                                     resources={"metadata": {"path": str(EXAMPLES)}})
    client.execute()
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not any(o.get("output_type") == "error" for o in c.outputs) for c in code)
    summary = _text(code[1])
    assert "parse/process_pool[fork]/t4/w2/s2000" in summary
    assert (tmp_path / "notebook" / "recommendations.csv").exists()
    assert "parse" in _text(code[2])
    refused = _text(code[3])
    assert "refused:" in refused
    assert "__main__" in refused
