"""SLD103 in a notebook under Keras 3 (an unsafe fix, only with ``--unsafe-fixes``): load
in threads the dataset whose constructor the settings move into.

``model.fit(Batches(x), workers=2, use_multiprocessing=True)`` is fixed by SLD302 (or
SLD301) into ``model.fit(Batches(x, workers=2, use_multiprocessing=True))``; spawned
workers cannot import the notebook's ``Batches``, so SLD103's thread route then sets
``use_multiprocessing=False`` in that constructor call, in the same pass. The span is
the constructor call; the handler runs after the move on the same call (``ORDER``) and
changes the value of the keyword argument named by the fix's ``keyword`` param. When
the call passes no such argument (the move was not selected, or refused), it is left
unchanged with a warning.
"""

from __future__ import annotations

import libcst as cst

from safeloader.findings import Fix
from safeloader.fix.fixes import FixContext

NODE_TYPE = cst.Call
#: after ``ADD_LOADER_SETTINGS`` on the same call, which puts the argument there
ORDER = 1


def apply(
    original: cst.CSTNode, updated: cst.CSTNode, fix: Fix, context: FixContext
) -> cst.CSTNode:
    """Return the call with ``False`` as the value of its ``fix.params["keyword"]`` argument."""
    assert isinstance(updated, cst.Call)
    keyword = fix.params["keyword"]
    found = [index for index, arg in enumerate(updated.args)
             if arg.keyword is not None and arg.keyword.value == keyword]
    if len(found) != 1:
        context.warn(f"expected the argument '{keyword}' here, where the fix of SLD302 or "
                     "SLD301 moves the loader settings; left unchanged")
        return updated
    args = list(updated.args)
    args[found[0]] = args[found[0]].with_changes(value=cst.Name("False"))
    return updated.with_changes(args=args)
