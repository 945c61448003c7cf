"""A notebook's code cells as one Python module, and a fixed module back as cell sources.

The analysis and the fixer work on Python modules. :class:`NotebookModule`
gives them one: the code cells in order (as the kernel runs them, so a
generator defined in one cell and fed to ``fit`` in another is found), each
opened by a separator comment line naming the cell, with the IPython lines
masked (:mod:`safeloader.notebooks.magics`). Lines keep their numbers within
their cell. :meth:`NotebookModule.new_sources` cuts a fixed module back into
cell sources, refusing (:class:`CellBoundaryError`) a change that moved code
across a cell boundary or touched an IPython line.
"""

from __future__ import annotations

import re
from typing import Sequence

from safeloader.notebooks.cells import (
    CellBoundaries,
    CellProblem,
    cell_boundary_problem,
    separators_in,
    split_at_separators,
)
from safeloader.notebooks.document import CodeCell
from safeloader.notebooks.magics import MagicRestoreError, MarkerFactory, MaskedCell, mask_cell
from safeloader.source_text import split_lines

_TRAILING_BREAKS = re.compile(r"[\r\n]*\Z")


class CellBoundaryError(Exception):
    """A fix that cannot be written back into the notebook's cells."""

    def __init__(self, problem: CellProblem) -> None:
        super().__init__(problem.reason)
        self.problem = problem


class NotebookModule:
    """The code cells ``cells`` of a notebook as one module's :attr:`text`."""

    def __init__(self, cells: Sequence[CodeCell]) -> None:
        self.cells = tuple(cells)
        markers = MarkerFactory([cell.source for cell in cells])
        self._separator = re.compile(rf"# %%{re.escape(markers.token)} cell (\d+)")
        self.masked: tuple[MaskedCell, ...] = tuple(
            mask_cell(cell.source, markers) for cell in cells
        )
        pieces = []
        for cell, masked in zip(self.cells, self.masked):
            pieces.append(f"# %%{markers.token} cell {cell.number}\n")
            pieces.append(_ended(masked.text))
        self.text = "".join(pieces)
        self.lines = split_lines(self.text)
        self.boundaries = CellBoundaries(separators_in(self.lines, self.is_separator))

    def is_separator(self, line: str) -> bool:
        """Whether ``line`` (without its line break) is one of this module's separators."""
        return self._separator.fullmatch(line) is not None

    def location(self, line: int) -> tuple[int, int]:
        """The cell number (counting code cells from 1) and the line in that cell of
        the module's ``line``."""
        cell = self.boundaries.cell_at(line)
        return self.cells[cell - 1].number, self.boundaries.line_in_cell(line)

    def new_sources(self, fixed: str) -> dict[int, str]:
        """The sources of the cells that ``fixed`` (this module's text after a fix)
        changes, by cell number; :class:`CellBoundaryError` when a change moved code
        across a cell boundary, changed a cell magic's cell or an IPython line."""
        problem = cell_boundary_problem(self.text, fixed, self.is_separator)
        if problem is not None:
            raise CellBoundaryError(problem)
        _, texts = split_at_separators(fixed, self.is_separator)
        changed = {}
        for cell, masked, text in zip(self.cells, self.masked, texts):
            if text == _ended(masked.text):
                continue
            if masked.cell_magic:
                raise CellBoundaryError(CellProblem(
                    cell.number, "a fix would change a cell that belongs to a cell magic"))
            try:
                restored = masked.restore(text)
            except MagicRestoreError as error:
                raise CellBoundaryError(CellProblem(cell.number, str(error))) from error
            trailing = _TRAILING_BREAKS.search(cell.source)
            assert trailing is not None
            source = restored.rstrip("\r\n") + trailing[0]
            if source != cell.source:
                changed[cell.number] = source
        return changed


def _ended(text: str) -> str:
    """``text`` ending with a line break (a cell's last line usually has none)."""
    return text if not text or text.endswith(("\n", "\r")) else text + "\n"
