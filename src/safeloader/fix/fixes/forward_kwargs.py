"""SLD105: make a ``PyDataset`` subclass's ``__init__`` forward ``**kwargs``.

``def __init__(self, x):`` gains ``**kwargs`` (kept if it has one already), and
its one ``super().__init__(...)`` call gains ``**kwargs`` as its last argument;
an ``__init__`` without that call gets ``super().__init__(**kwargs)`` as its
first statement (after the docstring), as Keras' own examples do; a one-line
``def __init__(self): pass`` becomes an indented block first. Keras 3's
``workers``, ``use_multiprocessing`` and ``max_queue_size`` then reach
``PyDataset``. The analysis offers the fix only when it is safe: at most one
``super().__init__`` call, and a ``**kwargs`` the body does not read itself.
"""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from safeloader.findings import Fix
from safeloader.fix.fixes import FixContext, OwnBodyTransformer
from safeloader.fix.fixes.layout import append_arguments, new_item_separator

NODE_TYPE = cst.FunctionDef

_NO_SPACE = cst.SimpleWhitespace("")


def is_super_init(call: cst.Call, owner: str) -> bool:
    """``super().__init__(...)``, ``super(C, self).__init__(...)``, ``Base.__init__(self, ...)``."""
    func = call.func
    if not m.matches(func, m.Attribute(attr=m.Name("__init__"))):
        return False
    assert isinstance(func, cst.Attribute)
    if isinstance(func.value, cst.Call):
        return m.matches(func.value.func, m.Name("super"))
    return bool(call.args) and m.matches(
        call.args[0], m.Arg(value=m.Name(owner), keyword=None, star=""))


class _SuperInitCalls(OwnBodyTransformer):
    """Counts (and, when ``kwargs`` is set, extends) the super-init calls of one body."""

    def __init__(self, owner: str, kwargs: str | None) -> None:
        super().__init__()
        self.owner = owner
        self.kwargs = kwargs
        self.count = 0

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.Call:
        if not is_super_init(original_node, self.owner):
            return updated_node
        self.count += 1
        if self.kwargs is None:
            return updated_node
        return append_arguments(updated_node, [cst.Arg(value=cst.Name(self.kwargs), star="**")])


def _with_star_kwarg(params: cst.Parameters, name: str,
                     opening: cst.BaseParenthesizableWhitespace) -> cst.Parameters:
    """``params`` with ``**name`` at the end, in their layout (``opening``: the
    whitespace after the opening bracket)."""
    new = cst.Param(name=cst.Name(name), star="**")
    # every element in source order, as (field, index within the field or None)
    order: list[tuple[str, int | None]] = [("posonly_params", i)
                                           for i in range(len(params.posonly_params))]
    if isinstance(params.posonly_ind, cst.ParamSlash):
        order.append(("posonly_ind", None))
    order += [("params", i) for i in range(len(params.params))]
    if isinstance(params.star_arg, (cst.Param, cst.ParamStar)):
        order.append(("star_arg", None))
    order += [("kwonly_params", i) for i in range(len(params.kwonly_params))]
    if not order:
        return params.with_changes(star_kwarg=new)

    def element(at: tuple[str, int | None]) -> cst.CSTNode:
        value = getattr(params, at[0])
        return value if at[1] is None else value[at[1]]

    field, position = order[-1]
    last = element(order[-1])
    trailing = getattr(last, "comma")
    if isinstance(trailing, cst.Comma):
        new = new.with_changes(comma=trailing)
    before_last = getattr(element(order[-2]), "comma") if len(order) > 1 else None
    changed = last.with_changes(comma=new_item_separator(before_last, opening))
    # the space before ")" moves to the new last parameter
    if isinstance(last, cst.Param):
        new = new.with_changes(whitespace_after_param=last.whitespace_after_param)
        changed = changed.with_changes(whitespace_after_param=_NO_SPACE)
    elif isinstance(last, cst.ParamSlash) and not isinstance(trailing, cst.Comma):
        new = new.with_changes(whitespace_after_param=last.whitespace_after)
        changed = changed.with_changes(whitespace_after=_NO_SPACE)
    if position is None:
        return params.with_changes(**{field: changed}, star_kwarg=new)
    items = [*getattr(params, field)[:position], changed]
    return params.with_changes(**{field: items}, star_kwarg=new)


def _is_docstring(statement: cst.BaseStatement) -> bool:
    return m.matches(statement, m.SimpleStatementLine(
        body=[m.Expr(value=m.SimpleString() | m.ConcatenatedString())]))


def apply(
    original: cst.CSTNode, updated: cst.CSTNode, fix: Fix, context: FixContext
) -> cst.CSTNode:
    """Return ``updated`` (an ``__init__``) taking ``**kwargs`` and passing them on."""
    assert isinstance(updated, cst.FunctionDef)
    kwargs = fix.params.get("kwargs", "kwargs")
    positional = [*updated.params.posonly_params, *updated.params.params]
    if not positional:
        context.warn(f"{updated.name.value} has no self; forward **{kwargs} by hand")
        return updated
    if isinstance(updated.body, cst.SimpleStatementSuite):  # def __init__(self): pass
        suite = updated.body
        updated = updated.with_changes(body=cst.IndentedBlock(body=[cst.SimpleStatementLine(
            body=suite.body, trailing_whitespace=suite.trailing_whitespace)]))
    assert isinstance(updated.body, cst.IndentedBlock)
    owner = positional[0].name.value
    counter = _SuperInitCalls(owner, None)
    updated.body.visit(counter)
    if str(counter.count) != fix.params.get("super_calls", "0") or counter.count > 1:
        context.warn(f"{updated.name.value} calls super().__init__ {counter.count} times; "
                     f"forward **{kwargs} by hand")
        return updated
    star_kwarg = updated.params.star_kwarg
    params = updated.params
    if isinstance(star_kwarg, cst.Param):
        if star_kwarg.name.value != kwargs:
            context.warn(f"{updated.name.value} takes **{star_kwarg.name.value}, not "
                         f"**{kwargs}; forward them by hand")
            return updated
    else:
        params = _with_star_kwarg(params, kwargs, updated.whitespace_before_params)
    if counter.count == 1:
        body = updated.body.visit(_SuperInitCalls(owner, kwargs))
    else:
        call = cst.parse_statement(f"super().__init__(**{kwargs})\n")
        statements = list(updated.body.body)
        at = 1 if statements and _is_docstring(statements[0]) else 0
        body = updated.body.with_changes(body=[*statements[:at], call, *statements[at:]])
    return updated.with_changes(params=params, body=body)
