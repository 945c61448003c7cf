"""What the class rules need to know about a module: its imports and its classes.

The class rules ask two questions of a base-class expression: which qualified
names could it stand for (through ``import`` / ``from ... import``, aliases
included), and is it a class defined in the same file. Names are resolved
syntactically: an unknown name resolves to nothing, so a rule that needs a
match stays silent (precision first).
"""

from __future__ import annotations

import ast
import bisect
import re
import weakref
from dataclasses import dataclass
from typing import Callable, Iterator, Mapping, Sequence

from safeloader.analysis.names import dotted_parts
from safeloader.analysis.prefilter import class_and_import_lines
from safeloader.findings import Span

#: roots that conventionally name these packages when a snippet uses them unimported
_CONVENTIONAL_ROOTS = {"tf": "tensorflow", "tensorflow": "tensorflow", "keras": "keras",
                       "tf_keras": "tf_keras"}
_KERAS_ROOTS = frozenset({"keras", "tensorflow", "tf_keras"})

#: in-file inheritance is followed this many classes deep, no further (a generated
#: chain of thousands of classes must not exhaust the recursion limit)
MAX_BASE_DEPTH = 64

#: callables that create a lock (qualified names)
LOCK_FACTORIES = frozenset({
    "threading.Lock", "threading.RLock", "threading.Condition", "threading.Semaphore",
    "threading.BoundedSemaphore", "multiprocessing.Lock", "multiprocessing.RLock",
    "_thread.allocate_lock",
})


#: the fields of a statement that hold statements (``ExceptHandler`` and
#: ``match_case`` included, as the way to their bodies)
_STATEMENT_FIELDS = ("body", "orelse", "finalbody", "handlers", "cases")


class _StatementFields(dict[type, tuple[str, ...]]):
    """The statement fields each node type has (most statements have none), found once
    a type: looking them up by type spares a ``getattr`` per field and statement."""

    def __missing__(self, kind: type) -> tuple[str, ...]:
        fields = tuple(name for name in _STATEMENT_FIELDS if name in getattr(kind, "_fields", ()))
        self[kind] = fields
        return fields


_FIELDS_OF = _StatementFields()


def iter_statements(body: list[ast.stmt], within: Sequence[int] | None = None,
                    ) -> Iterator[ast.AST]:
    """Every statement in ``body`` and in the blocks nested in it, functions included.

    Expressions are not entered (no statement can sit inside one), which makes
    this several times cheaper than ``ast.walk`` for finding classes and imports.
    ``within``: sorted line numbers; then the blocks of a statement whose lines
    hold none of them are not entered (their statements are not wanted).
    """
    stack: list[ast.AST] = list(reversed(body))
    fields_of = _FIELDS_OF
    while stack:
        node = stack.pop()
        yield node
        fields = fields_of[type(node)]
        if fields and within is not None and not _holds_line(node, within):
            continue
        for name in fields:
            children = getattr(node, name)
            if isinstance(children, list):
                stack.extend(reversed(children))


def _holds_line(node: ast.AST, lines: Sequence[int]) -> bool:
    """Whether one of the sorted ``lines`` lies within ``node``'s lines (``True`` for a
    node without a position, such as a ``match`` case)."""
    first = getattr(node, "lineno", None)
    last = getattr(node, "end_lineno", None)
    if first is None or last is None:
        return True
    index = bisect.bisect_left(lines, first)
    return index < len(lines) and lines[index] <= last


def is_keras_name(qualified: str, leaf: str) -> bool:
    """Whether ``qualified`` names ``leaf`` (e.g. ``PyDataset``) of a Keras package."""
    parts = qualified.split(".")
    return (len(parts) >= 2 and parts[-1] == leaf and parts[0] in _KERAS_ROOTS
            and ("keras" in parts or parts[0] == "tf_keras"))


