"""The project's import graph, read from the source with ``ast`` (nothing is imported or run).

Why from the source: an import placed inside a function (``from .compile import Pattern  # local``) hides a
cycle from Python's import machinery, yet still ties the two modules into one unit that can be neither
read, tested nor reused apart. So every ``import`` statement counts, wherever it stands (module level,
function, class, ``try``), except under ``if TYPE_CHECKING:``, which never runs.

Edges follow the usual convention of import-graph tools: ``import a.b`` and ``from a.b import name`` are an
edge to ``a.b``, or to ``a.b.name`` when that is a module (``from . import pool``); relative imports are
resolved against the importing module. The parent packages Python also initialises are not edges of their
own (each of them is only what its ``__init__`` imports).

Run it for the figures: ``.venv/bin/python tests/core/import_graph.py``.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("trailwatch", "components")  # the import graph the cycle test walks
SKIPPED_DIRS = frozenset(("__pycache__", "node_modules"))


@dataclass(frozen=True)
class Import:
    """One imported thing: ``from module import name`` (``name`` None for ``import module``)."""

    module: str  # absolute dotted name
    name: str | None
    line: int
    typing_only: bool  # under ``if TYPE_CHECKING:``


def module_name(path: Path, root: Path = ROOT) -> str:
    """The dotted name of a source file (a package's ``__init__.py`` names the package)."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_files(top: Path) -> list[Path]:
    """The ``.py`` files under ``top`` (hidden folders and caches left out), in a stable order."""
    return sorted(p for p in top.rglob("*.py")
                  if not any(part.startswith(".") or part in SKIPPED_DIRS for part in p.relative_to(top).parts[:-1]))


def modules(root: Path = ROOT, packages: tuple[str, ...] = PACKAGES) -> dict[str, Path]:
    """Every module of ``packages``, by dotted name."""
    return {module_name(path, root): path for package in packages for path in source_files(root / package)}


def imports_in(path: Path, name: str) -> list[Import]:
    """The imports written in the file of module ``name``, relative ones made absolute."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[Import] = []
    _collect([tree], package, False, found)
    return found


def _collect(nodes: Iterable[ast.AST], package: str, typing_only: bool, found: list[Import]) -> None:
    for node in nodes:
        if isinstance(node, ast.Import):
            found.extend(Import(alias.name, None, node.lineno, typing_only) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = _absolute(node, package)
            found.extend(Import(module, alias.name, node.lineno, typing_only) for alias in node.names)
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            _collect(node.body, package, True, found)
            _collect(node.orelse, package, typing_only, found)
        else:
            _collect(ast.iter_child_nodes(node), package, typing_only, found)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _absolute(node: ast.ImportFrom, package: str) -> str:
    if not node.level:
        return node.module or ""
    parts = package.split(".")
    base = parts[:len(parts) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def target(imp: Import, known: dict[str, Path] | set[str]) -> str | None:
    """The module an import is an edge to: the imported submodule if the name is one, else the module
    imported from (or its longest known prefix); None outside ``known``."""
    if imp.name is not None and f"{imp.module}.{imp.name}" in known:
        return f"{imp.module}.{imp.name}"
    module = imp.module
    while module and module not in known:
        module = module.rpartition(".")[0]
    return module or None


def graph(root: Path = ROOT, packages: tuple[str, ...] = PACKAGES) -> dict[str, set[str]]:
    """Module -> the modules it imports at run time, within ``packages``."""
    known = modules(root, packages)
    edges: dict[str, set[str]] = {name: set() for name in known}
    for name, path in known.items():
        for imp in imports_in(path, name):
            to = None if imp.typing_only else target(imp, known)
            if to is not None and to != name:
                edges[name].add(to)
    return edges


def tangles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The groups of modules that import each other, directly or not (strongly connected components of
    more than one module; Tarjan's algorithm, iterative), each sorted, largest first."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(sorted(group))
    return sorted(groups, key=lambda g: (-len(g), g))


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """One shortest cycle through each module of each tangle, without repeats (a cycle is listed from its
    smallest module): enough to see every import that closes a loop."""
    found: set[tuple[str, ...]] = set()
    for group in tangles(edges):
        members = set(group)
        for start in group:
            path = _shortest_back(start, edges, members)
            turn = path.index(min(path))
            found.add(tuple(path[turn:] + path[:turn]))
    return sorted(list(c) for c in found)


def _shortest_back(start: str, edges: dict[str, set[str]], members: set[str]) -> list[str]:
    """The shortest path from ``start`` back to itself, within a tangle (breadth first)."""
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier:
        nxt = []
        for node in frontier:
            for child in sorted(edges[node] & members):
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(came_from[path[-1]])
                    return path[::-1]
                if child not in came_from:
                    came_from[child] = node
                    nxt.append(child)
        frontier = nxt
    raise AssertionError(f"{start} is in a tangle but has no way back")  # Tarjan's groups are strongly connected


def figures(edges: dict[str, set[str]]) -> str:
    """``modules N, edges N, cycles N``: the summary the cycle test prints."""
    return f"modules {len(edges)}, edges {sum(len(v) for v in edges.values())}, cycles {len(cycles(edges))}"


def describe(cycle: list[str]) -> str:
    return " -> ".join(cycle + cycle[:1])


if __name__ == "__main__":
    edges = graph()
    print(figures(edges))
    for cycle in cycles(edges):
        print("  " + describe(cycle))
    sys.exit(1 if tangles(edges) else 0)
