"""The LibCST codemod that applies safeloader's fixes to one module.

``SafeloaderFixCommand`` is a ``VisitorBasedCodemodCommand``: ``safeloader-fix``
drives it file by file with the fixes the analysis planned for that file, and
LibCST's own runner can drive it too::

    python -m libcst.tool codemod -x codemod.SafeloaderFixCommand train.py

(run from a directory whose ``.libcst.codemod.yaml`` lists ``safeloader`` in
``modules``); the command then runs the analysis on each file itself.

The module is walked once. Before the walk every fix's span is matched to a
node of the original tree through ``PositionProvider`` (see
:mod:`safeloader.fix.span_matching`); on leaving that node the fix's handler (see
:mod:`safeloader.fix.fixes`) rewrites it. Imports are added afterwards by LibCST's
``AddImportsVisitor``. A fix whose span matches nothing, or whose shape its
handler cannot rewrite safely, leaves the code unchanged with a warning.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Sequence

import libcst as cst
from libcst.codemod import CodemodContext, VisitorBasedCodemodCommand
from libcst.metadata import CodeRange, PositionProvider

from safeloader.analysis import AnalysisConfig, analyze_source, might_have_findings
from safeloader.findings import Fix
from safeloader.fix.selection import FixSelection, fix_key, comma_separated
from safeloader.fix.fixes import MATCH_ENCLOSING, FixContext, FixHandler, handler_for, match_mode
from safeloader.fix.span_matching import ModuleText, NodeIndex


def _contains(outer: CodeRange, inner: CodeRange) -> bool:
    """Whether ``inner`` lies within ``outer``."""
    return (outer.start.line, outer.start.column) <= (inner.start.line, inner.start.column) and (
        inner.end.line, inner.end.column
    ) <= (outer.end.line, outer.end.column)


class SafeloaderFixCommand(VisitorBasedCodemodCommand):
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
            "--keras-version", choices=("2", "3", "auto"), default="auto",
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
        self._targets: dict[cst.CSTNode, list[tuple[str, Fix, FixHandler]]] = {}
        self._target_ranges: list[CodeRange] = []
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

    def visit_Module(self, node: cst.Module) -> bool:
        """Match every fix to its node before any node is rewritten."""
        self.applied = []
        self._targets = {}
        self._target_ranges = []
        fixes = self._fixes_for(node)
        if not fixes:
            return False
        index = NodeIndex(ModuleText(node.code), self.metadata[PositionProvider])
        seen: set[tuple[object, ...]] = set()
        for code, fix in fixes:
            if fix_key(fix) in seen:
                continue
            seen.add(fix_key(fix))
            handler = handler_for(fix.kind)
            if match_mode(handler) == MATCH_ENCLOSING:
                target = index.enclosing(fix.span, handler.NODE_TYPE)
            else:
                target = index.exact(fix.span, handler.NODE_TYPE)
            if target is None:
                self._warn_at(fix, f"{code}: no code to rewrite there for {fix.kind.value}")
            else:
                self._targets.setdefault(target, []).append((code, fix, handler))
        positions = self.metadata[PositionProvider]
        self._target_ranges = [positions[target] for target in self._targets]
        return bool(self._targets)

    def on_visit(self, node: cst.CSTNode) -> bool:
        """Enter only the nodes that hold a fix's target: the rest stays as parsed."""
        where = self.metadata[PositionProvider].get(node)
        if where is not None and not isinstance(node, cst.Module) and not any(
            _contains(where, target) for target in self._target_ranges
        ):
            return False
        return super().on_visit(node)

    def on_leave(  # type: ignore[override]
        self, original_node: cst.CSTNode, updated_node: cst.CSTNode
    ) -> cst.CSTNode | cst.RemovalSentinel | cst.FlattenSentinel:
        """Apply the fixes aimed at ``original_node`` to ``updated_node``."""
        result = super().on_leave(original_node, updated_node)
        for code, fix, handler in self._targets.get(original_node, ()):
            if not isinstance(result, cst.CSTNode):
                self._warn_at(fix, f"{code}: the code was removed by another fix")
                continue
            warnings_before = len(self.context.warnings)
            context = FixContext(self.context, lambda message, fix=fix: self._warn_at(fix, message))
            previous, result = result, handler.apply(original_node, result, fix, context)
            if result is not previous and len(self.context.warnings) == warnings_before:
                self.applied.append((code, fix))
        return result

    def _warn_at(self, fix: Fix, message: str) -> None:
        """Warn with the fix's ``line:column`` (flake8's 1-based column) in front."""
        self.warn(f"{fix.span.line}:{fix.span.col + 1}: {message}")
