"""The package's shape: the pipeline in ``ls bench/``, one home for each thing.

Read as a maintainer would read it: every module under 400 lines (one job
each), data flowing one way between the subpackages (no import cycles), and
the few things several stages share (a model's label, an interval's
half-width, the confidence level, the kinds of overlap, steady and cold,
a Markdown table) defined in one place only.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "bench"
MODULES = sorted(ROOT.rglob("*.py"))
#: The subpackages in the order data flows: each imports only from those before it.
LAYERS = ("errors", "scenarios", "results", "measure", "report", "gate", "api", "options", "cli")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def top_level_imports(path: Path) -> set[str]:
    """``bench`` modules imported at import time (not inside functions or TYPE_CHECKING)."""
    known = {module_name(p) for p in MODULES}
    out = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for a in node.names:
                full = f"{node.module}.{a.name}"
                out.add(full if full in known else node.module)
    return {m for m in out if m in known and m != module_name(path)}


def layer(module: str) -> str:
    return module.split(".")[1] if "." in module else module


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_modules_stay_under_400_lines(path: Path) -> None:
    assert len(path.read_text().splitlines()) <= 400


def test_data_flows_one_way_and_no_import_cycles() -> None:
    graph = {module_name(p): top_level_imports(p) for p in MODULES}
    order = {name: i for i, name in enumerate(LAYERS)}
    for module, deps in graph.items():
        for dep in deps:
            a, b = layer(module), layer(dep)
            if a in order and b in order:
                assert order[b] <= order[a], f"{module} imports {dep}: against the flow"

    def visit(module: str, stack: list[str]) -> None:
        for dep in graph[module]:
            assert dep not in stack, f"import cycle: {' -> '.join([*stack, dep])}"
            visit(dep, [*stack, dep])

    for module in graph:
        visit(module, [module])


def _defined(name: str) -> list[str]:
    """Modules assigning ``name`` at their top level."""
    found = []
    for path in MODULES:
        for node in ast.parse(path.read_text()).body:
            targets = node.targets if isinstance(node, ast.Assign) else (
                [node.target] if isinstance(node, ast.AnnAssign) else [])
            names = [t.id for t in targets if isinstance(t, ast.Name)]
            names += [e.id for t in targets if isinstance(t, ast.Tuple)
                      for e in t.elts if isinstance(e, ast.Name)]
            if name in names:
                found.append(module_name(path))
    return found


@pytest.mark.parametrize(("name", "home"), [
    ("CONFIDENCE", "bench.results.stats"), ("MIN_ROUNDS", "bench.results.stats"),
    ("OVERLAPS", "bench.scenarios.models"), ("STEADY", "bench.scenarios.points"),
    ("COLD", "bench.scenarios.points"), ("TIME_KEYS", "bench.gate.match"),
    ("WORK_KEY", "bench.gate.match"),
])
def test_shared_names_have_one_home(name: str, home: str) -> None:
    assert _defined(name) == [home]


def _source_matches(pattern: str) -> set[str]:
    return {module_name(p) for p in MODULES if re.search(pattern, p.read_text())}


def test_one_place_builds_each_shared_thing() -> None:
    # steady and cold as bare strings: only their home names them
    assert _source_matches(r'"(?:steady|cold)"') == {"bench.scenarios.points"}
    # the model[start method] label
    assert _source_matches(r'\]\[\{|\}\[\{[^}]*start|"\[" \+') <= {"bench.scenarios.points"}
    # an interval's half-width as a share of its centre
    assert _source_matches(r"\) / 2 / ") == set()
    assert _source_matches(r"high.{0,40}-.{0,40}low.{0,20}\) / 2") == {"bench.results.stats"}
    # a Markdown table's rule line
    assert _source_matches(r'"\|" \+ "\|"\.join') == {"bench.report.export"}


def test_docstrings_do_not_point_at_issue_numbers() -> None:
    assert _source_matches(r"\b[Ii]ssue \d") == set()


def _literals(tree: ast.AST) -> list[ast.Constant]:
    """The string constants of ``tree`` that are not docstrings."""
    docs = {id(n.body[0].value) for n in ast.walk(tree)
            if isinstance(n, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and n.body and isinstance(n.body[0], ast.Expr)}
    return [n for n in ast.walk(tree) if isinstance(n, ast.Constant)
            and isinstance(n.value, str) and id(n) not in docs]


def test_no_stage_names_a_metric() -> None:
    from bench.results.aggregate import SUMMARY_COLUMNS, TIDY_COLUMNS
    from bench.results.readings import metric_columns
    from bench.scenarios.metrics import METRICS

    # a metric's name or one of its summary columns; "cores" is also C, a column of its own
    names = {*METRICS, *metric_columns()} - {*SUMMARY_COLUMNS, *TIDY_COLUMNS}
    found = []
    for path in MODULES:
        if module_name(path) == "bench.scenarios.metrics":
            continue
        tree = ast.parse(path.read_text())
        found += [(module_name(path), n.value) for n in _literals(tree) if n.value in names]
        for node in ast.walk(tree):  # METRICS["cores"], METRICS.get("cores")
            if isinstance(node, ast.Subscript):
                base, key = node.value, node.slice
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and node.args:
                base, key = node.func.value, node.args[0]
            else:
                continue
            if ast.unparse(base).endswith("METRICS") and isinstance(key, ast.Constant):
                found.append((module_name(path), key.value))
    assert found == [], found
