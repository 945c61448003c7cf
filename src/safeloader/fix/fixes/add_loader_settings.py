"""SLD302/SLD301 (Keras 3): pass the loader settings to the ``PyDataset`` constructor.

``Batches(x, y)`` becomes ``Batches(x, y, workers=4, use_multiprocessing=True)``:
the settings the ``fit`` call gave (and Keras 3's ``fit`` rejects), under
their Keras 3 names, appended as keyword arguments in the call's own layout
(one per line when it has one per line; :mod:`~safeloader.fix.fixes.layout`). The analysis offers it
only for a project class whose ``__init__`` lets them reach ``PyDataset``
(with SLD105's fix where needed) and a call that passes none of them yet.
"""

from __future__ import annotations

import libcst as cst

from safeloader.findings import Fix
from safeloader.fix.fixes import FixContext
from safeloader.fix.fixes.layout import append_arguments

NODE_TYPE = cst.Call


def apply(
    original: cst.CSTNode, updated: cst.CSTNode, fix: Fix, context: FixContext
) -> cst.CSTNode:
    """Return the constructor call with ``fix.params["arguments"]`` appended."""
    assert isinstance(updated, cst.Call)
    try:
        parsed = cst.parse_expression(f"f({fix.params['arguments']})")
    except cst.ParserSyntaxError:
        context.warn("the loader settings do not read as keyword arguments; left unchanged")
        return updated
    assert isinstance(parsed, cst.Call)
    names = {arg.keyword.value for arg in parsed.args if arg.keyword is not None}
    if any(arg.keyword is not None and arg.keyword.value in names for arg in updated.args):
        context.warn("the constructor call passes a loader setting already; left unchanged")
        return updated
    return append_arguments(updated, parsed.args)
