"""Calls that run on import and reach worker processes in another module (SLD103).

A script that calls, unguarded, a function of another project module whose
body loads data in worker processes needs the ``__main__`` guard as much as
one that calls ``fit(..., use_multiprocessing=True)`` itself: under
``spawn`` each worker re-imports the script. :class:`ProcessStartFinder`
answers, for one call, whether the called function starts processes:

* its own body calls a Keras loader method with ``use_multiprocessing=True``
  (or Keras 1's ``pickle_safe=True``) and ``workers`` not 0 or less (read by
  the method's signature, as the call-site rules read it), or hands a
  project ``PyDataset`` built with ``use_multiprocessing=True`` to one. The
  Keras that counts is the one the called function's own module targets (its
  evidence and declared dependencies, as its own lint reads them): under
  Keras 3 the call's setting starts processes only where the fix of SLD302
  (or SLD301) moves it into the data's constructor, as the call-site rule
  counts it; removed with a generator (Keras 3 takes no such setting), it
  starts nothing;
* or it calls a project function that does, at most :data:`MAX_CALL_DEPTH`
  calls deep;
* a flag passed on (``use_multiprocessing=flag``, ``flag`` a parameter)
  counts where the call gives that parameter a literal ``True``, or leaves
  it at a ``True`` default.

Precision first: only undecorated ``def`` functions reached through a name
(or ``module.name``) that certainly means them are followed; methods,
``**kwargs`` and anything uncertain are not; installed packages are not the
project's code. Each function is read once per analysed module (memoised);
a function already on the chain is not entered again.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from safeloader.analysis.config import KerasVersion
from safeloader.analysis.generators import Classifier, ConstantValue, InstanceRef
from safeloader.analysis.keras3_data import Keras3DataChecker
from safeloader.analysis.keras3_settings import SettingsPlanner
from safeloader.analysis.keras_version import keras_target
from safeloader.analysis.main_guard import is_main_guard, starts_processes
from safeloader.analysis.main_guard_fix import plan_main_guard
from safeloader.analysis.project import find_module, is_installed, load_module
from safeloader.analysis.scopes import (
    BindingKind,
    BlockPath,
    Reference,
    Scope,
    called_name_position,
    child_scope,
    iter_expressions,
    position,
    statements_with_paths,
)
from safeloader.analysis.signatures import (
    LOADER_METHODS,
    Argument,
    Given,
    LoaderArguments,
    bind_loader_call,
)
from safeloader.findings import Finding, Fix
from safeloader.rules import RULES

#: project functions are followed this many calls deep from the call that runs on import
MAX_CALL_DEPTH = 8
_SETTING_LIMIT = 30
#: statements that may consist of a call
_CALL_STATEMENTS = (ast.Expr, ast.Assign, ast.AnnAssign, ast.AugAssign, ast.Return)
#: compound statements whose blocks run where they stand
_BLOCKS = (ast.If, ast.For, ast.AsyncFor, ast.While, ast.With, ast.AsyncWith, ast.Try,
           getattr(ast, "TryStar", ast.Try), ast.Match)


@dataclass(frozen=True)
class ProcessStart:
    """Where a called function starts worker processes.

    ``chain``: the functions from the one called to the one whose loader call
    starts them; ``method`` and ``setting``: that call's method and what makes it
    start processes, shortened (``fit``, ``workers=4, use_multiprocessing=True``);
    ``path`` and ``line``: where it is.
    """

    chain: tuple[str, ...]
    method: str
    setting: str
    path: Path
    line: int

    def call_chain(self, start: Path | None) -> tuple[str, str]:
        """The ``call`` and ``setting`` of SLD103's message, the path relative to
        ``start``'s directory: ``train(...) -> fit_model() -> lib/train.py:14: fit`` and
        ``workers=4, use_multiprocessing=flag``."""
        where = str(self.path)
        if start is not None:
            try:
                where = os.path.relpath(self.path, start.parent)
            except ValueError:  # another drive on Windows
                pass
        steps = [f"{self.chain[0]}(...)", *(f"{name}()" for name in self.chain[1:])]
        return f"{' -> '.join(steps)} -> {where}:{self.line}: {self.method}", self.setting


@dataclass(frozen=True)
class _Start:
    """A process start in a function's body: always (``condition`` ``None``), or when
    the function's parameter ``condition`` is ``True``."""

    condition: str | None
    start: ProcessStart


