"""SLD102 (an unsafe fix, only with ``--unsafe-fixes``): turn multiprocessing
loading off by setting the argument to ``False``.

The span is the argument's value; the handler rewrites the enclosing argument
(``use_multiprocessing=True`` becomes ``use_multiprocessing=False``, Keras 1's
``pickle_safe`` likewise), keeping its spacing and comma. An argument named
otherwise than the fix's ``keyword`` is left alone with a warning. The other
half of SLD102's fix (making the generator thread-safe) is a separate fix.
When the call also loads a ``Sequence`` (safe under processes), the fix's
``note`` param says what the change costs it, and the note is printed with
the fix's position.
"""

from __future__ import annotations

import libcst as cst

from safeloader.findings import Fix
from safeloader.fix.fixes import MATCH_ENCLOSING, FixContext

NODE_TYPE = cst.Arg
MATCH = MATCH_ENCLOSING


def apply(
    original: cst.CSTNode, updated: cst.CSTNode, fix: Fix, context: FixContext
) -> cst.CSTNode:
    """Return the argument with ``False`` as its value."""
    assert isinstance(updated, cst.Arg)
    expected = fix.params.get("keyword")
    if updated.star or (updated.keyword is not None and updated.keyword.value != expected):
        context.warn(f"expected the argument '{expected}' here; left unchanged")
        return updated
    if "note" in fix.params:
        context.warn(fix.params["note"])
    return updated.with_changes(value=cst.Name("False"))