#: the index of each tree :meth:`ModuleIndex.of` indexed, while the tree lives (a
#: strong hold on parsed trees would cost more in garbage collection than it saves)
_INDEXED: weakref.WeakKeyDictionary[ast.Module, ModuleIndex] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class ModuleIndex:
    """The imports and class definitions of one module.

    ``bindings`` maps a local name to every qualified name an import binds it
    to (several when, say, a ``try``/``except ImportError`` imports it twice);
    ``star_modules`` are the modules of ``from m import *``; ``classes`` maps a
    class name to every ``class`` statement of that name anywhere in the file.
    """

    bindings: Mapping[str, frozenset[str]]
    star_modules: frozenset[str]
    classes: Mapping[str, tuple[ast.ClassDef, ...]]

    @classmethod
    def build(cls, tree: ast.Module, text: str | None = None) -> ModuleIndex:
        """Index every import and every class statement of ``tree``.

        ``text``: the module's source, when known: then only the blocks whose lines
        hold the word ``class`` or ``import`` are walked (:func:`class_and_import_lines`).
        """
        bindings: dict[str, set[str]] = {}
        stars: set[str] = set()
        classes: dict[str, list[ast.ClassDef]] = {}
        within = class_and_import_lines(text) if text is not None else None
        for node in iter_statements(tree.body, within):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        bindings.setdefault(alias.asname, set()).add(alias.name)
                    else:
                        root = alias.name.split(".")[0]
                        bindings.setdefault(root, set()).add(root)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for alias in node.names:
                    if alias.name == "*":
                        stars.add(node.module)
                    else:
                        local = alias.asname or alias.name
                        bindings.setdefault(local, set()).add(f"{node.module}.{alias.name}")
            elif isinstance(node, ast.ClassDef):
                classes.setdefault(node.name, []).append(node)
        return cls(
            bindings={name: frozenset(qs) for name, qs in bindings.items()},
            star_modules=frozenset(stars),
            classes={name: tuple(defs) for name, defs in classes.items()},
        )

    @classmethod
    def of(cls, tree: ast.Module, text: str | None = None) -> ModuleIndex:
        """:meth:`build`'s index of ``tree``, built once however many rules ask for it
        (the class rules, SLD302's and SLD303's checks, the guard fix)."""
        index = _INDEXED.get(tree)
        if index is None:
            index = _INDEXED[tree] = cls.build(tree, text)
        return index

    def qualified_names(self, expr: ast.expr) -> frozenset[str]:
        """Every qualified name ``expr`` may stand for; empty when unknown."""
        parts = dotted_parts(expr)
        if parts is None:
            return frozenset()
        root, rest = parts[0], parts[1:]
        if root in self.bindings:
            return frozenset(".".join([q, *rest]) for q in self.bindings[root])
        if root in self.classes:
            return frozenset()
        if rest and root in _CONVENTIONAL_ROOTS:
            return frozenset({".".join([_CONVENTIONAL_ROOTS[root], *rest])})
        if not rest:
            return frozenset(f"{module}.{root}" for module in self.star_modules)
        return frozenset()

    def names_keras(self, expr: ast.expr, leaf: str) -> bool:
        """Whether ``expr`` surely names Keras' ``leaf`` (every reading of it does)."""
        names = self.qualified_names(expr)
        return bool(names) and all(is_keras_name(q, leaf) for q in names)

    def is_lock_factory(self, expr: ast.expr) -> bool:
        """Whether ``expr`` surely names a lock constructor such as ``threading.Lock``."""
        names = self.qualified_names(expr)
        return bool(names) and names <= LOCK_FACTORIES

    def in_file_class(self, expr: ast.expr) -> ast.ClassDef | None:
        """The class of this file that the bare name ``expr`` refers to, if exactly one."""
        if isinstance(expr, ast.Name) and expr.id not in self.bindings:
            defs = self.classes.get(expr.id, ())
            if len(defs) == 1:
                return defs[0]
        return None


def class_methods(node: ast.ClassDef) -> dict[str, ast.FunctionDef | ast.AsyncFunctionDef]:
    """The methods defined directly in the class body (the last ``def`` of a name wins)."""
    methods: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = {}
    for stmt in node.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            methods[stmt.name] = stmt
    return methods


