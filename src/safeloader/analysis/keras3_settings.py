"""Where Keras 2's loader settings go in Keras 3: the fix of SLD302, and of SLD301 under Keras 3.

Keras 3's ``fit``/``evaluate``/``predict`` reject ``workers``,
``use_multiprocessing`` and ``max_queue_size`` (and Keras 1's ``nb_worker``,
``pickle_safe``, ``max_q_size``). :meth:`SettingsPlanner.plan` decides, for one call:

* the data is built from a ``Sequence``/``PyDataset`` class the project
  defines, by a constructor call in this module (the argument itself, or a
  name bound once to it): the settings move into that constructor call
  (:attr:`FixKind.ADD_LOADER_SETTINGS`), and the class gets SLD105's fix
  when its ``__init__`` would drop them. Through a name the values must be
  literals (a name in them might not be bound yet where the constructor runs);
* the data is surely something else (a generator, what a hand-written lock
  wrapper makes of one (SLD303 gives it safeloader's in the same pass), a
  literal, a NumPy array or a ``tf.data`` pipeline, directly or through a
  name bound once): the
  settings are removed. Keras 3 on TensorFlow already reads a generator in
  the background, and has nothing to parallelise for arrays or ``tf.data``;
* otherwise (a parameter, an unknown callee, an instance of a project class
  that cannot take the settings): no fix, because deleting the settings
  could silently make a ``PyDataset`` single-threaded.

Fixed or not, the message's advice is the one of
:data:`~safeloader.rules.SLD302_REMEDIES` that is true of the data at hand.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Callable

from safeloader.analysis.class_dataset import loader_settings_route
from safeloader.analysis.class_index import ModuleIndex
from safeloader.analysis.generators import (
    Classifier,
    ConstantValue,
    GeneratorObject,
    InstanceRef,
    dotted_name,
    node_span,
)
from safeloader.analysis.keras_version import KerasTarget
from safeloader.analysis.main_guard import KERAS_DATASET_BASES, derives_from_pydataset
from safeloader.analysis.project import load_module
from safeloader.analysis.scopes import Reference, assigned_value
from safeloader.analysis.signatures import (
    GENERATOR_METHODS,
    Argument,
    Given,
    LoaderArguments,
)
from safeloader.findings import Fix, FixKind
from safeloader.rules import SLD302_REMEDIES
from safeloader.source_text import split_lines

#: every spelling of a loader setting, and its Keras 3 (``PyDataset``) name
KERAS3_NAMES = {
    "workers": "workers", "nb_worker": "workers",
    "use_multiprocessing": "use_multiprocessing", "pickle_safe": "use_multiprocessing",
    "max_queue_size": "max_queue_size", "max_q_size": "max_queue_size",
}
#: callees whose result is surely not a ``PyDataset``: arrays and ``tf.data`` pipelines
_NOT_DATASET_PREFIXES = ("np.", "numpy.", "tf.data.", "tensorflow.data.")
_LITERALS = (ast.Constant, ast.List, ast.Tuple, ast.Dict, ast.ListComp)
_MAX_DEPTH = 8


@dataclass(frozen=True)
class SettingsPlan:
    """What to do with one call's loader settings.

    ``remedy``: the advice for the message, true of the data at hand (see
    :data:`~safeloader.rules.SLD302_REMEDIES`). ``keywords``: the settings'
    Keras 2 names, to drop from the call (empty: no fix). ``fixes``: the
    edits elsewhere (the constructor call, the dataset class).
    """

    remedy: str
    keywords: tuple[str, ...] = ()
    fixes: tuple[Fix, ...] = ()


#: the Keras base classes whose objects take the settings in Keras 3


@dataclass(frozen=True)
class SettingsPlanner:
    """Plans the settings fixes of one module's calls.

    ``wraps_generator(data, reference)``: whether ``data`` is what a hand-written
    lock wrapper of the module makes of a generator
    (:meth:`~safeloader.analysis.keras3_data.Keras3DataChecker.wrapper_use`).
    """

    tree: ast.Module
    text: str
    classifier: Classifier
    target: Callable[[], KerasTarget]
    wraps_generator: Callable[[ast.expr, Reference], bool]
    #: each call's plan, by the call and ``by_keyword_only``: SLD301, SLD302 and
    #: SLD103 (what the fix moves) ask about the same call
    _plans: dict[tuple[ast.Call, bool], SettingsPlan] = field(
        default_factory=dict, compare=False, repr=False)

    def plan(self, call: ast.Call, arguments: LoaderArguments, reference: Reference,
             by_keyword_only: bool) -> SettingsPlan:
        """The plan for ``call``; ``by_keyword_only``: positional settings cannot be edited."""
        key = (call, by_keyword_only)
        if key not in self._plans:
            self._plans[key] = self._plan(call, arguments, reference, by_keyword_only)
        return self._plans[key]

    def _plan(self, call: ast.Call, arguments: LoaderArguments, reference: Reference,
              by_keyword_only: bool) -> SettingsPlan:
        data = _first_data(call)
        value = None if data is None else self.classifier.classify(data, reference)
        kind = "unknown" if data is None else self._data_kind(data, value, reference)
        cls_name = value.cls.definition.name if isinstance(value, InstanceRef) else ""
        unfixed = SettingsPlan(SLD302_REMEDIES[kind].format(cls=cls_name))
        given = [setting for setting in arguments.settings() if setting is not Given.DEFAULT]
        if not given or any(setting is Given.HIDDEN for setting in given):
            return unfixed
        settings = sorted((setting for setting in given if isinstance(setting, Argument)),
                          key=lambda setting: (setting.value.lineno, setting.value.col_offset))
        keywords = {id(keyword.value) for keyword in call.keywords}
        if by_keyword_only and any(id(s.value) not in keywords for s in settings):
            return unfixed
        dropped = tuple(KERAS3_NAMES[setting.spelling] for setting in settings)
        if isinstance(value, InstanceRef):
            assert data is not None
            moved = self._move(data, value, settings, reference)
            if moved is None:
                return unfixed
            return SettingsPlan(SLD302_REMEDIES["dataset"].format(cls=cls_name), dropped, moved)
        if kind == "unknown":
            return unfixed
        return SettingsPlan(unfixed.remedy, dropped)

    def moved_settings(self, call: ast.Call, arguments: LoaderArguments,
                       reference: Reference) -> Fix | None:
        """The fix that moves ``call``'s settings into its data's constructor call
        (:attr:`FixKind.ADD_LOADER_SETTINGS`), where the Keras 3 fix of the call makes
        one: SLD302's for ``fit``/``evaluate``/``predict`` (settings given by keyword),
        SLD301's for a ``*_generator`` form (whose arguments become keywords)."""
        plan = self.plan(call, arguments, reference,
                         by_keyword_only=arguments.method not in GENERATOR_METHODS)
        return next((fix for fix in plan.fixes if fix.kind is FixKind.ADD_LOADER_SETTINGS),
                    None)

    def _data_kind(self, data: ast.expr, value: object, reference: Reference) -> str:
        """Which of :data:`~safeloader.rules.SLD302_REMEDIES` fits ``data``."""
        if isinstance(value, InstanceRef):
            dataset = derives_from_pydataset(value.cls, self.classifier, bases=KERAS_DATASET_BASES)
            return "dataset" if dataset else "unknown"
        if self.wraps_generator(data, reference):
            return "generator"
        return self._not_dataset_kind(data, value, reference, 0) or "unknown"

    def _route(self, instance: InstanceRef) -> tuple[Fix, ...] | None:
        """The fixes that let the class take the settings; ``None``: it cannot."""
        definition = instance.cls.definition
        path = instance.cls.scope.path
        if path is None or not self.classifier.is_other_module(path):
            return loader_settings_route(ModuleIndex.of(self.tree), definition, self.target)
        module = load_module(path)
        if module is None:
            return None
        fixes = loader_settings_route(ModuleIndex.of(module.tree), definition, self.target)
        if fixes is None:
            return None
        return tuple(Fix(fix.kind, fix.span, path, fix.params) for fix in fixes)

    def _move(self, data: ast.expr, instance: InstanceRef, settings: list[Argument],
              reference: Reference) -> tuple[Fix, ...] | None:
        construction = instance.construction
        if construction is None or not self._built_here(data, construction, reference):
            return None
        if construction is not data and not all(_is_literal(s.value) for s in settings):
            return None
        if any(isinstance(arg, ast.Starred) for arg in construction.args) or any(
            keyword.arg is None or keyword.arg in KERAS3_NAMES.values()
            for keyword in construction.keywords
        ):
            return None
        route = self._route(instance)
        if route is None:
            return None
        texts = []
        for setting in settings:
            source = ast.get_source_segment(self.text, setting.value)
            if source is None or len(split_lines(source)) > 1:
                return None
            texts.append(f"{KERAS3_NAMES[setting.spelling]}={source}")
        add = Fix(FixKind.ADD_LOADER_SETTINGS, node_span(construction),
                  params={"arguments": ", ".join(texts)})
        return (add, *route)

    def _built_here(self, data: ast.expr, construction: ast.Call,
                    reference: Reference) -> bool:
        """Whether ``construction`` is ``data`` or the value of the one binding of name ``data``."""
        if construction is data:
            return True
        if not isinstance(data, ast.Name):
            return False
        assigned = assigned_value(data.id, reference)
        return assigned is not None and assigned[0] is construction

    def _not_dataset_kind(self, data: ast.expr, value: object, reference: Reference,
                          depth: int) -> str | None:
        """``"generator"`` or ``"in_memory"`` (arrays, literals, a ``tf.data``
        pipeline) when ``data`` is surely no ``PyDataset``; ``None``: not sure."""
        if isinstance(value, GeneratorObject) or isinstance(data, ast.GeneratorExp):
            return "generator"
        if isinstance(value, ConstantValue) or isinstance(data, _LITERALS):
            return "in_memory"
        callee = _innermost_callee(data)
        if callee is not None:
            return "in_memory" if callee.startswith(_NOT_DATASET_PREFIXES) else None
        if isinstance(data, ast.Name) and depth < _MAX_DEPTH:
            assigned = assigned_value(data.id, reference)
            if assigned is None:
                return None
            value, inner = assigned
            return self._not_dataset_kind(value, self.classifier.classify(value, inner), inner,
                                          depth + 1)
        return None


def _first_data(call: ast.Call) -> ast.expr | None:
    """The ``x``/``generator`` argument of a loader call."""
    for keyword in call.keywords:
        if keyword.arg in ("x", "generator"):
            return keyword.value
    if call.args and not isinstance(call.args[0], ast.Starred):
        return call.args[0]
    return None


def _is_literal(node: ast.expr) -> bool:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        node = node.operand
    return isinstance(node, ast.Constant)


def _innermost_callee(node: ast.expr) -> str | None:
    """The dotted callee at the root of a call chain (``tf.data.Dataset.range(3).batch(2)``)."""
    found = None
    while isinstance(node, (ast.Call, ast.Attribute, ast.Subscript)):
        if isinstance(node, ast.Call):
            name = dotted_name(node)
            if name is not None:
                found = name
            node = node.func
        else:
            node = node.value
    return found
