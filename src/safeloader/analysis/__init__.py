"""The analysis behind every front end: source in, :class:`~safeloader.findings.Finding` out.

:func:`analyze_module` runs every rule on a parsed module and returns all
findings, sorted by position, whatever the user selected (selecting and
ignoring codes is the front end's job). :func:`module_keras_target` says
which Keras the rules checked the module against, and why.
:func:`might_have_findings` is the cheap text test that lets front ends skip
files no rule can fire on.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Sequence

from safeloader.analysis.calls import CallChecker
from safeloader.analysis.classes import check_classes
from safeloader.analysis.config import AnalysisConfig
from safeloader.analysis.install_magics import (
    InlineRequirement,
    cell_requirements,
    install_requirements,
)
from safeloader.analysis.keras_version import KerasTarget
from safeloader.analysis.prefilter import class_rules_might_fire, might_have_findings
from safeloader.findings import Finding
from safeloader.notebooks.cells import CellBoundaries
from safeloader.source_text import split_lines

__all__ = ["AnalysisConfig", "InlineRequirement", "analyze_module", "analyze_source",
           "cell_requirements", "install_requirements", "might_have_findings",
           "module_keras_target"]


def analyze_module(
    tree: ast.Module,
    lines: Sequence[str],
    path: Path | None,
    config: AnalysisConfig = AnalysisConfig(),
    cells: CellBoundaries | None = None,
    inline_requirements: Sequence[InlineRequirement] = (),
) -> list[Finding]:
    """Return every finding of every rule in ``tree``, sorted by line, column and code.

    ``lines`` are the source lines (with or without line ends) the tree was
    parsed from; ``path`` the file (``None`` for stdin or a snippet: imports
    of project modules are then not followed). ``cells``: the module is a
    notebook's code cells, separated there (see :mod:`safeloader.notebooks`):
    the rules then say and fix what holds in a notebook, where no worker
    re-runs the code and spawned workers cannot import what it defines.
    ``inline_requirements``: what the module declares for itself (a notebook's
    install lines, read by :func:`install_requirements`), which the Keras
    targeting reads before the project's files.
    """
    checker = CallChecker(tree, lines, path, config, inline_requirements,
                          notebook=cells is not None)
    findings = list(checker.findings())
    if class_rules_might_fire(checker.text):
        findings.extend(check_classes(tree, checker.target))
    return sorted(findings, key=lambda finding: (finding.line, finding.col, finding.code))


def module_keras_target(
    tree: ast.Module,
    lines: Sequence[str],
    path: Path | None,
    config: AnalysisConfig = AnalysisConfig(),
    inline_requirements: Sequence[InlineRequirement] = (),
) -> KerasTarget:
    """The Keras :func:`analyze_module` checks ``tree`` against (same arguments), with
    its evidence and notes (:meth:`~.keras_version.KerasTarget.describe`)."""
    return CallChecker(tree, lines, path, config, inline_requirements).target()


def analyze_source(
    source: str, path: Path | None = None, config: AnalysisConfig = AnalysisConfig()
) -> list[Finding]:
    """Parse ``source`` and return :func:`analyze_module`'s findings; raises ``SyntaxError``."""
    tree = ast.parse(source, filename=str(path) if path is not None else "<unknown>")
    return analyze_module(tree, split_lines(source), path, config)
