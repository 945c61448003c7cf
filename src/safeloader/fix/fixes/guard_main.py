"""SLD103 (unsafe): move the training statements under ``if __name__ == "__main__":``.

The fix's span is the first statement that moves (the analysis,
:mod:`safeloader.analysis.main_guard_fix`, chose it and checked that the
move hides nothing a worker process needs). From there to the end of the
module every statement moves, in order, into one guard block at the end,
except ``def`` and ``class`` statements, which stay at top level; an
existing ``__main__`` block is merged into it. Nothing else changes. With
``refused`` set, the module is left alone and the reason is reported.
"""

from __future__ import annotations

from typing import Sequence

import libcst as cst

from safeloader.findings import Fix
from safeloader.fix.fixes import MATCH_ENCLOSING, FixContext
from safeloader.source_text import split_lines

NODE_TYPE = cst.Module
MATCH = MATCH_ENCLOSING

_GUARDS = frozenset({'__name__=="__main__"', '"__main__"==__name__'})
_DEFS = (cst.FunctionDef, cst.ClassDef)


def apply(
    original: cst.CSTNode, updated: cst.CSTNode, fix: Fix, context: FixContext
) -> cst.CSTNode:
    """Return the module with its training statements under the ``__main__`` guard."""
    assert isinstance(original, cst.Module) and isinstance(updated, cst.Module)
    refused = fix.params.get("refused")
    if refused:
        context.warn(f"not moved under 'if __name__ == \"__main__\":': {refused}")
        return updated
    first = _statement_at(original, fix.span.line)
    if first is None or len(original.body) != len(updated.body):
        context.warn("the statements changed under another fix; left unchanged")
        return updated
    kept = [stmt for stmt in updated.body[:first]]
    block: list[cst.BaseStatement] = []
    for stmt in updated.body[first:]:
        if isinstance(stmt, _DEFS):
            kept.append(stmt)
        elif _is_main_guard(original, stmt):
            block.extend(_block_statements(stmt))
        else:
            block.append(stmt)
    if not block:
        return updated
    block = [stmt.with_changes(leading_lines=_unindented_blanks(stmt.leading_lines))
             for stmt in block]
    leading = block[0].leading_lines
    block[0] = block[0].with_changes(leading_lines=_without_blank_start(leading))
    if kept and isinstance(kept[-1], _DEFS):
        leading = [cst.EmptyLine(), cst.EmptyLine()]
    guard = cst.If(
        test=cst.parse_expression('__name__ == "__main__"'),
        body=cst.IndentedBlock(body=block),
        leading_lines=leading,
    )
    return updated.with_changes(body=[*kept, guard])


def _statement_at(module: cst.Module, line: int) -> int | None:
    """The index of the top-level statement of ``module`` whose lines hold ``line``
    (lines counted as the analysis counts them: a lone CR ends a line too)."""
    start = 1 + len(module.header)
    for index, stmt in enumerate(module.body):
        end = start + len(split_lines(module.code_for_node(stmt)))
        if start <= line < end:
            return index
        start = end
    return None


def _is_main_guard(module: cst.Module, stmt: cst.BaseStatement) -> bool:
    if not isinstance(stmt, cst.If) or stmt.orelse is not None:
        return False
    test = "".join(module.code_for_node(stmt.test).split()).replace("'", '"')
    return test in _GUARDS


def _block_statements(guard: cst.If) -> list[cst.BaseStatement]:
    body = guard.body
    if isinstance(body, cst.IndentedBlock):
        return list(body.body)
    assert isinstance(body, cst.SimpleStatementSuite)
    return [cst.SimpleStatementLine(body=body.body)]


def _unindented_blanks(lines: Sequence[cst.EmptyLine]) -> list[cst.EmptyLine]:
    """Blank lines inside the block: empty (no indentation written on them), and at most
    one in a row, as pycodestyle wants in an indented block (E303)."""
    kept: list[cst.EmptyLine] = []
    for line in lines:
        if line.comment is not None:
            kept.append(line)
        elif not kept or kept[-1].comment is not None:
            kept.append(line.with_changes(indent=False, whitespace=cst.SimpleWhitespace("")))
    return kept


def _without_blank_start(lines: Sequence[cst.EmptyLine]) -> list[cst.EmptyLine]:
    lines = list(lines)
    while lines and lines[0].comment is None:
        lines.pop(0)
    return lines
