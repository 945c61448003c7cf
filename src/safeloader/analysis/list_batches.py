"""SLD304: lists inside the batches a ``Sequence``/``PyDataset`` returns (Keras 3).

Keras 3 on TensorFlow builds ``tf.data`` pipelines from a ``PyDataset``'s
first batches, and the ``output_signature`` it derives cannot hold a list:
``return [x1, x2], [y]`` raises ``TypeError``; ``return (x1, x2), (y,)``
works, and so does a list as the whole batch (``return [x, y]``, which Keras
reads as a tuple). So the rule reports the list displays and list
comprehensions found among the elements of a returned tuple or list display,
at any depth, and a name bound once in ``__getitem__`` to one of those that
is returned as such an element. Precision first: only lists the source
shows count (not calls or lists grown with ``append``).

Fix: ``LIST_TO_TUPLE`` at the list (a comprehension becomes ``tuple(...)``
of a generator expression, so not where ``__getitem__`` binds ``tuple``);
for a name, only when ``__getitem__`` uses the name nowhere but as an
element of its returned batches (a tuple cannot be appended to).
"""

from __future__ import annotations

import ast
from typing import Callable, Iterator

from safeloader.analysis.class_dataset import derives_from_dataset
from safeloader.analysis.class_index import (
    ModuleIndex,
    class_methods,
    is_plain_method,
    local_nodes,
    span_of,
)
from safeloader.analysis.keras_version import KerasTarget
from safeloader.analysis.scopes import display_names
from safeloader.findings import Finding, Fix, FixKind
from safeloader.rules import RULES

_SHOWN_LIMIT = 40
#: the lists the rule sees: displays and comprehensions
_LISTS = (ast.List, ast.ListComp)
ListNode = ast.List | ast.ListComp


def _shown(node: ListNode) -> str:
    text = ast.unparse(node)
    return text if len(text) <= _SHOWN_LIMIT else text[: _SHOWN_LIMIT - 4] + "...]"


def _nested_lists(batch: ast.expr) -> Iterator[ListNode]:
    """The list displays and comprehensions among the elements of ``batch`` (a tuple
    or list display), at any depth of tuple and list displays."""
    pending = list(reversed(batch.elts)) if isinstance(batch, (ast.Tuple, ast.List)) else []
    while pending:
        element = pending.pop()
        if isinstance(element, ast.Starred):
            element = element.value
        if isinstance(element, _LISTS):
            yield element
        if isinstance(element, (ast.Tuple, ast.List)):
            pending.extend(reversed(element.elts))


def _bound_in(method: ast.FunctionDef) -> dict[str, list[ast.AST]]:
    """Each name ``method`` binds (parameters, assignments, ``global``/``nonlocal``
    counted twice: bound elsewhere too), with its binding nodes."""
    bound: dict[str, list[ast.AST]] = {}
    params = [*method.args.posonlyargs, *method.args.args, *method.args.kwonlyargs]
    for arg in [*params, method.args.vararg, method.args.kwarg]:
        if arg is not None:
            bound.setdefault(arg.arg, []).append(arg)
    for node in local_nodes(method):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            bound.setdefault(node.id, []).append(node)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            for name in node.names:
                bound.setdefault(name, []).extend([node, node])
    return bound


def _lists_bound_once(method: ast.FunctionDef) -> dict[str, ast.Assign]:
    """The names ``method`` binds exactly once, by ``name = [...]`` (a display or a
    comprehension), and no other way."""
    bound = _bound_in(method)
    found = {}
    for node in local_nodes(method):
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name) and isinstance(node.value, _LISTS)
                and len(bound.get(node.targets[0].id, ())) == 1):
            found[node.targets[0].id] = node
    return found


def check_list_batches(index: ModuleIndex, node: ast.ClassDef,
                       target: Callable[[], KerasTarget]) -> Iterator[Finding]:
    """SLD304 findings of one class (nothing unless Keras 3 is targeted and the
    class is a ``Sequence``/``PyDataset``)."""
    method = class_methods(node).get("__getitem__")
    if not isinstance(method, ast.FunctionDef) or not is_plain_method(method):
        return
    returns = [n for n in local_nodes(method) if isinstance(n, ast.Return)
               and isinstance(n.value, (ast.Tuple, ast.List))]
    if not returns or not derives_from_dataset(index, node) or target().version != "3":
        return
    lists: list[tuple[ListNode, bool]] = []
    tuple_is_builtin = "tuple" not in _bound_in(method)
    for ret in returns:
        lists.extend((found, True) for found in _nested_lists(ret.value))  # type: ignore[arg-type]
    bound = _lists_bound_once(method)
    if bound:
        # the elements of a batch, at any depth of displays; a starred one is unpacked there
        in_batches = [name for ret in returns
                      for name in display_names(ret.value, starred=False)]  # type: ignore[arg-type]
        returned = {name.id for name in in_batches if name.id in bound}
        element_ids = {id(name) for name in in_batches}
        for name in sorted(returned, key=lambda n: bound[n].lineno):
            uses = [n for n in local_nodes(method) if isinstance(n, ast.Name)
                    and n.id == name and isinstance(n.ctx, ast.Load)]
            only_returned = all(id(use) in element_ids for use in uses)
            value = bound[name].value
            assert isinstance(value, _LISTS)
            lists.append((value, only_returned))
            lists.extend((inner, only_returned) for inner in _nested_lists(value))
    evidence = target().evidence
    seen: set[int] = set()
    for display, fixable in sorted(lists, key=lambda item: (item[0].lineno, item[0].col_offset)):
        if id(display) in seen:
            continue
        seen.add(id(display))
        message = RULES["SLD304"].format(class_name=node.name, shown=_shown(display),
                                         evidence=evidence)
        if isinstance(display, ast.ListComp) and not tuple_is_builtin:
            fixable = False
        fixes = (Fix(FixKind.LIST_TO_TUPLE, span_of(display)),) if fixable else ()
        yield Finding("SLD304", display.lineno, display.col_offset, message, fixes)