def defines_next(node: ast.ClassDef) -> bool:
    """Whether the class body defines ``__next__`` (by ``def`` or ``__next__ = ...``) or a
    Python 2 ``next`` method: what every iterator rule (SLD201-203, SLD303) starts from."""
    for stmt in node.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if stmt.name in ("__next__", "next"):
                return True
        elif isinstance(stmt, ast.Assign) and any(
                isinstance(target, ast.Name) and target.id == "__next__"
                for target in stmt.targets):
            return True
    return False


def class_attribute_names(node: ast.ClassDef) -> set[str]:
    """Names bound directly in the class body other than by ``def`` (``__next__ = next``)."""
    names: set[str] = set()
    for stmt in node.body:
        targets: list[ast.expr] = []
        if isinstance(stmt, ast.Assign):
            targets = list(stmt.targets)
        elif isinstance(stmt, (ast.AnnAssign, ast.AugAssign)):
            targets = [stmt.target]
        for target in targets:
            if isinstance(target, ast.Name):
                names.add(target.id)
    return names


def first_param(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> str | None:
    """The name of the first positional parameter (``self``), if any."""
    positional = [*fn.args.posonlyargs, *fn.args.args]
    return positional[0].arg if positional else None


def is_plain_method(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """A synchronous, undecorated method with a ``self`` parameter."""
    return (isinstance(fn, ast.FunctionDef) and not fn.decorator_list
            and first_param(fn) is not None)


def local_nodes(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> Iterator[ast.AST]:
    """Every node of the function's body, not entering nested functions or classes."""
    stack: list[ast.AST] = list(reversed(fn.body))
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        stack.extend(reversed(list(ast.iter_child_nodes(node))))


#: lock states of :class:`Where`: a lock the object shares between calls is held,
#: or only a lock created afresh for this call is
HELD = "held"
FRESH = "fresh"


@dataclass(frozen=True)
class Where:
    """Where a node of a method body sits.

    ``lock``: :data:`HELD`, :data:`FRESH` or ``None`` (the strongest ``with``
    around the node); ``tested``: the ``self`` attributes that an enclosing
    ``if`` tests (``if self.f is None:``, ``hasattr(self, "f")``); ``statement``:
    the innermost statement holding the node.
    """

    lock: str | None = None
    tested: frozenset[str] = frozenset()
    statement: ast.stmt | None = None


def tested_attributes(test: ast.expr, owner: str) -> frozenset[str]:
    """The ``owner`` attributes an ``if`` test checks for being unset.

    ``self.f is None``, ``self.f is not None``, ``not self.f``, ``self.f`` and
    ``hasattr(self, "f")``, also inside ``and``/``or``: the shapes of a lazy
    ``if self.f is None: self.f = open(...)``. Other comparisons do not count.
    """
    found: set[str] = set()
    pending = [test]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.BoolOp):
            pending.extend(node.values)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            pending.append(node.operand)
        elif (isinstance(node, ast.Compare) and len(node.ops) == 1
              and isinstance(node.ops[0], (ast.Is, ast.IsNot))
              and isinstance(node.comparators[0], ast.Constant)
              and node.comparators[0].value is None):
            pending.append(node.left)
        elif isinstance(node, ast.Attribute):
            attr = owner_attribute(node, owner)
            if attr is not None:
                found.add(attr)
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
              and node.func.id == "hasattr" and len(node.args) == 2
              and isinstance(node.args[0], ast.Name) and node.args[0].id == owner
              and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str)):
            found.add(node.args[1].value)
    return frozenset(found)


