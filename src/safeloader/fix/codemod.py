"""The LibCST codemod that applies safeloader's fixes to one module.

``SafeloaderFixCommand`` is a LibCST ``CodemodCommand`` for LibCST's own
runner, which parses each file whole and hands the module to it::

    python -m libcst.tool codemod -x codemod.SafeloaderFixCommand train.py

(run from a directory whose ``.libcst.codemod.yaml`` lists ``safeloader`` in
``modules``); the command then runs the analysis on each file itself, or
applies the fixes it was given. Every fix's span is matched to a node through
``PositionProvider`` (see :mod:`safeloader.fix.span_matching`) and rewritten
in one walk by :class:`~safeloader.fix.applier.FixApplier`; imports are added
and removed afterwards by LibCST's ``AddImportsVisitor`` and
``RemoveImportsVisitor``, which LibCST's ``CodemodCommand`` runs; then the
result is laid out as ``safeloader-fix`` lays it out (continuation lines
realigned, :mod:`safeloader.fix.realign`). A fix whose
span matches nothing, or whose shape its handler cannot rewrite safely,
leaves the code unchanged with a warning.

``safeloader-fix`` itself runs the same applier and handlers through
:mod:`safeloader.fix.engine`, which gives LibCST only the statements the
fixes need.
"""

from __future__ import annotations

import argparse
import ast
from pathlib import Path
from typing import Sequence

import libcst as cst
from libcst.codemod import CodemodCommand, CodemodContext, SkipFile
from libcst.codemod.visitors import AddImportsVisitor, RemoveImportsVisitor
from libcst.metadata import GlobalScope, PositionProvider, ScopeProvider

from safeloader.analysis import AnalysisConfig, analyze_source, might_have_findings
from safeloader.analysis.config import KERAS_VERSIONS
from safeloader.findings import Fix
from safeloader.fix.applier import FixApplier, find_targets
from safeloader.fix.imports import no_blank_line_on_top, space_below_added_imports
from safeloader.fix.realign import realign
from safeloader.fix.selection import FixSelection, comma_separated
from safeloader.fix.span_matching import ModuleText, NodeIndex
from safeloader.fix.unused_parameters import parameters_left_unused


class CodemodSession:
    """The :class:`~safeloader.fix.fixes.ModuleSession` of a LibCST codemod on a
    whole module: LibCST's scopes, and its import visitors (which LibCST's
    ``CodemodCommand`` runs after the transform)."""

    def __init__(self, context: CodemodContext) -> None:
        self._context = context

    @property
    def module(self) -> cst.Module:
        """The module being rewritten, as parsed."""
        module = self._context.module
        if module is None:
            raise RuntimeError("the module is only available during a transform")
        return module

    def global_bindings(self, name: str) -> Sequence[cst.CSTNode | None]:
        """The nodes that bind ``name`` in the module's global scope."""
        wrapper = self._context.wrapper
        if wrapper is None:
            raise RuntimeError("scopes are only available during a transform")
        scope = wrapper.resolve(ScopeProvider)[wrapper.module]
        assert isinstance(scope, GlobalScope)
        return [getattr(assignment, "node", None) for assignment in scope.assignments[name]]

    def add_import(self, module: str, name: str | None, asname: str | None) -> None:
        """Schedule the import for LibCST's ``AddImportsVisitor``."""
        AddImportsVisitor.add_needed_import(self._context, module, name, asname)

    def remove_import(self, module: str, name: str, asname: str | None = None) -> None:
        """Schedule the removal for LibCST's ``RemoveImportsVisitor`` (which runs after
        ``AddImportsVisitor``)."""
        RemoveImportsVisitor.remove_unused_import(self._context, module, name, asname)

    def remove_imports_used_by(self, original: cst.CSTNode) -> None:
        """Schedule the removals for LibCST's ``RemoveImportsVisitor``."""
        RemoveImportsVisitor.remove_unused_import_by_node(self._context, original)


