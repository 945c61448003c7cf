"""The line ``safeloader-fix`` prints when its fixes make a project import safeloader
but the project's declared dependencies do not list it (the fixed code would
then fail with ``ModuleNotFoundError`` wherever the project is installed)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable

from safeloader.analysis.declared_dependencies import DeclaredDependencies, declared_dependencies

#: an ``import safeloader`` or ``from safeloader[.x] import ...`` statement at a
#: line's start (how LibCST's AddImportsVisitor writes the ones a fix adds)
_SAFELOADER_IMPORT = re.compile(r"^[ \t]*(?:from[ \t]+safeloader[ \t.]|import[ \t]+safeloader\b)",
                                re.M)
#: where a project without any requirement yet would declare one, in this order
_PROJECT_FILES = ("pyproject.toml", "setup.cfg", "setup.py", "requirements.txt")


def adds_safeloader_import(before: str, after: str) -> bool:
    """Whether ``after`` imports safeloader and ``before`` did not."""
    return _SAFELOADER_IMPORT.search(after) is not None and (
        _SAFELOADER_IMPORT.search(before) is None
    )


def missing_dependency_notes(paths: Iterable[Path]) -> list[str]:
    """One line per project that ``paths`` (files the fixes made import safeloader)
    belong to whose declared dependencies do not list safeloader, naming the file
    to add it to. Files outside any project (no packaging file found) say nothing."""
    projects: dict[Path, tuple[DeclaredDependencies, list[Path]]] = {}
    for path in paths:
        declared = declared_dependencies(path)
        if declared is not None and declared.requirement("safeloader") is None:
            projects.setdefault(declared.root, (declared, []))[1].append(path)
    notes = []
    for declared, files in projects.values():
        target = _file_to_declare_in(declared)
        count = f"{len(files)} fixed files import" if len(files) > 1 else f"{files[0]} imports"
        notes.append(
            f"safeloader-fix: {count} safeloader now, which the project's declared "
            f"dependencies do not list: add safeloader to {target}"
        )
    return notes


def _file_to_declare_in(declared: DeclaredDependencies) -> Path:
    if declared.sources:
        return declared.sources[0]
    for name in _PROJECT_FILES:
        if (declared.root / name).is_file():
            return declared.root / name
    return declared.root / _PROJECT_FILES[-1]
