"""Settings shared by every check of the analysis."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

KerasVersion = Literal["2", "3", "auto", "installed"]

#: the values of ``--safeloader-keras-version`` / ``--keras-version``
KERAS_VERSIONS: tuple[KerasVersion, ...] = ("2", "3", "auto", "installed")


@dataclass(frozen=True)
class AnalysisConfig:
    """What the user configured (flake8 options or ``safeloader-fix`` flags).

    ``keras_version``: ``"2"``, ``"3"``, ``"auto"`` (the package the module
    runs on, then the declared dependencies, then legacy usage; unknown means
    no Keras-3-only rule fires; see :mod:`.keras_version`) or ``"installed"``
    (the installed ``keras`` distribution's major version). ``extra_guards``: names, beyond the
    built-in ones, that make a generator thread-safe. ``project_root``: the
    directory under which imports are resolved to project modules (``None``:
    the linted file's own directory tree as flake8 sees it).
    """

    keras_version: KerasVersion = "auto"
    extra_guards: frozenset[str] = field(default_factory=frozenset)
    project_root: Path | None = None
