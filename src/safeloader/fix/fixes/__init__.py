"""The fix handlers of ``safeloader-fix``: one module per :class:`FixKind`.

The codemod (:mod:`safeloader.fix.codemod`) walks a module once. Before the walk it
finds, for every :class:`~safeloader.findings.Fix`, the LibCST node the fix's
span points at (through ``PositionProvider``, on the original tree, so several
fixes in one file never shift each other); on leaving that node it calls the
handler of the fix's kind. A handler is a module with two public names:

``NODE_TYPE``
    the LibCST node class (or a tuple of classes) the handler rewrites, for
    example ``libcst.FunctionDef``.
``apply(original, updated, fix, context)``
    returns the replacement for ``updated`` (a node, ``libcst.RemoveFromParent()``
    or a ``libcst.FlattenSentinel``). ``original`` is the node as parsed (use it
    for metadata and positions), ``updated`` carries the rewrites already made
    inside it (build the result from it). A shape the handler cannot rewrite
    safely is returned unchanged after ``context.warn(...)``.

and two optional names:

``MATCH``
    :data:`MATCH_EXACT` (the default): the node whose extent is the fix's span,
    give or take the parentheses ``ast`` and LibCST place differently;
    :data:`MATCH_ENCLOSING`: the innermost node of ``NODE_TYPE`` that contains
    the span (for a fix whose span is a call but whose edit is its statement).
``ORDER``
    an int, 0 by default: the fixes aimed at one node run in ascending
    ``ORDER``, then in the order they were given, so that a fix that edits what
    another one adds to the node (a higher ``ORDER``) sees it there.

A handler that adds or removes arguments uses :mod:`~safeloader.fix.fixes.layout`
(``append_arguments``, ``remove_arguments``, ``new_item_separator``), so that
the call keeps its layout. After all handlers, continuation lines are
realigned where a fix changed the length of a line before an open bracket
(:mod:`safeloader.fix.realign`), and a parameter a fix leaves unused is
named in a warning (:mod:`safeloader.fix.unused_parameters`): handlers do
neither themselves.

A span that matches no node is reported as a warning, never a crash. Imports
change only through :class:`FixContext` (which hands them to LibCST's
``AddImportsVisitor`` and ``RemoveImportsVisitor``, or does the same edit),
so a fix never leaves an undefined name.

``safeloader-fix`` gives LibCST only the top-level statements its fixes need
(see :mod:`safeloader.fix.engine`): the module a handler sees may hold
placeholders for the others, so a handler works on its node, and asks
:class:`FixContext` (never the module) about the module's names. A handler
whose ``NODE_TYPE`` is ``libcst.Module`` gets the whole module.
"""

from __future__ import annotations

import importlib
from types import MappingProxyType
from typing import Callable, Mapping, Protocol, Sequence, Union

import libcst as cst
from libcst.helpers import get_full_name_for_node

from safeloader.findings import Fix, FixKind

#: what a handler's ``apply`` may return
HandlerResult = Union[cst.CSTNode, cst.RemovalSentinel, cst.FlattenSentinel]

#: ``MATCH`` value: the node whose extent is the span
MATCH_EXACT = "exact"
#: ``MATCH`` value: the innermost node of ``NODE_TYPE`` containing the span
MATCH_ENCLOSING = "enclosing"

#: the module implementing each fix kind
HANDLER_MODULES: Mapping[FixKind, str] = MappingProxyType(
    {
        FixKind.DECORATE_GENERATOR: "safeloader.fix.fixes.decorate_generator",
        FixKind.WRAP_EXPRESSION: "safeloader.fix.fixes.wrap_expression",
        FixKind.DISABLE_MULTIPROCESSING: "safeloader.fix.fixes.disable_multiprocessing",
        FixKind.DISABLE_MOVED_MULTIPROCESSING:
            "safeloader.fix.fixes.disable_moved_multiprocessing",
        FixKind.FORWARD_KWARGS: "safeloader.fix.fixes.forward_kwargs",
        FixKind.LOCK_NEXT_CALL: "safeloader.fix.fixes.lock_next_call",
        FixKind.ADD_DUNDER_NEXT: "safeloader.fix.fixes.add_dunder_next",
        FixKind.REPLACE_HANDWRITTEN: "safeloader.fix.fixes.replace_handwritten",
        FixKind.RENAME_GENERATOR_CALL: "safeloader.fix.fixes.rename_generator_call",
        FixKind.REMOVE_LOADER_SETTINGS: "safeloader.fix.fixes.remove_loader_settings",
        FixKind.ADD_LOADER_SETTINGS: "safeloader.fix.fixes.add_loader_settings",
        FixKind.GUARD_MAIN: "safeloader.fix.fixes.guard_main",
        FixKind.LIST_TO_TUPLE: "safeloader.fix.fixes.list_to_tuple",
        FixKind.CEIL_STEPS: "safeloader.fix.fixes.ceil_steps",
    }
)


class ModuleSession(Protocol):
    """Whoever runs the fixes on one module: what a :class:`FixContext` asks of it.

    The codemod (:class:`safeloader.fix.codemod.CodemodSession`) answers with
    LibCST's scopes of the whole module and its import visitors; the engine
    (:class:`safeloader.fix.engine.PartialModuleSession`) for a module of
    which it gave LibCST only some statements.
    """

    @property
    def module(self) -> cst.Module:
        """The module being rewritten, as parsed."""

    def global_bindings(self, name: str) -> Sequence[cst.CSTNode | None]:
        """The nodes that bind ``name`` in the module's global scope."""

    def add_import(self, module: str, name: str | None, asname: str | None) -> None:
        """Make ``from <module> import <name> [as <asname>]`` (``import <module>``
        when ``name`` is ``None``) present once the walk is done."""

    def remove_import(self, module: str, name: str, asname: str | None = None) -> None:
        """Drop ``from <module> import <name> [as <asname>]`` once the walk is done (and
        the imports asked for are added), if nothing uses it."""

    def remove_imports_used_by(self, original: cst.CSTNode) -> None:
        """Drop the imports ``original`` uses once the walk is done, each if nothing
        else uses it."""


