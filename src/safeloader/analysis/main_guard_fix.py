"""SLD103's fix: the module's training statements move under ``if __name__ == "__main__":``.

The statements that move are the module's top-level statements from the
first one that is not an import, a ``def``, a ``class``, the docstring or a
constant assignment (``EPOCHS = 10``) to the end, less the ``def`` and
``class`` statements, which stay at top level (a worker process must find
them when it imports the module); an existing ``__main__`` block is merged.
:func:`plan_main_guard` returns the fix, or the fix with a ``refused``
reason when the move would break the program:

* a ``def`` or ``class`` that stays reads, when the module is imported
  (decorators, bases, defaults, a class body), a name that only moved
  statements bind;
* a class or function that worker processes run (the module's
  ``Sequence``/``PyDataset`` subclasses, and the module-level classes and
  functions they use) reads a global that only moved statements bind: in a
  spawned worker it would not exist.
"""

from __future__ import annotations

import ast
from typing import Iterator

from safeloader.analysis.class_dataset import derives_from_dataset
from safeloader.analysis.class_index import ModuleIndex
from safeloader.analysis.generators import node_span
from safeloader.analysis.main_guard import is_main_guard
from safeloader.findings import Fix, FixKind

_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)


def plan_main_guard(tree: ast.Module) -> Fix | None:
    """The GUARD_MAIN fix of ``tree`` (``params["refused"]`` says why it must not apply)."""
    body = tree.body
    first = next((i for i, stmt in enumerate(body) if not _stays_put(stmt, i)), None)
    if first is None:
        return None
    moved = [stmt for stmt in body[first:] if not isinstance(stmt, _DEFS)]
    kept = [stmt for stmt in body if stmt not in moved]
    hidden = _bound(moved) - _bound(kept)
    span = node_span(body[first])
    guards = [stmt for stmt in moved if is_main_guard(stmt)]
    refusal = _refusal(tree, kept, hidden, guards)
    params = {"refused": refusal} if refusal else {}
    return Fix(FixKind.GUARD_MAIN, span, params=params)


def _stays_put(stmt: ast.stmt, index: int) -> bool:
    """Whether ``stmt`` (the ``index``-th of the module) belongs before the training code."""
    if isinstance(stmt, (ast.Import, ast.ImportFrom, *_DEFS)):
        return True
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
        return index == 0 and isinstance(stmt.value.value, str)
    if isinstance(stmt, (ast.Assign, ast.AnnAssign)) and stmt.value is not None:
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        return all(isinstance(t, ast.Name) for t in targets) and _is_constant(stmt.value)
    return False


def _is_constant(node: ast.expr) -> bool:
    try:
        ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


def _refusal(tree: ast.Module, kept: list[ast.stmt], hidden: set[str],
             guards: list[ast.stmt]) -> str:
    if any(isinstance(guard, ast.If) and guard.orelse for guard in guards):
        return "the existing 'if __name__ == \"__main__\":' block has an else branch"
    definitions = {stmt.name: stmt for stmt in kept if isinstance(stmt, _DEFS)}
    for stmt in kept:
        if isinstance(stmt, _DEFS):
            for name in _read_on_import(stmt):
                if name in hidden:
                    return (f"'{stmt.name}' reads '{name}' when the module is imported, "
                            "and the move would bind it only under the guard")
    for definition in _worker_code(tree, definitions):
        for name in _globals_read(definition):
            if name in hidden:
                return (f"'{definition.name}', which worker processes run, reads the global "
                        f"'{name}', which the move would hide from them")
    return ""


def _worker_code(tree: ast.Module, definitions: dict[str, ast.stmt]) -> Iterator[ast.stmt]:
    """The module's dataset classes and the module-level definitions they use, transitively."""
    index = ModuleIndex.of(tree)
    pending = [stmt for stmt in definitions.values()
               if isinstance(stmt, ast.ClassDef) and derives_from_dataset(index, stmt)]
    seen: set[str] = set()
    while pending:
        definition = pending.pop()
        assert isinstance(definition, _DEFS)
        if definition.name in seen:
            continue
        seen.add(definition.name)
        yield definition
        pending.extend(definitions[name] for name in _globals_read(definition)
                       if name in definitions)


def _bound(statements: list[ast.stmt]) -> set[str]:
    """The global names ``statements`` bind (not inside functions or classes)."""
    names: set[str] = set()
    pending: list[ast.AST] = list(statements)
    while pending:
        node = pending.pop()
        if isinstance(node, _DEFS):
            names.add(node.name)
            continue
        if isinstance(node, (ast.Lambda, ast.GeneratorExp, ast.ListComp, ast.SetComp,
                             ast.DictComp)):
            continue
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            names.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, ast.NamedExpr) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        pending.extend(ast.iter_child_nodes(node))
    return names


def _read_on_import(definition: ast.stmt) -> set[str]:
    """Names a ``def``/``class`` statement reads when it executes (not its functions' bodies)."""
    assert isinstance(definition, _DEFS)
    roots: list[ast.AST] = list(definition.decorator_list)
    if isinstance(definition, ast.ClassDef):
        roots += [*definition.bases, *definition.keywords]
        roots += list(definition.body)
    else:
        roots += [*definition.args.defaults, *definition.args.kw_defaults]
    names: set[str] = set()
    pending = [root for root in roots if root is not None]
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            pending.extend([*node.decorator_list, *node.args.defaults,
                            *(d for d in node.args.kw_defaults if d is not None)])
            continue
        if isinstance(node, ast.Lambda):
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            names.add(node.id)
        pending.extend(ast.iter_child_nodes(node))
    return names


def _globals_read(definition: ast.stmt) -> set[str]:
    """Names a ``def``/``class`` reads anywhere that none of its functions binds locally.

    An approximation on the safe side: a name read in one method and bound in
    another counts as local, one read in a comprehension as global.
    """
    loaded: set[str] = set()
    local: set[str] = set()
    for node in ast.walk(definition):
        if isinstance(node, ast.Name):
            (loaded if isinstance(node.ctx, ast.Load) else local).add(node.id)
        elif isinstance(node, ast.arg):
            local.add(node.arg)
        elif isinstance(node, _FUNCTIONS) and node is not definition:
            if not isinstance(node, ast.Lambda):
                local.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            local.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, ast.Global):
            loaded.update(node.names)
    return loaded - local
