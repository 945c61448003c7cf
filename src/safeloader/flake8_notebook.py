"""The flake8 plugin's reading of a notebook named on flake8's command line.

flake8 reads only what matches ``--filename`` (default ``*.py``), and a file
named on its command line: ``flake8 train.ipynb``, or ``flake8
--filename='*.py,*.ipynb' .``. It then parses the notebook's JSON as a Python
expression (a JSON object is one) and hands the plugin that tree. The plugin
reads the notebook instead, as ``safeloader lint`` and ``safeloader-fix`` read it
(:class:`~safeloader.fix.module_files.NotebookModuleFile`: the code cells as one
module, IPython's lines masked, the notebook's install lines declaring its
Keras), runs the same analysis, and reports each finding where its code is in
the file (:class:`~safeloader.notebooks.positions.SourcePositions`):

- line: the line of the file holding the JSON string the finding's code is in.
  nbformat writes each line of a cell's ``source`` as a string on a line of its
  own, so that is the code's own line, and a ``# noqa`` comment ending the code
  line is on it, where flake8 reads it. A ``source`` written as one string (or
  as a list on one line) puts the whole cell on one line of the file: every
  finding of the cell is reported on it, and a ``# noqa`` on any line of that
  cell applies to all of them.
- column: the column of the code's character in that line of the file, in
  UTF-8 bytes as every SLD column, the JSON escapes written before it
  (``\\"``, ``\\n``, ``\\u00e9``) counted as written.
- message: the notebook wording, then the code cell (counted from 1, as nbQA
  and ``safeloader lint`` count them) and its line, ``(cell 6, line 2)``:
  Jupyter shows no lines of the file.

``# flake8: noqa`` on a line of a cell skips the notebook, as through
``safeloader lint`` and nbQA (flake8 itself does not see it: in the file the
comment is inside a JSON string). A notebook that cannot be read (not JSON,
nbformat 3, a code cell without a source), one without code cells, and one
with a cell that is not Python get nothing from the plugin: flake8 reports
what it cannot parse (E999), and ``safeloader lint`` names the reason.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, Sequence

from flake8.defaults import NOQA_FILE

from safeloader.analysis import AnalysisConfig, rule_groups
from safeloader.fix.module_files import ModuleFileError, NotebookModuleFile
from safeloader.fix.runner import AnalysisFailure, analyze_module_file, parse_module_file
from safeloader.notebooks.positions import SourcePositions


def notebook_findings(
    lines: Sequence[str], path: Path, config: AnalysisConfig, *, disable_noqa: bool = False,
) -> Iterator[tuple[int, int, str]]:
    """``(line, column, message)`` of each finding of the notebook ``path``, whose text
    flake8 read as ``lines``, placed in that text; ``disable_noqa``: flake8's
    ``--disable-noqa`` (a cell's ``# flake8: noqa`` then skips nothing)."""
    try:
        module = NotebookModuleFile(path, "".join(lines).encode("utf-8"))
    except ModuleFileError:
        return
    if not disable_noqa and any(NOQA_FILE.match(line) for line in module.lines):
        return
    groups = rule_groups(module.text, path)
    if not groups:
        return
    try:
        tree = parse_module_file(module)
    except AnalysisFailure:
        return
    findings = analyze_module_file(module, tree, config, groups)
    if not findings:
        return
    positions = SourcePositions(module.notebook.text, module.notebook.code_cells)
    for finding in findings:
        cell, line = module.module.location(finding.line)
        file_line, col = positions.position(cell, line, finding.col)
        yield file_line, col, f"{finding.message} ({module.describe_line(finding.line)})"
