"""The notebook behind a file nbQA wrote, for what nbQA hides from the tools it runs.

nbQA hands a tool a temporary ``.py`` file of the notebook's code cells, made
next to the notebook with :func:`tempfile.mkstemp`: the notebook's name
without ``.ipynb``, eight random characters, then ``_nbqa_ipynb.py``
(``train`` + ``k3x9q1z_`` + ``_nbqa_ipynb.py``). It replaces every IPython
line there by a placeholder, the ``%pip install`` lines included, yet they
declare the notebook's Keras: :func:`nbqa_code_cells` reads the
notebook itself, which nbQA leaves untouched until the tool has run.
"""

from __future__ import annotations

import re
from pathlib import Path

from safeloader.notebooks.document import CodeCell, NotebookError, read_notebook

#: the name of nbQA's temporary file for a notebook: its stem, mkstemp's eight
#: random characters, nbQA's suffix
_NBQA_FILE = re.compile(r"(?P<stem>.+)[a-z0-9_]{8}_nbqa_ipynb\.py")


def nbqa_notebook(path: Path) -> Path | None:
    """The notebook nbQA wrote ``path`` from, if ``path`` is named as nbQA names its
    files and that notebook is there."""
    match = _NBQA_FILE.fullmatch(path.name)
    if match is None:
        return None
    notebook = path.with_name(match["stem"] + ".ipynb")
    return notebook if notebook.is_file() else None


def nbqa_code_cells(path: Path) -> tuple[CodeCell, ...]:
    """The code cells of the notebook nbQA wrote ``path`` from (none when there is
    no such notebook, or it cannot be read)."""
    notebook = nbqa_notebook(path)
    if notebook is None:
        return ()
    try:
        return tuple(read_notebook(notebook, notebook.read_bytes()).code_cells)
    except (OSError, NotebookError):
        return ()
