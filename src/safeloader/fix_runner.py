"""The work of ``safeloader-fix`` on files: plan with the analysis, then rewrite.

Two phases, each one function per file so that a process pool can run them:

1. :func:`plan_file` reads a file, skips it cheaply when the text pre-filter
   says it has nothing to do, and otherwise parses it with ``ast`` and runs the
   analysis. It returns the selected fixes with the file each one edits (a
   generator imported from another module of the project is fixed there).
2. :func:`fix_file` applies all fixes aimed at one file in one LibCST pass
   (:func:`fix_text`, which works on text alone) and, unless told not to,
   writes the result atomically. A file is rewritten only when its text
   changes, and only when the new text still parses.

None of them raises for a bad file: the reason comes back in the result.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from safeloader.analysis.config import AnalysisConfig
from safeloader.atomic_write import replace_file
from safeloader.findings import Fix
from safeloader.fix_selection import FixSelection
from safeloader.source_text import SourceError, read_source


@dataclass(frozen=True)
class FilePlan:
    """What the analysis of one file asks for: ``(file to edit, code, fix)`` triples."""

    path: Path
    fixes: tuple[tuple[Path, str, Fix], ...] = ()
    error: str | None = None


@dataclass(frozen=True)
class FileOutcome:
    """What rewriting one file gave.

    ``texts`` holds the text before and after only when the file changed and
    the caller asked to keep them (for ``--diff``).
    """

    path: Path
    changed: bool = False
    applied: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    error: str | None = None
    texts: tuple[str, str] | None = field(default=None, repr=False)


def plan_file(path: Path, config: AnalysisConfig, selection: FixSelection) -> FilePlan:
    """Run the analysis on ``path`` and keep the fixes ``selection`` allows."""
    from safeloader.analysis import analyze_module, might_have_findings

    try:
        source = read_source(path)
    except SourceError as error:
        return FilePlan(path, error=error.reason)
    if not might_have_findings(source.text):
        return FilePlan(path)
    try:
        tree = ast.parse(source.text, filename=str(path))
    except SyntaxError as error:
        return FilePlan(path, error=f"syntax error: {error.msg} (line {error.lineno})")
    except (ValueError, RecursionError, MemoryError) as error:
        return FilePlan(path, error=f"cannot parse: {error}")
    findings = analyze_module(tree, source.text.splitlines(keepends=True), path, config)
    return FilePlan(
        path,
        tuple(
            (path if fix.path is None else Path(fix.path), code, fix)
            for code, fix in selection.fixes_to_apply(findings)
        ),
    )


@dataclass(frozen=True)
class TextFix:
    """The result of fixing one module's text: the new text (``None`` when the
    fixes could not be applied, see ``error``), the codes of the fixes that
    changed it, and the warnings about shapes left alone."""

    text: str | None
    applied: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    error: str | None = None


def fix_text(text: str, path: Path, fixes: Sequence[tuple[str, Fix]]) -> TextFix:
    """Apply ``fixes`` (all aimed at ``path``, whose text is ``text``) in one pass."""
    # LibCST's codemod machinery takes a second to import: only files with fixes need it
    from libcst.codemod import CodemodContext, TransformSuccess, transform_module

    from safeloader.codemod import SafeloaderFixCommand

    command = SafeloaderFixCommand(CodemodContext(filename=str(path)), fixes=fixes)
    result = transform_module(command, text)
    warnings = tuple(result.warning_messages)
    if not isinstance(result, TransformSuccess):
        reason = getattr(result, "error", None) or getattr(result, "skip_description", "")
        return TextFix(None, warnings=warnings, error=f"cannot rewrite: {reason}")
    if result.code != text:
        try:
            ast.parse(result.code, filename=str(path))
        except SyntaxError as error:
            reason = f"the fixed code would not parse ({error.msg})"
            return TextFix(None, warnings=warnings, error=reason)
    applied = tuple(code for code, _ in command.applied)
    return TextFix(result.code, applied, warnings)


def fix_file(
    path: Path, fixes: Sequence[tuple[str, Fix]], *, write: bool, keep_texts: bool
) -> FileOutcome:
    """Apply ``fixes`` to ``path`` in one pass; write the result when ``write``."""
    try:
        source = read_source(path)
    except SourceError as error:
        return FileOutcome(path, error=error.reason)
    fixed = fix_text(source.text, path, fixes)
    if fixed.text is None or fixed.text == source.text:
        return FileOutcome(path, warnings=fixed.warnings, error=fixed.error)
    if write:
        try:
            replace_file(path, source.encode(fixed.text))
        except (OSError, UnicodeEncodeError) as error:
            return FileOutcome(path, warnings=fixed.warnings, error=f"cannot write: {error}")
    texts = (source.text, fixed.text) if keep_texts else None
    return FileOutcome(
        path, changed=True, applied=fixed.applied, warnings=fixed.warnings, texts=texts
    )
