"""The engine's shape (issue 13): no import circle inside any package, counting every import (top level,
`TYPE_CHECKING` blocks and imports inside functions alike), and no module over 600 lines.

The import graph is read from the source with `ast`, so an import that only runs later (a function-local
one, written to dodge a circle at import time) counts like any other: the circle is in the design either way.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PLATFORM = ROOT / "platform"
MAX_LINES = 600


def _module_name(path: Path) -> str:
    parts = path.relative_to(PLATFORM).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(("itsm", *parts))


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PLATFORM.rglob("*.py") if "migrations" not in p.parts}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Every `itsm` module `path` imports anywhere in its text, resolved to a known module or package."""
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            # `from .pkg import module` names a module; `from .module import name` names the module
            targets = [f"{stem}.{alias.name}" if f"{stem}.{alias.name}" in known else stem for alias in node.names]
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target.startswith("itsm.") and target != name:
                found.add(target)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: _imports(name, path, known) for name, path in modules.items()}


def _child(package: str, module: str) -> str | None:
    """The direct child of `package` that holds `module` (`package.__init__` for the package itself)."""
    if module == package:
        return f"{package}.__init__"
    if not module.startswith(package + "."):
        return None
    return f"{package}.{module[len(package) + 1:].split('.')[0]}"


def _cycles(nodes: set[str], edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in edges.get(node, ()):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(nodes):
        if node not in index:
            visit(node)
    return found


def circles() -> dict[str, list[list[str]]]:
    graph = _graph()
    packages = {name for name, path in _modules().items() if path.name == "__init__.py"}
    result: dict[str, list[list[str]]] = {}
    for package in sorted(packages):
        edges: dict[str, set[str]] = defaultdict(set)
        nodes: set[str] = set()
        for module, imported in graph.items():
            source = _child(package, module)
            if source is None:
                continue
            nodes.add(source)
            for target in imported:
                child = _child(package, target)
                if child is not None and child != source:
                    edges[source].add(child)
        cycles = _cycles(nodes, edges)
        if cycles:
            result[package] = cycles
    return result


def test_no_import_circle_inside_any_package() -> None:
    assert circles() == {}


def test_the_circle_finder_sees_function_local_and_type_checking_imports(tmp_path: Path) -> None:
    source = ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .b import x\n"
              "def f():\n    from .c import y\n")
    module = tmp_path / "a.py"
    module.write_text(source)
    assert _imports("itsm.pkg.a", module, {"itsm.pkg", "itsm.pkg.a", "itsm.pkg.b", "itsm.pkg.c"}) == {
        "itsm.pkg.b", "itsm.pkg.c"}


@pytest.mark.parametrize("path", sorted(PLATFORM.rglob("*.py")), ids=lambda p: str(p.relative_to(PLATFORM)))
def test_no_module_is_over_600_lines(path: Path) -> None:
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(ROOT)} has {lines} lines: split it by purpose"
