"""A module's text cut into its top-level statements, as LibCST owns their lines.

LibCST gives every top-level statement the comment and blank lines above it
(``leading_lines``), and a statement that ends in an indented block also the
lines after it that are indented at least as deep as one of its last blocks
(the blocks' ``footer``); the module's first statement shares its leading
lines with the module's ``header``, its last one its trailing lines with the
module's ``footer``. :class:`ModuleLayout` finds the same cut with ``ast`` (a
few milliseconds where LibCST needs seconds on a large file), so that
:mod:`safeloader.fix.partial_module` can give LibCST only the statements a
fix needs, each with exactly the lines LibCST would give it in the whole
module. A chunk's text is what ``Module.code_for_node`` renders for its
statement (plus the module's header for the first chunk, its footer for the
last), which the tests check on real modules.
"""

from __future__ import annotations

import ast
import bisect
import re
import tokenize
from dataclasses import dataclass
from functools import cached_property

from safeloader.source_text import split_lines

_LEADING_SPACE = re.compile(r"[ \t\f]*")


@dataclass(frozen=True)
class Chunk:
    """One top-level statement's lines: ``[first_line, last_line]`` (1-based,
    inclusive), ``[start, end)`` as character offsets into the module's text.
    ``single_import`` tells whether it is one ``import``/``from ... import``
    alone on its line."""

    first_line: int
    last_line: int
    start: int
    end: int
    single_import: bool


def _start_line(statement: ast.stmt) -> int:
    """The first line of ``statement``, its decorators included."""
    decorators = getattr(statement, "decorator_list", ())
    return min([statement.lineno, *(decorator.lineno for decorator in decorators)])


def _last_block(statement: ast.stmt) -> list[ast.stmt]:
    """The statements of ``statement``'s last clause (``[]`` for a simple statement)."""
    if isinstance(statement, ast.Match):
        return statement.cases[-1].body if statement.cases else []
    if isinstance(statement, (ast.Try, ast.TryStar)):
        if statement.finalbody:
            return statement.finalbody
        if statement.orelse:
            return statement.orelse
        if statement.handlers:
            return statement.handlers[-1].body
    orelse = getattr(statement, "orelse", None)
    if orelse:
        return list(orelse)
    body = getattr(statement, "body", None)
    return body if isinstance(body, list) else []


class ModuleLayout:
    """The top-level statements of a module's text as :class:`Chunk` objects.

    The chunks cover the text without gaps or overlaps, in order. ``tree``
    must be ``ast.parse(text)``.
    """

    def __init__(self, text: str, tree: ast.Module) -> None:
        self.text = text
        self.lines = split_lines(text)
        self._line_starts = [0]
        for line in self.lines:
            self._line_starts.append(self._line_starts[-1] + len(line))
        self.chunks = self._cut(tree)
        self._chunk_starts = [chunk.start for chunk in self.chunks]

    def _cut(self, tree: ast.Module) -> list[Chunk]:
        groups: list[list[ast.stmt]] = []
        for statement in tree.body:
            # statements sharing a line (``a = 1; b = 2``) are one LibCST statement
            end = groups[-1][-1].end_lineno if groups else None
            if end is not None and _start_line(statement) <= end:
                groups[-1].append(statement)
            else:
                groups.append([statement])
        chunks = []
        first = 1
        for index, group in enumerate(groups):
            if index + 1 < len(groups):
                next_start = _start_line(groups[index + 1][0])
                last = self._owned_until(group[-1], next_start)
            else:
                last = len(self.lines)
            single_import = len(group) == 1 and isinstance(group[0], (ast.Import, ast.ImportFrom))
            chunks.append(Chunk(first, last, self._line_starts[first - 1],
                                self._line_starts[last], single_import))
            first = last + 1
        return chunks

    def _owned_until(self, statement: ast.stmt, next_start: int) -> int:
        """The last line ``statement`` owns before the statement starting at
        ``next_start``: its own last line, or the last following line indented
        as deep as one of its trailing indented blocks."""
        indents = self._trailing_block_indents(statement)
        last = statement.end_lineno or statement.lineno
        if indents:
            for number in range(last + 1, next_start):
                if self.lines[number - 1].startswith(indents):
                    last = number
        return last

    def _trailing_block_indents(self, statement: ast.stmt) -> tuple[str, ...]:
        """The indentation of each indented block ``statement`` ends with, outermost
        first (a block on its header's line, ``if x: y``, is not indented)."""
        indents: list[str] = []
        block = _last_block(statement)
        while block:
            first = block[0]
            line = self.lines[_start_line(first) - 1]
            indent = _LEADING_SPACE.match(line).group()  # type: ignore[union-attr]
            decorated = _start_line(first) < first.lineno
            # whitespace is ASCII: its length in characters is ast's column in bytes
            if not indent or not decorated and first.col_offset != len(indent):
                break
            if self._continues(_start_line(first) - 1):
                break  # ``if x: \`` then ``y`` on the next line: still a one-line suite
            indents.append(indent)
            block = _last_block(block[-1])
        return tuple(indents)

    def _continues(self, line: int) -> bool:
        """Whether 1-based ``line`` ends with a backslash that joins the next line
        to it (a line with a ``#`` is taken as a comment's, whose backslash
        joins nothing)."""
        text = self.lines[line - 1].rstrip("\r\n") if line >= 1 else ""
        return text.endswith("\\") and "#" not in text

    def chunk_index_at_line(self, line: int) -> int:
        """The index of the chunk holding 1-based ``line``."""
        offset = self._line_starts[min(max(line, 1), len(self.lines)) - 1]
        return max(bisect.bisect_right(self._chunk_starts, offset) - 1, 0)

    def chunks_between_lines(self, first: int, last: int) -> range:
        """The indices of the chunks holding lines ``first`` to ``last``."""
        return range(self.chunk_index_at_line(first), self.chunk_index_at_line(last) + 1)

    def header_chunks(self) -> range:
        """The chunks LibCST's ``AddImportsVisitor`` reads and edits: the first
        statement (a docstring, or anything), the single imports after it, and
        the statement after those (it gets a blank line above it)."""
        end = 1
        while end < len(self.chunks) and self.chunks[end].single_import:
            end += 1
        return range(min(end + 1, len(self.chunks)))

    @cached_property
    def first_indent_chunk(self) -> int | None:
        """The chunk holding the first indented block, whose indentation LibCST
        takes as the module's default; ``None`` when there is none."""
        lines = iter(line.rstrip("\r\n") + "\n" for line in self.lines)
        try:
            for token in tokenize.generate_tokens(lambda: next(lines, "")):
                if token.type == tokenize.INDENT:
                    return self.chunk_index_at_line(token.start[0])
        except (tokenize.TokenError, SyntaxError):
            return None
        return None

    def chunks_mentioning(self, name: str) -> set[int]:
        """The chunks whose text holds ``name`` as a whole word (in code, a
        string or a comment): only they can bind or use it."""
        pattern = re.compile(rf"(?<!\w){re.escape(name)}(?!\w)")
        return {
            bisect.bisect_right(self._chunk_starts, match.start()) - 1
            for match in pattern.finditer(self.text)
        }

    def chunk_text(self, index: int) -> str:
        """The text of chunk ``index``."""
        chunk = self.chunks[index]
        return self.text[chunk.start:chunk.end]
