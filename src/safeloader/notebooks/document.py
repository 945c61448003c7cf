"""Reading a ``.ipynb`` file with nbformat, and writing back only the cell sources
that changed.

:func:`read_notebook` reads with nbformat (Jupyter's own reader: its version
checks, and sources given as lists of lines joined), refusing with a reason
what is not an nbformat 4 notebook. Like Jupyter, it reads a notebook that
fails nbformat's schema where its code cells are readable: the linter's
business is the code.

:meth:`NotebookFile.with_sources` writes the new sources into the file's own
text, replacing only the JSON values of the cells whose source changed: the
outputs, execution counts, metadata, key order, indentation, line breaks,
escaping of non-ASCII characters and final newline are the file's bytes, not
a re-serialisation (which would reorder keys or change number formats for
files that another tool wrote). Python's :mod:`json` gives no positions, so
:func:`source_spans` finds the values with a small scan of the (already
validated) text, reading strings with ``json.decoder.scanstring``.
"""

from __future__ import annotations

import json
import re
import warnings
from dataclasses import dataclass
from json.decoder import scanstring
from pathlib import Path
from typing import Iterator, Mapping

_SPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()
_UTF8_BOM = "\ufeff"
#: an escaped non-ASCII character: the file was written with ``ensure_ascii``
_ESCAPED_NON_ASCII = re.compile(r"(?<!\\)(?:\\\\)*\\u(?!00[0-7])[0-9a-fA-F]{4}")
#: the separator between two strings of a list written on one line
_ITEM_SEPARATOR = re.compile(r'"(,[ ]?)"')


class NotebookError(Exception):
    """A file that cannot be read as an nbformat 4 notebook; the message says why."""


@dataclass(frozen=True)
class CodeCell:
    """A code cell: its position among all cells, its number among the code cells
    (from 1, as nbQA and the messages count them) and its source."""

    index: int
    number: int
    source: str


@dataclass(frozen=True)
class NotebookFile:
    """A notebook's text and its code cells."""

    text: str
    bom: bool
    code_cells: tuple[CodeCell, ...]

    def encode(self, text: str) -> bytes:
        """``text`` as the file's bytes (UTF-8, with the byte-order mark if it had one)."""
        return ((_UTF8_BOM if self.bom else "") + text).encode("utf-8")

    def with_sources(self, sources: Mapping[int, str]) -> str:
        """The file's text with the code cells numbered in ``sources`` given those
        sources, every other character as it was."""
        if not sources:
            return self.text
        by_index = {cell.index: sources[cell.number] for cell in self.code_cells
                    if cell.number in sources}
        ensure_ascii = _ESCAPED_NON_ASCII.search(self.text) is not None
        pieces = []
        cursor = 0
        for index, (start, end) in source_spans(self.text):
            if index not in by_index:
                continue
            pieces.append(self.text[cursor:start])
            pieces.append(_source_value(self.text, start, end, by_index[index], ensure_ascii))
            cursor = end
        pieces.append(self.text[cursor:])
        return "".join(pieces)


