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
from typing import Callable, Iterator, Sequence

from safeloader.analysis.calls import CallChecker
from safeloader.analysis.classes import check_classes
from safeloader.analysis.config import AnalysisConfig
from safeloader.analysis.generators import INSTALLED, Classifier
from safeloader.analysis.keras_version import KerasTarget, keras_target
from safeloader.analysis.prefilter import (
    class_rules_might_fire,
    imports_might_start_processes,
    might_have_findings,
    rules_might_fire_here,
)
from safeloader.analysis.process_starts import ProcessStartFinder, check_imported_starts
from safeloader.analysis.project import text_hints
from safeloader.analysis.scopes import Scope
from safeloader.findings import Finding
from safeloader.source_text import split_lines

__all__ = ["AnalysisConfig", "analyze_module", "analyze_source", "might_have_findings"]


def analyze_module(
    tree: ast.Module,
    lines: Sequence[str],
    path: Path | None,
    config: AnalysisConfig = AnalysisConfig(),
) -> list[Finding]:
    """Return every finding of every rule in ``tree``, sorted by line, column and code.

    ``lines`` are the source lines (with or without line ends) the tree was
    parsed from; ``path`` the file (``None`` for stdin or a snippet: imports
    of project modules are then not followed).
    """
    target = functools.cache(lambda: keras_target(tree, config.keras_version, path))
    text = "".join(lines) if not lines or lines[0].endswith(("\n", "\r")) else "\n".join(lines)
    findings: list[Finding] = []
    checker = None
    if rules_might_fire_here(text):
        checker = CallChecker(tree, lines, path, config, target)
        findings.extend(checker.findings())
        if class_rules_might_fire(checker.text):
            findings.extend(check_classes(tree, target))
    if path is not None and imports_might_start_processes(text):
        findings.extend(_imported_starts(tree, path, text, config, target, checker))
    return sorted(findings, key=lambda finding: (finding.line, finding.col, finding.code))


def _imported_starts(tree: ast.Module, path: Path, text: str, config: AnalysisConfig,
                     target: Callable[[], KerasTarget], checker: CallChecker | None,
                     ) -> Iterator[Finding]:
    """SLD103 through calls into the project's other modules (:mod:`.process_starts`)."""
    if INSTALLED & set(path.parts):
        return  # an installed package: its imports lead to installed code, never followed
    if checker is None:
        classifier = Classifier(config.extra_guards, path, config.project_root)
        scope = Scope(tree, None, path, text_hints(text))
    else:
        classifier, scope = checker.classifier, checker.module_scope
    finder = ProcessStartFinder(classifier, path, lambda: target().version == "3")
    yield from check_imported_starts(tree, scope, finder)


def analyze_source(
    source: str, path: Path | None = None, config: AnalysisConfig = AnalysisConfig()
) -> list[Finding]:
    """Parse ``source`` and return :func:`analyze_module`'s findings; raises ``SyntaxError``."""
    tree = ast.parse(source, filename=str(path) if path is not None else "<unknown>")
    return analyze_module(tree, split_lines(source), path, config)
