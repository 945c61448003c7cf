"""Spawn parity: what worker processes would meet on Windows and macOS.

On Linux, Keras' worker processes fork: they inherit the dataset and never
re-run the script. Under ``spawn`` (Windows, macOS) each worker receives a
pickled copy of the dataset and first imports the main script, running its
module level again. Two checks, on by default, give a Linux run that
parity:

- the dataset bound for the workers is pickled as ``multiprocessing`` would
  (``safeloader.check_spawn_safe``), which names the part that cannot go,
  e.g. ``Frames.stream: generator object``;
- the call must not run from the script's module level outside an
  ``if __name__ == "__main__":`` block (SLD103): the statement of the
  script's module frame that leads to the call is looked up in its syntax
  tree.
"""

from __future__ import annotations

import ast
import functools
import os
import sys
from types import FrameType

from safeloader.analysis.main_guard import is_main_guard
from safeloader.doctor.callsite import SourcePosition, shown_path
from safeloader.runtime.spawn_safety import SpawnSafetyError, check_spawn_safe


def spawn_problem(dataset: object) -> SpawnSafetyError | None:
    """Why ``dataset`` cannot be sent to a spawned worker, or ``None``."""
    try:
        check_spawn_safe(dataset)
    except SpawnSafetyError as error:
        return error
    return None


@functools.lru_cache(maxsize=8)
def _module_statements(path: str) -> tuple[ast.stmt, ...]:
    with open(path, "rb") as source:
        return tuple(ast.parse(source.read(), path).body)


def unguarded_start(script: str, frame: FrameType | None = None) -> SourcePosition | None:
    """The script's module-level line that leads to this call, when it is not under
    ``if __name__ == "__main__":``; ``None`` when it is guarded or the call does not
    come from the script's module level (a thread, another module's import)."""
    target = os.path.abspath(script)
    current = frame if frame is not None else sys._getframe(1)
    while current is not None:
        code = current.f_code
        if code.co_name == "<module>" and os.path.abspath(code.co_filename) == target:
            break
        current = current.f_back
    if current is None:
        return None
    line = current.f_lineno
    try:
        statements = _module_statements(target)
    except (OSError, SyntaxError):
        return None
    for statement in statements:
        end = statement.end_lineno or statement.lineno
        if statement.lineno <= line <= end:
            if is_main_guard(statement) and _in_body(statement, line):
                return None
            return SourcePosition(shown_path(target), line)
    return None


def _in_body(guard: ast.stmt, line: int) -> bool:
    assert isinstance(guard, ast.If)
    return any(stmt.lineno <= line <= (stmt.end_lineno or stmt.lineno) for stmt in guard.body)
