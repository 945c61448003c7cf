"""Reading notebooks with nbformat (what is refused, and why) and writing back only the
changed cell sources, in the layout the file had."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from notebook_helpers import without_sources

from safeloader.notebooks.document import NotebookError, read_notebook

NAME = Path("train.ipynb")


def notebook(*sources: str) -> nbformat.NotebookNode:
    cells = [new_markdown_cell("# Über Daten — naïve")]
    cells += [new_code_cell(source, execution_count=number, outputs=[
        new_output("stream", name="stdout", text=f"ran {number}\n")])
        for number, source in enumerate(sources, 1)]
    kernel = {"display_name": "Python 3", "language": "python", "name": "python3"}
    return new_notebook(cells=cells, metadata={"kernelspec": kernel,
                                               "zeta": 1.5e-07, "alpha": [1, 2]})


LAYOUTS = {
    "jupyter": lambda nb: nbformat.writes(nb),
    "ascii, indent 2, no final newline": lambda nb: json.dumps(nb, indent=2, ensure_ascii=True),
    "unsorted keys, indent 4": lambda nb: json.dumps(
        {"metadata": nb.metadata, "nbformat_minor": 5, "nbformat": 4,
         "cells": nb.cells}, indent=4, ensure_ascii=False) + "\n",
    "one line": lambda nb: json.dumps(nb, ensure_ascii=False),
    "crlf": lambda nb: nbformat.writes(nb).replace("\n", "\r\n"),
    "sources as strings": lambda nb: json.dumps(nb, indent=1, ensure_ascii=False) + "\n",
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_only_the_changed_sources_differ_in_every_layout(layout: str) -> None:
    nb = notebook("import numpy as np", "x = 'é'\nprint(x)", "")
    if layout == "sources as strings":
        for cell in nb.cells:
            cell.source = "".join(cell.source)
    else:
        for cell in nb.cells:
            cell.source = cell.source.splitlines(True)
    text = LAYOUTS[layout](nb)
    document = read_notebook(NAME, text.encode())
    assert [cell.source for cell in document.code_cells] == [
        "import numpy as np", "x = 'é'\nprint(x)", ""]
    new = document.with_sources({2: "x = 'é'\nprint(x)\nprint(2)", 3: "y = 1\n"})
    assert without_sources(new) == without_sources(text)
    reread = read_notebook(NAME, new.encode())
    assert [cell.source for cell in reread.code_cells] == [
        "import numpy as np", "x = 'é'\nprint(x)\nprint(2)", "y = 1\n"]
    if layout != "sources as strings":
        assert json.loads(new)["cells"][2]["source"] == ["x = 'é'\n", "print(x)\n", "print(2)"]
    assert ("\\u00e9" in new) == ("\\u00e9" in text)
    assert document.with_sources({}) == text


def test_a_changed_source_is_laid_out_as_jupyter_writes_it() -> None:
    nb = notebook("a = 1", "", "b = 2")
    text = nbformat.writes(nb)
    document = read_notebook(NAME, text.encode())
    expected = nbformat.v4.new_notebook(**nb)
    expected.cells[1].source = "a = 1\nc = 3"
    expected.cells[2].source = "d = 4"
    assert document.with_sources({1: "a = 1\nc = 3", 2: "d = 4"}) == nbformat.writes(expected)


def test_a_byte_order_mark_is_kept() -> None:
    text = nbformat.writes(notebook("a = 1"))
    document = read_notebook(NAME, ("\ufeff" + text).encode())
    assert document.encode(document.with_sources({1: "b = 2"})).startswith(b"\xef\xbb\xbf{")


@pytest.mark.parametrize("text, reason", [
    ("", "invalid JSON: Expecting value (line 1, column 1): not a notebook"),
    ('{"cells": [}', "invalid JSON: Expecting value (line 1, column 12): not a notebook"),
    ("[1, 2]", "no nbformat version: not a Jupyter notebook"),
    ('{"cells": []}', "no nbformat version: not a Jupyter notebook"),
    ('{"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": []}',
     "an nbformat 3 notebook: safeloader reads nbformat 4 (convert it: jupyter nbconvert "
     "--to notebook --inplace train.ipynb)"),
    ('{"nbformat": 5, "nbformat_minor": 0, "metadata": {}, "cells": []}',
     "cannot read it: Unsupported nbformat version 5"),
    ('{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [{"cell_type": "code", '
     '"metadata": {}, "outputs": [], "execution_count": null}]}',
     "cell 1 has no source: not a valid notebook"),
])
def test_what_is_not_a_readable_notebook_is_refused_with_the_reason(
    text: str, reason: str
) -> None:
    with pytest.raises(NotebookError) as raised:
        read_notebook(NAME, text.encode())
    assert str(raised.value) == reason


def test_bytes_that_are_not_utf8_are_refused() -> None:
    with pytest.raises(NotebookError, match=r"not UTF-8 \(byte 1\)"):
        read_notebook(NAME, b'{\xff}')


def test_a_notebook_failing_the_schema_elsewhere_is_read_as_jupyter_reads_it() -> None:
    nb = json.loads(nbformat.writes(notebook("a = 1")))
    nb["cells"][1]["outputs"][0]["output_type"] = "no such output"
    document = read_notebook(NAME, json.dumps(nb).encode())
    assert [cell.source for cell in document.code_cells] == ["a = 1"]
