"""Unified diffs of a file's text before and after a fix."""

from __future__ import annotations

import difflib
from pathlib import Path

from safeloader.source_text import split_lines


def unified_diff(path: Path, before: str, after: str) -> str:
    """A unified diff of one file's change (``a/``, ``b/`` prefixes on relative
    paths, so that ``git apply`` takes it; a missing final newline is marked)."""
    name = path.as_posix()
    old, new = (name, name) if path.is_absolute() else (f"a/{name}", f"b/{name}")
    lines = []
    for line in difflib.unified_diff(
        split_lines(before), split_lines(after), fromfile=old, tofile=new
    ):
        lines.append(line)
        if not line.endswith(("\n", "\r")):
            lines.append("\n\\ No newline at end of file\n")
    return "".join(lines)
