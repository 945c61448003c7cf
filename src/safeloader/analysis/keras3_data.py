"""The Keras 3 data hazards at a loader call: SLD303, SLD305 and SLD306.

Checked only when the module targets Keras 3, at ``fit``/``evaluate``/
``predict`` and at their ``*_generator`` forms (which SLD301 renames in the
same pass, so one ``safeloader-fix`` run leaves nothing for the next):

* SLD303: the data (``x``/``generator`` or ``validation_data``) is an
  instance of a hand-written iterator wrapper class, or what a generator
  function or method decorated with a hand-written wrapper decorator returns
  (:mod:`.iterator_wrappers`), directly or through a name bound once. The
  wrapper may be this module's or a project module's it imports (the
  forum's recipe keeps it beside the data class in ``data.py``, and
  ``train.py`` calls ``fit``). Keras 3 takes a Python iterator only when it
  is a generator. Fix: the wrapper class and decorator give way to
  safeloader's, when they can, in the module that defines them;
* SLD305: a step count (``steps_per_epoch``, ``validation_steps``,
  ``steps``) that is surely a float. Keras 2 counted ``while step < steps``,
  that is ``math.ceil(steps)`` steps; Keras 3 raises ``TypeError``. Fix:
  round it up the same way;
* SLD306: a step count surely larger than the length of the project
  ``Sequence``/``PyDataset`` it counts batches of. Keras 3 ends the epoch at
  the length. Reported without a fix.

Positions: SLD303 at the data argument, SLD305 and SLD306 at the value of
the step count.
"""

from __future__ import annotations

import ast
import functools
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterator

from safeloader.analysis.class_index import (
    ModuleIndex,
    class_methods,
    defines_next,
    local_nodes,
)
from safeloader.analysis.generators import (
    Classifier,
    ConstantValue,
    InstanceRef,
    dotted_name,
    node_span,
)
from safeloader.analysis.iterator_wrappers import ModuleWrappers
from safeloader.analysis.keras_version import KerasTarget
from safeloader.analysis.main_guard import KERAS_DATASET_BASES, derives_from_pydataset
from safeloader.analysis.project import find_module, is_installed
from safeloader.analysis.scopes import BindingKind, Reference, Scope, assigned_value, child_scope
from safeloader.analysis.signatures import (
    GENERATOR_METHODS,
    Argument,
    LoaderArguments,
    find_argument,
)
from safeloader.findings import Finding, Fix, FixKind
from safeloader.rules import RULES

#: each step count, and the parameters of the data whose batches it counts
STEP_COUNTS = {
    "steps_per_epoch": ("x", "generator"),
    "validation_steps": ("validation_data",),
    "steps": ("x", "generator"),
}
#: NumPy functions whose result is a float for any number
_NUMPY_FLOATS = frozenset({"numpy.ceil", "numpy.floor", "numpy.trunc", "numpy.rint",
                           "numpy.divide", "numpy.true_divide"})
#: operators that give a float when one operand is a float
_FLOAT_PRESERVING = (ast.Add, ast.Sub, ast.Mult, ast.FloorDiv, ast.Mod, ast.Pow)
_MAX_DEPTH = 8


@dataclass(frozen=True)
class WrapperUse:
    """Data that is a hand-written wrapper's instance: ``kind`` describes it for the
    message; ``cls`` is the wrapper class, ``decorator`` the wrapper decorator that
    made it (``None``: the class was called directly); ``wrappers`` are those of
    the module defining them, ``path`` that module's file when it is another
    project module (``None``: the analysed one)."""

    kind: str
    cls: str
    decorator: str | None
    wrappers: ModuleWrappers = field(compare=False, repr=False)
    path: Path | None = None


