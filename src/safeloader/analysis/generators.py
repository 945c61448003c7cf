"""What an expression passed to a Keras loader is: a generator, guarded or not, or unknown.

:class:`Classifier` follows names, calls, attributes and imports of project
modules far enough to say that an expression is certainly a generator
object (:class:`GeneratorObject`), and whether a guard (a thread-safety
wrapper, :mod:`safeloader.analysis.guards` plus configured names) protects
it. Whatever it cannot be sure of is ``None``: unknown callees, parameters,
names bound in several ways, functions with decorators it does not know.

"Generator" means: a call of a generator function (a ``def`` with ``yield``
at its own level) defined in the module or in a project module it imports;
a call of a generator method of a class defined there, reached as
``Class(...).method(...)``, ``obj.method(...)`` with ``obj = Class(...)``,
or ``self.method(...)`` inside the class; a generator expression; or a name
bound to any of these. Guarded: the ``def`` carries a guard decorator
(plain, dotted or called), or the expression is a guard call.
"""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Union

from safeloader.analysis.guards import BUILTIN_GUARDS
from safeloader.analysis.names import dotted_parts
from safeloader.analysis.project import (
    find_module,
    is_file,
    is_installed,
    load_module,
    project_roots,
    resolved,
    submodule,
)
from safeloader.analysis.scopes import (
    Binding,
    BindingKind,
    BlockPath,
    Reference,
    Scope,
    child_scope,
    end_position,
    position,
    statements_with_paths,
)
from safeloader.findings import Fix, FixKind, Span

_METHOD_DECORATORS = frozenset({"staticmethod", "classmethod"})
#: directories that hold installed packages, not the project's own modules
_MAX_DEPTH = 16
_END = (1 << 30, 0)


def node_span(node: ast.AST) -> Span:
    """Return the extent of ``node`` as a :class:`Span`."""
    end_line, end_col = end_position(node)
    return Span(getattr(node, "lineno", 0), getattr(node, "col_offset", 0), end_line, end_col)


def dotted_name(node: ast.expr) -> str | None:
    """Return ``"a.b.c"`` for ``a.b.c``, the callee's name for ``a.b.c(...)``, else ``None``."""
    parts = dotted_parts(node.func if isinstance(node, ast.Call) else node)
    return None if parts is None else ".".join(parts)


def has_own_yield(function: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> bool:
    """Whether ``yield``/``yield from`` occurs in ``function`` outside nested scopes."""
    pending: list[ast.AST] = (
        [function.body] if isinstance(function, ast.Lambda) else list(function.body)
    )
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.Yield, ast.YieldFrom)):
            return True
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            pending.extend(node.decorator_list)
            continue
        if isinstance(node, ast.Lambda):
            continue
        pending.extend(ast.iter_child_nodes(node))
    return False


@dataclass(frozen=True)
class GeneratorFunction:
    """A function whose call returns a generator (or, guarded, a thread-safe iterator).

    ``path`` is the file defining it (``None``: the module under analysis).
    """

    label: str
    definition: ast.FunctionDef
    guarded: bool
    path: Path | None


@dataclass(frozen=True)
class GeneratorObject:
    """An expression that certainly evaluates to a generator or a guarded iterator.

    ``label`` names it for messages (``'batches'`` or ``expression``);
    ``function`` is the generator function it comes from, when known.
    """

    label: str
    guarded: bool
    function: GeneratorFunction | None


@dataclass(frozen=True)
class ClassRef:
    """A class defined in the project, with the scope its body is in."""

    definition: ast.ClassDef
    scope: Scope


@dataclass(frozen=True)
class InstanceRef:
    """An instance of a project class; ``construction`` is the call that made it, if seen."""

    cls: ClassRef
    construction: ast.Call | None


@dataclass(frozen=True)
class ModuleRef:
    """A module of the project (a file, or a namespace package's directory)."""

    path: Path


@dataclass(frozen=True)
class ConstantValue:
    """An expression known to be a literal constant."""

    value: object


Value = Union[GeneratorFunction, GeneratorObject, ClassRef, InstanceRef, ModuleRef, ConstantValue]


