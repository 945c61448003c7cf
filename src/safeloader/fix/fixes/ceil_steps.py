"""SLD305: a float step count is rounded up as Keras 2 counted it.

Keras 2 ran steps while the step index was below the value, that is
``math.ceil(value)`` steps. A literal (``2.5``) becomes the integer the
analysis computed (the fix's ``value`` param, ``3``); any other expression
is wrapped: ``math.ceil(n * 0.7 // batch)``, with ``import math`` added (or
``from math import ceil`` and ``ceil(...)`` where the module binds ``math``
to something else). Parentheses around the expression are dropped inside
the new call, where they are not needed.
"""

from __future__ import annotations

import libcst as cst

from safeloader.findings import Fix
from safeloader.fix.fixes import FixContext

NODE_TYPE = cst.BaseExpression

_MODULE = "math"
_NAME = "ceil"


def apply(
    original: cst.CSTNode, updated: cst.CSTNode, fix: Fix, context: FixContext
) -> cst.CSTNode:
    """Return the rounded literal, or ``math.ceil(<updated>)``."""
    assert isinstance(updated, cst.BaseExpression)
    if "value" in fix.params:
        literal = cst.parse_expression(fix.params["value"])
        return literal.with_changes(lpar=updated.lpar, rpar=updated.rpar)
    module = context.import_module(_MODULE)
    func = (cst.Attribute(value=module, attr=cst.Name(_NAME)) if module is not None
            else context.import_name(_MODULE, _NAME))
    if func is None:
        context.warn(f"'{_MODULE}' and '{_NAME}' already name something else here; "
                     f"round the steps up by hand")
        return updated
    inner = updated.with_changes(lpar=(), rpar=()) if _simple_parentheses(updated) else updated
    return cst.Call(func=func, args=(cst.Arg(value=inner),))


def _simple_parentheses(node: cst.BaseExpression) -> bool:
    """Whether ``node`` has parentheses of its own and they hold no comment or line
    break (dropping them loses nothing)."""
    return (bool(node.lpar)
            and all(isinstance(paren.whitespace_after, cst.SimpleWhitespace)
                    for paren in node.lpar)
            and all(isinstance(paren.whitespace_before, cst.SimpleWhitespace)
                    for paren in node.rpar))
