"""SLD202: give a Python 2 iterator class the ``__next__`` Python 3 calls.

Right after the class's ``def next(self)`` comes::

    def __next__(self):
        return self.next()

Calling ``self.next()`` (rather than ``__next__ = next``) keeps a subclass's
override of ``next`` in effect. A class that already has ``__next__`` is
returned unchanged.

Python 2's own spelling inside that ``next`` is rewritten too: the classic
lock wrapper's ``return self.it.next()`` would raise ``AttributeError`` on a
Python 3 generator, so every ``<expression>.next()`` call without arguments
in the method's body (not in functions or classes nested in it, and not
``self.next()``) becomes ``next(<expression>)``, in place, so a call under
the wrapper's lock stays under it.
"""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from safeloader.findings import Fix
from safeloader.fix.fixes import FixContext, OwnBodyTransformer

NODE_TYPE = cst.ClassDef


def _blank_lines(statement: cst.BaseStatement) -> list[cst.EmptyLine]:
    lines = getattr(statement, "leading_lines", ())
    return [line for line in lines if line.comment is None]


class _Python2NextCalls(OwnBodyTransformer):
    """Rewrites ``<expression>.next()`` as ``next(<expression>)``, except on ``owner``."""

    def __init__(self, owner: str) -> None:
        super().__init__()
        self._owner = owner

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        func = updated_node.func
        if (
            updated_node.args
            or not m.matches(func, m.Attribute(attr=m.Name("next")))
            or m.matches(func, m.Attribute(value=m.Name(self._owner)))
        ):
            return updated_node
        assert isinstance(func, cst.Attribute)
        return updated_node.with_changes(
            func=cst.Name("next"), args=[cst.Arg(func.value)],
            whitespace_after_func=cst.SimpleWhitespace(""),
        )


def apply(
    original: cst.CSTNode, updated: cst.CSTNode, fix: Fix, context: FixContext
) -> cst.CSTNode:
    """Return ``updated`` with ``__next__`` delegating to its ``next``."""
    assert isinstance(updated, cst.ClassDef)
    body = updated.body
    statements = list(body.body) if isinstance(body, cst.IndentedBlock) else []
    names = [s.name.value for s in statements if isinstance(s, cst.FunctionDef)]
    if "__next__" in names:
        return updated
    found = [i for i, s in enumerate(statements)
             if isinstance(s, cst.FunctionDef) and s.name.value == "next"]
    if not found:
        context.warn(f"class {updated.name.value} has no plain 'def next' to call; "
                     f"add __next__ by hand")
        return updated
    at = found[-1]
    method = statements[at]
    assert isinstance(method, cst.FunctionDef)
    positional = [*method.params.posonly_params, *method.params.params]
    if not positional:
        context.warn(f"{updated.name.value}.next takes no self; add __next__ by hand")
        return updated
    owner = positional[0].name.value
    method = method.with_changes(body=method.body.visit(_Python2NextCalls(owner)))
    spacing = _blank_lines(method) if at > 0 or at + 1 == len(statements) else _blank_lines(
        statements[at + 1])
    dunder = cst.FunctionDef(
        name=cst.Name("__next__"),
        params=cst.Parameters(params=[cst.Param(name=cst.Name(owner))]),
        body=cst.IndentedBlock(body=[cst.SimpleStatementLine(body=[cst.Return(
            value=cst.Call(func=cst.Attribute(value=cst.Name(owner), attr=cst.Name("next"))))])]),
        leading_lines=spacing,
    )
    return updated.with_changes(
        body=body.with_changes(body=[*statements[:at], method, dunder, *statements[at + 1:]]))
