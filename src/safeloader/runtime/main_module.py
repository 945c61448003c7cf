"""What a spawned process finds of the program's ``__main__``: a script, a notebook, or nothing.

Pickle sends a function or class as its module and qualified name. For one
defined in ``__main__``, a process started with ``spawn`` or ``forkserver``
looks it up in its own ``__main__``, which multiprocessing makes by importing
the parent's main script again under the name ``__mp_main__``. So:

- in a script, what is defined under ``if __name__ == "__main__":`` is not
  there (that block does not run on import): the child dies with
  ``Can't get attribute 'shard' on <module '__mp_main__'>``;
- in a notebook (an IPython kernel: its ``__main__`` is the kernel's user
  namespace, a module with no ``__file__``) or an interactive session
  (a REPL, ``python -c``, a script read from standard input) there is no
  file to import, and nothing defined there is found.

:func:`unreachable_from_child` says which, before any process starts.
"""

from __future__ import annotations

import ast
import os
import sys
from pathlib import Path
from typing import Any

__all__ = ["GUARD", "main_file", "unreachable_from_child"]

#: How messages write the guard.
GUARD = 'if __name__ == "__main__":'


def main_file() -> str | None:
    """The file of the running program's ``__main__`` module, if it has one."""
    return getattr(sys.modules.get("__main__"), "__file__", None)


def unreachable_from_child(obj: Any) -> str | None:
    """Why a spawned process cannot find ``obj`` (a ``__main__`` function or class), or ``None``.

    The answer reads like the end of "function __main__.shard (...)": where
    ``obj`` is defined, and where to move it. ``None`` for anything not
    defined in ``__main__``, and whenever it cannot be told (precision first).
    """
    if getattr(obj, "__module__", None) != "__main__":
        return None
    path = main_file()
    if path is None or not os.path.exists(path):
        if _in_notebook_kernel():
            return ("defined in a notebook; move it to a module: a .py file next to the "
                    "notebook, imported from there")
        main = sys.modules.get("__main__")
        if getattr(getattr(main, "__spec__", None), "name", None):
            return None  # run with `python -m`: imported by module name
        return ("defined in an interactive session (a REPL, `python -c` or a script read from "
                "standard input), which a spawned process cannot import; move it to a module")
    qualname = getattr(obj, "__qualname__", "")
    line = _guarded_definition(Path(path), qualname.split(".", 1)[0])
    if line is None:
        return None
    return (f"defined under `{GUARD}` in {path} line {line}, a block a spawned process skips "
            f"when it imports that file as __mp_main__; move it to a module-level def (above "
            f"the guard, or better in a module the script imports)")


def _in_notebook_kernel() -> bool:
    """Whether this process is a Jupyter kernel (ipykernel, as in Jupyter, VS Code and Colab).

    IPython's shell in a kernel carries the ``kernel`` it serves; the
    terminal IPython's shell has none.
    """
    ipython = sys.modules.get("IPython")
    get_ipython = getattr(ipython, "get_ipython", None)
    shell = get_ipython() if callable(get_ipython) else None
    return getattr(shell, "kernel", None) is not None


def _guarded_definition(path: Path, name: str) -> int | None:
    """The line where the main script binds ``name`` only under the ``__main__`` guard.

    ``None`` when importing the script binds ``name`` (outside the guard), when
    the guard does not bind it either, or when the script cannot be read.
    """
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except (OSError, SyntaxError, ValueError):
        return None
    # Imported when needed: the runtime is imported by training scripts,
    # which rarely come here; the analysis owns what a guard is.
    from safeloader.analysis.main_guard import is_main_guard

    on_import: dict[str, int] = {}
    guarded: dict[str, int] = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.If) and is_main_guard(stmt):
            _bind(stmt.body, guarded)
            _bind(stmt.orelse, on_import)
        else:
            _bind([stmt], on_import)
    if name in on_import:
        return None
    return guarded.get(name)


def _bind(statements: list[ast.stmt], names: dict[str, int]) -> None:
    """Record in ``names`` each name ``statements`` bind at module level, with its first line.

    Function and class bodies are not entered (they bind local names);
    compound statements (``if``, ``try``, ``for``, ``with``...) are.
    """
    for stmt in statements:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.setdefault(stmt.name, stmt.lineno)
            continue
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            for alias in stmt.names:
                bound = alias.asname or alias.name.split(".", 1)[0]
                names.setdefault(bound, stmt.lineno)
            continue
        nested: list[ast.stmt] = []
        for _field, value in ast.iter_fields(stmt):
            parts = value if isinstance(value, list) else [value]
            for part in parts:
                if isinstance(part, ast.stmt):
                    nested.append(part)
                elif isinstance(part, (ast.excepthandler, ast.match_case)):
                    nested.extend(part.body)
                    if isinstance(part, ast.ExceptHandler) and part.name:
                        names.setdefault(part.name, part.lineno)
                elif isinstance(part, ast.AST):
                    for node in ast.walk(part):
                        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                            names.setdefault(node.id, node.lineno)
        _bind(nested, names)