class ProcessStartFinder:
    """Finds the calls into other project modules that start worker processes.

    ``classifier`` classifies the analysed module's expressions (its project
    roots are used for every module); ``keras_version``: the configured one,
    from which each called module's own Keras target is decided (only for a
    module whose loader call matters).
    """

    def __init__(self, classifier: Classifier, path: Path | None, keras_version: KerasVersion):
        self.classifier = classifier
        self.path = path
        self.keras_version = keras_version
        self._memo: dict[int, tuple[_Start, ...]] = {}
        self._planners: dict[int, SettingsPlanner | None] = {}

    def calls_on_import(
        self, tree: ast.Module, module_scope: Scope
    ) -> Iterator[tuple[ast.Call, Reference]]:
        """The calls into imported project code that run on import.

        Only whole-statement calls are looked at (``train(...)``, ``h = lib.train(...)``,
        ``return train(...)``), in module code outside the ``__main__`` guard and in the
        bodies of the module's functions that such calls run (``main()``), transitively.
        A call is kept when its name comes from an import of a project module that is
        not installed: a cheap look at the statements and imports that spares library
        modules the scope analysis.
        """
        calls, functions, imported = _statement_calls(tree.body)
        pending = [(calls, imported, module_scope)]
        entered: set[str] = set()
        while pending:
            calls, names, scope = pending.pop()
            for call, path in calls:
                root = _callee_root(call)
                if root in names:
                    if self._in_project(names[root]):
                        yield call, Reference(scope, position(call), path)
                elif root in functions and root not in entered:
                    entered.add(root)
                    function = functions[root]
                    inner, _, local = _statement_calls(function.body)
                    pending.append((inner, {**imported, **local},
                                    child_scope(function, module_scope)))

    def _in_project(self, statement: ast.Import | ast.ImportFrom) -> bool:
        """Whether an import statement's module is a project module, not installed."""
        if self.path is None:
            return False
        if isinstance(statement, ast.ImportFrom):
            name, level = statement.module or "", statement.level
        else:
            name, level = statement.names[0].name, 0
        found = find_module(name, level, self.path, self.classifier.roots)
        return found is not None and not is_installed(found)

    def of_call(self, call: ast.Call, reference: Reference) -> ProcessStart | None:
        """Where ``call`` starts worker processes, when it calls a function of another
        project module that does (directly or through other project functions)."""
        callee = self.classifier.plain_function(call.func, reference)
        if callee is None:
            return None
        function, scope = callee
        if scope.path is None or scope.path in (self.path, self.classifier.path):
            return None  # this module's own functions: their loader calls are reported there
        for start in self._starts(function, scope, (id(function),)):
            if start.condition is None or self._passes_true(call, reference, function,
                                                            start.condition) is True:
                return start.start
        return None

    def _starts(self, function: ast.FunctionDef, scope: Scope,
                active: tuple[int, ...]) -> tuple[_Start, ...]:
        """The process starts of ``function`` (defined in ``scope``), unconditional first."""
        key = id(function)
        if key in self._memo:
            return self._memo[key]
        body_scope = child_scope(function, scope)
        assert body_scope.path is not None
        found: list[_Start] = []
        cut = False
        for stmt, path in statements_with_paths(function.body):
            for call, reference in _calls(stmt, body_scope, path):
                if isinstance(call.func, ast.Attribute) and call.func.attr in LOADER_METHODS:
                    start = self._loader_start(call, reference, function)
                    found += [start] if start is not None else []
                    continue
                callee = self.classifier.plain_function(call.func, reference)
                if callee is None:
                    continue
                inner, inner_scope = callee
                if id(inner) in active or len(active) >= MAX_CALL_DEPTH:
                    cut = True
                    continue
                for start in self._starts(inner, inner_scope, (*active, id(inner))):
                    condition = self._condition(call, reference, inner, start.condition,
                                                function)
                    if condition is not False:
                        chain = (function.name, *start.start.chain)
                        found.append(_Start(condition, dataclasses.replace(start.start,
                                                                           chain=chain)))
        ordered = tuple(sorted(found, key=lambda s: s.condition is not None))
        if not cut:
            self._memo[key] = ordered
        return ordered

    def _condition(self, call: ast.Call, reference: Reference, callee: ast.FunctionDef,
                   condition: str | None, caller: ast.FunctionDef) -> str | None | bool:
        """What a start of ``callee`` needs, seen from ``caller``'s body: ``None`` (nothing),
        a parameter of ``caller`` that must be ``True``, or ``False`` (it cannot happen)."""
        if condition is None:
            return None
        value = self._passes_true(call, reference, callee, condition)
        if value is True:
            return None
        if isinstance(value, str) and _parameter_of(caller, value):
            return value
        return False

    def _passes_true(self, call: ast.Call, reference: Reference, callee: ast.FunctionDef,
                     parameter: str) -> bool | str:
        """``True`` when ``call`` surely gives ``callee``'s ``parameter`` the value ``True``;
        the name it passes, when it passes a bare name; else ``False``."""
        value = _argument(call, callee, parameter)
        if value is None:
            return False
        if isinstance(value, ast.Constant):
            return value.value is True
        if isinstance(value, ast.Name):
            if value in _defaults(callee):
                return False  # a default read where the function is defined: not followed
            classified = self.classifier.classify(value, reference)
            if isinstance(classified, ConstantValue):
                return classified.value is True
            return value.id
        return False

    def _loader_start(self, call: ast.Call, reference: Reference,
                      function: ast.FunctionDef) -> _Start | None:
        """The start a Keras loader call in ``function`` makes, if any."""
        assert isinstance(call.func, ast.Attribute)
        arguments = bind_loader_call(call, call.func.attr)
        workers = arguments.workers
        if workers is Given.HIDDEN or isinstance(workers, Argument) and _at_most_zero(
                self._constant(workers.value, reference)):
            return None
        assert reference.scope.path is not None  # functions of project modules only
        where = (reference.scope.path, call.lineno)
        planner = self._planner(reference.scope.module_scope())
        if planner is None:
            return None
        keras3 = planner.target().version == "3"
        for data in arguments.data:
            value = self.classifier.classify(data, reference)
            if isinstance(value, InstanceRef) and starts_processes(value, self.classifier,
                                                                   keras3=keras3):
                setting = f"{value.cls.definition.name}(..., use_multiprocessing=True)"
                return _Start(None, ProcessStart((function.name,), arguments.method, setting,
                                                 *where))
        flag = arguments.use_multiprocessing
        if not isinstance(flag, Argument):
            return None
        if keras3 and planner.moved_settings(call, arguments, reference) is None:
            return None  # Keras 3 takes the setting only in the data's constructor
        start = ProcessStart((function.name,), arguments.method, _settings(arguments), *where)
        if self._constant(flag.value, reference) is True:
            return _Start(None, start)
        if isinstance(flag.value, ast.Name) and _parameter_of(function, flag.value.id):
            return _Start(flag.value.id, start)
        return None

    def _planner(self, module: Scope) -> SettingsPlanner | None:
        """The Keras 3 settings planner of the project module whose scope is ``module``,
        with that module's own Keras target, as its own lint makes them (once per
        module); ``None`` when the module cannot be read as the scope was built from."""
        tree = module.node
        key = id(tree)
        if key not in self._planners:
            loaded = load_module(module.path) if module.path is not None else None
            planner = None
            if loaded is not None and loaded.tree is tree:
                assert isinstance(tree, ast.Module)
                path, configured = module.path, self.keras_version
                target = functools.cache(
                    lambda: keras_target(tree, configured, path, _loader_calls(tree)))
                data = Keras3DataChecker(tree, loaded.text, self.classifier, target,
                                         ast.unparse)
                planner = SettingsPlanner(
                    tree, loaded.text, self.classifier, target,
                    lambda expr, reference: data.wrapper_use(expr, reference) is not None)
            self._planners[key] = planner
        return self._planners[key]

    def _constant(self, value: ast.expr, reference: Reference) -> object:
        """The literal ``value`` is, directly or through a name; else ``None``."""
        if isinstance(value, ast.UnaryOp) and isinstance(value.op, ast.USub) and isinstance(
                value.operand, ast.Constant) and type(value.operand.value) is int:
            return -value.operand.value
        classified = self.classifier.classify(value, reference)
        return classified.value if isinstance(classified, ConstantValue) else None


