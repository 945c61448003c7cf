"""Hand-written iterator wrappers, recognised by their structure, not their name.

The forum's thread-safe wrapper comes under many names (``threadsafe_iter``,
``threadsafe_iterator``, ``LockedIterator``...), so SLD203 and SLD303 read its
shape instead:

* a **wrapper class**: no decorator, no base but ``object``, an ``__iter__``
  that returns ``self``, and a ``__next__`` (or Python 2 ``next``) that
  returns the next item of an iterator the object keeps
  (``return next(self.it)``, ``self.it.__next__()``, ``self.it.next()``),
  where ``self.it`` is set in ``__init__`` from one of its parameters;
* a **wrapper decorator**: ``def deco(f)`` whose body defines
  ``def g(*a, **kw): return Wrapper(f(*a, **kw))`` (``functools.wraps``
  allowed) and returns ``g``, where ``Wrapper`` is a wrapper class.

:class:`ModuleWrappers` lists the module-level ones, and which of them
safeloader's runtime can take the place of without changing what the rest of
the module sees: ``ThreadSafeIterator`` has the class's call signature
(``Wrapper(it)``), and ``threadsafe_generator`` the decorator's. Their
:attr:`~safeloader.findings.FixKind.REPLACE_HANDWRITTEN` fixes are the same
for SLD203 and SLD303, so one edit serves both.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Mapping

from safeloader.analysis.class_index import (
    ModuleIndex,
    class_methods,
    first_param,
    is_plain_method,
    local_nodes,
    lock_attributes,
    owner_attribute,
    span_of,
)
from safeloader.findings import Fix, FixKind

#: the members a replaceable wrapper class may have
_WRAPPER_MEMBERS = frozenset({"__init__", "__iter__", "__next__", "next"})
#: methods that advance the wrapped iterator when called on it
_ADVANCING_METHODS = frozenset({"__next__", "next"})
#: what safeloader exports for each kind of wrapper
CLASS_REPLACEMENT = "ThreadSafeIterator"
DECORATOR_REPLACEMENT = "threadsafe_generator"
#: the fix parameter that keeps the import of the name even where the module no
#: longer uses it: a name other modules may import from this one
KEEP_IMPORT = "keep_import"


def _is_docstring(stmt: ast.stmt) -> bool:
    """Whether ``stmt`` is a string standing alone (a docstring)."""
    return (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)
            and isinstance(stmt.value.value, str))


def _only_positional(fn: ast.FunctionDef | ast.AsyncFunctionDef, count: int) -> bool:
    """Whether ``fn`` takes exactly ``count`` positional parameters and nothing else."""
    args = fn.args
    return (len(args.posonlyargs) + len(args.args) == count and not args.defaults
            and args.vararg is None and args.kwarg is None and not args.kwonlyargs)


def returns_self(node: ast.ClassDef) -> bool:
    """Whether the class's ``__iter__`` is the iterator's ``return self``."""
    method = class_methods(node).get("__iter__")
    owner = first_param(method) if isinstance(method, ast.FunctionDef) else None
    if method is None or owner is None:
        return False
    body = list(local_nodes(method))
    if any(isinstance(n, (ast.Yield, ast.YieldFrom)) for n in body):
        return False
    returns = [n for n in body if isinstance(n, ast.Return)]
    return bool(returns) and all(isinstance(r.value, ast.Name) and r.value.id == owner
                                 for r in returns)


def _advanced_attribute(value: ast.expr | None, owner: str) -> str | None:
    """``"it"`` when ``value`` is ``next(self.it)``, ``self.it.__next__()`` or
    ``self.it.next()``."""
    if not isinstance(value, ast.Call) or value.keywords:
        return None
    func = value.func
    if isinstance(func, ast.Name) and func.id == "next" and len(value.args) == 1:
        return owner_attribute(value.args[0], owner)
    if isinstance(func, ast.Attribute) and func.attr in _ADVANCING_METHODS and not value.args:
        return owner_attribute(func.value, owner)
    return None


def _advancing_method(node: ast.ClassDef) -> ast.FunctionDef | None:
    """The method Python calls for the next item: ``__next__`` (also ``__next__ = next``),
    else Python 2's ``next``."""
    methods = class_methods(node)
    current = None
    for stmt in node.body:
        if isinstance(stmt, ast.FunctionDef) and stmt.name == "__next__":
            current = stmt
        elif (isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Name)
              and any(isinstance(t, ast.Name) and t.id == "__next__" for t in stmt.targets)):
            found = methods.get(stmt.value.id)
            current = found if isinstance(found, ast.FunctionDef) else None
    if current is None:
        found = methods.get("next")
        current = found if isinstance(found, ast.FunctionDef) else None
    return current if current is not None and is_plain_method(current) else None


