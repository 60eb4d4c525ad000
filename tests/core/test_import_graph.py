"""No import cycle in ``trailwatch`` or ``components``, function-level imports included.

Two modules that import each other are one unit in two files: neither can be read, tested or reused alone,
and the cycle is usually hidden by moving one import into a function. The graph is read from the source
(:mod:`import_graph`); the walker itself is checked on a small package written here.
"""

from __future__ import annotations

from pathlib import Path

import import_graph


def test_no_import_cycles():
    edges = import_graph.graph()
    found = import_graph.cycles(edges)
    assert not found, (f"import cycles ({import_graph.figures(edges)}):\n  "
                       + "\n  ".join(import_graph.describe(c) for c in found))


def test_the_graph_covers_both_packages():
    edges = import_graph.graph()
    assert {"trailwatch.filterpattern.compile", "trailwatch.replay.engine", "components"} <= edges.keys()
    assert "trailwatch.filterpattern" in edges["trailwatch.catalog"]


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_walker_sees_function_level_relative_and_submodule_imports(tmp_path):
    write(tmp_path, {
        "pkg/__init__.py": "from .a import f\n",
        "pkg/a.py": "def f():\n    from .sub import b  # local\n    return b\n",
        "pkg/sub/__init__.py": "",
        "pkg/sub/b.py": "from .. import a\nimport os\n",
        "pkg/c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .a import f\nelse:\n    import pkg.sub\n",
    })
    edges = import_graph.graph(tmp_path, ("pkg",))
    assert edges == {"pkg": {"pkg.a"}, "pkg.a": {"pkg.sub.b"}, "pkg.sub": set(), "pkg.sub.b": {"pkg.a"},
                     "pkg.c": {"pkg.sub"}}
    assert import_graph.cycles(edges) == [["pkg.a", "pkg.sub.b"]]
    assert import_graph.figures(edges) == "modules 5, edges 4, cycles 1"


def test_walker_lists_one_cycle_per_loop_of_a_tangle():
    edges = {"a": {"b"}, "b": {"a", "c"}, "c": {"a"}, "d": {"a"}}
    assert import_graph.tangles(edges) == [["a", "b", "c"]]
    assert import_graph.cycles(edges) == [["a", "b"], ["a", "b", "c"]]
