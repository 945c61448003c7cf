"""SLD201, SLD202 and SLD203: hand-written iterator classes.

SLD201: a thread-safe wrapper (a class whose methods keep a lock in ``self``)
whose ``__next__`` advances the wrapped iterator outside the lock, or under a
lock created afresh on each call (which no other thread ever waits on). This
is the forum answer copied with only the Python 2 ``next`` method locked.

SLD202: a class with ``__iter__`` and a Python 2 ``next`` method but no
``__next__``: Python 3's ``next()`` and ``for`` raise ``TypeError``. Only
classes whose whole hierarchy is in the file are judged (an imported base may
define ``__next__``).

SLD203 (off by default): the hand-written thread-safe wrapper class and its
decorator (the forum's ``threadsafe_iter`` / ``threadsafe_generator``, under
any name: recognised by structure, see :mod:`.iterator_wrappers`), which
``safeloader.ThreadSafeIterator`` and ``safeloader.threadsafe_generator``
replace. Only the shapes the runtime can replace are reported, so the import
replaces them without changing what the rest of the file sees.
"""

from __future__ import annotations

import ast
from typing import Iterator

from safeloader.analysis.class_index import (
    FRESH,
    HELD,
    MAX_BASE_DEPTH,
    ModuleIndex,
    Where,
    class_attribute_names,
    class_methods,
    first_param,
    is_lockish_name,
    is_plain_method,
    local_nodes,
    lock_attributes,
    owner_attribute,
    rooted_at,
    source_text,
    span_of,
    walk_method,
)
from safeloader.analysis.iterator_wrappers import ModuleWrappers, returns_self
from safeloader.findings import Finding, Fix, FixKind
from safeloader.rules import RULES

#: methods that advance the wrapped iterator
_ADVANCING_METHODS = frozenset({"__next__", "next", "send"})
#: statements the LOCK_NEXT_CALL fix may put under ``with``
_SIMPLE_STATEMENTS = (ast.Return, ast.Assign, ast.AnnAssign, ast.AugAssign, ast.Expr)


def effective_dunder_next(node: ast.ClassDef) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    """The function Python 3 calls as ``__next__``: ``def __next__`` or ``__next__ = next``."""
    defined: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = {}
    current = None
    for stmt in node.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            defined[stmt.name] = stmt
            if stmt.name == "__next__":
                current = stmt
        elif (isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Name)
              and any(isinstance(t, ast.Name) and t.id == "__next__" for t in stmt.targets)):
            current = defined.get(stmt.value.id)
    return current


def _advanced_iterator(call: ast.Call, owner: str) -> ast.expr | None:
    """The ``self.<it>`` that ``call`` advances (``next(self.it)``, ``self.it.__next__()``)."""
    func = call.func
    if isinstance(func, ast.Name) and func.id == "next" and call.args:
        target = call.args[0]
        return target if rooted_at(target, owner) else None
    if isinstance(func, ast.Attribute) and func.attr in _ADVANCING_METHODS:
        return func.value if rooted_at(func.value, owner) else None
    return None


def _stands_alone(stmt: ast.stmt, fn: ast.FunctionDef) -> bool:
    """Whether no other statement shares a line with ``stmt`` (no ``a; b``), but its parents."""
    if not isinstance(stmt, _SIMPLE_STATEMENTS):
        return False
    first, last = stmt.lineno, stmt.end_lineno or stmt.lineno
    for other in local_nodes(fn):
        if not isinstance(other, (ast.stmt, ast.ExceptHandler)) or other is stmt:
            continue
        other_first, other_last = other.lineno, other.end_lineno or other.lineno
        contains = ((other.lineno, other.col_offset) <= (stmt.lineno, stmt.col_offset)
                    and (other_last, other.end_col_offset or 0)
                    >= (last, stmt.end_col_offset or 0))
        if not contains and other_first <= last and other_last >= first:
            return False
    return True


def check_lock_use(index: ModuleIndex, node: ast.ClassDef) -> Iterator[Finding]:
    """SLD201 findings of one class."""
    nxt = effective_dunder_next(node)
    if not isinstance(nxt, ast.FunctionDef):
        return
    owner = first_param(nxt)
    if owner is None:
        return
    nodes = list(local_nodes(nxt))
    if any(isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
           and n.func.attr == "acquire" for n in nodes):
        return  # locked by hand with acquire()/release(): not judged
    if not any(isinstance(n, ast.Call) and _advanced_iterator(n, owner) is not None
               for n in nodes):
        return  # advances no iterator it keeps (its locks are not looked for)
    locks = lock_attributes(index, node)
    fresh_names = {t.id for n in nodes
                   if isinstance(n, ast.Assign) and isinstance(n.value, ast.Call)
                   and index.is_lock_factory(n.value.func)
                   for t in n.targets if isinstance(t, ast.Name)}

    def classify(expr: ast.expr) -> str | None:
        """A new lock, a lock the object keeps, or neither."""
        if isinstance(expr, ast.Call):
            return FRESH if index.is_lock_factory(expr.func) else None
        if isinstance(expr, ast.Name):
            return FRESH if expr.id in fresh_names else (
                HELD if is_lockish_name(expr.id) else None)
        if isinstance(expr, ast.Attribute):
            held = owner_attribute(expr, owner) in locks or is_lockish_name(expr.attr)
            return HELD if held else None
        return None

    fixed_statements: set[int] = set()
    for child, where in walk_method(nxt, owner, classify):
        if not isinstance(child, ast.Call) or where.lock == HELD:
            continue
        iterator = _advanced_iterator(child, owner)
        if iterator is None or owner_attribute(iterator, owner) in locks:
            continue
        shown = source_text(iterator)
        if where.lock == FRESH:
            problem = (f"advances {shown} under a lock created afresh on every call, which "
                       f"no other thread waits on")
            remedy = "create one lock in __init__ and hold it around the call"
            fixes: tuple[Fix, ...] = ()
        elif locks:
            lock = sorted(locks)[0]
            problem = f"advances {shown} outside its lock {owner}.{lock}"
            remedy = f"call it under 'with {owner}.{lock}:'"
            fixes = _lock_fix(child, where, nxt, owner, locks, fixed_statements)
        else:
            continue
        yield Finding("SLD201", child.lineno, child.col_offset,
                      RULES["SLD201"].format(class_name=node.name, method=nxt.name,
                                             problem=problem, remedy=remedy), fixes)


