"""Fixing text that LibCST does not write back byte for byte.

LibCST drops or moves a few whitespace characters in rare layouts (a form
feed that starts a line, a blank line followed by a whitespace-only line at
the end of a module). Its rewrite of such a text is a rewrite of its
*reprint*, not of the text. :class:`Reprint` lines the text up with the
reprint (``difflib``, line by line, then character by character inside a
changed line), so that a position in the text can be found in the reprint,
and a rewrite of the reprint can be carried over to the text: every changed
region of the rewrite replaces the same lines of the text, the lines LibCST
did not reproduce keep their original bytes, and a change that touches one
of those lines is refused with :class:`UnreproducibleChange`.
"""

from __future__ import annotations

import bisect
from difflib import SequenceMatcher
from typing import Sequence

from safeloader.source_text import split_lines


class UnreproducibleChange(Exception):
    """A change touches a line LibCST cannot write back as it is; ``line`` is
    its 1-based number in the original text."""

    def __init__(self, line: int) -> None:
        super().__init__(f"line {line}")
        self.line = line


def _line_opcodes(a: Sequence[str], b: Sequence[str]) -> list[tuple[str, int, int, int, int]]:
    """``SequenceMatcher(None, a, b).get_opcodes()``, with the common first and
    last lines set aside first (``difflib`` is quadratic in what is left)."""
    head = 0
    limit = min(len(a), len(b))
    while head < limit and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < limit - head and a[len(a) - 1 - tail] == b[len(b) - 1 - tail]:
        tail += 1
    middle = SequenceMatcher(None, a[head:len(a) - tail], b[head:len(b) - tail])
    opcodes = [("equal", 0, head, 0, head)] if head else []
    opcodes += [
        (tag, i1 + head, i2 + head, j1 + head, j2 + head)
        for tag, i1, i2, j1, j2 in middle.get_opcodes()
    ]
    if tail:
        opcodes.append(("equal", len(a) - tail, len(a), len(b) - tail, len(b)))
    return opcodes


def _starts(lines: Sequence[str]) -> list[int]:
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    return starts


class Reprint:
    """How ``reprint`` (LibCST's rendering of ``original``) lines up with ``original``,
    whose first line is line ``first_line`` of its file (for messages)."""

    def __init__(self, original: str, reprint: str, first_line: int = 1) -> None:
        self._first_line = first_line
        self._original = split_lines(original)
        self._reprint = split_lines(reprint)
        self._original_starts = _starts(self._original)
        self._reprint_starts = _starts(self._reprint)
        #: ``(original line, reprint line, count)`` of the lines both hold alike (0-based)
        self._alike: list[tuple[int, int, int]] = []
        #: original line -> reprint line, for a changed line that has a counterpart
        self._counterpart: dict[int, int] = {}
        for tag, i1, i2, j1, j2 in _line_opcodes(self._original, self._reprint):
            if tag == "equal":
                self._alike.append((i1, j1, i2 - i1))
            elif tag == "replace" and i2 - i1 == j2 - j1:
                self._counterpart.update(zip(range(i1, i2), range(j1, j2)))

    def offset_in_reprint(self, offset: int) -> int | None:
        """Where character ``offset`` of the original is in the reprint; ``None``
        where the reprint has nothing that corresponds to it."""
        line = min(bisect.bisect_right(self._original_starts, offset) - 1,
                   max(len(self._original) - 1, 0))
        column = offset - self._original_starts[line]
        for original_line, reprint_line, count in self._alike:
            if original_line <= line < original_line + count:
                return self._reprint_starts[reprint_line + line - original_line] + column
        if line not in self._counterpart:
            return None
        counterpart = self._counterpart[line]
        matcher = SequenceMatcher(None, self._original[line], self._reprint[counterpart],
                                  autojunk=False)
        for start, reprint_start, size in matcher.get_matching_blocks():
            if start <= column < start + size:
                return self._reprint_starts[counterpart] + reprint_start + column - start
        return None

    def carry_over(self, rewritten: str) -> str:
        """The original with the changes ``rewritten`` makes to the reprint.

        Raises :class:`UnreproducibleChange` when a change touches a line the
        reprint does not hold as the original does.
        """
        new_lines = split_lines(rewritten)
        result: list[str] = []
        copied = 0  # original lines already in ``result``
        for tag, i1, i2, j1, j2 in _line_opcodes(self._reprint, new_lines):
            if tag == "equal":
                continue
            start = self._original_line(i1, i2)
            result += self._original[copied:start]
            result += new_lines[j1:j2]
            copied = start + i2 - i1
        result += self._original[copied:]
        return "".join(result)

    def _original_line(self, first: int, end: int) -> int:
        """The original line that reprint line ``first`` is, where reprint lines
        ``[first, end)`` all come unchanged from one run of original lines."""
        for original_line, reprint_line, count in self._alike:
            if reprint_line <= first and end <= reprint_line + count:
                return original_line + first - reprint_line
        raise UnreproducibleChange(self._nearest_original_line(first) + self._first_line)

    def _nearest_original_line(self, reprint_line: int) -> int:
        """The original line (0-based) at or before reprint line ``reprint_line``."""
        nearest = 0
        for original_line, first, count in self._alike:
            if first <= reprint_line:
                nearest = original_line + min(reprint_line - first, count)
        return nearest
