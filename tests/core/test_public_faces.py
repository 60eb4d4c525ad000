"""Each trailwatch subpackage is used from outside through its public face: the names its ``__init__``
lists in ``__all__``.

Why: ``__init__`` is the contract a package keeps; an import that reaches past it
(``from trailwatch.filterpattern.compile import X``) ties the caller to a layout the package must then
keep too, and hides what the package really offers. Inside a package anything goes: its own modules, and
its own test folder, which tests its internals on purpose. Every Python file of the project is read (with
``ast``, as :mod:`import_graph` reads them), tests and benchmarks included.
"""

from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path

import pytest

import import_graph

ROOT = import_graph.ROOT
SUBPACKAGES = ("filterpattern", "replay", "adapter", "render", "policies", "localrun", "commands")
OWN_TESTS = {"tests/filterpattern": "filterpattern", "tests/replay": "replay", "tests/adapter": "adapter",
             "tests/render": "render"}  # test folders that test a package's internals: inside that package

# Not yet gone through its public face. None: the package's face is still to be declared or used (its test is
# expected to fail, strictly: delete the entry once it passes). A set: the files outside the package (paths
# from the repository root) that still reach past its face; the test fails on any other, and on a listed
# file that no longer does.
NOT_YET: dict[str, frozenset[str] | None] = {}


@lru_cache(maxsize=None)
def all_imports() -> tuple[tuple[str, import_graph.Import], ...]:
    """(file, import) for every import in every Python file of the project."""
    found = []
    for path in import_graph.source_files(ROOT):
        where = path.relative_to(ROOT).as_posix()
        found.extend((where, imp) for imp in import_graph.imports_in(path, import_graph.module_name(path)))
    return tuple(found)


def exported(package: str) -> frozenset[str] | None:
    """The names in the package's ``__all__`` (a literal list or tuple), None if it declares none."""
    tree = ast.parse((ROOT / "trailwatch" / package / "__init__.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
                return frozenset(ast.literal_eval(node.value))
    return None


def bound_names(package: str) -> set[str]:
    """The names the package's ``__init__`` defines at module level (imports, assignments, defs, classes)."""
    tree = ast.parse((ROOT / "trailwatch" / package / "__init__.py").read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return names


def inside(where: str, package: str) -> bool:
    home = f"trailwatch/{package}/"
    return where.startswith(home) or any(where.startswith(folder + "/") and owner == package
                                         for folder, owner in OWN_TESTS.items())


def bypasses(package: str) -> list[tuple[str, int, str]]:
    """(file, line, what) for each import from outside the package that is not one of its public names."""
    dotted = f"trailwatch.{package}"
    public = exported(package) or frozenset()
    found = []
    for where, imp in all_imports():
        if inside(where, package):
            continue
        if imp.module.startswith(dotted + "."):
            found.append((where, imp.line, f"{imp.module}" + (f" import {imp.name}" if imp.name else "")))
        elif imp.module == dotted and imp.name not in (None, "*") and imp.name not in public:
            found.append((where, imp.line, f"{dotted} import {imp.name} (not in its __all__)"))
    return found


def expected_to_fail(package: str):
    if NOT_YET.get(package, ()) is None:
        return pytest.param(package, marks=pytest.mark.xfail(strict=True, reason="listed in NOT_YET"))
    return package


@pytest.mark.parametrize("package", [expected_to_fail(p) for p in SUBPACKAGES])
def test_package_is_used_through_its_face(package):
    public = exported(package)
    assert public, f"trailwatch/{package}/__init__.py declares no __all__"
    missing = public - bound_names(package)
    assert not missing, f"trailwatch/{package}/__init__.py lists names it does not define: {sorted(missing)}"
    pending = NOT_YET.get(package) or frozenset()
    found = bypasses(package)
    unexpected = [f"{where}:{line}: {what}" for where, line, what in found if where not in pending]
    assert not unexpected, (f"imports past trailwatch.{package}'s __init__ (use a name of its __all__, or add one):\n  "
                            + "\n  ".join(unexpected))
    fixed = pending - {where for where, _, _ in found}
    assert not fixed, f"now used through trailwatch.{package}'s face: remove {sorted(fixed)} from NOT_YET"


def test_bypass_check_sees_a_private_import(tmp_path: Path):
    """The check itself: a private import is found, a public one is not (read from a file written here)."""
    path = tmp_path / "user.py"
    path.write_text("from trailwatch.replay import replay_paths\n"
                    "def f():\n    from trailwatch.replay.engine import Aggregator\n    return Aggregator\n")
    imports = import_graph.imports_in(path, "user")
    assert [(i.module, i.name, i.line) for i in imports] == [("trailwatch.replay", "replay_paths", 1),
                                                              ("trailwatch.replay.engine", "Aggregator", 3)]
    assert "replay_paths" in exported("replay") and "Aggregator" not in exported("replay")