def read_notebook(path: Path, raw: bytes) -> NotebookFile:
    """Read ``raw``, the bytes of the notebook ``path``; raise :class:`NotebookError`
    naming the reason when it is not an nbformat 4 notebook with code cells."""
    import nbformat  # only notebooks pay for it

    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise NotebookError(f"not UTF-8 (byte {error.start}): not a notebook") from error
    bom = text.startswith(_UTF8_BOM)
    text = text.removeprefix(_UTF8_BOM)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise NotebookError(f"invalid JSON: {error.msg} (line {error.lineno}, column "
                            f"{error.colno}): not a notebook") from error
    if not isinstance(document, dict) or "nbformat" not in document:
        raise NotebookError("no nbformat version: not a Jupyter notebook")
    try:
        with warnings.catch_warnings():
            # a missing cell id and the like: nbformat warns, Jupyter reads the notebook
            warnings.simplefilter("ignore")
            notebook = nbformat.reads(text, as_version=nbformat.NO_CONVERT,
                                      capture_validation_error={})
    except (nbformat.reader.NotJSONError, nbformat.NBFormatError, ValueError) as error:
        raise NotebookError(f"cannot read it: {error}") from error
    if notebook.nbformat != 4:
        raise NotebookError(
            f"an nbformat {notebook.nbformat} notebook: safeloader reads nbformat 4 (convert it: "
            f"jupyter nbconvert --to notebook --inplace {path.name})"
        )
    cells = []
    for index, cell in enumerate(notebook.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        source = cell.get("source")
        if not isinstance(source, str):
            raise NotebookError(f"cell {len(cells) + 1} has no source: not a valid notebook")
        cells.append(CodeCell(index, len(cells) + 1, source))
    return NotebookFile(text, bom, tuple(cells))


# -- finding the sources in the text ------------------------------------------

def source_spans(text: str) -> Iterator[tuple[int, tuple[int, int]]]:
    """``(cell index, (start, end))`` of the ``source`` value of each cell in ``text``
    (a valid notebook), in order."""
    for key, start, _ in _members(text, _skip_space(text, 0)):
        if key != "cells":
            continue
        for index, cell_start in enumerate(_elements(text, start)):
            for cell_key, value_start, value_end in _members(text, cell_start):
                if cell_key == "source":
                    yield index, (value_start, value_end)


def source_strings(text: str, start: int) -> Iterator[int]:
    """The opening quote of each JSON string of the ``source`` value at ``start`` in
    ``text``: the value's own when it is a string, else each element's of the list."""
    if text[start] == '"':
        yield start
    else:
        yield from _elements(text, start)


def _skip_space(text: str, position: int) -> int:
    match = _SPACE.match(text, position)
    assert match is not None
    return match.end()


def _value_end(text: str, position: int) -> int:
    """The end of the JSON value starting at ``position``."""
    if text[position] == '"':
        return scanstring(text, position + 1)[1]
    # json's C scanner reads past an object or array (a cell's outputs, its
    # metadata) many times faster than a walk of its members here would
    return _DECODER.raw_decode(text, position)[1]


def _members(text: str, position: int) -> Iterator[tuple[str, int, int]]:
    """``(key, value start, value end)`` of the object starting at ``position``."""
    cursor = _skip_space(text, position + 1)
    while text[cursor] != "}":
        key, cursor = scanstring(text, cursor + 1)
        cursor = _skip_space(text, text.index(":", cursor) + 1)
        end = _value_end(text, cursor)
        yield key, cursor, end
        cursor = _skip_space(text, end)
        if text[cursor] == ",":
            cursor = _skip_space(text, cursor + 1)


def _elements(text: str, position: int) -> Iterator[int]:
    """The start of each element of the array starting at ``position``."""
    cursor = _skip_space(text, position + 1)
    while text[cursor] != "]":
        yield cursor
        cursor = _skip_space(text, _value_end(text, cursor))
        if text[cursor] == ",":
            cursor = _skip_space(text, cursor + 1)


# -- writing a source in the file's style --------------------------------------

def _source_value(text: str, start: int, end: int, source: str, ensure_ascii: bool) -> str:
    """``source`` as JSON in the style of the value at ``text[start:end]``: a
    string, or a list of its lines laid out as that list was (one line per
    element, each on its own line at the list's indentation; or on one line);
    non-ASCII characters escaped when the file escapes them (``ensure_ascii``)."""
    old = text[start:end]
    if old.startswith('"'):
        return json.dumps(source, ensure_ascii=ensure_ascii)
    items = [json.dumps(line, ensure_ascii=ensure_ascii) for line in source.splitlines(True)]
    if not items:
        return "[]"
    line_break = "\r\n" if "\r\n" in text else "\n"
    element_indent, closing_indent = _list_layout(text, start, old)
    if element_indent is None:
        found = _ITEM_SEPARATOR.search(old) or _ITEM_SEPARATOR.search(text)
        return "[" + (found[1] if found else ", ").join(items) + "]"
    joiner = "," + line_break + element_indent
    return "[" + line_break + element_indent + joiner.join(items) + line_break + \
        closing_indent + "]"


def _list_layout(text: str, start: int, old: str) -> tuple[str | None, str]:
    """The indentation of a list's elements and of its closing bracket; ``None``
    for a list written on one line in a file that puts nothing on lines of its own."""
    if "\n" in old:
        lines = old.splitlines()
        element = lines[1][:len(lines[1]) - len(lines[1].lstrip())]
        closing = lines[-1][:len(lines[-1]) - len(lines[-1].lstrip())]
        return element, closing
    line_start = text.rfind("\n", 0, start) + 1
    key_line = text[line_start:start]
    key_indent = key_line[:len(key_line) - len(key_line.lstrip())]
    if "\n" not in text.rstrip("\r\n"):
        return None, ""
    unit = _indent_unit(text)
    return key_indent + unit, key_indent


def _indent_unit(text: str) -> str:
    """The file's indentation step: that of its first indented line (the top-level keys)."""
    match = re.search(r"\n([ \t]+)\S", text)
    return match[1] if match else " "
