"""Find the LibCST node an ``ast`` span points at.

The analysis reports spans in ``ast`` coordinates (1-based lines, columns in
UTF-8 bytes); LibCST's ``PositionProvider`` gives 1-based lines and columns in
characters. Both are turned into character offsets into the module's text
here. Where the two parsers disagree is parentheses: ``ast`` counts a call's
own parentheses into a lone generator-expression argument, LibCST leaves the
parentheses around a parenthesised expression out of its position. So a span
matches a node whose start lies between the span's start and the first
character after any opening parentheses and whitespace there, preferring the
node whose end is nearest the span's end.

A decorated ``def`` or ``class`` starts at its ``def``/``class`` keyword (or
``async``) in both parsers, not at its first decorator.
"""

from __future__ import annotations

from typing import Mapping

import libcst as cst
from libcst.metadata import CodeRange

from safeloader.findings import Span
from safeloader.source_text import split_lines

_OPENING = frozenset("( \t\r\n\\\f")
_CLOSING = frozenset(") \t\r\n\\\f")


class ModuleText:
    """A module's text with line starts, for converting between coordinates."""

    def __init__(self, text: str) -> None:
        self.text = text
        # where each line starts, and one past the end (LibCST may end a node there)
        self._starts = [0]
        for line in split_lines(text):
            self._starts.append(self._starts[-1] + len(line))

    def line(self, number: int) -> str:
        """Return line ``number`` (1-based) without its line break."""
        start = self._starts[number - 1]
        end = self._starts[number] if number < len(self._starts) else len(self.text)
        return self.text[start:end].rstrip("\r\n")

    def offset_of_ast(self, line: int, byte_col: int) -> int:
        """Character offset of an ``ast`` position (1-based line, UTF-8 byte column)."""
        prefix = self.line(line).encode("utf-8")[:byte_col]
        return self._starts[line - 1] + len(prefix.decode("utf-8", errors="ignore"))

    def offset_of_cst(self, line: int, column: int) -> int:
        """Character offset of a LibCST position (1-based line, character column)."""
        return self._starts[line - 1] + column

    def char_span(self, span: Span) -> tuple[int, int]:
        """The ``[start, end)`` character offsets of an ``ast`` span."""
        return (
            self.offset_of_ast(span.line, span.col),
            self.offset_of_ast(span.end_line, span.end_col),
        )


class NodeIndex:
    """Every node of a module by its start offset, for span look-ups."""

    def __init__(self, text: ModuleText, positions: Mapping[cst.CSTNode, CodeRange]) -> None:
        self._text = text
        self._by_start: dict[int, list[tuple[cst.CSTNode, int]]] = {}
        self._extents: list[tuple[int, int, cst.CSTNode]] = []
        self._by_type: dict[object, list[tuple[int, int, cst.CSTNode]]] = {}
        for node, where in positions.items():
            start = text.offset_of_cst(where.start.line, where.start.column)
            end = text.offset_of_cst(where.end.line, where.end.column)
            self._by_start.setdefault(start, []).append((node, end))
            self._extents.append((start, end, node))

    def _trimmed(self, start: int, end: int) -> tuple[int, int]:
        """The span without the parentheses and whitespace at its edges."""
        text = self._text.text
        while start < end and text[start] in _OPENING:
            start += 1
        while end > start and text[end - 1] in _CLOSING:
            end -= 1
        return start, end

    def exact(
        self, span: Span, node_type: type[cst.CSTNode] | tuple[type[cst.CSTNode], ...]
    ) -> cst.CSTNode | None:
        """The node of ``node_type`` whose extent is ``span``, give or take parentheses."""
        return self.exact_at(*self._text.char_span(span), node_type)

    def exact_at(
        self, start: int, end: int,
        node_type: type[cst.CSTNode] | tuple[type[cst.CSTNode], ...],
    ) -> cst.CSTNode | None:
        """:meth:`exact` for the character offsets ``[start, end)`` of the text."""
        inner_start, inner_end = self._trimmed(start, end)
        best: tuple[int, cst.CSTNode] | None = None
        for offset in range(start, inner_start + 1):
            for node, node_end in self._by_start.get(offset, ()):
                if not isinstance(node, node_type) or not inner_end <= node_end <= end:
                    continue
                if best is None or node_end > best[0]:
                    best = (node_end, node)
        return None if best is None else best[1]

    def enclosing(
        self, span: Span, node_type: type[cst.CSTNode] | tuple[type[cst.CSTNode], ...]
    ) -> cst.CSTNode | None:
        """The innermost node of ``node_type`` that contains ``span``."""
        return self.enclosing_at(*self._text.char_span(span), node_type)

    def enclosing_at(
        self, start: int, end: int,
        node_type: type[cst.CSTNode] | tuple[type[cst.CSTNode], ...],
    ) -> cst.CSTNode | None:
        """:meth:`enclosing` for the character offsets ``[start, end)`` of the text."""
        start, end = self._trimmed(start, end)
        best: tuple[int, int, cst.CSTNode] | None = None
        for node_start, node_end, node in self._candidates(node_type):
            if node_start <= start and end <= node_end:
                if best is None or (node_start, -node_end) > (best[0], -best[1]):
                    best = (node_start, node_end, node)
        return None if best is None else best[2]

    def _candidates(
        self, node_type: type[cst.CSTNode] | tuple[type[cst.CSTNode], ...]
    ) -> list[tuple[int, int, cst.CSTNode]]:
        """The extents of the nodes of ``node_type`` (gathered once per type)."""
        if node_type not in self._by_type:
            self._by_type[node_type] = [
                extent for extent in self._extents if isinstance(extent[2], node_type)
            ]
        return self._by_type[node_type]
