"""Helpers for the codemod tests: spans found with ``ast``, one codemod run (checked
against ``safeloader-fix``'s engine, which must give the same code and warnings)."""

from __future__ import annotations

import ast
import textwrap

from libcst.codemod import CodemodContext, TransformSkip, TransformSuccess, transform_module

from safeloader.fix.codemod import SafeloaderFixCommand
from safeloader.fix.engine import rewrite
from safeloader.findings import Fix, FixKind, Span


def span_of(source: str, node_type: type[ast.AST], index: int = 0, **fields: object) -> Span:
    """The ``ast`` span of the ``index``-th node of ``node_type`` whose fields match."""
    found = [
        node
        for node in ast.walk(ast.parse(source))
        if isinstance(node, node_type)
        and all(
            type(getattr(node, name, None)) is type(value) and getattr(node, name) == value
            for name, value in fields.items()
        )
    ]
    found.sort(key=lambda node: (node.lineno, node.col_offset))
    node = found[index]
    return Span(node.lineno, node.col_offset, node.end_lineno, node.end_col_offset)


def call_span(source: str, method: str, index: int = 0) -> Span:
    """The span of the ``index``-th call of ``<anything>.method(...)`` or ``method(...)``."""
    calls = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if name == method:
                calls.append(
                    Span(node.lineno, node.col_offset, node.end_lineno, node.end_col_offset)
                )
    return sorted(calls)[index]


def fix(kind: FixKind, span: Span, code: str = "SLD101", **params: str) -> tuple[str, Fix]:
    """A ``(code, fix)`` pair as the analysis would plan it."""
    return code, Fix(kind, span, params=params)


def codemod(source: str, fixes: list[tuple[str, Fix]],
            ) -> tuple[str, list[str], list[tuple[str, Fix]]]:
    """Apply ``fixes`` to ``source`` with the codemod, as LibCST's runner would: the new
    code (``source`` itself when the command skipped the file, as it must when it
    changes nothing), the warnings, and the codes of the fixes applied."""
    command = SafeloaderFixCommand(CodemodContext(filename="example.py"), fixes=fixes)
    result = transform_module(command, source)
    if isinstance(result, TransformSkip):
        assert not command.applied
        return source, list(result.warning_messages), []
    assert isinstance(result, TransformSuccess), getattr(result, "traceback_str", result)
    assert result.code != source
    return result.code, list(result.warning_messages), list(command.applied)


def run_fixes(source: str, fixes: list[tuple[str, Fix]]) -> tuple[str, list[str]]:
    """Apply ``fixes`` to ``source`` with the codemod; return the new code and the
    warnings, after checking that the engine gives the same."""
    code, warnings, applied = codemod(source, fixes)
    engine = rewrite(source, "example.py", fixes)
    assert (engine.text, list(engine.warnings)) == (code, warnings)
    assert engine.applied == tuple(applied)
    return code, warnings


def dedent(text: str) -> str:
    """``textwrap.dedent`` without the leading newline."""
    return textwrap.dedent(text).lstrip("\n")
