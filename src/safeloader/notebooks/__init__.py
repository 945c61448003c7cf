"""Jupyter notebooks as modules the analysis and the fixer can work on.

- :mod:`~safeloader.notebooks.document`: reading a ``.ipynb`` with nbformat, and
  writing back only the cell sources that changed, every other byte kept;
- :mod:`~safeloader.notebooks.magics`: IPython's lines (magics, shell escapes,
  help) masked for the analysis and restored exactly;
- :mod:`~safeloader.notebooks.module`: the code cells as one module and back;
- :mod:`~safeloader.notebooks.cells`: cell boundaries (safeloader's separators and
  nbQA's ``# %%NBQA-CELL-SEP``) and the check that a fix kept every cell whole.

Nothing here imports the analysis or the fixer: they import it.
"""
