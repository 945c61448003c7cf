"""Where a notebook's code is in the ``.ipynb`` file's text: the line and column of
the file that hold a given character of a code cell, for a linter that reports
against the file itself (flake8 given a notebook by name).

A cell's ``source`` is JSON: a list of strings (nbformat writes one line of code
per string, each string on a line of its own) or one string. Each character of
the code is therefore at a known place inside one of those strings, shifted by
the escapes written before it (``\\"``, ``\\n``, ``\\t``, ``\\u00e9``). Python's
:mod:`json` decodes a string whole and gives no positions, so the escapes are
counted here.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from json.decoder import scanstring
from typing import Sequence

from safeloader.notebooks.document import CodeCell, source_spans, source_strings
from safeloader.source_text import split_lines

#: an escaped surrogate pair: two escapes that decode to one character
_SURROGATE_PAIR = re.compile(r"\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}")


@dataclass(frozen=True)
class _SourceString:
    """One JSON string of a cell's source: the offset in the source of its first
    character, the offset in the file's text of its first character (after the
    opening quote), and its text as written (escapes included, quotes not)."""

    start: int
    file_start: int
    written: str


@dataclass(frozen=True)
class _CellSource:
    line_starts: tuple[int, ...]
    lines: tuple[str, ...]
    strings: tuple[_SourceString, ...]
    string_starts: tuple[int, ...]


class SourcePositions:
    """The places in ``text`` (a notebook file's text, already read as a notebook)
    of the characters of its code cells ``cells``."""

    def __init__(self, text: str, cells: Sequence[CodeCell]) -> None:
        self.text = text
        self._line_starts = (0, *(match.end() for match in re.finditer("\n", text)))
        values = dict(source_spans(text))
        self._cells = {cell.number: _cell_source(text, values[cell.index][0], cell.source)
                       for cell in cells}

    def position(self, cell: int, line: int, col: int) -> tuple[int, int]:
        """The line of the file (from 1) and the column in it (UTF-8 bytes, from 0) of
        the character at ``line`` (from 1) and ``col`` (UTF-8 bytes, from 0) of the
        code cell numbered ``cell``."""
        source = self._cells[cell]
        code = source.lines[line - 1].rstrip("\r\n")
        chars = len(code.encode("utf-8")[:col].decode("utf-8", "ignore"))
        offset = source.line_starts[line - 1] + chars
        string = source.strings[bisect.bisect_right(source.string_starts, offset) - 1]
        place = string.file_start + _written_length(string.written, offset - string.start)
        file_line = bisect.bisect_right(self._line_starts, place)
        line_start = self._line_starts[file_line - 1]
        return file_line, len(self.text[line_start:place].encode("utf-8"))


def _cell_source(text: str, value: int, source: str) -> _CellSource:
    """Where the strings of the ``source`` value at ``value`` are, and the lines they make."""
    strings = []
    start = 0
    for quote in source_strings(text, value):
        decoded, end = scanstring(text, quote + 1)
        strings.append(_SourceString(start, quote + 1, text[quote + 1:end - 1]))
        start += len(decoded)
    lines = split_lines(source)
    line_starts = [0]
    for code in lines[:-1]:
        line_starts.append(line_starts[-1] + len(code))
    return _CellSource(tuple(line_starts), tuple(lines), tuple(strings),
                       tuple(string.start for string in strings))


def _written_length(written: str, chars: int) -> int:
    """How many characters of ``written`` (a JSON string's text) its first ``chars``
    decoded characters take: two for ``\\n``, six for ``\\u00e9``, twelve for an
    escaped surrogate pair, one for a character written as itself."""
    position = 0
    for _ in range(chars):
        if written[position] != "\\":
            position += 1
        elif written[position + 1] != "u":
            position += 2
        elif _SURROGATE_PAIR.match(written, position):
            position += 12
        else:
            position += 6
    return position
