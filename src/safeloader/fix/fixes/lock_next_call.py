"""SLD201: put the statement that advances the wrapped iterator under its lock.

``return next(self.it)`` becomes::

    with self.lock:
        return next(self.it)

The span is the advancing call; the edit is its statement (``MATCH_ENCLOSING``).
A one-line body (``def __next__(self): return next(self.it)``) becomes an
indented block first. The statement's comments stay on its line. Lines holding
several statements (``a; b``) are left alone with a warning: putting unrelated
code under the lock could deadlock.
"""

from __future__ import annotations

import libcst as cst

from safeloader.findings import Fix
from safeloader.fix.fixes import MATCH_ENCLOSING, FixContext

NODE_TYPE = (cst.SimpleStatementLine, cst.SimpleStatementSuite)
MATCH = MATCH_ENCLOSING


def _locked(lines: cst.SimpleStatementLine, owner: str, lock: str) -> cst.With:
    item = cst.WithItem(item=cst.Attribute(value=cst.Name(owner), attr=cst.Name(lock)))
    return cst.With(items=[item], leading_lines=lines.leading_lines,
                    body=cst.IndentedBlock(body=[lines.with_changes(leading_lines=())]))


def apply(
    original: cst.CSTNode, updated: cst.CSTNode, fix: Fix, context: FixContext
) -> cst.CSTNode:
    """Return ``updated`` under ``with <owner>.<lock>:``."""
    assert isinstance(updated, (cst.SimpleStatementLine, cst.SimpleStatementSuite))
    lock = fix.params["lock"]
    owner = fix.params.get("owner", "self")
    if len(updated.body) != 1:
        context.warn(f"the call shares its line with other statements; put it under "
                     f"'with {owner}.{lock}:' by hand")
        return updated
    if isinstance(updated, cst.SimpleStatementLine):
        return _locked(updated, owner, lock)
    line = cst.SimpleStatementLine(body=[updated.body[0].with_changes(
        semicolon=cst.MaybeSentinel.DEFAULT)], trailing_whitespace=updated.trailing_whitespace)
    return cst.IndentedBlock(body=[_locked(line, owner, lock)])
