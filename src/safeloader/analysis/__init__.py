"""The analysis behind every front end: source in, :class:`~safeloader.findings.Finding` out.

:func:`analyze_module` runs every rule on a parsed module and returns all
findings, sorted by position, whatever the user selected (selecting and
ignoring codes is the front end's job). :func:`module_keras_target` says
which Keras the rules checked the module against, and why.
:func:`might_have_findings` is the cheap text test that lets front ends skip
files no rule can fire on; :func:`rule_groups` says which groups of rules may
fire, for a front end to hand to :func:`analyze_module`.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path
from typing import Callable, Iterator, Sequence

from safeloader.analysis.calls import CallChecker
from safeloader.analysis.classes import check_classes
from safeloader.analysis.config import AnalysisConfig
from safeloader.analysis.generators import Classifier
from safeloader.analysis.install_magics import (
    InlineRequirement,
    cell_requirements,
    install_requirements,
)
from safeloader.analysis.keras_version import KerasTarget, keras_target
from safeloader.analysis.prefilter import RuleGroups, might_have_findings, rule_groups
from safeloader.analysis.process_starts import ProcessStartFinder, check_imported_starts
from safeloader.analysis.project import LazyTextHints
from safeloader.analysis.scopes import Scope
from safeloader.findings import Finding
from safeloader.notebooks.cells import CellBoundaries
from safeloader.source_text import split_lines

__all__ = ["AnalysisConfig", "InlineRequirement", "RuleGroups", "analyze_module",
           "analyze_source", "cell_requirements", "install_requirements",
           "might_have_findings", "module_keras_target", "rule_groups"]


def analyze_module(
    tree: ast.Module,
    lines: Sequence[str],
    path: Path | None,
    config: AnalysisConfig = AnalysisConfig(),
    cells: CellBoundaries | None = None,
    inline_requirements: Sequence[InlineRequirement] = (),
    *,
    text: str | None = None,
    groups: RuleGroups | None = None,
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
    targeting reads before the project's files. ``text``: the lines joined,
    and ``groups``: ``rule_groups(text, path)``, when the front end has them
    already (its pre-filter); only those groups of rules run.
    """
    if text is None:
        ends = not lines or lines[0].endswith(("\n", "\r"))
        text = ("" if ends else "\n").join(lines)
    if groups is None:
        groups = rule_groups(text, path)
    findings: list[Finding] = []
    checker = None
    target: Callable[[], KerasTarget]
    if groups.calls:
        checker = CallChecker(tree, lines, path, config, inline_requirements,
                              notebook=cells is not None, text=text,
                              call_offsets=groups.call_offsets)
        target = checker.target
        findings.extend(checker.findings())
    else:
        # no loader call: the target reads no call evidence (the checker's walk finds none)
        target = functools.cache(lambda: keras_target(
            tree, config.keras_version, path, (), inline_requirements))
    if groups.classes:
        findings.extend(check_classes(tree, target, text))
    # in a notebook no worker re-runs the code: what its calls start is SLD103's
    # notebook form, found by the call-site rules
    if groups.imports and cells is None and path is not None:
        findings.extend(_imported_starts(tree, path, text, config, checker))
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


def _imported_starts(tree: ast.Module, path: Path, text: str, config: AnalysisConfig,
                     checker: CallChecker | None) -> Iterator[Finding]:
    """SLD103 through calls into the project's other modules (:mod:`.process_starts`,
    each read with the Keras it targets itself); never for an installed package
    (:func:`rule_groups` leaves them out), whose imports lead to installed code."""
    if checker is None:
        classifier = Classifier(config.extra_guards, path, config.project_root)
        scope = Scope(tree, None, path, LazyTextHints(text))
    else:
        classifier, scope = checker.classifier, checker.module_scope
    finder = ProcessStartFinder(classifier, path, config.keras_version)
    yield from check_imported_starts(tree, scope, finder)


def analyze_source(
    source: str, path: Path | None = None, config: AnalysisConfig = AnalysisConfig()
) -> list[Finding]:
    """Parse ``source`` and return :func:`analyze_module`'s findings; raises ``SyntaxError``."""
    tree = ast.parse(source, filename=str(path) if path is not None else "<unknown>")
    return analyze_module(tree, split_lines(source), path, config)
