"""IPython's lines in a cell: masked for the analysis exactly where IPython reads them
as its own (compared with IPython's input transformer), and restored byte for byte."""

from __future__ import annotations

import ast

import pytest
from IPython.core.inputtransformer2 import TransformerManager
from nbqa.save_code_source import MAGIC

from safeloader.notebooks.magics import (
    PYTHON_CELL_MAGICS,
    MagicRestoreError,
    MarkerFactory,
    mask_cell,
)
from safeloader.source_text import split_lines

#: cells whose IPython lines IPython transforms one for one (same line count)
CELLS = [
    "%matplotlib inline\nimport numpy as np\n",
    "files = !ls\nprint(files)\n",
    "x = %who_ls\n",
    "np.zeros?\nnp.ones??\n",
    "?np.zeros\n",
    "a.b[0]?\n",
    "for f in files:\n    !echo {f}\n    print(f)\n",
    "if True:\n    %time f()\n",
    "!!ls\n",
    "/print 1\n",
    ",print a b\n",
    "d = {}\nd['a'] = !echo 1\n",
    "x = 1\n%%time\n",
    # Python that only looks like IPython
    "y = (1\n% 2)\nprint(y)\n",
    's = """\n%not magic\n!no\n"""\n',
    "a = 1  # why?\n",
    "print('=') ; z = 2\n",
    "t = 'x' + \\\n    '%y'\n",
    "flag = a != b\n",
]


@pytest.mark.parametrize("cell", CELLS)
def test_the_lines_masked_are_the_lines_ipython_transforms(cell: str) -> None:
    original = split_lines(cell)
    transformed = split_lines(TransformerManager().transform_cell(cell))
    assert len(transformed) == len(original)
    theirs = [index for index, (old, new) in enumerate(zip(original, transformed)) if old != new]
    masked = mask_cell(cell, MarkerFactory([cell]))
    assert [line.index for line in masked.lines] == theirs
    assert len(split_lines(masked.text)) == len(original)
    ast.parse(masked.text)
    assert masked.restore(masked.text) == cell


def test_a_cell_magic_masks_the_whole_cell_even_after_blank_lines() -> None:
    cell = "\n%%bash\nfor f in *; do\n  echo $f\ndone"
    masked = mask_cell(cell, MarkerFactory([cell]))
    assert masked.cell_magic
    assert [line.index for line in masked.lines] == [0, 1, 2, 3, 4]
    assert ast.parse(masked.text).body == []
    assert masked.restore(masked.text) == cell


def test_a_backslash_continued_magic_is_masked_to_its_end() -> None:
    cell = "!pip install \\\n    keras\nx = 1"
    masked = mask_cell(cell, MarkerFactory([cell]))
    assert [line.index for line in masked.lines] == [0, 1]
    assert split_lines(masked.text)[2] == "x = 1"
    assert masked.restore(masked.text) == cell


def test_placeholders_keep_the_cell_python_and_bind_what_ipython_binds() -> None:
    cell = "for f in files:\n    !rm {f}\nout = !ls\n"
    masked = mask_cell(cell, MarkerFactory([cell]))
    tree = ast.parse(masked.text)
    loop, assign = tree.body
    assert isinstance(loop, ast.For) and isinstance(loop.body[0], ast.Pass)
    assert isinstance(assign, ast.Assign) and isinstance(assign.targets[0], ast.Name)
    assert assign.targets[0].id == "out"


def test_markers_avoid_text_the_notebook_holds() -> None:
    cell = "# safeloader-notebook:1 is written here\n%time f()\n"
    masked = mask_cell(cell, MarkerFactory([cell]))
    assert masked.lines[0].marker.startswith("safeloader-notebook-1:")
    assert masked.restore(masked.text) == cell


def test_restore_refuses_a_placeholder_moved_or_lost() -> None:
    cell = "%time f()\nx = 1\n"
    masked = mask_cell(cell, MarkerFactory([cell]))
    placeholder = split_lines(masked.text)[0]
    indented = masked.text.replace(placeholder, "    " + placeholder)
    with pytest.raises(MagicRestoreError, match="change the line of an IPython magic"):
        masked.restore(indented)
    with pytest.raises(MagicRestoreError, match="move the line of an IPython magic"):
        masked.restore("x = 1\n")
    with pytest.raises(MagicRestoreError):
        masked.restore(masked.text + placeholder)


@pytest.mark.parametrize("magic", ["%%time", "%%timeit -n 1 -r 1", "%%capture output --no-stderr",
                                   "%%python3"])
def test_a_cell_magic_whose_body_is_python_masks_only_its_own_line(magic: str) -> None:
    cell = f"\n{magic}\nhistory = model.fit(batches())\n!nvidia-smi\n"
    masked = mask_cell(cell, MarkerFactory([cell]))
    assert not masked.cell_magic
    assert [line.index for line in masked.lines] == [1, 3]
    assert split_lines(masked.text)[2] == "history = model.fit(batches())\n"
    assert isinstance(ast.parse(masked.text).body[0], ast.Assign)
    assert masked.restore(masked.text) == cell


def test_the_cell_magics_read_as_python_are_nbqas() -> None:
    # nbQA hands these cells' bodies to the tool: the native route reads the same ones
    assert PYTHON_CELL_MAGICS == MAGIC


def test_restore_refuses_code_put_above_a_cell_magic() -> None:
    cell = "%%time\nmodel.fit(x)\n"
    masked = mask_cell(cell, MarkerFactory([cell]))
    with pytest.raises(MagicRestoreError, match="put code above the cell magic '%%time'"):
        masked.restore("import numpy as np\n" + masked.text)
    assert masked.restore("\n" + masked.text) == "\n" + cell
