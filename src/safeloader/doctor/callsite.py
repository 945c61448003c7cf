"""Where the user's code called Keras: the first frame outside the libraries.

A ``fit`` call reaches the doctor's instrument through frames of Keras (a
``Model`` subclass's ``fit_generator`` calls ``fit``), of TensorFlow and of
the doctor itself; the call site is the innermost frame outside those
packages, which is what the lint reports too: the line of the call in the
user's script or module.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from types import FrameType
from typing import Iterable


@dataclass(frozen=True, order=True)
class SourcePosition:
    """A file and a 1-based line; ``file`` is shown relative to the working directory."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


def shown_path(path: str) -> str:
    """``path`` relative to the working directory when it lies under it, else absolute."""
    absolute = os.path.abspath(path)
    relative = os.path.relpath(absolute)
    return absolute if relative.startswith(os.pardir) else relative


def package_root(module_file: str | None) -> str | None:
    """The directory of a package from its ``__init__.py`` (``None`` passes through)."""
    return os.path.dirname(os.path.abspath(module_file)) + os.sep if module_file else None


def find_call_site(library_roots: Iterable[str], frame: FrameType | None = None) -> SourcePosition:
    """The innermost frame (from ``frame``, default: the caller's) outside ``library_roots``.

    ``library_roots`` are directory prefixes ending in a separator. When every
    frame lies inside them (Keras calling itself from a thread it started), the
    outermost frame is returned.
    """
    roots = tuple(library_roots)
    current = frame if frame is not None else sys._getframe(1)
    outermost = current
    while current is not None:
        filename = os.path.abspath(current.f_code.co_filename)
        if not filename.startswith(roots) and not current.f_code.co_filename.startswith("<frozen"):
            return SourcePosition(shown_path(filename), current.f_lineno)
        outermost = current
        current = current.f_back
    return SourcePosition(shown_path(outermost.f_code.co_filename), outermost.f_lineno)
