"""SLD304: a list inside a ``PyDataset`` batch becomes a tuple.

A display: ``[x1, x2]`` becomes ``(x1, x2)`` and ``[y]`` becomes ``(y,)``: the
brackets turn into parentheses, keeping the whitespace and comments inside
them, and a single element gets the comma that makes it a tuple.

A comprehension: ``[f(x) for x in xs]`` becomes ``tuple(f(x) for x in xs)``,
the same elements in the same order (a generator expression has a scope of
its own, as the comprehension had). The analysis offers it only where
``__getitem__`` does not bind ``tuple``; where the module binds it, the fix
is left undone with a warning.

Parentheses already around the list stay around the result. Nothing else changes.
"""

from __future__ import annotations

import libcst as cst

from safeloader.findings import Fix
from safeloader.fix.fixes import FixContext

NODE_TYPE = (cst.List, cst.ListComp)


def apply(
    original: cst.CSTNode, updated: cst.CSTNode, fix: Fix, context: FixContext
) -> cst.CSTNode:
    """Return ``updated`` as a tuple display, or as ``tuple(<generator expression>)``."""
    if isinstance(updated, cst.ListComp):
        return _comprehension_to_tuple(updated, context)
    assert isinstance(updated, cst.List)
    elements = list(updated.elements)
    if len(elements) == 1 and not isinstance(elements[0].comma, cst.Comma):
        elements[0] = elements[0].with_changes(comma=cst.Comma())
    own_lpar = cst.LeftParen(whitespace_after=updated.lbracket.whitespace_after)
    own_rpar = cst.RightParen(whitespace_before=updated.rbracket.whitespace_before)
    return cst.Tuple(elements=elements, lpar=[*updated.lpar, own_lpar],
                     rpar=[own_rpar, *updated.rpar])


def _comprehension_to_tuple(updated: cst.ListComp, context: FixContext) -> cst.CSTNode:
    if context.is_bound("tuple"):
        context.warn("'tuple' names something else in this module; make the list "
                     "comprehension a tuple by hand")
        return updated
    generator = cst.GeneratorExp(elt=updated.elt, for_in=updated.for_in, lpar=(), rpar=())
    return cst.Call(func=cst.Name("tuple"),
                    whitespace_before_args=updated.lbracket.whitespace_after,
                    args=(cst.Arg(value=generator,
                                  whitespace_after_arg=updated.rbracket.whitespace_before),),
                    lpar=updated.lpar, rpar=updated.rpar)
