"""SLD302 (Keras 3): drop the loader settings from a ``fit``/``evaluate``/``predict`` call.

``model.fit(data, epochs=2, workers=4)`` becomes ``model.fit(data, epochs=2)``.
The analysis offers it when the settings moved into the data's
``PyDataset`` constructor (a fix of their own) or when the data is surely
not a ``PyDataset`` (Keras 3 reads a generator in the background already).
"""

from __future__ import annotations

from typing import Sequence

import libcst as cst

from safeloader.findings import Fix
from safeloader.fix.fixes import FixContext

NODE_TYPE = cst.Call


def without_keywords(args: Sequence[cst.Arg], names: frozenset[str]) -> list[cst.Arg]:
    """``args`` less the keyword arguments named in ``names``, commas kept tidy.

    When the last argument goes, the new last one takes its comma (none, or
    the trailing comma of a multi-line call), so no ``f(a, )`` is left.
    """
    kept = [arg for arg in args if arg.keyword is None or arg.keyword.value not in names]
    if kept and args and kept[-1] is not args[-1]:
        kept[-1] = kept[-1].with_changes(comma=args[-1].comma)
    return kept


def apply(
    original: cst.CSTNode, updated: cst.CSTNode, fix: Fix, context: FixContext
) -> cst.CSTNode:
    """Return the call without the keyword arguments named in ``fix.params["keywords"]``."""
    assert isinstance(updated, cst.Call)
    names = frozenset(name for name in fix.params["keywords"].split(",") if name)
    present = {arg.keyword.value for arg in updated.args if arg.keyword is not None}
    if not names <= present:
        missing = ", ".join(sorted(names - present))
        context.warn(f"expected keyword argument(s) {missing} here; left unchanged")
        return updated
    return updated.with_changes(args=without_keywords(updated.args, names))
