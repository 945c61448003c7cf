"""IPython's own syntax in a code cell, hidden from the analysis and put back after a fix.

A notebook cell may hold lines that only IPython understands: line magics
(``%time fit()``, ``%pip install keras``), shell escapes (``!ls``,
``!!ls``), captured output (``files = !ls``, ``x = %who_ls``), help
(``np.zeros?``, ``??np.zeros``), IPython's autocall escapes (``/f x``,
``,f a b``, ``;f a``) and cell magics (a cell whose first line is
``%%bash``, ``%%writefile``...: the whole cell belongs to the magic). None of
them is Python, and none is ever parsed as Python here: :func:`mask_cell`
replaces each such line by a placeholder of one line, so that line numbers
stay those of the cell, and :meth:`MaskedCell.restore` puts the original
lines back, exactly, after a fix.

A placeholder carries a marker (``safeloader-notebook:3``) unique in the
notebook, so that a placeholder a fix moved or changed is noticed rather
than restored in the wrong place. Its form keeps the cell valid Python and
tells the analysis what IPython would run there, no more: a comment for a
line at column 0 (nothing runs that the analysis could see), ``pass`` for an
indented one (the block it is in keeps a statement), and for ``x = !ls`` an
assignment of an unknown call (``x`` is bound, to nothing the analysis
knows).

IPython's own input transformer (``IPython.core.inputtransformer2``) finds
these lines, but importing IPython would make a linter depend on a
twenty-package interactive shell, and it rewrites the lines into calls
rather than keeping them; the rules here follow its: an escape character
first on a logical line, a ``?`` last on one, ``=`` followed by ``!`` or
``%``, and backslash-continued lines belonging to the magic they continue.
The tests compare the lines found here with the lines IPython transforms.

The cell magics whose body is Python (``%%time``, ``%%timeit``, ``%%capture``
and nbQA's others, its ``MAGIC`` set) are read as nbQA reads them: only the
magic's line is masked, and the body is analysed (and fixed) like any cell.
Training is often timed or captured this way; a fix never puts code above
the magic's line, which IPython needs first.
"""

from __future__ import annotations

import io
import re
import tokenize
from dataclasses import dataclass
from typing import Sequence

from safeloader.source_text import split_lines

#: characters that start an IPython escape when they begin a logical line
_ESCAPES = ("%", "!", "?", "/", ",", ";")
#: ``name?``, ``a.b??``, ``%magic?``, ``x[0]?``: help asked for at the end of a line
_HELP_END = re.compile(r"%{0,2}(?!\d)[\w*]+(?:\.(?!\d)[\w*]+|\[-?[0-9]+\])*\?\??")
#: the unknown call that stands for a magic's value in ``x = !ls``
_MAGIC_VALUE = "_ipython_magic()"
#: cell magics whose body is Python, the ones nbQA processes by default (its ``MAGIC``)
PYTHON_CELL_MAGICS = frozenset(("time", "timeit", "capture", "pypy", "python", "python3"))


class MagicRestoreError(Exception):
    """A fix moved or changed the placeholder of an IPython line."""


@dataclass(frozen=True)
class MaskedLine:
    """One line of a cell that IPython, not Python, reads: where it is (0-based
    line of the cell), what it was, and what stands in its place."""

    index: int
    original: str
    placeholder: str
    marker: str


@dataclass(frozen=True)
class MaskedCell:
    """A cell's source with its IPython lines replaced by placeholders.

    ``cell_magic``: the cell is a cell magic's (every line masked), which a fix
    must leave exactly as it is. ``magic_head``: the marker of the masked first
    line of a cell magic whose body is Python (``%%time``), which must stay the
    cell's first line.
    """

    source: str
    text: str
    lines: tuple[MaskedLine, ...]
    cell_magic: bool
    magic_head: str | None = None

    def restore(self, text: str) -> str:
        """``text`` (this cell's masked text after a fix) with the original IPython
        lines back in place of their placeholders.

        Raises :class:`MagicRestoreError` when a placeholder is missing, is
        there twice, or is no longer the line it was (moved into a block, say).
        """
        wanted = {line.marker: line for line in self.lines}
        seen: set[str] = set()
        restored = []
        for line in split_lines(text):
            marker = _body(line).rpartition("# ")[2]
            if marker not in wanted:
                restored.append(line)
                continue
            masked = wanted[marker]
            if marker == self.magic_head and any(kept.strip() for kept in restored):
                raise MagicRestoreError(
                    f"a fix would put code above the cell magic {_body(masked.original)!r}"
                )
            if marker in seen or _body(line) != _body(masked.placeholder):
                raise MagicRestoreError(
                    f"a fix would change the line of an IPython magic ({_body(masked.original)!r})"
                )
            seen.add(marker)
            restored.append(_body(masked.original) + _line_end(line))
        missing = [wanted[marker] for marker in wanted if marker not in seen]
        if missing:
            raise MagicRestoreError(
                f"a fix would move the line of an IPython magic ({_body(missing[0].original)!r})"
            )
        return "".join(restored)


def _body(line: str) -> str:
    """``line`` without its line break."""
    return line.rstrip("\r\n")


