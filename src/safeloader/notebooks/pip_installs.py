"""The ``pip install`` commands a notebook runs: what it declares it needs.

Notebooks (Colab, Kaggle, course material) install their dependencies from a
cell: ``%pip install "keras>=3"``, ``!pip install tensorflow==2.12``,
``!python -m pip install -U tf_keras``. Those lines are IPython's (masked
for the analysis, see :mod:`safeloader.notebooks.magics`); this finds them
among a notebook's masked lines, a backslash-continued command joined, and
gives each with its cell and its words after ``install``.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from typing import Iterable, Iterator

from safeloader.notebooks.magics import MaskedCell

#: ``%pip install``, ``!pip install``, ``!pip3 install``, ``!python -m pip install``,
#: ``!{sys.executable} -m pip install``
_PIP_INSTALL = re.compile(
    r"\s*(?:%pip|!\s*(?:pip3?|python3?(?:\.\d+)?\s+-m\s+pip|\{sys\.executable\}\s+-m\s+pip))"
    r"\s+install\s+(?P<arguments>.*)",
    re.DOTALL,
)


@dataclass(frozen=True)
class PipInstall:
    """A ``pip install`` a notebook runs: its code cell (counted from 1) and the
    words after ``install`` (options included), as the shell splits them."""

    cell: int
    arguments: tuple[str, ...]


def pip_installs(cells: Iterable[tuple[int, MaskedCell]]) -> tuple[PipInstall, ...]:
    """The ``pip install`` commands among the IPython lines of ``cells``
    (``(cell number, masked cell)`` pairs), in order."""
    found = []
    for number, cell in cells:
        for command in _commands(cell):
            match = _PIP_INSTALL.fullmatch(command)
            if match is None:
                continue
            try:
                words = shlex.split(match["arguments"], comments=True)
            except ValueError:  # an unclosed quote: not a command the shell would run
                continue
            found.append(PipInstall(number, tuple(words)))
    return tuple(found)


def _commands(cell: MaskedCell) -> Iterator[str]:
    """The cell's IPython commands, a backslash-continued one joined into one line."""
    pending = ""
    for line in cell.lines:
        text = line.original.rstrip("\r\n")
        if text.endswith("\\"):
            pending += text[:-1] + " "
            continue
        yield pending + text
        pending = ""
    if pending:
        yield pending