def _loader_calls(tree: ast.Module) -> list[ast.Call]:
    """The module's calls of loader methods (its legacy Keras evidence)."""
    return [node for node in ast.walk(tree) if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute) and node.func.attr in LOADER_METHODS]


def _at_most_zero(value: object) -> bool:
    return isinstance(value, int) and value <= 0


def _statement_call(stmt: ast.stmt) -> ast.Call | None:
    """The call a statement is made of: ``f(...)``, ``x = f(...)``, ``return f(...)``."""
    value = getattr(stmt, "value", None) if isinstance(stmt, _CALL_STATEMENTS) else None
    if isinstance(value, ast.Await):
        value = value.value
    return value if isinstance(value, ast.Call) else None


def _callee_root(call: ast.Call) -> str | None:
    """``f`` of ``f(...)`` and of ``f.g(...)``; ``None`` for other callees."""
    func = call.func
    if isinstance(func, ast.Attribute):
        func = func.value
    return func.id if isinstance(func, ast.Name) else None


def _statement_calls(body: list[ast.stmt]) -> tuple[
    list[tuple[ast.Call, BlockPath]], dict[str, ast.FunctionDef],
    dict[str, ast.Import | ast.ImportFrom],
]:
    """In ``body`` and its blocks (not the ``__main__`` guard's, nor nested functions or
    classes), in source order: the calls that make up a statement, with their block
    paths; the functions defined; the names imports bind, each with its import (for a
    plain ``import a.b``, which binds ``a``, an ``import a`` of its own).

    One pass over statements only, never into expressions: it runs on every module.
    """
    calls: list[tuple[ast.Call, BlockPath]] = []
    functions: dict[str, ast.FunctionDef] = {}
    imported: dict[str, ast.Import | ast.ImportFrom] = {}
    stack: list[tuple[ast.stmt, BlockPath]] = [(stmt, ()) for stmt in reversed(body)]
    while stack:
        stmt, path = stack.pop()
        if isinstance(stmt, _CALL_STATEMENTS):
            call = _statement_call(stmt)
            if call is not None:
                calls.append((call, path))
        elif isinstance(stmt, ast.FunctionDef):
            functions[stmt.name] = stmt
        elif isinstance(stmt, ast.ImportFrom):
            for alias in stmt.names:
                imported[alias.asname or alias.name] = stmt
        elif isinstance(stmt, ast.Import):
            for alias in stmt.names:
                name = alias.name if alias.asname else alias.name.split(".")[0]
                imported[alias.asname or name] = ast.Import(names=[ast.alias(name)])
        elif isinstance(stmt, _BLOCKS):
            blocks: list[tuple[ast.AST, str, list[ast.stmt]]] = [
                (stmt, field, getattr(stmt, field, []))
                for field in ("body", "orelse", "finalbody")
                if not (field == "body" and is_main_guard(stmt))]
            blocks += [(holder, "body", holder.body)
                       for holder in [*getattr(stmt, "handlers", []),
                                      *getattr(stmt, "cases", [])]]
            for holder, field, block in reversed(blocks):
                inner = (*path, (holder, field))
                stack.extend((child, inner) for child in reversed(block))
    return calls, functions, imported


