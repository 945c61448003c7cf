"""Unified diffs of a file's text before and after a fix."""

from __future__ import annotations

import difflib
import os
from pathlib import Path

from safeloader.source_text import split_lines


def diff_name(path: Path) -> str:
    """The name ``path`` gets in a diff header: ``a/``-less path relative to the
    current directory when it lies under it (whether it was named relative,
    absolute or through the project's imports), else its absolute path."""
    here = Path.cwd()
    for candidate, base in ((Path(os.path.abspath(path)), here),
                            (Path(os.path.realpath(path)), Path(os.path.realpath(here)))):
        try:
            return candidate.relative_to(base).as_posix()
        except ValueError:
            continue
    return Path(os.path.abspath(path)).as_posix()


def unified_diff(path: Path, before: str, after: str, part: str = "") -> str:
    """A unified diff of one file's change: ``a/``, ``b/`` prefixes on paths relative
    to the current directory, so that ``git apply`` and ``patch -p1`` take it (a
    file outside it keeps its absolute path); a missing final newline is marked.

    ``part`` names a part of the file after its path (``":cell_4"``: a notebook's
    fourth code cell, whose last line has no line break of its own to mark)."""
    name = diff_name(path) + part
    if part:
        before, after = _ended(before), _ended(after)
    old, new = (name, name) if Path(name).is_absolute() else (f"a/{name}", f"b/{name}")
    lines = []
    for line in difflib.unified_diff(
        split_lines(before), split_lines(after), fromfile=old, tofile=new
    ):
        lines.append(line)
        if not line.endswith(("\n", "\r")):
            lines.append("\n\\ No newline at end of file\n")
    return "".join(lines)


def _ended(text: str) -> str:
    return text if not text or text.endswith(("\n", "\r")) else text + "\n"