def mask_cell(source: str, marker: MarkerFactory) -> MaskedCell:
    """``source`` (one code cell) with every IPython line replaced by a placeholder
    that ``marker`` names; the lines and their number are kept."""
    lines = split_lines(source)
    index = next((index for index, line in enumerate(lines) if line.strip()), len(lines))
    masked: list[MaskedLine] = []
    kept: list[str] = lines[:index]
    head = None
    if index < len(lines) and lines[index].startswith("%%"):
        if _cell_magic_name(lines[index]) not in PYTHON_CELL_MAGICS:
            masked = [_comment(number, line, marker.next()) for number, line in enumerate(lines)]
            return _masked(source, lines, masked, cell_magic=True)
        head = _comment(index, lines[index], marker.next())
        masked.append(head)
        kept.append(head.placeholder)
        index += 1
    while index < len(lines):
        line = lines[index]
        form = _magic_form(line)
        if form is None or _inside_statement(kept):
            kept.append(line)
            index += 1
            continue
        last = _continuation_end(lines, index)
        first_line = _placeholder(index, line, form, marker.next())
        masked.append(first_line)
        kept.append(first_line.placeholder)
        for continued in range(index + 1, last + 1):
            extra = _comment(continued, lines[continued], marker.next())
            masked.append(extra)
            kept.append(extra.placeholder)
        index = last + 1
    return _masked(source, lines, masked, cell_magic=False,
                   magic_head=None if head is None else head.marker)


def _masked(source: str, lines: list[str], masked: Sequence[MaskedLine], *, cell_magic: bool,
            magic_head: str | None = None) -> MaskedCell:
    by_index = {line.index: line.placeholder for line in masked}
    text = "".join(by_index.get(index, line) for index, line in enumerate(lines))
    return MaskedCell(source, text, tuple(masked), cell_magic, magic_head)


def _cell_magic_name(line: str) -> str:
    """``time`` for ``%%time -n 1``: the name of the cell magic ``line`` opens."""
    return line[2:].split(maxsplit=1)[0] if line[2:].strip() else ""


class MarkerFactory:
    """Markers ``<token>:<n>``, numbered through a notebook, with a token that
    occurs nowhere in its sources (so no real line can pass for a placeholder)."""

    def __init__(self, sources: Sequence[str]) -> None:
        token, number = "safeloader-notebook", 0
        while any(token in source for source in sources):
            number += 1
            token = f"safeloader-notebook-{number}"
        self.token = token
        self._count = 0

    def next(self) -> str:
        """A new marker."""
        self._count += 1
        return f"{self.token}:{self._count}"


def _magic_form(line: str) -> str | None:
    """How ``line`` is IPython's, if it is, read as the start of a logical line:
    ``"escape"`` (``%time``, ``!ls``, ``?x``...), ``"help"`` (``x?``) or
    ``"assign"`` (``x = !ls``); ``None`` for Python."""
    stripped = line.strip()
    if not stripped:
        return None
    if stripped.startswith(_ESCAPES):
        return "escape"
    if _HELP_END.fullmatch(stripped):
        return "help"
    if _assigned_magic(stripped) is not None:
        return "assign"
    return None


def _assigned_magic(stripped: str) -> str | None:
    """The target of ``target = !cmd`` / ``target = %magic``, if ``stripped`` is one.

    The first ``=`` outside brackets and strings (not ``==``, ``<=``... and not
    an augmented assignment), followed by ``!`` or ``%``: as IPython reads it.
    """
    depth = 0
    position = 0
    while position < len(stripped):
        char = stripped[position]
        if char in "'\"":
            closing = stripped.find(char, position + 1)
            while closing > 0 and stripped[closing - 1] == "\\":
                closing = stripped.find(char, closing + 1)
            if closing < 0:
                return None
            position = closing
        elif char == "#":
            return None
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth = max(depth - 1, 0)
        elif char == "=" and depth == 0:
            before = stripped[position - 1] if position else ""
            after = stripped[position + 1:]
            if not position or before in "=<>!+-*/%&|^@:" or after.startswith("="):
                return None
            return stripped[:position].rstrip() if after.lstrip().startswith(("!", "%")) else None
        position += 1
    return None


def _inside_statement(kept: Sequence[str]) -> bool:
    """Whether the text of ``kept`` (the cell's lines so far, IPython lines already
    masked) ends inside a statement: an open bracket or string, or a backslash.
    A line that continues a statement is never IPython's."""
    if not kept:
        return False
    if _body(kept[-1]).endswith("\\"):
        return True
    try:
        for _ in tokenize.generate_tokens(io.StringIO("".join(kept)).readline):
            pass
    except tokenize.TokenError:
        return True
    except SyntaxError:  # a bad dedent and the like: a statement has ended all the same
        return False
    return False


def _continuation_end(lines: Sequence[str], start: int) -> int:
    """The last line of the magic starting at ``start``: backslashes continue it."""
    end = start
    while end + 1 < len(lines) and _body(lines[end]).endswith("\\"):
        end += 1
    return end


def _line_end(line: str) -> str:
    return line[len(_body(line)):]


def _indent(line: str) -> str:
    return line[:len(line) - len(line.lstrip(" \t"))]


def _comment(index: int, line: str, marker: str) -> MaskedLine:
    return MaskedLine(index, line, f"# {marker}{_line_end(line)}", marker)


def _placeholder(index: int, line: str, form: str, marker: str) -> MaskedLine:
    indent = _indent(line)
    if form == "assign":
        target = _assigned_magic(line.strip())
        body = f"{indent}{target} = {_MAGIC_VALUE}  # {marker}"
    elif indent:
        body = f"{indent}pass  # {marker}"
    else:
        return _comment(index, line, marker)
    return MaskedLine(index, line, body + _line_end(line), marker)
