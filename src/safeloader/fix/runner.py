"""The work of ``safeloader-fix`` on files: plan with the analysis, then rewrite.

Two phases, each one function per file so that a process pool can run them:

1. :func:`plan_file` reads a file, skips it cheaply when the text pre-filter
   says it has nothing to do, and otherwise parses it with ``ast`` and runs the
   analysis (:func:`file_findings`, which ``safeloader lint`` reports). It
   returns the selected fixes with the file each one edits (a
   generator imported from another module of the project is fixed there).
2. :func:`fix_file` applies all fixes aimed at one file in one pass
   (:func:`fix_text`, which works on text alone, through
   :mod:`safeloader.fix.engine`) and, unless told not to,
   writes the result atomically. A file is rewritten only when its text
   changes, and only when the new text still parses.

A notebook is its code cells as one module (:mod:`safeloader.fix.module_files`):
the same two phases run on that module, and only the cells that changed are
written back.

None of them raises for a bad file: the reason comes back in the result.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Sequence

from safeloader.analysis import (
    AnalysisConfig,
    RuleGroups,
    analyze_module,
    module_keras_target,
    rule_groups,
)
from safeloader.analysis.keras_version import KerasTarget
from safeloader.findings import Finding, Fix
from safeloader.fix.atomic_write import ChangedOnDiskError, FileSnapshot, replace_file
from safeloader.fix.dependency_note import adds_safeloader_import
from safeloader.fix.flake8_reporting import Flake8Reporting
from safeloader.fix.module_files import Change, ModuleFile, ModuleFileError, decode_module_file
from safeloader.fix.selection import FixSelection, fix_key
from safeloader.fix.text_fix import TextFix
from safeloader.source_text import split_lines, unreadable_reason


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
    """What the analysis of one file asks for: the findings to fix, how many more
    findings ``--unsafe-fixes`` would fix (``held_back``), and ``note``: something
    said of the file that is no error (a notebook without code cells)."""

    path: Path
    findings: tuple[PlannedFinding, ...] = ()
    error: str | None = None
    held_back: int = 0
    note: str | None = None

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

    ``applied``: the ``(code, fix)`` pairs that changed it. ``changes`` holds the
    text before and after of each part that changed (the file, or a notebook's
    cells) only when the caller asked to keep them (for ``--diff``).
    ``adds_safeloader_import``: the fixes made the file import safeloader.
    """

    path: Path
    changed: bool = False
    applied: tuple[tuple[str, Fix], ...] = ()
    warnings: tuple[str, ...] = ()
    error: str | None = None
    changes: tuple[Change, ...] = field(default=(), repr=False)
    adds_safeloader_import: bool = False


#: said of a file whose parse or analysis ran out of stack
TOO_DEEP = "too deeply nested to analyse (Python's recursion limit)"


