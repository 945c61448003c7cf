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
    # Imported when needed: the runtime is imported by training scripts, which
    # rarely come here; the analysis owns what a guard is and what binds a name,
    # and keeps the script's parse while the file stays as it is.
    from safeloader.analysis.main_guard import is_main_guard
    from safeloader.analysis.project import load_module, resolved
    from safeloader.analysis.scopes import BindingKind

    module = load_module(resolved(path))
    if module is None:
        return None
    guarded = []
    for binding in module.scope().bindings().get(name, []):
        if binding.kind is BindingKind.ELSEWHERE:
            continue  # a function's ``global`` statement: when it runs is unknown
        block = binding.path[0] if binding.path else None
        if block is None or block[1] != "body" or not (
                isinstance(block[0], ast.If) and is_main_guard(block[0])):
            return None  # bound when the script is imported
        guarded.append(binding.start[0])
    return min(guarded, default=None)