def walk_method(
    fn: ast.FunctionDef | ast.AsyncFunctionDef,
    owner: str,
    classify_lock: Callable[[ast.expr], str | None],
) -> Iterator[tuple[ast.AST, Where]]:
    """Every node of the method's body with :class:`Where` it sits.

    ``classify_lock`` tells what a ``with`` item's expression is (:data:`HELD`,
    :data:`FRESH` or ``None``). Nested functions and classes are not entered.
    """
    stack: list[tuple[ast.AST, Where]] = [(stmt, Where(statement=stmt))
                                          for stmt in reversed(fn.body)]
    while stack:
        node, where = stack.pop()
        yield node, where
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        children: list[tuple[ast.AST, Where]] = []
        if isinstance(node, (ast.With, ast.AsyncWith)):
            states = {classify_lock(item.context_expr) for item in node.items}
            lock = HELD if HELD in states or where.lock == HELD else (
                FRESH if FRESH in states else where.lock)
            children = [(item, where) for item in node.items]
            children += [(stmt, Where(lock, where.tested, stmt)) for stmt in node.body]
        elif isinstance(node, ast.If):
            tested = where.tested | tested_attributes(node.test, owner)
            children = [(node.test, where)]
            children += [(stmt, Where(where.lock, tested, stmt))
                         for stmt in [*node.body, *node.orelse]]
        else:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.stmt):
                    children.append((child, Where(where.lock, where.tested, child)))
                else:
                    children.append((child, where))
        stack.extend(reversed(children))


def rooted_at(expr: ast.expr, owner: str) -> bool:
    """Whether ``expr`` is ``owner.attr`` possibly followed by more attributes or subscripts."""
    depth = 0
    while isinstance(expr, (ast.Attribute, ast.Subscript)):
        expr = expr.value
        depth += 1
    return depth > 0 and isinstance(expr, ast.Name) and expr.id == owner


def owner_attribute(expr: ast.expr, owner: str) -> str | None:
    """``"f"`` when ``expr`` is exactly ``owner.f``."""
    if (isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Name)
            and expr.value.id == owner):
        return expr.attr
    return None


def source_text(expr: ast.expr) -> str:
    """A short rendering of an attribute/subscript chain for a message (``self.gens[...]``)."""
    suffix = ""
    while isinstance(expr, (ast.Attribute, ast.Subscript)):
        suffix = ("." + expr.attr if isinstance(expr, ast.Attribute) else "[...]") + suffix
        expr = expr.value
    return (expr.id if isinstance(expr, ast.Name) else "(...)") + suffix


def span_of(node: ast.AST) -> Span:
    """The node's extent as a :class:`~safeloader.findings.Span`."""
    line = getattr(node, "lineno", 1)
    col = getattr(node, "col_offset", 0)
    end_line = getattr(node, "end_lineno", None) or line
    end_col = getattr(node, "end_col_offset", None)
    return Span(line, col, end_line, col if end_col is None else end_col)


_LOCKISH = re.compile(r"(?:^|_)(?:r?lock|mutex)(?:$|_)")


def is_lockish_name(name: str) -> bool:
    """Whether a name reads as a lock: ``lock``, ``_lock``, ``read_lock``, ``mutex``
    (not ``block_size`` or ``clock``)."""
    return _LOCKISH.search(name.lower()) is not None


def lock_attributes(index: ModuleIndex, node: ast.ClassDef) -> set[str]:
    """The attributes the class's methods set to a lock.

    ``self.<a> = threading.Lock()`` (or another lock factory), and
    ``self.<a> = <name, attribute or call>`` when ``<a>`` reads as a lock (a
    lock passed in or made by a helper).
    """
    attrs: set[str] = set()
    for method in class_methods(node).values():
        owner = first_param(method)
        if owner is None:
            continue
        for stmt in local_nodes(method):
            if isinstance(stmt, ast.Assign):
                targets, value = list(stmt.targets), stmt.value
            elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
                targets, value = [stmt.target], stmt.value
            else:
                continue
            makes_lock = isinstance(value, ast.Call) and index.is_lock_factory(value.func)
            passed_in = isinstance(value, (ast.Name, ast.Attribute, ast.Call))
            for target in targets:
                attr = owner_attribute(target, owner)
                if attr is not None and (makes_lock or passed_in and is_lockish_name(attr)):
                    attrs.add(attr)
    return attrs