def _set_from_parameter(init: ast.FunctionDef, attribute: str) -> bool:
    """Whether ``__init__`` sets ``self.<attribute>`` to one of its parameters, or to
    ``iter()`` of one."""
    owner = first_param(init)
    params = {arg.arg for arg in [*init.args.posonlyargs, *init.args.args][1:]}
    for stmt in local_nodes(init):
        if not isinstance(stmt, ast.Assign) or len(stmt.targets) != 1:
            continue
        if owner is None or owner_attribute(stmt.targets[0], owner) != attribute:
            continue
        value = stmt.value
        if (isinstance(value, ast.Call) and isinstance(value.func, ast.Name)
                and value.func.id == "iter" and len(value.args) == 1 and not value.keywords):
            value = value.args[0]
        if isinstance(value, ast.Name) and value.id in params:
            return True
    return False


def wrapped_attribute(node: ast.ClassDef) -> str | None:
    """The attribute holding the wrapped iterator when ``node`` is a wrapper class
    (see the module docstring), else ``None``."""
    if node.decorator_list or node.keywords or not all(
            isinstance(base, ast.Name) and base.id == "object" for base in node.bases):
        return None
    if not returns_self(node):
        return None
    advancing = _advancing_method(node)
    init = class_methods(node).get("__init__")
    if advancing is None or not isinstance(init, ast.FunctionDef):
        return None
    owner = first_param(advancing)
    assert owner is not None  # a plain method has one
    nodes = list(local_nodes(advancing))
    if any(isinstance(n, (ast.Yield, ast.YieldFrom)) for n in nodes):
        return None
    attributes = {_advanced_attribute(n.value, owner) for n in nodes if isinstance(n, ast.Return)}
    attributes.discard(None)
    if len(attributes) != 1:
        return None
    attribute = attributes.pop()
    return attribute if attribute is not None and _set_from_parameter(init, attribute) else None


def _only_delegates(method: ast.FunctionDef, attribute: str) -> bool:
    """Whether ``method`` does nothing but hand out the wrapped iterator's next item:
    every ``return`` advances ``self.<attribute>`` (or calls the class's other
    next method), and ``self`` changes only in ``except`` handlers (an error
    remembered for later calls, as ``ThreadSafeIterator`` does)."""
    owner = first_param(method)
    if owner is None:
        return False
    in_handlers = {id(inner) for node in local_nodes(method)
                   if isinstance(node, ast.ExceptHandler) for inner in ast.walk(node)}
    for node in local_nodes(method):
        if isinstance(node, ast.Return):
            value = node.value
            advances = _advanced_attribute(value, owner) == attribute
            forwards = (isinstance(value, ast.Call) and not value.args and not value.keywords
                        and isinstance(value.func, ast.Attribute)
                        and value.func.attr in _ADVANCING_METHODS
                        and isinstance(value.func.value, ast.Name)
                        and value.func.value.id == owner)
            if not (advances or forwards):
                return False
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
            targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
            writes_self = any(isinstance(n, ast.Name) and n.id == owner
                              for target in targets for n in ast.walk(target))
            if writes_self and id(node) not in in_handlers:
                return False
    return True


def is_replaceable_class(node: ast.ClassDef) -> bool:
    """Whether ``ThreadSafeIterator`` can take the wrapper class's place: it is called
    as ``Wrapper(it)`` and has only ``__init__``, ``__iter__``, ``__next__`` /
    ``next`` (and a docstring), which only hand on the wrapped iterator's items."""
    attribute = wrapped_attribute(node)
    if attribute is None:
        return False
    for stmt in node.body:
        if isinstance(stmt, ast.FunctionDef) and stmt.name in _WRAPPER_MEMBERS:
            continue
        if isinstance(stmt, ast.Assign) and all(
                isinstance(t, ast.Name) and t.id in _WRAPPER_MEMBERS for t in stmt.targets):
            continue
        if not _is_docstring(stmt):
            return False
    methods = class_methods(node)
    init = methods["__init__"]
    if not _only_positional(init, 2):
        return False
    advancing = [m for name, m in methods.items() if name in _ADVANCING_METHODS]
    return all(isinstance(m, ast.FunctionDef) and _only_delegates(m, attribute)
               for m in advancing)


def _wraps_decorator(decorator: ast.expr, wrapped: str) -> bool:
    """``@functools.wraps(f)`` or ``@wraps(f)`` of the decorated function ``f``."""
    return (isinstance(decorator, ast.Call) and len(decorator.args) == 1
            and not decorator.keywords and isinstance(decorator.args[0], ast.Name)
            and decorator.args[0].id == wrapped
            and (isinstance(decorator.func, ast.Name) and decorator.func.id == "wraps"
                 or isinstance(decorator.func, ast.Attribute) and decorator.func.attr == "wraps"
                 and isinstance(decorator.func.value, ast.Name)
                 and decorator.func.value.id == "functools"))


def _forwarded_call(value: ast.expr | None, wrapped: str, inner: ast.FunctionDef) -> bool:
    """Whether ``value`` is ``f(*a, **kw)`` with ``inner``'s own ``*a`` and ``**kw``."""
    args = inner.args
    if (args.vararg is None or args.posonlyargs or args.args or args.kwonlyargs
            or not isinstance(value, ast.Call) or not isinstance(value.func, ast.Name)
            or value.func.id != wrapped):
        return False
    star_ok = (len(value.args) == 1 and isinstance(value.args[0], ast.Starred)
               and isinstance(value.args[0].value, ast.Name)
               and value.args[0].value.id == args.vararg.arg)
    if args.kwarg is None:
        return star_ok and not value.keywords
    return star_ok and len(value.keywords) == 1 and value.keywords[0].arg is None and isinstance(
        value.keywords[0].value, ast.Name) and value.keywords[0].value.id == args.kwarg.arg