class FixContext:
    """What a handler may do besides returning a node: imports and warnings.

    One ``FixContext`` serves one fix in one module being rewritten.
    """

    def __init__(self, session: ModuleSession, warn: Callable[[str], None]) -> None:
        self._session = session
        self._warn = warn

    @property
    def module(self) -> cst.Module:
        """The module being rewritten, as parsed (for its indentation and newline;
        other top-level statements than the fixes' may be placeholders)."""
        return self._session.module

    def add_import(self, module: str, name: str, asname: str | None = None) -> None:
        """Make ``from <module> import <name>`` (``as <asname>``) present once the walk is done."""
        self._session.add_import(module, name, asname)

    def can_import(self, module: str, name: str) -> bool:
        """Whether ``from <module> import <name>`` is safe to add: nothing else in
        the module's global scope (a ``def``, an assignment, another import) binds
        ``name``, so the added import neither shadows nor is shadowed."""
        return all(
            isinstance(node, cst.ImportFrom)
            and not node.relative
            and node.module is not None
            and get_full_name_for_node(node.module) == module
            for node in self._bindings(name)
        )

    def import_name(self, module: str, name: str) -> cst.BaseExpression | None:
        """Make ``<module>.<name>`` usable in the module; return the expression for it.

        ``name`` itself, with ``from <module> import <name>`` added, when nothing
        else binds ``name``; otherwise ``<module>.<name>`` with ``import <module>``
        added, when nothing else binds ``<module>``; otherwise ``None`` (nothing
        is added: the caller should warn and leave the code alone).
        """
        if self.can_import(module, name):
            self.add_import(module, name)
            return cst.Name(name)
        reference = self.import_module(module)
        if reference is not None:
            return cst.Attribute(value=reference, attr=cst.Name(name))
        return None

    def import_module(self, module: str) -> cst.BaseExpression | None:
        """Make ``import <module>`` present (``module`` undotted); return the name for it.

        ``None`` when something other than ``import <module>`` binds that name in
        the module's global scope (nothing is added then).
        """
        if "." in module or not all(
            isinstance(node, cst.Import)
            and any(get_full_name_for_node(alias.name) == module and alias.asname is None
                    for alias in node.names)
            for node in self._bindings(module)
        ):
            return None
        self._session.add_import(module, None, None)
        return cst.Name(module)

    def is_bound(self, name: str) -> bool:
        """Whether something in the module's global scope binds ``name`` (a builtin
        such as ``tuple`` means something else there then)."""
        return bool(self._bindings(name))

    def _bindings(self, name: str) -> Sequence[cst.CSTNode | None]:
        """The nodes that bind ``name`` in the module's global scope."""
        return self._session.global_bindings(name)

    def remove_import(self, module: str, name: str, asname: str | None = None) -> None:
        """Drop ``from <module> import <name> [as <asname>]`` if nothing uses it
        afterwards: also one this walk adds, so a fix can ask for an import that
        is needed only while something still refers to it."""
        self._session.remove_import(module, name, asname)

    def remove_imports_used_by(self, original: cst.CSTNode) -> None:
        """Drop the imports ``original`` (a node of the parsed tree, being removed) uses,
        each only if nothing else uses it afterwards."""
        self._session.remove_imports_used_by(original)

    def warn(self, message: str) -> None:
        """Report a shape left unchanged; the message should say where and why."""
        self._warn(message)


class OwnBodyTransformer(cst.CSTTransformer):
    """A transformer that stays in the body it is given.

    It does not enter the functions, classes and lambdas nested in that body:
    a rewrite meant for a method's own statements must not reach the code of
    a closure or a local class, which runs elsewhere.
    """

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False


class FixHandler(Protocol):
    """The interface a handler module offers (see the module docstring)."""

    NODE_TYPE: type[cst.CSTNode] | tuple[type[cst.CSTNode], ...]

    def apply(
        self, original: cst.CSTNode, updated: cst.CSTNode, fix: Fix, context: FixContext
    ) -> HandlerResult:
        """Return the replacement of ``updated`` for ``fix``."""


def handler_for(kind: FixKind) -> FixHandler:
    """Return the handler module of ``kind`` (imported on first use)."""
    handler: FixHandler = importlib.import_module(HANDLER_MODULES[kind])  # type: ignore[assignment]
    return handler


def apply_order(handler: FixHandler) -> int:
    """Return the handler's ``ORDER`` (0 when it sets none)."""
    order = getattr(handler, "ORDER", 0)
    if not isinstance(order, int):
        raise ValueError(f"{handler!r} has ORDER={order!r}; expected an int")
    return order


def match_mode(handler: FixHandler) -> str:
    """Return the handler's ``MATCH`` (:data:`MATCH_EXACT` when it sets none)."""
    mode = getattr(handler, "MATCH", MATCH_EXACT)
    if mode not in (MATCH_EXACT, MATCH_ENCLOSING):
        raise ValueError(f"{handler!r} has MATCH={mode!r}; expected 'exact' or 'enclosing'")
    return str(mode)
