"""Imports flow one way: the fixer's modules import each other without a cycle (the
engine never imports the runner that calls it), and the notebook package, which the
analysis and the fixer read notebooks through, imports neither of them."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"


def imports_of(package: str) -> dict[str, set[str]]:
    """Every module of ``package`` and the ``safeloader`` modules it imports, at its top
    or inside a function."""
    modules = {}
    for path in (SRC / package.replace(".", "/")).rglob("*.py"):
        name = ".".join(path.relative_to(SRC).with_suffix("").parts).removesuffix(".__init__")
        imported = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imported.add(node.module)
                imported.update(f"{node.module}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
        modules[name] = {module for module in imported if module.startswith("safeloader")}
    return modules


def test_the_fixer_has_no_import_cycle() -> None:
    graph = imports_of("safeloader.fix")
    inside = {name: {module for module in imported if module in graph and module != name}
              for name, imported in graph.items()}
    visiting: list[str] = []
    done: set[str] = set()

    def visit(name: str) -> None:
        assert name not in visiting, f"import cycle: {' -> '.join(visiting + [name])}"
        if name in done:
            return
        visiting.append(name)
        for module in sorted(inside[name]):
            visit(module)
        visiting.pop()
        done.add(name)

    for name in sorted(inside):
        visit(name)
    assert "safeloader.fix.runner" not in graph["safeloader.fix.engine"]


def test_the_notebook_package_imports_neither_the_analysis_nor_the_fixer() -> None:
    for name, imported in imports_of("safeloader.notebooks").items():
        assert not {module for module in imported
                    if module.startswith(("safeloader.analysis", "safeloader.fix"))}, name
