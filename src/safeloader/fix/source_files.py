"""Which files ``safeloader-fix`` looks at: directory walking as flake8 does it."""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path
from typing import Iterable, Iterator

#: directory names never entered (version control, caches, build output,
#: virtual environments by their usual names)
SKIPPED_DIRS = frozenset(
    {".git", ".hg", ".svn", ".tox", ".nox", ".eggs", "__pycache__", "build", ".venv", "venv"}
)


def _excluded(path: Path, patterns: tuple[str, ...]) -> bool:
    """Whether ``path`` matches an ``--exclude`` glob by its name or its whole path."""
    return any(
        fnmatch.fnmatch(path.name, pattern) or fnmatch.fnmatch(str(path), pattern)
        for pattern in patterns
    )


def python_files(paths: Iterable[str | Path], exclude: Iterable[str] = ()) -> Iterator[Path]:
    """Yield the ``.py`` files under ``paths``, in a stable order.

    A directory is walked, skipping :data:`SKIPPED_DIRS`, any directory holding
    a ``pyvenv.cfg`` (a virtual environment under another name) and whatever
    matches ``exclude``. A file named on the command line is taken whatever
    its suffix, unless it matches ``exclude``.
    """
    patterns = tuple(exclude)
    for given in paths:
        root = Path(given)
        if _excluded(root, patterns):
            continue
        if not root.is_dir():
            yield root
            continue
        for directory, subdirs, files in os.walk(root):
            here = Path(directory)
            subdirs[:] = sorted(
                name
                for name in subdirs
                if name not in SKIPPED_DIRS
                and not _excluded(here / name, patterns)
                and not (here / name / "pyvenv.cfg").exists()
            )
            for name in sorted(files):
                if name.endswith(".py") and not _excluded(here / name, patterns):
                    yield here / name
