"""The call-site rules: SLD101, SLD102, SLD103, SLD301 and SLD302 (and, through
:mod:`safeloader.analysis.keras3_data`, the Keras 3 data hazards SLD303, SLD305, SLD306).

Each call of a method named ``fit``, ``evaluate``, ``predict`` or their
``*_generator`` forms, on any receiver, is read by its Keras signature
(:mod:`safeloader.analysis.signatures`) and its data arguments are
classified (:mod:`safeloader.analysis.generators`); whether it runs on
import is :mod:`safeloader.analysis.main_guard`'s question.

Decisions, for precision:

* ``workers``: absent means Keras' default 1 (no threads); a literal (or a
  name bound once to a literal) ``1`` starts no thread, and ``0`` or less
  starts nothing at all (Keras 2 starts workers only when ``workers > 1``,
  or ``workers > 0`` with ``use_multiprocessing``); anything else that is
  not a literal counts as possibly more than 1. Hidden behind
  ``*args``/``**kwargs``: nothing is reported.
* ``use_multiprocessing``: a literal (or a name bound to one) ``True`` means
  processes (SLD102, SLD103); any other expression may be either, and a
  plain generator is unsafe under both, so SLD101 reports it (its message
  shows the setting).
* When the module targets Keras 3, ``fit``/``evaluate``/``predict`` reject
  these settings (SLD302) before any thread starts, and the ``*_generator``
  forms are gone (SLD301); the fixes of both drop the settings, or move them
  into the data's ``PyDataset``. So no thread reads a generator there:
  SLD101 and SLD102 are silent, and SLD103 counts a call's
  ``use_multiprocessing=True`` only where the fix moves it into a dataset's
  constructor, besides ``PyDataset`` objects built with it.

Positions: SLD101 and SLD102 are reported at the data argument (the
generator), SLD103, SLD301 and SLD302 at the method name
(``model.fit_generator`` reports at ``fit_generator``).

Fixes (read by ``safeloader-fix``):

* SLD101: ``DECORATE_GENERATOR`` at the generator function's ``def``
  (``path`` set when it is in another module; params ``name``), or, when
  no ``def`` is known (a generator expression, or a name bound to one),
  ``WRAP_EXPRESSION`` at the data argument.
* SLD102: ``DISABLE_MULTIPROCESSING`` at the value of the
  ``use_multiprocessing``/``pickle_safe`` argument when that value is the
  literal ``True`` (params ``keyword``), then the SLD101 fix when the
  generator is not guarded.
* SLD301: ``RENAME_GENERATOR_CALL`` spanning the whole call (params ``old``,
  ``new``); under Keras 3 also ``drop`` and the constructor and class fixes
  of SLD302 (:mod:`safeloader.analysis.keras3_settings`), or no fix at all
  where SLD302 has none (the renamed call would fail on Keras 3).
* SLD302: ``REMOVE_LOADER_SETTINGS`` at the call, plus
  ``ADD_LOADER_SETTINGS`` at the data's constructor call and SLD105's
  ``FORWARD_KWARGS`` when the settings move there
  (:mod:`safeloader.analysis.keras3_settings`).
* SLD103: ``GUARD_MAIN`` at the first statement that moves under the
  ``__main__`` guard, the same fix for every SLD103 of the module
  (:mod:`safeloader.analysis.main_guard_fix`).

In a notebook (``notebook``: the module is a notebook's code cells) no worker
re-runs the code, but a spawned worker cannot import what the notebook
defines: SLD103 then reports, wherever the call is, processes loading an
object of a class the notebook defines, and its fix is
``DISABLE_MULTIPROCESSING`` at the ``use_multiprocessing=True`` that starts
them (on the call or on the dataset's constructor), never ``GUARD_MAIN``;
under Keras 3, where the call's setting moves into the constructor, it is
``DISABLE_MOVED_MULTIPROCESSING`` at that constructor call, which sets the
moved setting to ``False`` in the same pass. SLD102 says the same of a
generator. Their messages are the registry's notebook variants.
"""

