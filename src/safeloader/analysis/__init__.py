"""The analysis behind every front end: source in, :class:`~safeloader.findings.Finding` out.

:func:`analyze_module` runs every rule on a parsed module and returns all
findings, sorted by position, whatever the user selected (selecting and
ignoring codes is the front end's job). :func:`might_have_findings` is the
cheap text test that lets front ends skip files no rule can fire on.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path
from typing import Sequence

from safeloader.analysis.calls import CallChecker
from safeloader.analysis.classes import check_classes
from safeloader.analysis.config import AnalysisConfig
from safeloader.analysis.notebook_keras import notebook_keras_target
from safeloader.analysis.prefilter import class_rules_might_fire, might_have_findings
from safeloader.findings import Finding
from safeloader.notebooks.cells import CellBoundaries
from safeloader.notebooks.pip_installs import PipInstall
from safeloader.source_text import split_lines

__all__ = ["AnalysisConfig", "analyze_module", "analyze_source", "might_have_findings"]


def analyze_module(
    tree: ast.Module,
    lines: Sequence[str],
    path: Path | None,
    config: AnalysisConfig = AnalysisConfig(),
    cells: CellBoundaries | None = None,
    pip_installs: Sequence[PipInstall] = (),
) -> list[Finding]:
    """Return every finding of every rule in ``tree``, sorted by line, column and code.

    ``lines`` are the source lines (with or without line ends) the tree was
    parsed from; ``path`` the file (``None`` for stdin or a snippet: imports
    of project modules are then not followed). ``cells``: the module is a
    notebook's code cells, separated there (see :mod:`safeloader.notebooks`):
    the rules then say and fix what holds in a notebook, where no worker
    re-runs the code and spawned workers cannot import what it defines.
    ``pip_installs``: the notebook's ``pip install`` commands, which declare
    its Keras before its project's files do.
    """
    target = functools.cache(
        lambda: notebook_keras_target(tree, config.keras_version, path, pip_installs))
    checker = CallChecker(tree, lines, path, config, target, notebook=cells is not None)
    findings = list(checker.findings())
    if class_rules_might_fire(checker.text):
        findings.extend(check_classes(tree, target))
    return sorted(findings, key=lambda finding: (finding.line, finding.col, finding.code))


def analyze_source(
    source: str, path: Path | None = None, config: AnalysisConfig = AnalysisConfig()
) -> list[Finding]:
    """Parse ``source`` and return :func:`analyze_module`'s findings; raises ``SyntaxError``."""
    tree = ast.parse(source, filename=str(path) if path is not None else "<unknown>")
    return analyze_module(tree, split_lines(source), path, config)