class Classifier:
    """Classifies expressions of one analysed module.

    ``path`` is that module's file (``None`` when unknown: imports of project
    modules are then not followed); ``project_root`` as in ``AnalysisConfig``.
    """

    def __init__(self, guards: frozenset[str], path: Path | None, project_root: Path | None):
        self.guards = BUILTIN_GUARDS | guards
        # a configured ``utils.locked`` also guards as ``locked`` (``from utils import locked``)
        self._guard_tails = frozenset(guard.rsplit(".", 1)[-1] for guard in self.guards)
        self._given_path = path
        self._project_root = project_root
        self._wrapped: dict[int, bool] = {}
        self._stores: dict[int, dict[str, int] | None] = {}

    @functools.cached_property
    def path(self) -> Path | None:
        """The analysed module's resolved file, or ``None``."""
        return resolved(self._given_path) if self._given_path is not None else None

    @functools.cached_property
    def roots(self) -> tuple[Path, ...]:
        """The directories absolute imports of project modules are looked up in."""
        return project_roots(self._given_path, self._project_root)

    def is_guard(self, node: ast.expr) -> bool:
        """Whether ``node`` (a decorator or callee) names a guard."""
        name = dotted_name(node)
        if name is None:
            return False
        return name in self.guards or name.rsplit(".", 1)[-1] in self._guard_tails

    def _is_imported_guard(self, node: ast.expr, reference: Reference) -> bool:
        """Whether ``node`` is a name imported under another name from a guard
        (``from safeloader import threadsafe_generator as locked``)."""
        if not isinstance(node, ast.Name):
            return False
        found = reference.scope.resolve(node.id, reference)
        if found is None:
            return False
        binding, _ = found
        return (
            binding.kind is BindingKind.IMPORT and isinstance(binding.node, ast.alias)
            and binding.node.name.rsplit(".", 1)[-1] in self._guard_tails
        )

    def wrapped_elsewhere(self, function: GeneratorFunction, analysed: ast.Module) -> bool:
        """Whether the module defining ``function`` (``analysed``, or its own file) also
        hands it to a guard (``gen = threadsafe_generator(make)``): decorating its
        ``def`` would then wrap that name's iterators twice."""
        key = id(function.definition)
        if key not in self._wrapped:
            tree: ast.Module | None = analysed
            if self.is_other_module(function.path):
                assert function.path is not None
                loaded = load_module(resolved(function.path))
                tree = loaded.tree if loaded is not None else None
            self._wrapped[key] = tree is not None and self._hands_to_guard(
                tree, function.definition.name
            )
        return self._wrapped[key]

    def _hands_to_guard(self, tree: ast.Module, name: str) -> bool:
        """Whether ``tree`` calls a guard (or a guard imported under another name)
        with the name ``name`` as an argument."""
        nodes = list(ast.walk(tree))
        renamed_guards = {
            node.asname for node in nodes
            if isinstance(node, ast.alias) and node.asname is not None
            and node.name.rsplit(".", 1)[-1] in self._guard_tails
        }
        return any(
            isinstance(node, ast.Call)
            and (self.is_guard(node.func)
                 or isinstance(node.func, ast.Name) and node.func.id in renamed_guards)
            and any(isinstance(arg, ast.Name) and arg.id == name for arg in node.args)
            for node in nodes
        )

    def is_other_module(self, path: Path | None) -> bool:
        """Whether ``path`` is a project module other than the analysed one."""
        return path is not None and path != self._given_path and path != self.path

    def fix_for(self, function: GeneratorFunction) -> Fix:
        """Return the fix that decorates ``function``'s ``def``."""
        path = function.path if self.is_other_module(function.path) else None
        return Fix(
            FixKind.DECORATE_GENERATOR,
            node_span(function.definition),
            path,
            {"name": function.definition.name},
        )

    def classify(self, expr: ast.expr, reference: Reference, depth: int = 0) -> Value | None:
        """Return what ``expr``, read at ``reference``, certainly is, or ``None``."""
        if depth > _MAX_DEPTH:
            return None
        if isinstance(expr, ast.GeneratorExp):
            return GeneratorObject("expression", False, None)
        if isinstance(expr, ast.Constant):
            return ConstantValue(expr.value)
        if isinstance(expr, ast.Name):
            return self._classify_name(expr.id, reference, depth)
        if isinstance(expr, ast.Attribute):
            base = self.classify(expr.value, reference, depth + 1)
            return self._member(base, expr.attr, depth) if base is not None else None
        if isinstance(expr, ast.Call):
            return self._classify_call(expr, reference, depth)
        return None

    def _classify_call(self, call: ast.Call, reference: Reference, depth: int) -> Value | None:
        if self.is_guard(call.func) or self._is_imported_guard(call.func, reference):
            inner = (
                self.classify(call.args[0], reference, depth + 1)
                if len(call.args) == 1 and not call.keywords
                and not isinstance(call.args[0], ast.Starred)
                else None
            )
            if isinstance(inner, GeneratorFunction):
                return GeneratorFunction(inner.label, inner.definition, True, inner.path)
            if isinstance(inner, GeneratorObject):
                return GeneratorObject(inner.label, True, inner.function)
            return GeneratorObject(f"'{dotted_name(call.func)}(...)'", True, None)
        callee = self.classify(call.func, reference, depth + 1)
        if isinstance(callee, GeneratorFunction):
            return GeneratorObject(f"'{callee.label}'", callee.guarded, callee)
        if isinstance(callee, ClassRef):
            return InstanceRef(callee, call)
        return None

    def _classify_name(self, name: str, reference: Reference, depth: int) -> Value | None:
        scope = reference.scope
        instance = self._self_instance(name, scope)
        if instance is not None:
            return instance
        resolved = scope.resolve(name, reference)
        if resolved is None:
            return None
        binding, owner = resolved
        return self._classify_binding(name, binding, owner, depth + 1)

    def _self_instance(self, name: str, scope: Scope) -> InstanceRef | None:
        """Return the instance ``self`` stands for in a method of a project class."""
        function = scope.node
        parent = scope.parent
        if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)) or parent is None:
            return None
        if not isinstance(parent.node, ast.ClassDef):
            return None
        positional = [*function.args.posonlyargs, *function.args.args]
        if not positional or positional[0].arg != name:
            return None
        if any(dotted_name(d) in _METHOD_DECORATORS for d in function.decorator_list):
            return None
        if len(scope.bindings().get(name, [])) != 1 or scope.declared(name) is not None:
            return None
        return InstanceRef(ClassRef(parent.node, parent.parent or parent), None)

    def _classify_binding(
        self, name: str, binding: Binding, scope: Scope, depth: int
    ) -> Value | None:
        if binding.kind is BindingKind.ASSIGN and isinstance(binding.node, ast.expr):
            reference = Reference(scope, binding.start, binding.path)
            return self.classify(binding.node, reference, depth)
        if binding.kind is BindingKind.DEF and isinstance(binding.node, ast.FunctionDef):
            return self._generator_function(binding.node, binding.node.name, scope.path)
        if binding.kind is BindingKind.CLASS and isinstance(binding.node, ast.ClassDef):
            return ClassRef(binding.node, scope)
        if binding.kind is BindingKind.IMPORT and isinstance(binding.node, ast.alias):
            return self._imported(binding.node, binding.statement, scope.path, depth)
        return None

    def _generator_function(
        self, definition: ast.FunctionDef, label: str, path: Path | None
    ) -> GeneratorFunction | None:
        """Return ``definition`` as a generator function, or ``None`` if it is not certainly one."""
        guarded = False
        for decorator in definition.decorator_list:
            if self.is_guard(decorator):
                guarded = True
            elif dotted_name(decorator) not in _METHOD_DECORATORS or isinstance(
                decorator, ast.Call
            ):
                return None
        if not guarded and not has_own_yield(definition):
            return None
        return GeneratorFunction(label, definition, guarded, path)

    def _member(self, base: Value, attr: str, depth: int) -> Value | None:
        """Return what ``base.attr`` is."""
        if isinstance(base, ModuleRef):
            return self._module_member(base.path, attr, depth)
        cls = base.cls if isinstance(base, InstanceRef) else base
        if not isinstance(cls, ClassRef):
            return None
        defined, value = self._class_member(cls, attr, depth)
        if defined or not isinstance(base, InstanceRef):
            return value
        return self._instance_attribute(cls, attr, depth)

    def _class_member(self, cls: ClassRef, attr: str, depth: int) -> tuple[bool, Value | None]:
        """Whether ``cls`` or a base binds ``attr`` in its body (``True`` also when a base
        the project does not define might), and what it is: a generator method, or ``None``.

        Bases are searched depth first, left to right (Python's order when no class is
        reached twice), at most ``_MAX_DEPTH`` classes.
        """
        for owner in self._known_classes(cls, depth):
            if owner is None:
                return True, None
            class_scope = child_scope(owner.definition, owner.scope)
            if attr not in class_scope.bindings():
                continue
            found = class_scope.resolve(attr, Reference(class_scope, _END, ()))
            if found is None:
                return True, None
            binding = found[0]
            if binding.kind is not BindingKind.DEF or not isinstance(binding.node, ast.FunctionDef):
                return True, None
            label = f"{owner.definition.name}.{attr}"
            return True, self._generator_function(binding.node, label, owner.scope.path)
        return False, None

    def _known_classes(self, cls: ClassRef, depth: int) -> Iterator[ClassRef | None]:
        """``cls`` and its bases in lookup order; ``None`` for a base the project does not
        define (``object`` excepted), after which nothing is known."""
        pending = [cls]
        seen: set[int] = set()
        while pending:
            current = pending.pop()
            if id(current.definition) in seen:
                continue
            if len(seen) >= _MAX_DEPTH:
                yield None
                return
            seen.add(id(current.definition))
            yield current
            reference = Reference(current.scope, position(current.definition), ())
            bases: list[ClassRef] = []
            for base in current.definition.bases:
                if isinstance(base, ast.Name) and base.id == "object" and (
                        current.scope.resolve("object", reference) is None):
                    continue
                resolved = self.classify(base, reference, depth + 1)
                if not isinstance(resolved, ClassRef):
                    yield None
                    return
                bases.append(resolved)
            pending.extend(reversed(bases))

    def _instance_attribute(self, cls: ClassRef, attr: str, depth: int) -> Value | None:
        """What ``self.attr`` is in instances of ``cls``: the value of its only assignment
        (``self.data = DataSet(...)`` in a method of ``cls`` or a project base), read where
        it is made; ``None`` when the modules of those classes store to ``.attr`` anywhere
        else (or a ``setattr``/``__dict__`` could), or the value is not certain."""
        assignments = []
        modules: dict[int, ast.AST] = {}
        for owner in self._known_classes(cls, depth):
            if owner is None:
                return None
            tree = owner.scope.module_scope().node
            modules[id(tree)] = tree
            assignments += [(owner, *found) for found in _self_assignments(owner.definition, attr)]
        if len(assignments) != 1:
            return None
        owner, method, stmt, path = assignments[0]
        home = id(owner.scope.module_scope().node)
        for key, tree in modules.items():
            stores = self._attribute_stores(tree)
            if stores is None or stores.get(attr, 0) != (1 if key == home else 0):
                return None
        method_scope = child_scope(method, child_scope(owner.definition, owner.scope))
        value = stmt.value
        assert value is not None
        return self.classify(value, Reference(method_scope, position(stmt), path), depth + 1)

    def _attribute_stores(self, tree: ast.AST) -> dict[str, int] | None:
        """How often ``tree`` stores to or deletes each attribute name (``x.name = ...``);
        ``None`` when it may store to any name (``setattr``, ``vars``, ``__dict__``)."""
        key = id(tree)
        if key not in self._stores:
            counts: dict[str, int] | None = {}
            for node in ast.walk(tree):
                if isinstance(node, ast.Name) and node.id in ("setattr", "vars") or (
                        isinstance(node, ast.Attribute) and node.attr == "__dict__"):
                    counts = None
                    break
                if isinstance(node, ast.Attribute) and not isinstance(node.ctx, ast.Load):
                    counts[node.attr] = counts.get(node.attr, 0) + 1
            self._stores[key] = counts
        return self._stores[key]

    def plain_function(
        self, expr: ast.expr, reference: Reference
    ) -> tuple[ast.FunctionDef, Scope] | None:
        """The undecorated ``def`` that ``expr`` (``name`` or ``module.name``), read at
        ``reference``, certainly calls, with the scope it is defined in; ``None`` for
        anything else, and for functions of installed packages (a path through
        ``site-packages`` or ``dist-packages``): they are not the project's code."""
        found = self.definition(expr, reference)
        if found is None or not isinstance(found[0], ast.FunctionDef) or found[0].decorator_list:
            return None
        return found[0], found[1]

    def definition(
        self, expr: ast.expr, reference: Reference
    ) -> tuple[ast.FunctionDef | ast.ClassDef, Scope] | None:
        """The ``def`` or ``class`` statement that ``expr`` (``name`` or ``module.name``),
        read at ``reference``, certainly names, in this module or in a project module
        it imports from (followed through re-exports), with the scope it is defined
        in; ``None`` for anything else, and for installed packages' code."""
        if isinstance(expr, ast.Name):
            found = reference.scope.resolve(expr.id, reference)
            return self._definition_binding(*found, 1) if found is not None else None
        if isinstance(expr, ast.Attribute):
            base = self.classify(expr.value, reference, 1)
            if isinstance(base, ModuleRef):
                return self._module_definition(base.path, expr.attr, 2)
        return None

    def _definition_binding(
        self, binding: Binding, scope: Scope, depth: int
    ) -> tuple[ast.FunctionDef | ast.ClassDef, Scope] | None:
        node = binding.node
        if binding.kind in (BindingKind.DEF, BindingKind.CLASS) and isinstance(
                node, (ast.FunctionDef, ast.ClassDef)):
            return node, scope
        statement = binding.statement
        if (binding.kind is BindingKind.IMPORT and isinstance(node, ast.alias)
                and isinstance(statement, ast.ImportFrom) and scope.path is not None):
            found = find_module(statement.module or "", statement.level, scope.path, self.roots)
            if found is not None:
                return self._module_definition(found, node.name, depth + 1)
        return None

    def _module_definition(
        self, path: Path, name: str, depth: int
    ) -> tuple[ast.FunctionDef | ast.ClassDef, Scope] | None:
        if depth > _MAX_DEPTH or is_installed(path) or not is_file(path):
            return None
        module = load_module(path)
        if module is None:
            return None
        scope = module.scope()
        if name not in scope.bindings():
            return None
        found = scope.resolve(name, Reference(scope, _END, ()))
        return self._definition_binding(*found, depth) if found is not None else None

    def _module_member(self, path: Path, name: str, depth: int) -> Value | None:
        """Return what ``name`` is in the project module at ``path``."""
        if depth > _MAX_DEPTH:
            return None
        module = load_module(path) if is_file(path) else None
        if module is not None:
            scope = module.scope()
            if name in scope.bindings():
                found = scope.resolve(name, Reference(scope, _END, ()))
                if found is None:
                    return None
                return self._classify_binding(name, found[0], found[1], depth + 1)
        child = submodule(path, name)
        return ModuleRef(child) if child is not None else None

    def _imported(
        self, alias: ast.alias, statement: ast.stmt | None, importer: Path | None, depth: int
    ) -> Value | None:
        """Return what an imported name is, when it comes from a project module."""
        if importer is None:
            return None
        if isinstance(statement, ast.Import):
            parts = alias.name.split(".")
            target = alias.name if alias.asname else parts[0]
            found = find_module(target, 0, importer, self.roots)
            return ModuleRef(found) if found is not None else None
        if isinstance(statement, ast.ImportFrom):
            found = find_module(statement.module or "", statement.level, importer, self.roots)
            if found is None:
                return None
            return self._module_member(found, alias.name, depth + 1)
        return None


def _self_assignments(
    cls: ast.ClassDef, attr: str
) -> Iterator[tuple[ast.FunctionDef | ast.AsyncFunctionDef, ast.Assign | ast.AnnAssign, BlockPath]]:
    """Every ``self.attr = value`` statement (one plain target) in the methods of ``cls``
    (not static ones), with its method and block path; other stores are counted by the
    caller."""
    for method in cls.body:
        if not isinstance(method, (ast.FunctionDef, ast.AsyncFunctionDef)) or any(
                dotted_name(d) == "staticmethod" for d in method.decorator_list):
            continue
        positional = [*method.args.posonlyargs, *method.args.args]
        if not positional:
            continue
        owner = positional[0].arg
        for stmt, path in statements_with_paths(method.body):
            if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
                target: ast.expr = stmt.targets[0]
            elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
                target = stmt.target
            else:
                continue
            if (isinstance(target, ast.Attribute) and target.attr == attr
                    and isinstance(target.value, ast.Name) and target.value.id == owner):
                yield method, stmt, path