class Keras3DataChecker:
    """Finds SLD303, SLD305 and SLD306 at the loader calls of one Keras 3 module.

    ``describe(node)`` renders a node's source for messages.
    """

    def __init__(self, tree: ast.Module, text: str, classifier: Classifier,
                 target: Callable[[], KerasTarget], describe: Callable[[ast.AST], str]):
        self.tree = tree
        self.text = text
        self.classifier = classifier
        self.target = target
        self.describe = describe
        # a wrapper is a module-level class that defines ``__next__`` or ``next``
        self._may_define_wrappers = any(isinstance(stmt, ast.ClassDef) and defines_next(stmt)
                                        for stmt in tree.body)
        #: the wrappers of the other project modules asked about, by their tree's id
        #: (the tree is kept with them, so the id stays its own)
        self._other_wrappers: dict[int, tuple[ast.Module, ModuleWrappers]] = {}

    @functools.cached_property
    def _may_import_wrappers(self) -> bool:
        """Whether a top-level import of the module names a project module, which may
        define a wrapper (an installed package's imports lead to installed code,
        which is never followed)."""
        path = self.classifier.path
        if path is None or is_installed(path):
            return False
        for stmt in self.tree.body:
            if isinstance(stmt, ast.ImportFrom):
                names = [stmt.module or ""]
            elif isinstance(stmt, ast.Import):
                names = [alias.name for alias in stmt.names]
            else:
                continue
            level = stmt.level if isinstance(stmt, ast.ImportFrom) else 0
            if any(find_module(name, level, path, self.classifier.roots) is not None
                   for name in names):
                return True
        return False

    def may_apply(self, call: ast.Call, arguments: LoaderArguments) -> bool:
        """Whether a rule could fire at ``call``: cheap, asked before the Keras target
        (which may cost a walk of the module) is."""
        return self._may_define_wrappers or self._may_import_wrappers or any(
            isinstance(find_argument(call, arguments.method, (param,)), Argument)
            for param in STEP_COUNTS)

    @functools.cached_property
    def index(self) -> ModuleIndex:
        """The module's imports and classes."""
        return ModuleIndex.of(self.tree, self.text)

    @functools.cached_property
    def wrappers(self) -> ModuleWrappers:
        """The module's hand-written iterator wrappers."""
        return ModuleWrappers.build(self.index, self.tree)

    def _wrappers_in(self, scope: Scope) -> tuple[ModuleWrappers, Path | None]:
        """The wrappers of the module ``scope`` is in, and that module's file when it
        is another project module (``None``: the analysed one)."""
        module = scope.module_scope()
        tree = module.node
        assert isinstance(tree, ast.Module)
        if tree is self.tree:
            return self.wrappers, None
        if id(tree) not in self._other_wrappers:
            self._other_wrappers[id(tree)] = (tree, ModuleWrappers.build(ModuleIndex.of(tree),
                                                                         tree))
        path = module.path if self.classifier.is_other_module(module.path) else None
        return self._other_wrappers[id(tree)][1], path

    def check(self, call: ast.Call, arguments: LoaderArguments,
              reference: Reference) -> Iterator[Finding]:
        """The findings of one loader call."""
        method = GENERATOR_METHODS.get(arguments.method, arguments.method)
        for data in arguments.data:
            yield from self._wrapper_rule(data, method, reference)
        for param, data_params in STEP_COUNTS.items():
            given = find_argument(call, arguments.method, (param,))
            if not isinstance(given, Argument):
                continue
            yield from self._float_rule(given, method, reference)
            data = find_argument(call, arguments.method, data_params)
            if isinstance(data, Argument):
                yield from self._length_rule(given, data.value, reference)

    # -- SLD303 -------------------------------------------------------------

    def _wrapper_rule(self, data: ast.expr, method: str,
                      reference: Reference) -> Iterator[Finding]:
        use = self.wrapper_use(data, reference)
        if use is None:
            return
        class_fix = use.wrappers.class_fix(use.cls)
        fixes: tuple[Fix, ...] = ()
        if use.decorator is not None:
            decorator_fix = use.wrappers.decorator_fix(use.decorator)
            if decorator_fix is not None and class_fix is not None:
                fixes = (decorator_fix, class_fix)
                remedy = (f"replace the hand-written '{use.decorator}' with "
                          "safeloader.threadsafe_generator, whose result Keras 3 takes "
                          "as a generator")
            else:
                remedy = (f"make '{use.decorator}' return a generator, or use "
                          "safeloader.threadsafe_generator")
        elif class_fix is not None:
            fixes = (class_fix,)
            remedy = (f"replace the hand-written '{use.cls}' with "
                      "safeloader.ThreadSafeIterator, which Keras 3 takes as a generator")
        else:
            remedy = (f"pass a generator (or a keras.utils.PyDataset) instead of a "
                      f"'{use.cls}', or use safeloader.ThreadSafeIterator")
        if use.path is not None:
            # the wrapper is fixed in the module that defines it
            fixes = tuple(replace(fix, path=use.path) for fix in fixes)
            remedy += f" (in {use.path.name})"
        message = RULES["SLD303"].format(data=f"'{self.describe(data)}'", kind=use.kind,
                                         call=method, evidence=self.target().evidence,
                                         remedy=remedy)
        yield Finding("SLD303", data.lineno, data.col_offset, message, fixes)

    def wrapper_use(self, expr: ast.expr, reference: Reference) -> WrapperUse | None:
        """What hand-written wrapper ``expr`` certainly is an instance of: a call of the
        wrapper class, of a function or of a method (``obj.method(...)``, ``obj`` an
        instance of a project class) under the wrapper decorator, directly or through
        a name bound once, the wrapper this module's or a project module's it
        imports; ``None`` when none."""
        if not (self._may_import_wrappers or self.wrappers.classes):
            return None
        return self._wrapper_use(expr, reference, 0)

    def _wrapper_use(self, expr: ast.expr, reference: Reference, depth: int) -> WrapperUse | None:
        if depth > _MAX_DEPTH:
            return None
        if isinstance(expr, ast.Name):
            assigned = assigned_value(expr.id, reference)
            return None if assigned is None else self._wrapper_use(*assigned, depth + 1)
        if not isinstance(expr, ast.Call):
            return None
        if isinstance(expr.func, ast.Attribute):
            use = self._method_use(expr.func, reference, depth)
            if use is not None:
                return use
        elif isinstance(expr.func, ast.Name):
            found = reference.scope.resolve(expr.func.id, reference)
            if found is None:
                return None
            binding, scope = found
            if binding.kind in (BindingKind.CLASS, BindingKind.DEF):
                return self._defined_use(binding.node, scope, binding.path)
        # a function or class a project module defines (``from data import f``, ``data.f``)
        found_definition = self.classifier.definition(expr.func, reference)
        if found_definition is None:
            return None
        return self._defined_use(*found_definition, ())

    def _defined_use(self, node: ast.AST, scope: Scope,
                     path: tuple[tuple[ast.AST, str], ...]) -> WrapperUse | None:
        """The wrapper a call of ``node`` (a ``class`` or ``def`` statement in ``scope``)
        returns: the wrapper class itself, or a function under the wrapper decorator."""
        if isinstance(node, ast.ClassDef):
            wrappers, module = self._wrappers_in(scope)
            if wrappers.classes.get(node.name) is node:
                return WrapperUse(f"a '{node.name}'", node.name, None, wrappers, module)
            return None
        if isinstance(node, ast.FunctionDef):
            return self._decorated_use(node, scope, path)
        return None

    def _method_use(self, method: ast.Attribute, reference: Reference,
                    depth: int) -> WrapperUse | None:
        """The wrapper a call of ``obj.method`` returns, ``obj`` an instance of a project
        class whose own body defines ``method`` under the wrapper decorator."""
        owner = self.classifier.classify(method.value, reference, depth + 1)
        if not isinstance(owner, InstanceRef):
            return None
        function = class_methods(owner.cls.definition).get(method.attr)
        if not isinstance(function, ast.FunctionDef):
            return None
        return self._decorated_use(function, child_scope(owner.cls.definition, owner.cls.scope),
                                   ())

    def _decorated_use(self, function: ast.FunctionDef, scope: Scope,
                       path: tuple[tuple[ast.AST, str], ...]) -> WrapperUse | None:
        """The wrapper a call of ``function`` returns through its one decorator (defined
        in this module or imported from a project module)."""
        if len(function.decorator_list) != 1 or not isinstance(
                function.decorator_list[0], (ast.Name, ast.Attribute)):
            return None
        decorator = function.decorator_list[0]
        where = Reference(scope, (function.lineno, function.col_offset), path)
        found = self.classifier.definition(decorator, where)
        if found is None or not isinstance(found[0], ast.FunctionDef):
            return None
        wrappers, module = self._wrappers_in(found[1])
        entry = wrappers.decorators.get(found[0].name)
        if entry is None or entry[0] is not found[0]:
            return None
        cls = entry[1]
        # the decorator as written (its node may be another module's: not describe())
        written = dotted_name(decorator) or found[0].name
        return WrapperUse(f"a '{cls}' (what @{written} makes of '{function.name}')", cls,
                          found[0].name, wrappers, module)

    # -- SLD305 -------------------------------------------------------------

    def _float_rule(self, given: Argument, method: str,
                    reference: Reference) -> Iterator[Finding]:
        value = given.value
        if not self._surely_float(value, reference, 0):
            return
        literal = _float_literal(value)
        fixes: tuple[Fix, ...] = ()
        remedy = "wrap it in math.ceil(...), the steps Keras 2 ran"
        if literal is None:
            # a local ``math`` or ``ceil`` would shadow the import the fix adds
            if not (_bound_in_function("math", reference.scope)
                    or _bound_in_function("ceil", reference.scope)):
                fixes = (Fix(FixKind.CEIL_STEPS, node_span(value)),)
        elif literal > 0 and math.isfinite(literal):
            rounded = str(math.ceil(literal))
            fixes = (Fix(FixKind.CEIL_STEPS, node_span(value), params={"value": rounded}),)
            remedy = f"pass {rounded}, the steps Keras 2 ran"
        else:
            remedy = "pass a positive integer"
        message = RULES["SLD305"].format(param=given.spelling, value=self.describe(value),
                                         call=method, evidence=self.target().evidence,
                                         remedy=remedy)
        yield Finding("SLD305", value.lineno, value.col_offset, message, fixes)

    def _surely_float(self, expr: ast.expr, reference: Reference, depth: int) -> bool:
        """Whether ``expr`` certainly evaluates to a float (not an int) when it is a number."""
        if depth > _MAX_DEPTH:
            return False
        if isinstance(expr, ast.Constant):
            return type(expr.value) is float
        if isinstance(expr, ast.UnaryOp) and isinstance(expr.op, (ast.USub, ast.UAdd)):
            return self._surely_float(expr.operand, reference, depth + 1)
        if isinstance(expr, ast.BinOp):
            if isinstance(expr.op, ast.Div):
                return True
            return isinstance(expr.op, _FLOAT_PRESERVING) and (
                self._surely_float(expr.left, reference, depth + 1)
                or self._surely_float(expr.right, reference, depth + 1))
        if isinstance(expr, ast.Call):
            if isinstance(expr.func, ast.Name) and expr.func.id == "float":
                return _is_builtin("float", reference.scope)
            names = self.index.qualified_names(expr.func)
            return bool(names) and names <= _NUMPY_FLOATS
        if isinstance(expr, ast.Name):
            assigned = assigned_value(expr.id, reference)
            return assigned is not None and self._surely_float(*assigned, depth + 1)
        return False

    # -- SLD306 -------------------------------------------------------------

    def _length_rule(self, given: Argument, data: ast.expr,
                     reference: Reference) -> Iterator[Finding]:
        value = given.value
        dataset = self.classifier.classify(data, reference)
        if not isinstance(dataset, InstanceRef) or not derives_from_pydataset(
                dataset.cls, self.classifier, bases=KERAS_DATASET_BASES):
            return
        length = self._exceeded_length(value, data, dataset, reference)
        if length is None:
            return
        name = dataset.cls.definition.name
        what = "steps_per_epoch" if given.spelling != "validation_steps" else "validation_steps"
        remedy = (f"leave {what} out and raise epochs to keep the number of steps (an epoch is "
                  f"then one pass), or make {name}.__len__ return the batches an epoch "
                  "should have and read index % n of the data")
        if given.spelling == "steps":
            remedy = (f"leave steps out (one pass), or make {name}.__len__ return the "
                      "batches wanted and read index % n of the data")
        message = RULES["SLD306"].format(param=given.spelling, value=self.describe(value),
                                         data=f"'{self.describe(data)}'", length=length,
                                         evidence=self.target().evidence, remedy=remedy)
        yield Finding("SLD306", value.lineno, value.col_offset, message)

    def _exceeded_length(self, value: ast.expr, data: ast.expr, dataset: InstanceRef,
                         reference: Reference) -> str | None:
        """How the data's length reads when ``value`` is surely larger than it, else ``None``."""
        if isinstance(value, ast.BinOp) and isinstance(value.op, (ast.Mult, ast.Add)):
            for side, other in ((value.left, value.right), (value.right, value.left)):
                if not _is_len_of(side, data):
                    continue
                factor = self._number(other, reference)
                if factor is None:
                    continue
                if isinstance(value.op, ast.Mult) and factor > 1 or (
                        isinstance(value.op, ast.Add) and factor >= 1):
                    return f"len({self.describe(data)})"
        steps = self._number(value, reference)
        declared = _literal_length(dataset.cls.definition)
        if steps is not None and declared is not None and steps > declared:
            return str(declared)
        return None

    def _number(self, expr: ast.expr, reference: Reference) -> int | float | None:
        """The number ``expr`` is, directly or through a name bound once to a literal."""
        if isinstance(expr, ast.UnaryOp) and isinstance(expr.op, ast.USub):
            inner = self._number(expr.operand, reference)
            return -inner if inner is not None else None
        value: object = None
        if isinstance(expr, ast.Constant):
            value = expr.value
        elif isinstance(expr, ast.Name):
            resolved = self.classifier.classify(expr, reference)
            value = resolved.value if isinstance(resolved, ConstantValue) else None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return value
        return None


