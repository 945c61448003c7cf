"""SLD304: a list display inside a ``PyDataset`` batch becomes a tuple display.

``[x1, x2]`` becomes ``(x1, x2)`` and ``[y]`` becomes ``(y,)``: the brackets
turn into parentheses, keeping the whitespace and comments inside them, and a
single element gets the comma that makes it a tuple. Parentheses already
around the list stay around the tuple. Nothing else changes.
"""

from __future__ import annotations

import libcst as cst

from safeloader.findings import Fix
from safeloader.fix.fixes import FixContext

NODE_TYPE = cst.List


def apply(
    original: cst.CSTNode, updated: cst.CSTNode, fix: Fix, context: FixContext
) -> cst.CSTNode:
    """Return ``updated`` as a tuple display."""
    assert isinstance(updated, cst.List)
    elements = list(updated.elements)
    if len(elements) == 1 and not isinstance(elements[0].comma, cst.Comma):
        elements[0] = elements[0].with_changes(comma=cst.Comma())
    own_lpar = cst.LeftParen(whitespace_after=updated.lbracket.whitespace_after)
    own_rpar = cst.RightParen(whitespace_before=updated.rbracket.whitespace_before)
    return cst.Tuple(elements=elements, lpar=[*updated.lpar, own_lpar],
                     rpar=[own_rpar, *updated.rpar])
