"""The scope helpers the rules share: what a name is assigned, and the names of a display."""

from __future__ import annotations

import ast

import pytest

from safeloader.analysis.scopes import Reference, Scope, assigned_value, display_names, position


def _last_use(source: str, name: str) -> tuple[ast.Name, Reference]:
    """The last read of ``name`` at module level in ``source``, and its reference."""
    tree = ast.parse(source)
    reads = [node for node in ast.walk(tree)
             if isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, ast.Load)]
    use = max(reads, key=position)
    path = ()
    for stmt in tree.body:  # the reads these tests make are in a top-level loop or none
        if isinstance(stmt, ast.For) and stmt.lineno <= use.lineno <= (stmt.end_lineno or 0):
            path = ((stmt, "body"),)
    return use, Reference(Scope(tree, None), position(use), path)


def test_a_name_assigned_once_gives_its_expression_and_where_it_is_read() -> None:
    use, reference = _last_use("steps = n / 2\nx = steps\n", "steps")
    found = assigned_value(use.id, reference)
    assert found is not None
    value, inner = found
    assert ast.unparse(value) == "n / 2"
    assert inner.position == (1, 0) and inner.scope is reference.scope


@pytest.mark.parametrize("source", [
    "for steps in range(3):\n    pass\nx = steps\n",  # a loop target
    "import steps\nx = steps\n",  # an import
    "def steps():\n    pass\nx = steps\n",  # a def
    "if c:\n    steps = 1\nelse:\n    steps = 2\nx = steps\n",  # no one binding dominates
    "steps = 1\nfor i in r:\n    x = steps\n    steps = 2\n",  # rebound later in the loop
    "x = steps\n",  # unbound
])
def test_no_expression_where_the_binding_is_not_one_certain_assignment(source: str) -> None:
    use, reference = _last_use(source, "steps")
    assert assigned_value(use.id, reference) is None


def test_display_names_nested_and_starred() -> None:
    target = ast.parse("a, (b, [c, *d]), e.f, g[0] = z").body[0]
    assert isinstance(target, ast.Assign)
    names = {name.id for name in display_names(target.targets[0])}
    assert names == {"a", "b", "c", "d"}
    unstarred = {name.id for name in display_names(target.targets[0], starred=False)}
    assert unstarred == {"a", "b", "c"}
    assert [name.id for name in display_names(ast.Name("x"))] == ["x"]
