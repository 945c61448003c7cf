"""SLD101 (and SLD102's second half) where there is no ``def`` to decorate:
wrap the generator expression in ``ThreadSafeIterator(...)``.

The expression moves into the new call as it is, with its own parentheses
and comments (a bare generator expression is valid there: it is the call's
sole argument); ``from safeloader import ThreadSafeIterator`` is added once
(or ``import safeloader`` and ``safeloader.ThreadSafeIterator(...)`` where the
module binds ``ThreadSafeIterator`` to something else).
"""

from __future__ import annotations

import libcst as cst

from safeloader.findings import Fix
from safeloader.fix.fixes import FixContext

NODE_TYPE = cst.BaseExpression

_MODULE = "safeloader"
_NAME = "ThreadSafeIterator"


def apply(
    original: cst.CSTNode, updated: cst.CSTNode, fix: Fix, context: FixContext
) -> cst.CSTNode:
    """Return ``ThreadSafeIterator(<updated>)``."""
    assert isinstance(updated, cst.BaseExpression)
    reference = context.import_name(_MODULE, _NAME)
    if reference is None:
        context.warn(f"'{_NAME}' and '{_MODULE}' already name something else here; wrap by hand")
        return updated
    return cst.Call(func=reference, args=(cst.Arg(value=updated),))
