"""Notebook cells in a module's text: the separator lines that open them, and the
check that a fix kept every cell whole.

The analysis and the fixer see a notebook as one Python module: its code cells
in order, each opened by a separator comment line. safeloader writes its own
separators when it reads a ``.ipynb`` (:mod:`safeloader.notebooks.module`);
nbQA writes ``# %%NBQA-CELL-SEP`` and six hex digits into the temporary
``.py`` file it hands a tool, and splits the tool's output at them to
rebuild the notebook, so that a tool which moves code across a separator
corrupts the notebook. :func:`cell_boundary_problem` finds such a change
before anything is written.
"""

from __future__ import annotations

import ast
import bisect
import re
from dataclasses import dataclass
from typing import Callable, Sequence

from safeloader.source_text import split_lines

#: the separator line nbQA writes before each code cell (its ``CODE_SEPARATOR``)
NBQA_SEPARATOR = re.compile(r"# %%NBQA-CELL-SEP[0-9a-f]{6}")
#: nbQA's placeholders for IPython lines: ``hash("1a2b3c4d")`` or ``hash(0x1A2B3C4D)`` where
#: a line magic was (the quoted form when the tool is flake8), ``# CELL MAGIC ...`` for a
#: cell magic's first line
NBQA_MAGIC = re.compile(r'[ \t]*hash\((?:"[0-9a-f]{8}"|0x[0-9A-F]+)\)[ \t]*|# CELL MAGIC .*')

IsSeparator = Callable[[str], bool]


def is_nbqa_separator(line: str) -> bool:
    """Whether ``line`` (without its line break) is one of nbQA's cell separators."""
    return NBQA_SEPARATOR.fullmatch(line) is not None


@dataclass(frozen=True)
class CellBoundaries:
    """Where the cells of a notebook are in the module the analysis is given:
    the 1-based line of the separator that opens each cell, in order."""

    separators: tuple[int, ...]

    def cell_at(self, line: int) -> int:
        """The 1-based number of the cell holding ``line`` (its separator line
        included; 0: above the first cell)."""
        return bisect.bisect_right(self.separators, line)

    def line_in_cell(self, line: int) -> int:
        """``line`` counted from 1 at the first line of its cell."""
        cell = self.cell_at(line)
        return line - self.separators[cell - 1] if cell else line


def separators_in(lines: Sequence[str], is_separator: IsSeparator) -> tuple[int, ...]:
    """The 1-based numbers of the separator lines among ``lines``."""
    return tuple(number for number, line in enumerate(lines, 1)
                 if is_separator(line.rstrip("\r\n")))


def nbqa_cells(lines: Sequence[str], text: str | None = None) -> CellBoundaries | None:
    """The cells of a file nbQA wrote, from its separators; ``None`` when there are none.

    ``text``: the lines joined, when the caller has it (one search then tells a
    file without separators, rather than one a line).
    """
    marked = ("NBQA-CELL-SEP" in text if text is not None
              else any("NBQA-CELL-SEP" in line for line in lines))
    if not marked:
        return None
    found = separators_in(lines, is_nbqa_separator)
    return CellBoundaries(found) if found else None


@dataclass(frozen=True)
class CellProblem:
    """Why a fixed text cannot be cut back into the cells it came from: ``cell`` is
    the 1-based cell the change starts in (0: not one cell's), ``reason`` says what."""

    cell: int
    reason: str


def split_at_separators(text: str, is_separator: IsSeparator) -> tuple[str, list[str]]:
    """``text`` cut at its separator lines: what is above the first one, then
    each cell's text (the lines after its separator, up to the next one)."""
    head: list[str] = []
    cells: list[list[str]] = []
    for line in split_lines(text):
        if is_separator(line.rstrip("\r\n")):
            cells.append([])
        else:
            (cells[-1] if cells else head).append(line)
    return "".join(head), ["".join(cell) for cell in cells]


def cell_boundary_problem(
    before: str, after: str, is_separator: IsSeparator,
    magic: re.Pattern[str] | None = None,
) -> CellProblem | None:
    """What makes ``after`` (``before`` with fixes applied) move code across a cell
    boundary, or ``None`` when every cell stayed whole.

    Every separator must still be a line of its own at column 0, the same ones
    in the same order, with nothing new above the first; each cell that
    changed must still parse on its own (as IPython runs it); and the lines
    ``magic`` matches (a tool's placeholders for IPython lines) must stay in
    their cell.
    """
    old_lines, lines = split_lines(before), split_lines(after)
    old_separators = [line.strip() for line in old_lines if is_separator(line.rstrip("\r\n"))]
    new_separators = [line.strip() for line in lines if is_separator(line.strip())]
    moved = any(is_separator(line.strip()) and not is_separator(line.rstrip("\r\n"))
                for line in lines)
    if moved or old_separators != new_separators:
        # name the cell the change starts in: its first line that differs
        first = next((number for number, (old, new) in enumerate(zip(old_lines, lines), 1)
                      if old != new), min(len(old_lines), len(lines)) + 1)
        cell = bisect.bisect_right(separators_in(old_lines, is_separator), first)
        return CellProblem(cell, "a fix would move code across a cell boundary (a separator "
                                 "line moved)" if moved else
                           "a fix would add, remove or reorder a cell boundary")
    old_head, old_cells = split_at_separators(before, is_separator)
    new_head, new_cells = split_at_separators(after, is_separator)
    if old_head != new_head:
        return CellProblem(1, "a fix would put code above the first cell")
    for number, (old, new) in enumerate(zip(old_cells, new_cells), 1):
        if old == new:
            continue
        if magic is not None and _magic_lines(old, magic) != _magic_lines(new, magic):
            return CellProblem(number, "a fix would move an IPython magic out of the cell")
        try:
            ast.parse(new)
        except SyntaxError as error:
            return CellProblem(number, f"a fix would leave the cell unable to run on its own "
                                       f"({error.msg}, line {error.lineno} of the cell)")
    return None


def _magic_lines(text: str, magic: re.Pattern[str]) -> list[str]:
    return sorted(line.rstrip("\r\n") for line in split_lines(text)
                  if magic.fullmatch(line.rstrip("\r\n")))
