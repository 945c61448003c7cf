"""Where a code cell's characters are in the ``.ipynb`` file: each layout a writer may
give a ``source`` (nbformat's list of lines, one string, a list on one line, a line cut
across strings) and the JSON escapes written before the character."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from safeloader.notebooks.document import read_notebook
from safeloader.notebooks.positions import SourcePositions


def notebook_text(*sources: object, ensure_ascii: bool = False, indent: int | None = 1) -> str:
    """A notebook whose code cells have the ``source`` values ``sources`` (a string or a
    list of strings, written as given), after a markdown cell."""
    cells = [{"cell_type": "markdown", "id": "m", "metadata": {}, "source": ["# Title"]}]
    cells += [{"cell_type": "code", "execution_count": None, "id": f"c{number}",
               "metadata": {}, "outputs": [], "source": source}
              for number, source in enumerate(sources, 1)]
    document = {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    return json.dumps(document, indent=indent, ensure_ascii=ensure_ascii) + "\n"


def at(text: str, cell: int, line: int, col: int) -> tuple[int, str]:
    """The line of the file that holds ``col`` (UTF-8 bytes) of ``line`` of code cell
    ``cell``, and what the file says from that character on, to the end of its line."""
    notebook = read_notebook(Path("train.ipynb"), text.encode("utf-8"))
    file_line, file_col = SourcePositions(text, notebook.code_cells).position(cell, line, col)
    written = text.splitlines()[file_line - 1].encode("utf-8")
    return file_line, written[file_col:].decode("utf-8")


def test_a_line_per_string_as_nbformat_writes_it() -> None:
    text = notebook_text(["import numpy\n"],
                         ["def gen():\n", "    yield 1\n", "\n",
                          "model.fit(gen(), workers=3)  # noqa: SLD101"])
    file_line, rest = at(text, 2, 4, len("model.fit("))
    assert rest == 'gen(), workers=3)  # noqa: SLD101"'
    assert text.splitlines()[file_line - 1].lstrip().startswith('"model.fit(')
    assert at(text, 1, 1, 0)[1] == 'import numpy\\n"'


def test_one_string_for_the_cell_counts_the_escapes_before_the_code() -> None:
    source = 'x = "a\\tb\\"c"\ty = 1\nmodel.fit(gen(), workers=3)\n'
    text = notebook_text(source)
    [source_line] = [number for number, line in enumerate(text.splitlines(), 1)
                     if '"source"' in line and "model.fit" in line]
    assert at(text, 1, 2, len("model.fit(")) == (source_line, 'gen(), workers=3)\\n"')
    assert at(text, 1, 1, len('x = "a\\tb\\"c"\t'))[1].startswith("y = 1\\nmodel")


@pytest.mark.parametrize("ensure_ascii", [False, True])
def test_non_ascii_before_the_code_as_written_or_escaped(ensure_ascii: bool) -> None:
    code = 's = "é😀"; model.fit(gen(), workers=3)'
    text = notebook_text(["import keras\n", code], ensure_ascii=ensure_ascii)
    assert ("\\u00e9\\ud83d\\ude00" in text) is ensure_ascii
    col = code.encode("utf-8").index(b"gen")
    assert at(text, 1, 2, col)[1] == 'gen(), workers=3)"'


def test_a_list_on_one_line_and_a_line_cut_across_strings() -> None:
    on_one_line = notebook_text(["a = 1\n", "model.fit(gen())"], indent=None)
    assert on_one_line.count("\n") == 1
    assert at(on_one_line, 1, 2, len("model.fit("))[1].startswith('gen())"]')
    cut = notebook_text(["model.fit(", "gen(), workers=3)\n", "b = 2"])
    file_line, rest = at(cut, 1, 1, len("model.fit("))
    assert rest == 'gen(), workers=3)\\n",'
    assert at(cut, 1, 1, 0) == (file_line - 1, 'model.fit(",')
    assert at(cut, 1, 2, 0)[0] == file_line + 1
