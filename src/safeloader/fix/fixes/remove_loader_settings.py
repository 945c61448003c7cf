"""SLD302 (Keras 3): drop the loader settings from a ``fit``/``evaluate``/``predict`` call.

``model.fit(data, epochs=2, workers=4)`` becomes ``model.fit(data, epochs=2)``,
the call otherwise laid out as it was (:mod:`~safeloader.fix.fixes.layout`).
The analysis offers it when the settings moved into the data's
``PyDataset`` constructor (a fix of their own) or when the data is surely
not a ``PyDataset`` (Keras 3 reads a generator in the background already).
"""

from __future__ import annotations

import libcst as cst

from safeloader.findings import Fix
from safeloader.fix.fixes import FixContext
from safeloader.fix.fixes.layout import keyword_in, remove_arguments

NODE_TYPE = cst.Call


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
    return remove_arguments(updated, keyword_in(names))
