"""SLD101 (and SLD102's second half): decorate a generator function with
``@threadsafe_generator``.

The decorator goes directly above the ``def``, below any decorators already
there: it then wraps the generator function itself, so every call returns a
``ThreadSafeIterator`` around the generator, and decorators such as
``@staticmethod`` or ``@classmethod`` keep wrapping what they wrapped before.
``from safeloader import threadsafe_generator`` is added once (LibCST's
``AddImportsVisitor`` puts it after the docstring and ``__future__`` imports
and merges it with an existing ``from safeloader import ...``). Where the
module already binds ``threadsafe_generator`` to something else (a
hand-written one), the decorator is ``@safeloader.threadsafe_generator`` with
``import safeloader`` instead.
"""

from __future__ import annotations

import libcst as cst
from libcst.helpers import get_full_name_for_node

from safeloader.findings import Fix
from safeloader.fix.fixes import FixContext

NODE_TYPE = cst.FunctionDef

_MODULE = "safeloader"
_NAME = "threadsafe_generator"


def apply(
    original: cst.CSTNode, updated: cst.CSTNode, fix: Fix, context: FixContext
) -> cst.CSTNode:
    """Return ``updated`` with ``@threadsafe_generator`` as its innermost decorator."""
    assert isinstance(updated, cst.FunctionDef)
    names = {get_full_name_for_node(decorator.decorator) for decorator in updated.decorators}
    if _NAME in names or f"{_MODULE}.{_NAME}" in names:
        return updated
    reference = context.import_name(_MODULE, _NAME)
    if reference is None:
        context.warn(
            f"'{_NAME}' and '{_MODULE}' already name something else in this module; "
            f"decorate '{updated.name.value}' by hand"
        )
        return updated
    # comments between the decorators and the ``def`` stay above the new line
    decorator = cst.Decorator(
        decorator=reference, leading_lines=updated.lines_after_decorators
    )
    return updated.with_changes(
        decorators=(*updated.decorators, decorator), lines_after_decorators=()
    )