def _calls_own_method(stmt: ast.stmt, call: ast.Call, owner: str) -> bool:
    """Whether ``stmt`` calls a method of ``owner`` besides ``call``: it might take the
    same lock, and a plain ``Lock`` taken twice deadlocks."""
    return any(isinstance(n, ast.Call) and n is not call and isinstance(n.func, ast.Attribute)
               and isinstance(n.func.value, ast.Name) and n.func.value.id == owner
               for n in ast.walk(stmt))


def _lock_fix(call: ast.Call, where: Where, fn: ast.FunctionDef, owner: str, locks: set[str],
              fixed_statements: set[int]) -> tuple[Fix, ...]:
    """The LOCK_NEXT_CALL fix of ``call``: one per statement, and only for a lone statement."""
    stmt = where.statement
    if len(locks) != 1 or stmt is None or id(stmt) in fixed_statements:
        return ()
    if not _stands_alone(stmt, fn) or _calls_own_method(stmt, call, owner):
        return ()
    fixed_statements.add(id(stmt))
    params = {"lock": next(iter(locks)), "owner": owner}
    return (Fix(FixKind.LOCK_NEXT_CALL, span_of(call), params=params),)


def _in_file_hierarchy(index: ModuleIndex, node: ast.ClassDef) -> list[ast.ClassDef] | None:
    """``node`` and its bases when every base is ``object`` or one class of this file."""
    chain: list[ast.ClassDef] = []
    pending = [node]
    while pending:
        current = pending.pop()
        if any(current is seen for seen in chain):
            continue
        if current.decorator_list or current.keywords or len(chain) >= MAX_BASE_DEPTH:
            return None
        chain.append(current)
        for base in current.bases:
            if isinstance(base, ast.Name) and base.id == "object" and base.id not in index.classes:
                continue
            parent = index.in_file_class(base)
            if parent is None:
                return None
            pending.append(parent)
    return chain


def _binds(node: ast.ClassDef, name: str) -> bool:
    return name in class_methods(node) or name in class_attribute_names(node)


def check_py2_next(index: ModuleIndex, node: ast.ClassDef) -> Iterator[Finding]:
    """SLD202 findings of one class."""
    method = class_methods(node).get("next")
    if method is None or not is_plain_method(method) or method.args.vararg is not None:
        return
    positional = [*method.args.posonlyargs, *method.args.args]
    required_kwonly = [d for d in method.args.kw_defaults if d is None]
    if len(positional) - len(method.args.defaults) > 1 or required_kwonly:
        return
    chain = _in_file_hierarchy(index, node)
    iter_owners = [c for c in chain if _binds(c, "__iter__")] if chain is not None else []
    if not iter_owners or not returns_self(iter_owners[0]):
        return  # no __iter__, or one that hands out another iterator: not an iterator class
    if any(_binds(c, "__next__") for c in chain):
        return
    yield Finding(
        "SLD202", node.lineno, node.col_offset, RULES["SLD202"].format(class_name=node.name),
        (Fix(FixKind.ADD_DUNDER_NEXT, span_of(node), params={"class_name": node.name}),))


def check_handwritten(index: ModuleIndex, tree: ast.Module) -> Iterator[Finding]:
    """SLD203 findings: the module-level hand-written thread-safe wrappers, recognised
    by their structure (:mod:`.iterator_wrappers`): a wrapper class that keeps a lock
    and that ``ThreadSafeIterator`` can replace, and a decorator returning one."""
    wrappers = ModuleWrappers.build(index, tree)
    found: list[tuple[ast.stmt, str, Fix]] = []
    for name, node in wrappers.classes.items():
        fix = wrappers.class_fix(name)
        if fix is not None and wrappers.holds_lock(name):
            found.append((node, "thread-safe iterator class", fix))
    reported = {fix.params["name"] for _, _, fix in found}
    for name, (definition, returned) in wrappers.decorators.items():
        fix = wrappers.decorator_fix(name)
        if fix is not None and returned in reported:
            found.append((definition, "decorator", fix))
    found.sort(key=lambda item: (item[0].lineno, item[0].col_offset))
    for stmt, kind, fix in found:
        name, replacement = fix.params["name"], fix.params["replacement"]
        spelled = replacement if name == replacement else f"{replacement} as {name}"
        yield Finding(
            "SLD203", stmt.lineno, stmt.col_offset,
            RULES["SLD203"].format(kind=kind, name=name, replacement=replacement,
                                   spelled=spelled),
            (fix,))


def check_iterator_class(index: ModuleIndex, node: ast.ClassDef) -> Iterator[Finding]:
    """SLD201 and SLD202 findings of one class."""
    yield from check_lock_use(index, node)
    yield from check_py2_next(index, node)
