"""Name bindings per scope, and which binding a name refers to at a given place.

A :class:`Scope` (module, function, class or lambda) lists every binding of
every name made directly in it: assignments, ``def``/``class``, imports,
parameters, and "other" bindings (loop and ``with`` targets, augmented
assignments, ``except ... as``, ``del``, walrus, ``match`` captures, names
declared ``global`` elsewhere, star imports). :meth:`Scope.resolve` answers
which binding a name has at a reference, and answers ``None`` whenever that
is not certain: precision first.

In the reference's own scope the binding is the nearest one before it,
provided it dominates the reference (it sits in the same block or one that
encloses the reference) and no later binding in a loop around both can
reach it again. In an enclosing scope the binding is the only one, or the
last of several that are all unconditional (at the top of that scope).
"""

from __future__ import annotations

import ast
import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import Container, Iterator, Union

Position = tuple[int, int]
#: the compound statements (and their field) enclosing a statement, outermost first
BlockPath = tuple[tuple[ast.AST, str], ...]
ScopeNode = Union[ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda]

_NESTED_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
#: the fields that hold statements (an ``except`` handler's or a ``match`` case's body
#: through ``handlers`` and ``cases``)
_BLOCK_FIELDS = ("body", "orelse", "finalbody", "handlers", "cases")
_LOOPS = (ast.For, ast.AsyncFor, ast.While)


class BindingKind(enum.Enum):
    """What binds a name."""

    ASSIGN = "assign"
    DEF = "def"
    CLASS = "class"
    IMPORT = "import"
    PARAM = "param"
    OTHER = "other"
    #: rebound by a function through ``global``: when is unknown
    ELSEWHERE = "elsewhere"


@dataclass(frozen=True)
class Binding:
    """One binding of a name: ``node`` is the assigned value, the ``def``/``class``
    statement, or the import's ``alias`` (with its statement in ``statement``)."""

    kind: BindingKind
    node: ast.AST | None
    start: Position
    end: Position
    path: BlockPath
    statement: ast.stmt | None = None


@dataclass(frozen=True)
class Reference:
    """A place where a name is read: its position and enclosing blocks in ``scope``."""

    scope: Scope
    position: Position
    path: BlockPath


def position(node: ast.AST) -> Position:
    """Return the start of ``node``."""
    return (getattr(node, "lineno", 0), getattr(node, "col_offset", 0))


def end_position(node: ast.AST) -> Position:
    """Return the end of ``node``."""
    return (getattr(node, "end_lineno", 0) or 0, getattr(node, "end_col_offset", 0) or 0)


def called_name_position(call: ast.Call) -> Position:
    """Where a finding about ``call`` points: the called name (``fit`` of
    ``model.fit(...)``, ``train`` of ``lib.train(...)``), else the callee's start."""
    func = call.func
    if isinstance(func, ast.Attribute):
        end_line = func.end_lineno or func.lineno
        end_col = func.end_col_offset if func.end_col_offset is not None else func.col_offset
        return end_line, max(end_col - len(func.attr.encode("utf-8")), 0)
    return func.lineno, func.col_offset


def display_names(node: ast.expr, *, starred: bool = True) -> Iterator[ast.Name]:
    """Yield the names ``node`` is or holds at any depth of tuple and list displays: the
    names a target binds (``a, (b, *c)``); ``starred``: those of starred elements too."""
    pending = [node]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Name):
            yield node
        elif isinstance(node, (ast.Tuple, ast.List)):
            pending.extend(node.elts)
        elif starred and isinstance(node, ast.Starred):
            pending.append(node.value)


def _pattern_names(pattern: ast.pattern) -> Iterator[str]:
    """Yield the names a ``match`` pattern captures."""
    for node in ast.walk(pattern):
        if isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
            yield node.name
        elif isinstance(node, ast.MatchMapping) and node.rest:
            yield node.rest