from __future__ import annotations

import ast
import bisect
import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, NamedTuple, Sequence

from safeloader.analysis.config import AnalysisConfig
from safeloader.analysis.generators import (
    Classifier,
    ConstantValue,
    GeneratorObject,
    InstanceRef,
    Value,
    node_span,
)
from safeloader.analysis.keras3_data import Keras3DataChecker
from safeloader.analysis.keras3_settings import SettingsPlan, SettingsPlanner
from safeloader.analysis.install_magics import InlineRequirement
from safeloader.analysis.keras_version import KerasTarget, keras_target
from safeloader.analysis.main_guard import (
    KERAS_DATASET_BASES,
    derives_from_pydataset,
    is_main_guard,
    names_called_on_import,
    starts_processes,
)
from safeloader.analysis.main_guard_fix import plan_main_guard
from safeloader.analysis.prefilter import line_numbers, loader_call_offsets
from safeloader.analysis.project import LazyTextHints
from safeloader.analysis.scopes import (
    BlockPath,
    Reference,
    Scope,
    called_name_position,
    child_scope,
    position,
)
from safeloader.analysis.signatures import (
    GENERATOR_METHODS,
    KERAS3_REJECTED_KEYWORDS,
    LOADER_METHODS,
    Argument,
    Given,
    LoaderArguments,
    bind_loader_call,
)
from safeloader.findings import Finding, Fix, FixKind
from safeloader.rules import RULES

_SNIPPET_LIMIT = 40
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
_KERAS3_MODERN = frozenset({"fit", "evaluate", "predict"})
#: where a capital follows a lower-case letter or digit: ``ImageSequence`` -> ``image_sequence``
_WORD_START = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def module_file_for(name: str) -> str:
    """A module file name for the class or function ``name`` to move into
    (``ImageSequence`` -> ``image_sequence.py``)."""
    return _WORD_START.sub("_", name).lower() + ".py"


def candidate_lines(text: str, offsets: Sequence[int] | None = None) -> list[int]:
    """Return the sorted line numbers where a loader method may be called in ``text``.

    A candidate is one of the words ``fit``, ``evaluate``, ``predict``, not
    preceded by a name character, followed by ``_generator`` or nothing,
    then by a parenthesis (whitespace and line continuations allowed):
    :func:`~.prefilter.loader_call_offsets`, unless their ascending ``offsets``
    are given.
    """
    if offsets is None:
        offsets = sorted(loader_call_offsets(text))
    return sorted(set(line_numbers(text, offsets)))


def snippet(lines: Sequence[str], node: ast.AST) -> str:
    """Return the source text of ``node`` (shortened), read from ``lines``."""
    first, last = getattr(node, "lineno", 0), getattr(node, "end_lineno", None) or 0
    if not 1 <= first <= last <= len(lines):
        return "..."
    chunk = [line.encode("utf-8") for line in lines[first - 1:last]]
    end_col = getattr(node, "end_col_offset", None)
    if end_col is not None:
        chunk[-1] = chunk[-1][:end_col]
    chunk[0] = chunk[0][getattr(node, "col_offset", 0):]
    text = " ".join(part.decode("utf-8", "replace").strip() for part in chunk)
    return text if len(text) <= _SNIPPET_LIMIT else text[: _SNIPPET_LIMIT - 3] + "..."


#: blocks of at most this many statements are tested statement by statement
_SHORT_BLOCK = 8


def _first_line(node: ast.AST) -> int:
    """The first line of ``node``: a decorated definition's first decorator's."""
    decorators = getattr(node, "decorator_list", None)
    return decorators[0].lineno if decorators else getattr(node, "lineno", 0)


def _last_line(node: ast.AST) -> int:
    return getattr(node, "end_lineno", None) or _first_line(node)