def _calls(stmt: ast.stmt, scope: Scope,
           path: BlockPath) -> Iterator[tuple[ast.Call, Reference]]:
    """The calls ``stmt`` itself makes (not its nested blocks, functions or classes)."""
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return
    for node in iter_expressions(stmt):
        if isinstance(node, ast.Call):
            yield node, Reference(scope, position(node), path)


def _parameter_of(function: ast.FunctionDef, name: str) -> bool:
    """Whether ``name`` is a parameter of ``function`` that its body never rebinds."""
    args = function.args
    params = {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]}
    if name not in params:
        return False
    scope = Scope(function, None, text_hints=frozenset({":="}))
    return all(b.kind is BindingKind.PARAM for b in scope.bindings().get(name, []))


def _defaults(function: ast.FunctionDef) -> list[ast.expr]:
    return [*function.args.defaults, *(d for d in function.args.kw_defaults if d is not None)]


def _argument(call: ast.Call, function: ast.FunctionDef, parameter: str) -> ast.expr | None:
    """The expression ``call`` gives ``function``'s ``parameter``: by keyword, by position,
    or the default it leaves in place; ``None`` when unknown (``*args``, ``**kwargs``) or
    missing."""
    args = function.args
    positional = [a.arg for a in [*args.posonlyargs, *args.args]]
    for keyword in call.keywords:
        if keyword.arg == parameter:
            return keyword.value
    if parameter in positional:
        index = positional.index(parameter)
        for number, arg in enumerate(call.args):
            if isinstance(arg, ast.Starred):
                return None
            if number == index:
                return arg
    if any(keyword.arg is None for keyword in call.keywords):
        return None
    if parameter in positional:
        offset = positional.index(parameter) - (len(positional) - len(args.defaults))
        return args.defaults[offset] if offset >= 0 else None
    kwonly = [a.arg for a in args.kwonlyargs]
    if parameter in kwonly:
        return args.kw_defaults[kwonly.index(parameter)]
    return None


