"""The layout shows the design (docs/architecture.md): imports point inward with no circle, packages say what they
hold, and no module or class grows past what a reader can hold in mind unless it says why."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ("domain", "adapters", "service")  # each may import only those before it
MAX_FILE_LINES = 350
MAX_CLASS_LINES = 200


def modules() -> dict[str, Path]:
    found = {}
    for layer in LAYERS:
        for path in sorted((ROOT / layer).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def imports_of(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The project modules ``name`` imports (at any depth of the file: lazy imports count too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        targets = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            targets = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        for target in targets:
            if target in known and target != name:
                found.add(target)
    return found


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports_of(name, path, known) for name, path in known.items()}


def test_imports_point_inward():
    wrong = [f"{a} imports {b}" for a, deps in graph().items() for b in deps
             if LAYERS.index(b.split(".")[0]) > LAYERS.index(a.split(".")[0])]
    assert not wrong, wrong


def test_no_import_circle():
    edges = graph()
    # A package's __init__ re-exporting its own modules is not a circle of the design.
    edges = {a: {b for b in deps if not (a == b.rsplit(".", 1)[0] and ROOT.joinpath(*a.split("."), "__init__.py")
                                         .exists())} for a, deps in edges.items()}
    state: dict[str, int] = {}
    circles = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                circles.append(" -> ".join(path[path.index(nxt):] + [nxt]) if nxt in path else f"{node} -> {nxt}")
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for start in sorted(edges):
        if start not in state:
            visit(start, [start])
    assert not circles, circles


def test_every_package_says_what_it_holds():
    silent = [str(p.relative_to(ROOT)) for layer in LAYERS for p in (ROOT / layer).rglob("__init__.py")
              if not ast.get_docstring(ast.parse(p.read_text()))]
    assert not silent, f"packages without a docstring: {silent}"


@pytest.mark.parametrize("layer", LAYERS)
def test_modules_and_classes_stay_small(layer):
    too_long = []
    for path in sorted((ROOT / layer).rglob("*.py")):
        lines = path.read_text().count("\n")
        if lines > MAX_FILE_LINES:
            too_long.append(f"{path.relative_to(ROOT)}: {lines} lines")
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and node.end_lineno - node.lineno + 1 > MAX_CLASS_LINES:
                doc = ast.get_docstring(node) or ""
                if not any(line.strip().startswith("Long because") for line in doc.splitlines()):
                    too_long.append(f"{path.relative_to(ROOT)}: class {node.name} "
                                    f"{node.end_lineno - node.lineno + 1} lines, no 'Long because' line")
    assert not too_long, too_long
