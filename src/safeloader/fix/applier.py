"""Applying fixes to the LibCST nodes their spans point at, in one walk.

Both ways of running the fixes use this: the codemod for LibCST's own runner
(:mod:`safeloader.fix.codemod`, on a whole module) and ``safeloader-fix``'s
engine (:mod:`safeloader.fix.engine`, on the statements the fixes need).
Every fix's span is matched to a node of the parsed tree before the walk
(:func:`find_targets`, through :class:`~safeloader.fix.span_matching.NodeIndex`),
so that several fixes in one module never shift each other; on leaving that
node the fix's handler (see :mod:`safeloader.fix.fixes`) rewrites it.
"""

from __future__ import annotations

from typing import Callable, Mapping, NamedTuple, Sequence

import libcst as cst
from libcst.metadata import CodeRange

from safeloader.findings import Fix, Span
from safeloader.fix.fixes import (
    MATCH_ENCLOSING, FixContext, FixHandler, ModuleSession, apply_order, handler_for, match_mode,
)
from safeloader.fix.selection import fix_key
from safeloader.fix.span_matching import NodeIndex


class Target(NamedTuple):
    """A fix aimed at a node, with its code and its handler."""

    code: str
    fix: Fix
    handler: FixHandler


def located(fix: Fix, message: str) -> str:
    """``message`` with the fix's ``line:column`` (flake8's 1-based column) in front."""
    return f"{fix.span.line}:{fix.span.col + 1}: {message}"


def find_targets(
    fixes: Sequence[tuple[str, Fix]], index: NodeIndex,
    offsets: Callable[[Span], tuple[int, int]], warn: Callable[[str], None],
) -> dict[cst.CSTNode, list[Target]]:
    """The node each fix rewrites, from the character ``offsets`` of its span in
    ``index``'s text, in the order they are to run there (their handlers' ``ORDER``,
    then as given); a fix given twice counts once, a span that matches no node is a
    warning."""
    targets: dict[cst.CSTNode, list[Target]] = {}
    seen: set[tuple[object, ...]] = set()
    for code, fix in fixes:
        if fix_key(fix) in seen:
            continue
        seen.add(fix_key(fix))
        handler = handler_for(fix.kind)
        start, end = offsets(fix.span)
        if match_mode(handler) == MATCH_ENCLOSING:
            node = index.enclosing_at(start, end, handler.NODE_TYPE)
        else:
            node = index.exact_at(start, end, handler.NODE_TYPE)
        if node is None:
            warn(located(fix, f"{code}: no code to rewrite there for {fix.kind.value}"))
        else:
            targets.setdefault(node, []).append(Target(code, fix, handler))
    for aimed in targets.values():
        aimed.sort(key=lambda target: apply_order(target.handler))
    return targets


def _contains(outer: CodeRange, inner: CodeRange) -> bool:
    """Whether ``inner`` lies within ``outer``."""
    return (outer.start.line, outer.start.column) <= (inner.start.line, inner.start.column) and (
        inner.end.line, inner.end.column
    ) <= (outer.end.line, outer.end.column)


class FixApplier(cst.CSTTransformer):
    """Rewrite each target node with its fixes' handlers; enter only the nodes
    that hold a target (the rest stays as parsed).

    ``positions`` are the nodes' ``PositionProvider`` ranges, ``session`` answers
    the handlers' questions about the module and collects their imports,
    ``warn`` is where warnings go.
    """

    def __init__(
        self, targets: Mapping[cst.CSTNode, Sequence[Target]],
        positions: Mapping[cst.CSTNode, CodeRange], session: ModuleSession,
        warn: Callable[[str], None],
    ) -> None:
        super().__init__()
        self._targets = targets
        self._positions = positions
        self._target_ranges = [positions[node] for node in targets]
        self._session = session
        self._warn = warn
        #: the ``(code, fix)`` pairs that changed the module, in order
        self.applied: list[tuple[str, Fix]] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        """Enter the module and the nodes that contain a target."""
        where = self._positions.get(node)
        return where is None or isinstance(node, cst.Module) or any(
            _contains(where, target) for target in self._target_ranges
        )

    def on_leave(  # type: ignore[override]
        self, original_node: cst.CSTNode, updated_node: cst.CSTNode
    ) -> cst.CSTNode | cst.RemovalSentinel | cst.FlattenSentinel:
        """Apply the fixes aimed at ``original_node`` to ``updated_node``."""
        result: cst.CSTNode | cst.RemovalSentinel | cst.FlattenSentinel = updated_node
        for code, fix, handler in self._targets.get(original_node, ()):
            if not isinstance(result, cst.CSTNode):
                self._warn(located(fix, f"{code}: the code was removed by another fix"))
                continue
            warned = []

            def warn(message: str, fix: Fix = fix) -> None:
                warned.append(message)
                self._warn(located(fix, message))

            context = FixContext(self._session, warn)
            previous, result = result, handler.apply(original_node, result, fix, context)
            if result is not previous and not warned:
                self.applied.append((code, fix))
        return result