def _settings(arguments: LoaderArguments) -> str:
    """``workers=4, use_multiprocessing=True`` as written (each value shortened)."""
    parts = []
    for given in (arguments.workers, arguments.use_multiprocessing):
        if isinstance(given, Argument):
            text = ast.unparse(given.value)
            if len(text) > _SETTING_LIMIT:
                text = text[: _SETTING_LIMIT - 3] + "..."
            parts.append(f"{given.spelling}={text}")
    return ", ".join(parts)


def check_imported_starts(
    tree: ast.Module, module_scope: Scope, finder: ProcessStartFinder,
) -> Iterator[Finding]:
    """SLD103 for each call that runs on import into another project module's function
    that starts worker processes, at the called name (``train`` of ``lib.train(...)``),
    with SLD103's fix (planned once, the same as the module's other SLD103 findings get)."""
    guard_fix: list[Fix | None] = []
    for call, reference in finder.calls_on_import(tree, module_scope):
        start = finder.of_call(call, reference)
        if start is None:
            continue
        line, col = called_name_position(call)
        if not guard_fix:
            guard_fix.append(plan_main_guard(tree))
        fix = guard_fix[0]
        called, setting = start.call_chain(finder.path)
        message = RULES["SLD103"].format(call=called, setting=setting)
        yield Finding("SLD103", line, col, message, (fix,) if fix is not None else ())
