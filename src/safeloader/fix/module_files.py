"""A file as the module the analysis and the fixer work on, and a fixed module back
as the file's new text.

- A Python file is its own text (:mod:`safeloader.source_text`: its encoding,
  BOM and line ends kept). A file nbQA wrote from a notebook (its cells after
  ``# %%NBQA-CELL-SEP`` lines) is analysed as a notebook, with the notebook's
  ``pip install`` lines (:mod:`safeloader.notebooks.nbqa`), and a fix that
  moves code across a separator is refused: nbQA rebuilds the notebook from
  the pieces between them.
- A notebook (``.ipynb``) is its code cells as one module
  (:class:`~safeloader.notebooks.module.NotebookModule`); the cells a fix
  changed are written back into the file's text and nothing else is.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

from safeloader.analysis.install_magics import InlineRequirement, cell_requirements
from safeloader.notebooks.cells import (
    NBQA_MAGIC,
    CellBoundaries,
    cell_boundary_problem,
    is_nbqa_separator,
    nbqa_cells,
)
from safeloader.notebooks.nbqa import nbqa_code_cells
from safeloader.source_text import SourceError, SourceText, decode_source, split_lines

NOTEBOOK_SUFFIX = ".ipynb"
#: the ``line:column:`` a fixer warning starts with
_WARNING_PLACE = re.compile(r"(\d+)(:\d+: )")


class ModuleFileError(Exception):
    """A file that cannot be read as a module, or a fix that cannot be written back
    into it; ``reason`` says why, for the line naming the file."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Change:
    """One part of a file that a fix changed: ``part`` is ``""`` for the whole file,
    ``":cell_4"`` for a notebook's fourth code cell; its text before and after."""

    part: str
    before: str
    after: str


@dataclass(frozen=True)
class FixedFile:
    """A file's new text, and the parts of it that changed."""

    text: str
    changes: tuple[Change, ...]


class ModuleFile(ABC):
    """A file as a module: :attr:`text` is what the analysis and the fixer see,
    :attr:`cells` where its notebook cells are (``None``: a script)."""

    path: Path
    text: str
    lines: list[str]
    cells: CellBoundaries | None
    #: said of the file instead of analysing it (a notebook with no code cells)
    note: str | None = None
    #: what a notebook's install lines declare (its own declared dependencies)
    inline_requirements: tuple[InlineRequirement, ...] = ()

    def noqa_lines(self) -> list[str] | None:
        """The lines flake8's ``# noqa`` handling should read (``None``: the file's)."""
        return None

    def location(self, line: int) -> str:
        """Where the module's ``line`` is in the file, as a linter names it."""
        return str(line)

    def describe_line(self, line: int) -> str:
        """Where the module's ``line`` is in the file, in words."""
        return f"line {line}"

    def relocate(self, warning: str) -> str:
        """A fixer warning (``line:col: message``, in the module's lines) with the
        line named as :meth:`location` names it."""
        return _WARNING_PLACE.sub(lambda match: self.location(int(match[1])) + match[2],
                                  warning, count=1)

    @abstractmethod
    def fixed(self, text: str) -> FixedFile:
        """The file's new text for ``text``, the module after a fix;
        :class:`ModuleFileError` when it cannot be written back."""

    @abstractmethod
    def encode(self, text: str) -> bytes:
        """The file's new text as its bytes."""


class PythonFile(ModuleFile):
    """A Python file, possibly one nbQA wrote from a notebook."""

    def __init__(self, source: SourceText) -> None:
        self.path = source.path
        self.source = source
        self.text = source.text
        self.lines = split_lines(source.text)
        self.cells = nbqa_cells(self.lines)
        if self.cells is not None:
            self.inline_requirements = cell_requirements(
                (cell.number, cell.source) for cell in nbqa_code_cells(source.path))

    def fixed(self, text: str) -> FixedFile:
        """``text`` itself, unless it moves code across one of nbQA's cell separators."""
        if self.cells is not None:
            problem = cell_boundary_problem(self.text, text, is_nbqa_separator, NBQA_MAGIC)
            if problem is not None:
                where = ""
                if problem.cell:
                    first = self.cells.separators[problem.cell - 1] + 1
                    where = f"cell {problem.cell} (line {first}): "
                raise ModuleFileError(f"{where}{problem.reason}")
        return FixedFile(text, (Change("", self.text, text),))

    def encode(self, text: str) -> bytes:
        """``text`` in the file's encoding."""
        return self.source.encode(text)


class NotebookModuleFile(ModuleFile):
    """A Jupyter notebook: its code cells as one module."""

    def __init__(self, path: Path, raw: bytes) -> None:
        from safeloader.notebooks.document import NotebookError, read_notebook
        from safeloader.notebooks.module import NotebookModule

        try:
            self.notebook = read_notebook(path, raw)
        except NotebookError as error:
            raise ModuleFileError(str(error)) from error
        self.path = path
        self.module = NotebookModule(self.notebook.code_cells)
        self.text = self.module.text
        self.lines = self.module.lines
        self.cells = self.module.boundaries
        self.inline_requirements = cell_requirements(
            (cell.number, cell.source) for cell in self.notebook.code_cells)
        if not self.notebook.code_cells:
            self.note = "no code cells: nothing to check"

    def noqa_lines(self) -> list[str] | None:
        """The module's lines: ``# noqa`` is looked for in the cells."""
        return self.lines

    def location(self, line: int) -> str:
        """``cell_4:2``: the code cell (counted from 1, as nbQA does) and its line."""
        cell, line_in_cell = self.module.location(line)
        return f"cell_{cell}:{line_in_cell}"

    def describe_line(self, line: int) -> str:
        """``cell 4, line 2``."""
        cell, line_in_cell = self.module.location(line)
        return f"cell {cell}, line {line_in_cell}"

    def fixed(self, text: str) -> FixedFile:
        """The notebook's text with the sources of the cells ``text`` changed."""
        from safeloader.notebooks.module import CellBoundaryError

        try:
            sources = self.module.new_sources(text)
        except CellBoundaryError as error:
            cell = error.problem.cell
            raise ModuleFileError((f"cell {cell}: " if cell else "") + str(error)) from error
        old = {cell.number: cell.source for cell in self.notebook.code_cells}
        changes = tuple(Change(f":cell_{number}", old[number], source)
                        for number, source in sorted(sources.items()))
        return FixedFile(self.notebook.with_sources(sources), changes)

    def encode(self, text: str) -> bytes:
        """``text`` as UTF-8, with the byte-order mark if the file had one."""
        return self.notebook.encode(text)


def is_notebook(path: Path) -> bool:
    """Whether ``path`` names a Jupyter notebook."""
    return path.suffix.lower() == NOTEBOOK_SUFFIX


def decode_module_file(path: Path, raw: bytes) -> ModuleFile:
    """``raw``, the bytes of ``path``, as a module; :class:`ModuleFileError` with the
    reason when it cannot be read as one."""
    if is_notebook(path):
        return NotebookModuleFile(path, raw)
    try:
        return PythonFile(decode_source(path, raw))
    except SourceError as error:
        raise ModuleFileError(error.reason) from error