def iter_expressions(node: ast.AST) -> Iterator[ast.AST]:
    """Yield the expression nodes under ``node`` that are evaluated in its scope.

    Statement lists and the bodies of nested functions, classes and lambdas
    are not entered (their decorators, defaults and bases are).
    """
    pending: list[ast.AST] = [node]
    while pending:
        current = pending.pop()
        for name, value in ast.iter_fields(current):
            if isinstance(current, ast.Lambda) and name == "body":
                continue
            items = value if isinstance(value, list) else [value]
            for item in items:
                if isinstance(item, (ast.expr, ast.comprehension, ast.keyword, ast.arguments,
                                     ast.arg, ast.withitem, ast.match_case, ast.pattern)):
                    yield item
                    pending.append(item)


@dataclass
class Scope:
    """The bindings made directly in one scope node.

    ``path`` is the file of the module the scope is in (``None``: unknown).
    ``text_hints`` says which rare constructs the module's text contains
    (``":="``, ``"global"``), so their costlier searches run only when needed.
    """

    node: ScopeNode
    parent: Scope | None
    path: Path | None = None
    text_hints: Container[str] = frozenset()
    _bindings: dict[str, list[Binding]] | None = field(default=None, repr=False)
    _declared: dict[str, str] = field(default_factory=dict, repr=False)
    _stars: list[Binding] = field(default_factory=list, repr=False)

    @property
    def is_class(self) -> bool:
        """Whether this is a class body (invisible to the functions inside it)."""
        return isinstance(self.node, ast.ClassDef)

    def module_scope(self) -> Scope:
        """Return the outermost scope."""
        scope = self
        while scope.parent is not None:
            scope = scope.parent
        return scope

    def bindings(self) -> dict[str, list[Binding]]:
        """Return every binding made directly in this scope, by name."""
        if self._bindings is None:
            self._bindings = {}
            self._collect_parameters()
            body = self.node.body if not isinstance(self.node, ast.Lambda) else []
            self._collect(body, ())
            if ":=" in self.text_hints:
                self._collect_walrus()
            if "global" in self.text_hints and isinstance(self.node, ast.Module):
                self._collect_globals_of_functions()
        return self._bindings

    def declared(self, name: str) -> str | None:
        """Return ``"global"`` or ``"nonlocal"`` when the scope declares ``name`` so."""
        self.bindings()
        return self._declared.get(name)

    def _add(self, name: str, binding: Binding) -> None:
        assert self._bindings is not None
        self._bindings.setdefault(name, []).append(binding)

    def _other(self, name: str, node: ast.AST, path: BlockPath) -> None:
        self._add(name, Binding(BindingKind.OTHER, None, position(node), position(node), path))

    def _collect_parameters(self) -> None:
        if isinstance(self.node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            arguments = self.node.args
            params = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
            params += [arg for arg in (arguments.vararg, arguments.kwarg) if arg is not None]
            start = position(self.node)
            for param in params:
                self._add(param.arg, Binding(BindingKind.PARAM, param, start, start, ()))

    def _collect(self, statements: list[ast.stmt], path: BlockPath) -> None:
        for stmt in statements:
            self._collect_statement(stmt, path)

    def _collect_statement(self, stmt: ast.stmt, path: BlockPath) -> None:
        start, end = position(stmt), end_position(stmt)
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            self._add(stmt.name, Binding(BindingKind.DEF, stmt, start, end, path, stmt))
        elif isinstance(stmt, ast.ClassDef):
            self._add(stmt.name, Binding(BindingKind.CLASS, stmt, start, end, path, stmt))
        elif isinstance(stmt, ast.Assign):
            simple = all(isinstance(target, ast.Name) for target in stmt.targets)
            for target in stmt.targets:
                for name in display_names(target):
                    kind = BindingKind.ASSIGN if simple else BindingKind.OTHER
                    value = stmt.value if simple else None
                    self._add(name.id, Binding(kind, value, start, end, path, stmt))
        elif isinstance(stmt, ast.AnnAssign):
            if isinstance(stmt.target, ast.Name) and stmt.value is not None:
                self._add(stmt.target.id,
                          Binding(BindingKind.ASSIGN, stmt.value, start, end, path, stmt))
        elif isinstance(stmt, ast.AugAssign):
            for name in display_names(stmt.target):
                self._add(name.id, Binding(BindingKind.OTHER, None, start, end, path, stmt))
        elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
            for alias in stmt.names:
                if alias.name == "*":
                    self._stars.append(Binding(BindingKind.OTHER, None, start, end, path, stmt))
                    continue
                bound = alias.asname or alias.name.split(".")[0]
                self._add(bound, Binding(BindingKind.IMPORT, alias, start, end, path, stmt))
        elif isinstance(stmt, (ast.Global, ast.Nonlocal)):
            kind = "global" if isinstance(stmt, ast.Global) else "nonlocal"
            for name in stmt.names:
                self._declared[name] = kind
        elif isinstance(stmt, ast.Delete):
            for target in stmt.targets:
                for name in display_names(target):
                    self._other(name.id, stmt, path)
        elif isinstance(stmt, (ast.For, ast.AsyncFor)):
            for name in display_names(stmt.target):
                self._other(name.id, stmt, path)
            self._collect(stmt.body, (*path, (stmt, "body")))
            self._collect(stmt.orelse, (*path, (stmt, "orelse")))
        elif isinstance(stmt, (ast.With, ast.AsyncWith)):
            for item in stmt.items:
                if item.optional_vars is not None:
                    for name in display_names(item.optional_vars):
                        self._other(name.id, stmt, path)
            self._collect(stmt.body, (*path, (stmt, "body")))
        elif isinstance(stmt, (ast.If, ast.While)):
            self._collect(stmt.body, (*path, (stmt, "body")))
            self._collect(stmt.orelse, (*path, (stmt, "orelse")))
        elif isinstance(stmt, (ast.Try, getattr(ast, "TryStar", ast.Try))):
            self._collect(stmt.body, (*path, (stmt, "body")))
            for handler in stmt.handlers:
                handler_path = (*path, (handler, "body"))
                if handler.name:
                    self._other(handler.name, handler, handler_path)
                self._collect(handler.body, handler_path)
            self._collect(stmt.orelse, (*path, (stmt, "orelse")))
            self._collect(stmt.finalbody, (*path, (stmt, "finalbody")))
        elif isinstance(stmt, ast.Match):
            for case in stmt.cases:
                case_path = (*path, (case, "body"))
                for name in _pattern_names(case.pattern):
                    self._other(name, case, case_path)
                self._collect(case.body, case_path)

    def _collect_walrus(self) -> None:
        """Record ``name := ...`` anywhere in this scope as an "other" binding."""
        for stmt in self._own_statements():
            for node in iter_expressions(stmt):
                if isinstance(node, ast.NamedExpr) and isinstance(node.target, ast.Name):
                    self._other(node.target.id, node, ())

    def _collect_globals_of_functions(self) -> None:
        """Record names that nested functions declare ``global`` as module "other" bindings.

        A ``global`` statement sits in a block of statements, never in an expression,
        so only the blocks are walked (in no particular order: any such binding makes a
        name's resolution uncertain, wherever it is).
        """
        pending: list[ast.AST] = [self.node]
        while pending:
            node = pending.pop()
            if isinstance(node, ast.Global):
                for name in node.names:
                    start = position(node)
                    self._add(name, Binding(BindingKind.ELSEWHERE, None, start, start, ()))
                continue
            for field_name in _BLOCK_FIELDS:
                block = getattr(node, field_name, None)
                if isinstance(block, list):
                    pending.extend(block)

    def _own_statements(self) -> Iterator[ast.stmt]:
        """Yield every statement of this scope, nested blocks included, nested scopes not."""
        pending: list[ast.stmt] = list(getattr(self.node, "body", []))
        if isinstance(self.node, ast.Lambda):
            return
        while pending:
            stmt = pending.pop()
            yield stmt
            if isinstance(stmt, _NESTED_SCOPES):
                continue
            for name in ("body", "orelse", "finalbody"):
                pending.extend(getattr(stmt, name, []))
            for holder in getattr(stmt, "handlers", []) + getattr(stmt, "cases", []):
                pending.extend(holder.body)

    def resolve(self, name: str, reference: Reference) -> tuple[Binding, Scope] | None:
        """Return the binding ``name`` certainly has at ``reference`` and its scope."""
        declared = self.declared(name)
        if declared == "nonlocal":
            return None
        if declared == "global":
            module = self.module_scope()
            return module._enclosing_binding(name)
        if name in self.bindings() or self._stars:
            return self._current_binding(name, reference)
        scope = self.parent
        while scope is not None:
            if scope.is_class:
                scope = scope.parent
                continue
            if scope.declared(name) is not None:
                return None
            if name in scope.bindings() or scope._stars:
                return scope._enclosing_binding(name)
            scope = scope.parent
        return None

    def _candidates(self, name: str) -> list[Binding]:
        return [*self.bindings().get(name, []), *self._stars]

    def _current_binding(self, name: str, reference: Reference) -> tuple[Binding, Scope] | None:
        before: Binding | None = None
        candidates = self._candidates(name)
        if any(binding.kind is BindingKind.ELSEWHERE for binding in candidates):
            return None
        for binding in candidates:
            if binding.end <= reference.position:
                if before is None or binding.end > before.end:
                    before = binding
            elif _loop_reaches(binding.path, reference.path):
                return None
        if before is None or reference.path[: len(before.path)] != before.path:
            return None
        if before.kind in (BindingKind.OTHER, BindingKind.PARAM):
            return None
        return before, self

    def _enclosing_binding(self, name: str) -> tuple[Binding, Scope] | None:
        candidates = self._candidates(name)
        if len(candidates) > 1 and any(binding.path for binding in candidates):
            return None
        last = max(candidates, key=lambda binding: binding.end)
        if last.kind in (BindingKind.OTHER, BindingKind.PARAM) or any(
            binding.kind is BindingKind.ELSEWHERE for binding in candidates
        ):
            return None
        return last, self


def assigned_value(name: str, reference: Reference) -> tuple[ast.expr, Reference] | None:
    """The expression assigned to ``name`` by the binding it certainly has at
    ``reference`` (``name = <expression>``), and the place that expression is read
    from; ``None`` when that binding is not such an assignment, or not certain."""
    found = reference.scope.resolve(name, reference)
    if found is None:
        return None
    binding, scope = found
    if binding.kind is not BindingKind.ASSIGN or not isinstance(binding.node, ast.expr):
        return None
    return binding.node, Reference(scope, binding.start, binding.path)


def _loop_reaches(binding_path: BlockPath, reference_path: BlockPath) -> bool:
    """Whether a binding after the reference runs before it again in an enclosing loop."""
    for (outer, field_name), other in zip(binding_path, reference_path):
        if (outer, field_name) != other:
            return False
        if isinstance(outer, _LOOPS) and field_name == "body":
            return True
    return False


def child_scope(node: ScopeNode, parent: Scope) -> Scope:
    """Return the scope of a function, class or lambda nested in ``parent``."""
    return Scope(node, parent, parent.path, parent.text_hints)


def statements_with_paths(
    body: list[ast.stmt], path: BlockPath = ()
) -> Iterator[tuple[ast.stmt, BlockPath]]:
    """Every statement of ``body`` and its nested blocks (not nested functions or classes)
    with its block path, as :class:`Scope` records it."""
    for stmt in body:
        yield stmt, path
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        for name in ("body", "orelse", "finalbody"):
            block = getattr(stmt, name, None)
            if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
                yield from statements_with_paths(block, (*path, (stmt, name)))
        for holder in [*getattr(stmt, "handlers", []), *getattr(stmt, "cases", [])]:
            yield from statements_with_paths(holder.body, (*path, (holder, "body")))
