"""SLD203 and SLD303: replace the hand-written ``threadsafe_iter`` / ``threadsafe_generator``.

The class or function is removed and the same name is imported from
safeloader instead, so every use of it in the file still resolves:
``from safeloader import threadsafe_iter`` (safeloader's own alias of
``ThreadSafeIterator``), ``from safeloader import threadsafe_generator``, or
``from safeloader import ThreadSafeIterator as ThreadSafeIter`` for other
names. Imports only the removed code used (``import threading``) go too, when
nothing else uses them, and so does the new import when nothing uses the name
any more (a class that only the decorator removed with it returned), unless
the fix says to keep it (``keep_import``): a decorator, or a class its module
never used, which other modules may import from this one (the forum's
recipe keeps them in ``data.py`` for ``train.py``).
"""

from __future__ import annotations

import libcst as cst

from safeloader.findings import Fix
from safeloader.fix.fixes import FixContext

NODE_TYPE = (cst.ClassDef, cst.FunctionDef)

_MODULE = "safeloader"
#: what ``safeloader`` exports under each name
_EXPORTS = {"ThreadSafeIterator": "ThreadSafeIterator", "threadsafe_iter": "ThreadSafeIterator",
            "threadsafe_generator": "threadsafe_generator"}


def apply(
    original: cst.CSTNode, updated: cst.CSTNode, fix: Fix, context: FixContext
) -> cst.CSTNode | cst.RemovalSentinel:
    """Remove ``updated`` and import its name from safeloader."""
    assert isinstance(updated, (cst.ClassDef, cst.FunctionDef))
    name, replacement = fix.params["name"], fix.params["replacement"]
    if updated.name.value != name or replacement not in _EXPORTS.values():
        context.warn(f"'{updated.name.value}' is not the hand-written '{name}'; left as it is")
        return updated
    context.remove_imports_used_by(original)
    asname = None if _EXPORTS.get(name) == replacement else name
    context.add_import(_MODULE, replacement if asname else name, asname=asname)
    if fix.params.get("keep_import") != "yes":
        # the name may have been used only by other wrappers removed in the same pass
        context.remove_import(_MODULE, replacement if asname else name, asname)
    return cst.RemoveFromParent()