class AnalysisFailure(Exception):
    """A file the analysis could not be run on; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def read_module_file(path: Path) -> ModuleFile:
    """Read ``path`` as a module (a Python file or a notebook's code cells);
    :class:`ModuleFileError` with the reason when it cannot be."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise ModuleFileError(unreadable_reason(path, error)) from error
    return decode_module_file(path, raw)


def parse_module_file(module: ModuleFile) -> ast.Module:
    """``module``'s text parsed; :class:`AnalysisFailure` naming where it is not Python."""
    text = module.text
    if "\0" in text:
        line = len(split_lines(text[:text.index("\0")] + "x"))
        raise AnalysisFailure(f"contains a NUL byte (line {line}): not Python source")
    try:
        return ast.parse(text, filename=str(module.path))
    except SyntaxError as error:
        where = module.describe_line(error.lineno) if error.lineno else "line ?"
        raise AnalysisFailure(f"syntax error: {error.msg} ({where})") from error
    except RecursionError as error:
        raise AnalysisFailure(TOO_DEEP) from error
    except (ValueError, MemoryError) as error:
        raise AnalysisFailure(f"cannot parse: {error}") from error


def file_findings(
    module: ModuleFile, config: AnalysisConfig, reporting: Flake8Reporting | None = None,
) -> list[Finding]:
    """The findings of ``module`` that flake8 would report with ``reporting`` (all of
    them when ``None``); :class:`AnalysisFailure` when it cannot be analysed."""
    groups = rule_groups(module.text, module.path)
    if not groups:
        return []
    tree = parse_module_file(module)
    try:
        findings = analyze_module_file(module, tree, config, groups)
        if reporting is not None:
            findings = reporting.reported(module.path, findings, module.noqa_lines())
    except RecursionError as error:
        raise AnalysisFailure(TOO_DEEP) from error
    except Exception as error:  # a bug in one rule must not stop the other files
        raise AnalysisFailure(f"internal error in the analysis: {error!r}") from error
    return findings


def analyze_module_file(module: ModuleFile, tree: ast.Module, config: AnalysisConfig,
                        groups: RuleGroups) -> list[Finding]:
    """Every finding of ``module`` (parsed as ``tree``; ``groups``: its
    :func:`~safeloader.analysis.rule_groups`), a notebook's as a notebook's."""
    return analyze_module(tree, module.lines, module.path, config, cells=module.cells,
                          inline_requirements=module.inline_requirements,
                          text=module.text, groups=groups)


def file_keras_target(path: Path, config: AnalysisConfig) -> KerasTarget:
    """The Keras the file ``path`` (a script, or a notebook's code cells and install
    lines) is checked against under ``config``, and why, as :func:`file_findings`
    decides it; :class:`ModuleFileError` or :class:`AnalysisFailure` when it cannot
    be read."""
    module = read_module_file(path)
    return module_keras_target(parse_module_file(module), module.lines, path, config,
                               module.inline_requirements)


def plan_file(
    path: Path, config: AnalysisConfig, selection: FixSelection,
    reporting: Flake8Reporting | None = None,
) -> FilePlan:
    """Run the analysis on ``path`` and keep the fixes ``selection`` allows, among
    the findings flake8 would report (``reporting``; all of them when ``None``)."""
    try:
        module = read_module_file(path)
        findings = file_findings(module, config, reporting)
    except (ModuleFileError, AnalysisFailure) as error:
        return FilePlan(path, error=error.reason)
    planned = tuple(
        PlannedFinding(finding.code, tuple(
            (path if fix.path is None else Path(fix.path), replace(fix, path=None))
            for fix in finding.fixes
        ))
        for finding in selection.findings_to_fix(findings)
    )
    return FilePlan(path, planned, held_back=len(selection.held_back(findings)),
                    note=module.note)


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
        module = decode_module_file(path, raw)
        fixed = fix_text(module.text, path, fixes)
    except ModuleFileError as error:
        return FileOutcome(path, error=error.reason)
    except RecursionError:
        return FileOutcome(path, error=TOO_DEEP)
    warnings = tuple(module.relocate(warning) for warning in fixed.warnings)
    if fixed.text is None or fixed.text == module.text:
        return FileOutcome(path, warnings=warnings, error=fixed.error)
    try:
        new = module.fixed(fixed.text)
    except ModuleFileError as error:
        return FileOutcome(path, warnings=warnings, error=error.reason)
    if not new.changes:
        return FileOutcome(path, warnings=warnings)
    if write:
        try:
            replace_file(path, module.encode(new.text), expected=snapshot)
        except ChangedOnDiskError:
            return FileOutcome(path, warnings=warnings, error="changed on disk while being fixed")
        except (OSError, UnicodeEncodeError) as error:
            return FileOutcome(path, warnings=warnings, error=f"cannot write: {error}")
    return FileOutcome(
        path, changed=True, applied=fixed.applied, warnings=warnings,
        changes=new.changes if keep_texts else (),
        adds_safeloader_import=adds_safeloader_import(module.text, fixed.text),
    )