class SafeloaderFixCommand(CodemodCommand):
    """Rewrite the hazards safeloader's analysis finds, where a fix is safe."""

    DESCRIPTION: str = (
        "Fix thread-unsafe generators fed to Keras' threaded loaders and the "
        "deprecated *_generator calls (safeloader's SLD rules)."
    )
    METADATA_DEPENDENCIES = (PositionProvider,)

    @staticmethod
    def add_args(arg_parser: argparse.ArgumentParser) -> None:
        """The options ``python -m libcst.tool codemod`` offers for this command."""
        arg_parser.add_argument("--select", help="comma-separated codes or prefixes to fix")
        arg_parser.add_argument("--ignore", help="comma-separated codes or prefixes to skip")
        arg_parser.add_argument(
            "--unsafe-fixes", action="store_true", help="also apply fixes that may change behaviour"
        )
        arg_parser.add_argument(
            "--keras-version", choices=KERAS_VERSIONS, default="auto",
            help="the Keras the code targets (default: auto)",
        )
        arg_parser.add_argument(
            "--guards", help="comma-separated extra names that make a generator thread-safe"
        )

    def __init__(
        self,
        context: CodemodContext,
        select: str | None = None,
        ignore: str | None = None,
        unsafe_fixes: bool = False,
        keras_version: str = "auto",
        guards: str | None = None,
        fixes: Sequence[tuple[str, Fix]] | None = None,
    ) -> None:
        """``fixes``: the ``(code, fix)`` pairs to apply, as planned by the caller;
        ``None`` runs the analysis on the module with the other options."""
        super().__init__(context)
        self._selection = FixSelection(
            comma_separated(select), comma_separated(ignore), unsafe_fixes
        )
        self._config = AnalysisConfig(
            keras_version=keras_version,  # type: ignore[arg-type]
            extra_guards=frozenset(comma_separated(guards)),
        )
        self._planned = None if fixes is None else list(fixes)
        #: the ``(code, fix)`` pairs that changed the last module, in order
        self.applied: list[tuple[str, Fix]] = []

    def _fixes_for(self, module: cst.Module) -> list[tuple[str, Fix]]:
        """The planned fixes, or the analysis' fixes for this file."""
        if self._planned is not None:
            return self._planned
        source = module.code
        if not might_have_findings(source):
            return []
        path = Path(self.context.filename or "<module>")
        here = path.resolve()
        chosen = []
        for code, fix in self._selection.fixes_to_apply(
            analyze_source(source, path, self._config)
        ):
            if fix.path is not None and Path(fix.path).resolve() != here:
                self.warn(
                    f"{code}: the fix belongs in {fix.path}:{fix.span.line}:{fix.span.col + 1}; "
                    "run safeloader-fix, which fixes it there"
                )
            else:
                chosen.append((code, fix))
        return chosen

    def transform_module_impl(self, tree: cst.Module) -> cst.Module:
        """Apply the fixes to ``tree`` in one walk.

        Raises LibCST's ``SkipFile`` when no fix changes the module: LibCST's
        runner would otherwise write back its own reprint of the file, which
        is not always byte for byte (a final lone CR, trailing
        whitespace-only lines).
        """
        self.applied = []
        fixes = self._fixes_for(tree)
        if not fixes:
            raise SkipFile("nothing for safeloader to fix")
        positions = self.metadata[PositionProvider]
        text = ModuleText(tree.code)
        index = NodeIndex(text, positions)  # type: ignore[arg-type]
        targets = find_targets(fixes, index, text.char_span, self.warn)
        if not targets:
            raise SkipFile("no safeloader fix matched the code: see the warnings")
        session = CodemodSession(self.context)
        applier = FixApplier(targets, positions, session, self.warn)  # type: ignore[arg-type]
        fixed = tree.visit(applier)
        self.applied = applier.applied
        if fixed.deep_equals(tree):
            raise SkipFile("every safeloader fix here was left undone: see the warnings")
        return fixed

    def transform_module(self, tree: cst.Module) -> cst.Module:
        """Apply the fixes, let LibCST add and remove the imports they asked for,
        then lay the result out as ``safeloader-fix`` does: two blank lines
        between added imports and a ``def`` or ``class``, no blank line on top
        where a removed import was the first statement, continuation lines
        realigned; a parameter the fixes left unused is warned about."""
        fixed = no_blank_line_on_top(
            tree, space_below_added_imports(tree, super().transform_module(tree)))
        # ``Module.code`` renders the whole tree on each read: once each here
        old_text, fixed_text = tree.code, fixed.code
        realigned = realign(old_text, fixed_text)
        if realigned != old_text:
            lines = {line for _, fix in self.applied
                     for line in range(fix.span.line, fix.span.end_line + 1)}
            try:
                before, after = ast.parse(old_text), ast.parse(realigned)
            except SyntaxError:  # grammar LibCST reads and this Python does not
                before = after = ast.Module(body=[], type_ignores=[])
            for warning in parameters_left_unused(before, after, lines):
                self.warn(warning)
        return fixed if realigned == fixed_text else cst.parse_module(realigned)