@dataclass(frozen=True)
class _Place:
    """Where a statement sits: its scope and blocks.

    ``on_import``: module-level code outside the ``__main__`` guard;
    ``function``: the module-level function whose own body this is.
    """

    scope: Scope
    path: BlockPath
    on_import: bool
    function: ast.FunctionDef | ast.AsyncFunctionDef | None


class _Site(NamedTuple):
    """A loader call found by the walk, where it is, and the names a lambda or
    comprehension around it shadows."""

    call: ast.Call
    place: _Place
    shadowed: frozenset[str]


class CallChecker:
    """Finds the call-site rules' findings in one module, and decides the Keras it targets.

    One walk finds the loader calls (:meth:`loader_calls`); the Keras target
    (:meth:`target`) reads its legacy evidence from them, so the rules, which
    ask it per call, see the same answer for every call of the module.
    ``inline_requirements``: what the module declares for itself (a
    notebook's install lines, :mod:`.install_magics`); ``text``: the lines
    joined, and ``call_offsets``: where the loader calls may be in it
    (:func:`candidate_lines`), when the caller has them.
    """

    def __init__(
        self, tree: ast.Module, lines: Sequence[str], path: Path | None, config: AnalysisConfig,
        inline_requirements: Sequence[InlineRequirement] = (), *, notebook: bool = False,
        text: str | None = None, call_offsets: Sequence[int] | None = None,
    ):
        self.tree = tree
        self.notebook = notebook
        self.path = path
        self.config = config
        self.inline_requirements = inline_requirements
        self.lines = lines
        if text is None:
            ends = not lines or lines[0].endswith(("\n", "\r"))
            text = ("" if ends else "\n").join(lines)
        self.text = text
        self.candidates = candidate_lines(self.text, call_offsets)
        self.classifier = Classifier(config.extra_guards, path, config.project_root)
        self.module_scope = Scope(tree, None, path, LazyTextHints(self.text))
        self.settings = SettingsPlanner(
            tree, self.text, self.classifier, self.target,
            lambda data, reference: self.keras3_data.wrapper_use(data, reference) is not None)
        self._called_on_import: frozenset[str] | None = None
        self._guard_fix: tuple[Fix | None] | None = None
        self._sites: list[_Site] | None = None
        self._target: KerasTarget | None = None

    def findings(self) -> Iterator[Finding]:
        """Yield every call-site finding of the module."""
        for site in self._loader_sites():
            yield from self._loader_call(site.call, site.place, site.shadowed)

    def loader_calls(self) -> list[ast.Call]:
        """The module's calls of loader methods, found by one walk of the statements
        that span a candidate line (:func:`candidate_lines`)."""
        return [site.call for site in self._loader_sites()]

    def target(self) -> KerasTarget:
        """The Keras the module targets (decided once, when first asked)."""
        if self._target is None:
            self._target = keras_target(self.tree, self.config.keras_version, self.path,
                                        self.loader_calls(), self.inline_requirements)
        return self._target

    def _loader_sites(self) -> list[_Site]:
        if self._sites is None:
            place = _Place(self.module_scope, (), True, None)
            self._sites = list(self._statements(self.tree.body, place)) if self.candidates else []
        return self._sites

    def keras_version(self) -> str | None:
        """Return the Keras major version the module targets (``None``: unknown)."""
        return self.target().version

    @functools.cached_property
    def keras3_data(self) -> Keras3DataChecker:
        """The checker of the Keras 3 data hazards (SLD303, SLD305, SLD306)."""
        return Keras3DataChecker(self.tree, self.text, self.classifier, self.target,
                                 lambda node: snippet(self.lines, node))

    def _touches(self, node: ast.AST) -> bool:
        """Whether a candidate line lies within ``node``'s lines (a decorated
        definition's start at its first decorator)."""
        first = _first_line(node)
        last = getattr(node, "end_lineno", None) or first
        index = bisect.bisect_left(self.candidates, first)
        return index < len(self.candidates) and self.candidates[index] <= last

    def _statements(self, statements: list[ast.stmt], place: _Place) -> Iterator[_Site]:
        for stmt in self._touching(statements):
            yield from self._statement(stmt, place)

    def _touching(self, statements: list[ast.stmt]) -> list[ast.stmt]:
        """The statements of a block that :meth:`_touches`, in order.

        A block's statements follow each other (one may end on the line the next
        starts on), so each candidate line is looked up among them by bisection
        rather than every statement tested: a module of thousands of statements
        with one loader call costs a few steps.
        """
        if len(statements) <= _SHORT_BLOCK:
            return [stmt for stmt in statements if self._touches(stmt)]
        candidates = self.candidates
        low = bisect.bisect_left(candidates, _first_line(statements[0]))
        high = bisect.bisect_right(candidates, _last_line(statements[-1]))
        touched: set[int] = set()
        for line in candidates[low:high]:
            index = bisect.bisect_right(statements, line, key=_first_line) - 1
            while index >= 0 and _last_line(statements[index]) >= line:
                touched.add(index)
                index -= 1
        return [statements[index] for index in sorted(touched)]

    def _statement(self, stmt: ast.stmt, place: _Place) -> Iterator[_Site]:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            header = [*stmt.decorator_list]
            if isinstance(stmt, ast.ClassDef):
                header += [*stmt.bases, *stmt.keywords]
            else:
                header += [stmt.args]
                header += [stmt.returns] if stmt.returns is not None else []
            for node in header:
                yield from self._expressions(node, place)
            module_level = place.scope.parent is None and isinstance(stmt, ast.FunctionDef)
            inner = _Place(
                child_scope(stmt, place.scope), (), False, stmt if module_level else None
            )
            yield from self._statements(stmt.body, inner)
            return
        for name, value in ast.iter_fields(stmt):
            if isinstance(value, list) and value and isinstance(value[0], ast.stmt):
                on_import = place.on_import and not (name == "body" and is_main_guard(stmt))
                block = _Place(place.scope, (*place.path, (stmt, name)), on_import,
                               place.function)
                yield from self._statements(value, block)
            elif isinstance(value, list) and value and isinstance(
                value[0], (ast.excepthandler, ast.match_case)
            ):
                for holder in value:
                    yield from self._holder(holder, place)
            elif isinstance(value, (ast.AST, list)):
                yield from self._expressions(value, place)

    def _holder(self, holder: ast.AST, place: _Place) -> Iterator[_Site]:
        """Check an ``except`` handler or a ``match`` case: its header, then its body."""
        if not self._touches(holder):
            return
        for name, value in ast.iter_fields(holder):
            if name != "body":
                yield from self._expressions(value, place)
        block = _Place(place.scope, (*place.path, (holder, "body")), place.on_import,
                       place.function)
        yield from self._statements(getattr(holder, "body", []), block)

    def _expressions(self, root: object, place: _Place) -> Iterator[_Site]:
        """The loader calls among the expressions under ``root``; a node whose lines
        hold no candidate line is not entered (:meth:`_touches`, written out here:
        this loop is the walk's hot path)."""
        candidates = self.candidates
        count = len(candidates)
        pending: list[tuple[object, frozenset[str]]] = [(root, frozenset())]
        while pending:
            node, shadowed = pending.pop()
            if isinstance(node, list):
                pending.extend((item, shadowed) for item in node)
                continue
            if not isinstance(node, ast.AST):
                continue
            first = getattr(node, "lineno", None)
            if first is not None:  # expressions have no decorators; unpositioned nodes
                last = getattr(node, "end_lineno", None) or first  # are entered
                index = bisect.bisect_left(candidates, first)
                if index == count or candidates[index] > last:
                    continue
            if isinstance(node, ast.Lambda):
                shadowed = shadowed | {arg.arg for arg in ast.walk(node.args)
                                       if isinstance(arg, ast.arg)}
            elif isinstance(node, _COMPREHENSIONS):
                shadowed = shadowed | {
                    name.id for generator in node.generators
                    for name in ast.walk(generator.target) if isinstance(name, ast.Name)
                }
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in LOADER_METHODS
            ):
                yield _Site(node, place, shadowed)
            # the children, in ast.iter_child_nodes' order
            for name in node._fields:
                child = getattr(node, name, None)
                if isinstance(child, ast.AST):
                    pending.append((child, shadowed))
                elif isinstance(child, list):
                    pending.extend((item, shadowed) for item in child
                                   if isinstance(item, ast.AST))

    def called_on_import(self) -> frozenset[str]:
        """Return the names that module level calls outside the ``__main__`` guard (once)."""
        if self._called_on_import is None:
            self._called_on_import = names_called_on_import(self.tree)
        return self._called_on_import

    # -- one loader call ---------------------------------------------------

    def _loader_call(
        self, call: ast.Call, place: _Place, shadowed: frozenset[str]
    ) -> Iterator[Finding]:
        """All rules for one loader call; data are classified only when a rule needs it."""
        assert isinstance(call.func, ast.Attribute)
        method = call.func.attr
        arguments = bind_loader_call(call, method)
        reference = Reference(place.scope, position(call), place.path)
        yield from self._old_method(call, arguments, reference)
        yield from self._keras3_settings(call, arguments, reference)
        if self.keras3_data.may_apply(call, arguments) and self._targets_keras3():
            yield from self.keras3_data.check(call, arguments, reference)
        workers = self._count(arguments.workers, reference)
        if isinstance(workers, int) and workers <= 0 or workers is Given.HIDDEN:
            return  # Keras 2 starts no thread and no process for workers <= 0
        processes = self._flag(arguments.use_multiprocessing, reference)
        threaded = workers is None or isinstance(workers, int) and workers > 1
        # in a notebook no worker re-runs the code: what matters is what it defines
        watch_processes = self.notebook or self._runs_on_import(place)
        if not (processes is True or threaded or watch_processes):
            return  # the Keras target (which may read the project's files) is not asked
        keras3 = self._targets_keras3()
        # Keras 3 reads no loader setting of the call: fit() rejects them (SLD302),
        # the *_generator forms are gone (SLD301), and the fixes of both drop them
        # or move them into the data's PyDataset; no thread ever shares a generator
        generator_rules = not keras3 and (processes is True or threaded)
        if not generator_rules and not watch_processes:
            return
        classified = []
        for data in arguments.data:
            if not shadowed & {n.id for n in ast.walk(data) if isinstance(n, ast.Name)}:
                classified.append((data, self.classifier.classify(data, reference)))
        if generator_rules:
            for data, value in classified:
                if isinstance(value, GeneratorObject):
                    yield from self._generator_rules(
                        arguments, data, value, workers, processes, classified
                    )
        if watch_processes:
            # under Keras 3 the call's flag starts processes only where the fix moves it
            # into its data's constructor (SLD302's; SLD301's for a *_generator form)
            moved = (self.settings.moved_settings(call, arguments, reference)
                     if processes is True and keras3 else None)
            call_processes = processes is True and (not keras3 or moved is not None)
            yield from self._main_guard_rule(call, arguments, classified, call_processes, moved)

    def _runs_on_import(self, place: _Place) -> bool:
        """Whether code at ``place`` runs when the module is executed or imported."""
        function = place.function
        return place.on_import or (
            function is not None and function.name in self.called_on_import()
        )

    def _targets_keras3(self) -> bool:
        return self.keras_version() == "3"

    def _resolve_constant(self, value: ast.expr, reference: Reference) -> object:
        """Return the literal ``value`` is (directly or through one name), else ``None``."""
        if isinstance(value, ast.Constant):
            return value.value
        if (isinstance(value, ast.UnaryOp) and isinstance(value.op, ast.USub)
                and isinstance(value.operand, ast.Constant)
                and type(value.operand.value) is int):
            return -value.operand.value
        if isinstance(value, ast.Name):
            resolved = self.classifier.classify(value, reference)
            if isinstance(resolved, ConstantValue):
                return resolved.value
        return None

    def _count(self, given: Argument | Given, reference: Reference) -> int | Given | None:
        """Return the worker count: an int, ``None`` (possibly many), or a ``Given``."""
        if given is Given.DEFAULT:
            return 1
        if given is Given.HIDDEN:
            return Given.HIDDEN
        assert isinstance(given, Argument)
        value = self._resolve_constant(given.value, reference)
        if isinstance(value, (bool, int)):
            return int(value)
        return None

    def _flag(self, given: Argument | Given, reference: Reference) -> bool | None:
        """Return ``use_multiprocessing``: ``True``, ``False`` or ``None`` (unknown)."""
        if given is Given.DEFAULT:
            return False
        if given is Given.HIDDEN:
            return None
        assert isinstance(given, Argument)
        value = self._resolve_constant(given.value, reference)
        if isinstance(value, bool):
            return value
        return None

    def _setting(self, given: Argument | Given, default: str) -> str:
        if isinstance(given, Argument):
            return f"{given.spelling}={snippet(self.lines, given.value)}"
        return default

    def _generator_rules(
        self,
        arguments: LoaderArguments,
        data: ast.expr,
        value: GeneratorObject,
        workers: int | Given | None,
        processes: bool | None,
        classified: Sequence[tuple[ast.expr, Value | None]] = (),
    ) -> Iterator[Finding]:
        """SLD101 and SLD102 for one generator passed to ``call`` (``classified``: all
        its data arguments, for SLD102's word on the ones safe under processes)."""
        label = value.label
        if value.function is None and isinstance(data, ast.Name):
            label = f"'{data.id}'"
        decorate = self._thread_safety_fix(data, value)
        remedy = self._thread_safety_remedy(value, label)
        multiprocessing = arguments.use_multiprocessing
        if processes is True:
            setting = ", ".join(
                part for part in (
                    self._setting(arguments.workers, ""),
                    self._setting(multiprocessing, ""),
                ) if part
            )
            keyword = (multiprocessing.spelling if isinstance(multiprocessing, Argument)
                       else "use_multiprocessing")
            note = self._sequences_note(keyword, data, classified)
            fixes: list[Fix] = []
            if isinstance(multiprocessing, Argument) and isinstance(
                multiprocessing.value, ast.Constant
            ):
                params = {"keyword": multiprocessing.spelling}
                if note:
                    params["note"] = note
                fixes.append(Fix(FixKind.DISABLE_MULTIPROCESSING, node_span(multiprocessing.value),
                                 None, params))
            if value.guarded:
                advice = f"set {keyword}=False: its lock already makes it thread-safe"
            else:
                advice = f"set {keyword}=False and {remedy}"
                fixes.extend([decorate] if decorate is not None else [])
            if note:
                advice += f"; {note}"
            if self.notebook:
                function = value.function
                message = RULES["SLD102"].format_in_notebook(
                    generator=label, call=arguments.method, setting=setting, remedy=advice,
                    function=f"'{function.label}'" if function else "its generator function",
                    module=module_file_for(function.label) if function else "data.py",
                )
            else:
                message = RULES["SLD102"].format(
                    generator=label, call=arguments.method, setting=setting, remedy=advice
                )
            yield Finding("SLD102", data.lineno, data.col_offset, message, tuple(fixes))
            return
        if value.guarded or workers is not None and workers <= 1:
            return
        setting = self._setting(arguments.workers, "")
        if processes is None:
            setting += ", " + self._setting(multiprocessing, "**kwargs")
        message = RULES["SLD101"].format(
            generator=label, call=arguments.method, setting=setting, remedy=remedy
        )
        fixes = [decorate] if decorate is not None else []
        yield Finding("SLD101", data.lineno, data.col_offset, message, tuple(fixes))

    def _sequences_note(
        self, keyword: str, data: ast.expr, classified: Sequence[tuple[ast.expr, Value | None]]
    ) -> str:
        """What turning processes off costs the call's other data arguments that are
        ``Sequence``/``PyDataset`` objects (safe under processes); ``""`` when none."""
        sequences = [
            f"'{snippet(self.lines, other)}'" for other, value in classified
            if other is not data and isinstance(value, InstanceRef)
            and derives_from_pydataset(value.cls, self.classifier, bases=KERAS_DATASET_BASES)
        ]
        if not sequences:
            return ""
        names = " and ".join(sequences)
        return (f"{keyword}=False also loads {names} in threads, though a Sequence is "
                "safe under processes")

    def _thread_safety_fix(self, data: ast.expr, value: GeneratorObject) -> Fix | None:
        if value.guarded:
            return None
        if value.function is not None and not self._wraps_call_site(value):
            return self.classifier.fix_for(value.function)
        return Fix(FixKind.WRAP_EXPRESSION, node_span(data))

    def _wraps_call_site(self, value: GeneratorObject) -> bool:
        """Whether the fix wraps the data argument rather than decorating the ``def``:
        a function also handed to a guard elsewhere (``gen = threadsafe_generator(make)``)
        would otherwise be wrapped twice there."""
        function = value.function
        return function is not None and self.classifier.wrapped_elsewhere(function, self.tree)

    def _thread_safety_remedy(self, value: GeneratorObject, label: str) -> str:
        function = value.function
        if function is None or self._wraps_call_site(value):
            return f"wrap {'it' if label == 'expression' else label} in " \
                   "safeloader.ThreadSafeIterator(...)"
        where = ""
        if function.path is not None and self.classifier.is_other_module(function.path):
            where = f" in {function.path.name}"
        return (f"decorate '{function.label}'{where} with "
                "@safeloader.threadsafe_generator")

    def _old_method(
        self, call: ast.Call, arguments: LoaderArguments, reference: Reference
    ) -> Iterator[Finding]:
        """SLD301: a ``*_generator`` method; under Keras 3 its fix also moves the settings."""
        method = arguments.method
        new = GENERATOR_METHODS.get(method)
        if new is None:
            return
        line, col = called_name_position(call)
        params = {"old": method, "new": new}
        fixes: tuple[Fix, ...] = ()
        if self._targets_keras3() and any(
            setting is not Given.DEFAULT for setting in arguments.settings()
        ):
            plan = self.settings.plan(call, arguments, reference, by_keyword_only=False)
            if plan.keywords:
                params["drop"] = ",".join(plan.keywords)
                fixes = plan.fixes
            else:
                params = {}
        rename = (Fix(FixKind.RENAME_GENERATOR_CALL, node_span(call), None, params),)
        yield Finding("SLD301", line, col, RULES["SLD301"].format(old=method, new=new),
                      rename + fixes if params else ())

    def _keras3_settings(
        self, call: ast.Call, arguments: LoaderArguments, reference: Reference
    ) -> Iterator[Finding]:
        """SLD302: loader settings passed to Keras 3's ``fit``/``evaluate``/``predict``."""
        if arguments.method not in _KERAS3_MODERN:
            return
        passed = [k.arg for k in call.keywords if k.arg in KERAS3_REJECTED_KEYWORDS]
        if not passed or not self._targets_keras3():
            return
        line, col = called_name_position(call)
        keywords = ", ".join(f"'{name}'" for name in passed)
        plan: SettingsPlan = self.settings.plan(call, arguments, reference, by_keyword_only=True)
        fixes: tuple[Fix, ...] = ()
        if plan.keywords:
            drop = Fix(FixKind.REMOVE_LOADER_SETTINGS, node_span(call), None,
                       {"keywords": ",".join(passed)})
            fixes = (drop, *plan.fixes)
        message = RULES["SLD302"].format(call=arguments.method, keywords=keywords,
                                         evidence=self.target().evidence, remedy=plan.remedy)
        yield Finding("SLD302", line, col, message, fixes)

    def _main_guard_rule(
        self,
        call: ast.Call,
        arguments: LoaderArguments,
        classified: list[tuple[ast.expr, object]],
        processes: bool,
        moved: Fix | None,
    ) -> Iterator[Finding]:
        """SLD103 for a call that runs on import: worker processes started unguarded.

        ``processes``: the call's own setting starts them; ``moved``: under Keras 3, the
        fix that moves that setting into the data's constructor call."""
        if self.notebook:
            yield from self._notebook_processes_rule(call, arguments, classified, processes,
                                                     moved)
            return
        setting = None
        if processes:
            setting = self._setting(arguments.use_multiprocessing, "")
        else:
            keras3 = self._targets_keras3()
            for data, value in classified:
                if isinstance(value, InstanceRef) and starts_processes(value, self.classifier,
                                                                       keras3=keras3):
                    setting = f"{value.cls.definition.name}(..., use_multiprocessing=True)"
                    break
        if setting is None:
            return
        line, col = called_name_position(call)
        if self._guard_fix is None:
            self._guard_fix = (plan_main_guard(self.tree),)
        fix = self._guard_fix[0]
        yield Finding("SLD103", line, col,
                      RULES["SLD103"].format(call=arguments.method, setting=setting),
                      (fix,) if fix is not None else ())

    def _notebook_processes_rule(
        self,
        call: ast.Call,
        arguments: LoaderArguments,
        classified: list[tuple[ast.expr, object]],
        processes: bool,
        moved: Fix | None,
    ) -> Iterator[Finding]:
        """SLD103 in a notebook: processes loading an object of a class the notebook
        defines, which a spawned worker cannot import; fixed by loading in threads.

        Under Keras 3 the call's flag counts for the data whose constructor call the
        ``moved`` fix gives it, and the thread route sets it to ``False`` there, after
        the move, in the same pass (``DISABLE_MOVED_MULTIPROCESSING``)."""
        call_flag = arguments.use_multiprocessing
        for data, value in classified:
            if not isinstance(value, InstanceRef) or self.classifier.is_other_module(
                value.cls.scope.module_scope().path
            ):
                continue
            name = value.cls.definition.name
            construction = value.construction
            moved_here = moved is not None and construction is not None and (
                node_span(construction) == moved.span)
            flag: ast.keyword | Argument
            if processes and isinstance(call_flag, Argument) and (moved is None or moved_here):
                flag = call_flag
                setting = self._setting(flag, "")
            elif starts_processes(value, self.classifier, keras3=self._targets_keras3()):
                assert construction is not None
                flag = next(k for k in construction.keywords if k.arg == "use_multiprocessing")
                setting = f"{name}(..., use_multiprocessing=True)"
            else:
                continue
            keyword = flag.spelling if isinstance(flag, Argument) else "use_multiprocessing"
            fixes: tuple[Fix, ...] = ()
            if moved_here and flag is call_flag:
                assert moved is not None
                keyword = "use_multiprocessing"  # its Keras 3 name, in the constructor
                if isinstance(flag.value, ast.Constant):
                    fixes = (Fix(FixKind.DISABLE_MOVED_MULTIPROCESSING, moved.span, None,
                                 {"keyword": keyword}),)
            elif isinstance(flag.value, ast.Constant):
                fixes = (Fix(FixKind.DISABLE_MULTIPROCESSING, node_span(flag.value), None,
                             {"keyword": keyword}),)
            line, col = called_name_position(call)
            yield Finding("SLD103", line, col, RULES["SLD103"].format_in_notebook(
                call=arguments.method, setting=setting, data=f"'{snippet(self.lines, data)}'",
                name=name, module=module_file_for(name), keyword=keyword,
            ), fixes)
            return
