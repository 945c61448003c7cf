"""Helpers for the notebook tests: the fixture notebooks, their code cells, and what a
fix must leave byte for byte."""

from __future__ import annotations

import ast
import json
import shutil
from pathlib import Path

from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from safeloader.notebooks.document import source_spans
from safeloader.notebooks.magics import MarkerFactory, mask_cell

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "notebooks"


def copy_fixture(name: str, directory: Path) -> Path:
    """Copy the fixture notebook ``name`` into ``directory``, a project of its own
    (a ``.git`` marker: no packaging file above it is read)."""
    (directory / ".git").mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy(FIXTURES / name, directory / name))


def write_notebook(path: Path, *sources: str, markdown: str = "# Training") -> Path:
    """A notebook as Jupyter writes it: a markdown cell, then one code cell per source."""
    import nbformat

    cells = [new_markdown_cell(markdown)] + [new_code_cell(source) for source in sources]
    path.parent.mkdir(parents=True, exist_ok=True)
    kernel = {"display_name": "Python 3", "language": "python", "name": "python3"}
    path.write_text(nbformat.writes(new_notebook(cells=cells, metadata={"kernelspec": kernel})),
                    encoding="utf-8")
    return path


def code_sources(path: Path) -> list[str]:
    """The source of each code cell of the notebook ``path``."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return ["".join(cell["source"]) for cell in cells if cell["cell_type"] == "code"]


def without_sources(text: str) -> str:
    """``text`` (a notebook's) with each cell's source value cut out: what a fix
    must leave byte for byte (outputs, execution counts, metadata, layout)."""
    pieces, cursor = [], 0
    for _, (start, end) in source_spans(text):
        pieces.append(text[cursor:start])
        cursor = end
    return "".join(pieces) + text[cursor:]


def parses_on_its_own(source: str) -> bool:
    """Whether the cell ``source``, IPython lines aside, is Python on its own."""
    try:
        ast.parse(mask_cell(source, MarkerFactory([source])).text)
    except SyntaxError:
        return False
    return True
