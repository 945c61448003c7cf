"""The work of ``safeloader-fix`` on files: plan with the analysis, then rewrite.

Two phases, each one function per file so that a process pool can run them:

1. :func:`plan_file` reads a file, skips it cheaply when the text pre-filter
   says it has nothing to do, and otherwise parses it with ``ast`` and runs the
   analysis. It returns the selected fixes with the file each one edits (a
   generator imported from another module of the project is fixed there).
2. :func:`fix_file` applies all fixes aimed at one file in one pass
   (:func:`fix_text`, which works on text alone, through
   :mod:`safeloader.fix.engine`) and, unless told not to,
   writes the result atomically. A file is rewritten only when its text
   changes, and only when the new text still parses.

None of them raises for a bad file: the reason comes back in the result.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Sequence

from safeloader.analysis import AnalysisConfig, analyze_module, might_have_findings
from safeloader.findings import Fix
from safeloader.fix.dependency_note import adds_safeloader_import
from safeloader.fix.atomic_write import ChangedOnDiskError, FileSnapshot, replace_file
from safeloader.fix.flake8_reporting import Flake8Reporting
from safeloader.fix.selection import FixSelection, fix_key
from safeloader.source_text import (
    SourceError,
    decode_source,
    read_source,
    split_lines,
    unreadable_reason,
)


@dataclass(frozen=True)
class PlannedFinding:
    """A finding whose fixes the run applies: its code, and each edit with the file
    it edits. The edits' ``path`` is cleared: an edit asked for from two files (a
    dataset class fixed for its own SLD105 and for a call's SLD302 in another
    module) is one edit, made once."""

    code: str
    fixes: tuple[tuple[Path, Fix], ...]


@dataclass(frozen=True)
class FilePlan:
    """What the analysis of one file asks for: the findings to fix, and how many
    more findings ``--unsafe-fixes`` would fix (``held_back``)."""

    path: Path
    findings: tuple[PlannedFinding, ...] = ()
    error: str | None = None
    held_back: int = 0

    @property
    def fixes(self) -> tuple[tuple[Path, str, Fix], ...]:
        """``(file to edit, code, fix)`` triples, each edit once, with the code of
        the first finding that asks for it."""
        seen: set[tuple[Path, tuple[object, ...]]] = set()
        triples = []
        for finding in self.findings:
            for target, fix in finding.fixes:
                key = (target, fix_key(fix))
                if key not in seen:
                    seen.add(key)
                    triples.append((target, finding.code, fix))
        return tuple(triples)


@dataclass(frozen=True)
class FileOutcome:
    """What rewriting one file gave.

    ``applied``: the ``(code, fix)`` pairs that changed it. ``texts`` holds the
    text before and after only when the file changed and the caller asked to
    keep them (for ``--diff``). ``adds_safeloader_import``:
    the fixes made the file import safeloader.
    """

    path: Path
    changed: bool = False
    applied: tuple[tuple[str, Fix], ...] = ()
    warnings: tuple[str, ...] = ()
    error: str | None = None
    texts: tuple[str, str] | None = field(default=None, repr=False)
    adds_safeloader_import: bool = False


#: said of a file whose parse or analysis ran out of stack
TOO_DEEP = "too deeply nested to analyse (Python's recursion limit)"


def plan_file(
    path: Path, config: AnalysisConfig, selection: FixSelection,
    reporting: Flake8Reporting | None = None,
) -> FilePlan:
    """Run the analysis on ``path`` and keep the fixes ``selection`` allows, among
    the findings flake8 would report (``reporting``; all of them when ``None``)."""
    try:
        source = read_source(path)
    except SourceError as error:
        return FilePlan(path, error=error.reason)
    if not might_have_findings(source.text):
        return FilePlan(path)
    if "\0" in source.text:
        line = len(split_lines(source.text[:source.text.index("\0")] + "x"))
        return FilePlan(path, error=f"contains a NUL byte (line {line}): not Python source")
    try:
        tree = ast.parse(source.text, filename=str(path))
    except SyntaxError as error:
        return FilePlan(path, error=f"syntax error: {error.msg} (line {error.lineno})")
    except RecursionError:
        return FilePlan(path, error=TOO_DEEP)
    except (ValueError, MemoryError) as error:
        return FilePlan(path, error=f"cannot parse: {error}")
    try:
        findings = analyze_module(tree, split_lines(source.text), path, config)
        if reporting is not None:
            findings = reporting.reported(path, findings)
    except RecursionError:
        return FilePlan(path, error=TOO_DEEP)
    except Exception as error:  # a bug in one rule must not stop the other files
        return FilePlan(path, error=f"internal error in the analysis: {error!r}")
    planned = tuple(
        PlannedFinding(finding.code, tuple(
            (path if fix.path is None else Path(fix.path), replace(fix, path=None))
            for fix in finding.fixes
        ))
        for finding in selection.findings_to_fix(findings)
    )
    return FilePlan(path, planned, held_back=len(selection.held_back(findings)))


@dataclass(frozen=True)
class TextFix:
    """The result of fixing one module's text: the new text (``None`` when the
    fixes could not be applied, see ``error``), the ``(code, fix)`` pairs that
    changed it, and the warnings about shapes left alone."""

    text: str | None
    applied: tuple[tuple[str, Fix], ...] = ()
    warnings: tuple[str, ...] = ()
    error: str | None = None


def fix_text(text: str, path: Path, fixes: Sequence[tuple[str, Fix]]) -> TextFix:
    """Apply ``fixes`` (all aimed at ``path``, whose text is ``text``) in one pass.

    Refused, with the reason in ``error``: a text LibCST cannot parse, a change
    to a line LibCST would not write back byte for byte (see
    :mod:`safeloader.fix.engine`), and a result that would not parse.
    """
    # LibCST takes a second to import: only files with fixes need it
    from safeloader.fix.engine import rewrite

    fixed = rewrite(text, str(path), fixes)
    if fixed.text is not None and fixed.text != text:
        try:
            ast.parse(fixed.text, filename=str(path))
        except SyntaxError as error:
            reason = f"the fixed code would not parse ({error.msg})"
            return TextFix(None, warnings=fixed.warnings, error=reason)
    return fixed


def fix_file(
    path: Path, fixes: Sequence[tuple[str, Fix]], *, write: bool, keep_texts: bool
) -> FileOutcome:
    """Apply ``fixes`` to ``path`` in one pass; write the result when ``write``.

    The result is written only if the file is still what was read (size,
    modification time, content): an edit made meanwhile is never overwritten.
    """
    try:
        snapshot, raw = FileSnapshot.read(path)
    except OSError as error:
        return FileOutcome(path, error=unreadable_reason(path, error))
    try:
        source = decode_source(path, raw)
    except SourceError as error:
        return FileOutcome(path, error=error.reason)
    try:
        fixed = fix_text(source.text, path, fixes)
    except RecursionError:
        return FileOutcome(path, error=TOO_DEEP)
    if fixed.text is None or fixed.text == source.text:
        return FileOutcome(path, warnings=fixed.warnings, error=fixed.error)
    if write:
        try:
            replace_file(path, source.encode(fixed.text), expected=snapshot)
        except ChangedOnDiskError:
            return FileOutcome(path, warnings=fixed.warnings,
                               error="changed on disk while being fixed")
        except (OSError, UnicodeEncodeError) as error:
            return FileOutcome(path, warnings=fixed.warnings, error=f"cannot write: {error}")
    texts = (source.text, fixed.text) if keep_texts else None
    return FileOutcome(
        path, changed=True, applied=fixed.applied, warnings=fixed.warnings, texts=texts,
        adds_safeloader_import=adds_safeloader_import(source.text, fixed.text),
    )
