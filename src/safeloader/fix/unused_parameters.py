"""Parameters a fix leaves unused: said, never removed.

Removing ``use_multiprocessing=gen_use_multiprocessing`` from a ``fit`` call
(SLD302) can leave the enclosing function's parameter
``gen_use_multiprocessing`` read nowhere. Removing the parameter too would
change the function's signature, which its callers (perhaps in other
projects) rely on, so the fixer leaves it and says so, naming the parameter,
the function and where it is.
"""

from __future__ import annotations

import ast
from collections import Counter
from typing import Iterable, Iterator

_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
_Function = ast.FunctionDef | ast.AsyncFunctionDef


def _functions(tree: ast.Module) -> Iterator[tuple[tuple[str, int], _Function]]:
    """Every function of ``tree`` keyed by its qualified name and how many
    functions of that name came before it (a name may be defined twice)."""
    seen: Counter[str] = Counter()
    pending: list[tuple[str, list[ast.stmt]]] = [("", tree.body)]
    while pending:
        prefix, statements = pending.pop()
        for statement in statements:
            if isinstance(statement, _FUNCTIONS):
                name = f"{prefix}{statement.name}"
                yield (name, seen[name]), statement
                seen[name] += 1
                pending.append((f"{name}.<locals>.", statement.body))
            elif isinstance(statement, ast.ClassDef):
                pending.append((f"{prefix}{statement.name}.", statement.body))
            else:
                pending.extend((prefix, block) for block in _blocks(statement))


def _blocks(statement: ast.stmt) -> Iterator[list[ast.stmt]]:
    """The statement lists nested in ``statement`` (functions are only found there)."""
    for name in ("body", "orelse", "finalbody"):
        block = getattr(statement, name, None)
        if block:
            yield block
    for holder in [*getattr(statement, "handlers", ()), *getattr(statement, "cases", ())]:
        yield holder.body


def _parameters(function: _Function) -> list[ast.arg]:
    arguments = function.args
    return [*arguments.posonlyargs, *arguments.args,
            *([arguments.vararg] if arguments.vararg else []), *arguments.kwonlyargs,
            *([arguments.kwarg] if arguments.kwarg else [])]


def _names_read(function: _Function) -> set[str]:
    """The names the body of ``function`` mentions (its nested functions' too)."""
    return {node.id for statement in function.body for node in ast.walk(statement)
            if isinstance(node, ast.Name)}


def parameters_left_unused(before: ast.Module, after: ast.Module,
                           changed_lines: Iterable[int], line_offset: int = 0) -> list[str]:
    """Warnings (``line:column: message``, at the parameter in ``before``, whose
    lines are the file's less ``line_offset``) for the parameters that a function
    of ``before`` holding one of ``changed_lines`` reads and its counterpart in
    ``after`` no longer does."""
    lines = sorted({line - line_offset for line in changed_lines})
    touched = {
        key: function for key, function in _functions(before)
        if any(function.lineno <= line <= (function.end_lineno or function.lineno)
               for line in lines)
    }
    if not touched:
        return []
    warnings = []
    for key, fixed in _functions(after):
        function = touched.get(key)
        if function is None:
            continue
        names = [parameter.arg for parameter in _parameters(function)]
        if names != [parameter.arg for parameter in _parameters(fixed)]:
            continue
        read_before, read_after = _names_read(function), _names_read(fixed)
        for parameter in _parameters(function):
            if parameter.arg in read_before and parameter.arg not in read_after:
                warnings.append(
                    f"{parameter.lineno + line_offset}:{parameter.col_offset + 1}: parameter "
                    f"'{parameter.arg}' of {key[0]}() is no longer used after the fix; "
                    "the signature is kept for its callers: remove it by hand if none "
                    "needs it"
                )
    return warnings