def decorator_wrapper_class(node: ast.FunctionDef) -> str | None:
    """``"Wrapper"`` when ``node`` is ``def deco(f): def g(*a, **kw): return
    Wrapper(f(*a, **kw)); return g`` (docstrings and ``functools.wraps(f)`` allowed),
    else ``None``. Whether ``Wrapper`` is a wrapper class is the caller's question."""
    if node.decorator_list or not _only_positional(node, 1):
        return None
    wrapped = node.args.args[0].arg if node.args.args else node.args.posonlyargs[0].arg
    body = [stmt for stmt in node.body if not _is_docstring(stmt)]
    if len(body) != 2 or not isinstance(body[0], ast.FunctionDef):
        return None
    inner, ret = body[0], body[1]
    if not all(_wraps_decorator(d, wrapped) for d in inner.decorator_list):
        return None
    if not (isinstance(ret, ast.Return) and isinstance(ret.value, ast.Name)
            and ret.value.id == inner.name):
        return None
    inner_body = [stmt for stmt in inner.body if not _is_docstring(stmt)]
    if len(inner_body) != 1 or not isinstance(inner_body[0], ast.Return):
        return None
    value = inner_body[0].value
    if not (isinstance(value, ast.Call) and isinstance(value.func, ast.Name)
            and len(value.args) == 1 and not value.keywords
            and _forwarded_call(value.args[0], wrapped, inner)):
        return None
    return value.func.id


@dataclass(frozen=True)
class ModuleWrappers:
    """The module-level wrapper classes and decorators of one module.

    ``classes``: the wrapper classes by name; ``decorators``: the wrapper
    decorators by name, with the name of the class each returns. Only names
    bound once at module level (one ``class`` or ``def``, no assignment, no
    import) and never subclassed count: replacing them by an import then keeps
    every use of the name working. ``loaded``: every name the module reads.
    """

    classes: Mapping[str, ast.ClassDef]
    decorators: Mapping[str, tuple[ast.FunctionDef, str]]
    index: ModuleIndex
    loaded: frozenset[str] = frozenset()

    @classmethod
    def build(cls, index: ModuleIndex, tree: ast.Module) -> ModuleWrappers:
        """Find the wrappers of ``tree`` (``index``: its :class:`ModuleIndex`)."""
        subclassed = {b.id for defs in index.classes.values() for c in defs
                      for b in c.bases if isinstance(b, ast.Name)}
        bound_once: dict[str, bool] = {}
        for stmt in tree.body:
            if isinstance(stmt, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                bound_once[stmt.name] = (stmt.name not in bound_once
                                         and stmt.name not in index.bindings)
            elif isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                for target in targets:
                    if isinstance(target, ast.Name):
                        bound_once[target.id] = False
        classes = {stmt.name: stmt for stmt in tree.body
                   if isinstance(stmt, ast.ClassDef) and bound_once.get(stmt.name)
                   and stmt.name not in subclassed and wrapped_attribute(stmt) is not None}
        decorators = {}
        for stmt in tree.body:
            if isinstance(stmt, ast.FunctionDef) and bound_once.get(stmt.name):
                returned = decorator_wrapper_class(stmt)
                if returned in classes:
                    decorators[stmt.name] = (stmt, returned)
        loaded = frozenset(node.id for node in ast.walk(tree) if isinstance(node, ast.Name)
                           and isinstance(node.ctx, ast.Load)) if classes else frozenset()
        return cls(classes, decorators, index, loaded)

    def holds_lock(self, name: str) -> bool:
        """Whether the wrapper class ``name`` keeps a lock (it means to be thread-safe)."""
        return bool(lock_attributes(self.index, self.classes[name]))

    def class_fix(self, name: str) -> Fix | None:
        """The fix that puts ``ThreadSafeIterator`` in the place of class ``name``
        (``None``: it has more than the runtime's class offers)."""
        node = self.classes[name]
        if not is_replaceable_class(node):
            return None
        params = {"name": name, "replacement": CLASS_REPLACEMENT}
        if name not in self.loaded:
            # the module never uses it: another module may import it from here
            params[KEEP_IMPORT] = "yes"
        return Fix(FixKind.REPLACE_HANDWRITTEN, span_of(node), params=params)

    def decorator_fix(self, name: str) -> Fix | None:
        """The fix that puts ``threadsafe_generator`` in the place of decorator ``name``
        (``None`` when its class cannot be replaced: the decorator's results would
        then lose what the class has more than the runtime's)."""
        node, returned = self.decorators[name]
        if not is_replaceable_class(self.classes[returned]):
            return None
        # kept importable: the module uses it, or another module imports it from here
        return Fix(FixKind.REPLACE_HANDWRITTEN, span_of(node),
                   params={"name": name, "replacement": DECORATOR_REPLACEMENT,
                           KEEP_IMPORT: "yes"})