def _float_literal(expr: ast.expr) -> float | None:
    """The value of a float literal, signed or not."""
    sign = 1.0
    while isinstance(expr, ast.UnaryOp) and isinstance(expr.op, (ast.USub, ast.UAdd)):
        sign = -sign if isinstance(expr.op, ast.USub) else sign
        expr = expr.operand
    if isinstance(expr, ast.Constant) and type(expr.value) is float:
        return sign * expr.value
    return None


def _is_builtin(name: str, scope: Scope | None) -> bool:
    """Whether no scope from ``scope`` outwards binds ``name`` (it is the builtin)."""
    while scope is not None:
        if name in scope.bindings():
            return False
        scope = scope.parent
    return True


def _bound_in_function(name: str, scope: Scope | None) -> bool:
    """Whether a function, lambda or class scope from ``scope`` outwards binds ``name``."""
    while scope is not None and scope.parent is not None:
        if name in scope.bindings():
            return True
        scope = scope.parent
    return False


def _is_len_of(expr: ast.expr, data: ast.expr) -> bool:
    """``len(data)``, where ``data`` is the same name."""
    return (isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name)
            and expr.func.id == "len" and len(expr.args) == 1 and not expr.keywords
            and isinstance(data, ast.Name) and isinstance(expr.args[0], ast.Name)
            and expr.args[0].id == data.id)


def _literal_length(cls: ast.ClassDef) -> int | None:
    """The integer literal the class's ``__len__`` always returns, if it does."""
    method = class_methods(cls).get("__len__")
    if not isinstance(method, ast.FunctionDef):
        return None
    returns = [node for node in local_nodes(method) if isinstance(node, ast.Return)]
    values = {node.value.value for node in returns
              if isinstance(node.value, ast.Constant) and type(node.value.value) is int}
    return values.pop() if len(returns) == 1 and len(values) == 1 else None
