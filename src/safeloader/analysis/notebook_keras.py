"""Which Keras a notebook targets: its code's evidence, then what its own ``pip install``
commands declare, then its project's declared dependencies.

A notebook that runs ``%pip install "keras>=3"`` declares its Keras more
precisely than any file around it: its requirements are read
(:func:`pip_requirements`) and decided as a project's are
(:func:`~safeloader.analysis.keras_version.dependency_evidence`), before the
project's files are read; the evidence names the cell
(``Keras 3 (%pip in cell 1: keras>=3)``). Only with ``auto``: a configured
version decides outright, as for a script.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Iterator, Sequence

from packaging.requirements import InvalidRequirement, Requirement

from safeloader.analysis.config import KerasVersion
from safeloader.analysis.declared_dependencies import DeclaredDependencies
from safeloader.analysis.keras_version import (
    KerasTarget,
    dependency_evidence,
    keras_target,
    module_evidence,
)
from safeloader.notebooks.pip_installs import PipInstall

#: pip options followed by a value that is no requirement (``-r file``, ``-i URL``...)
_OPTIONS_WITH_VALUE = frozenset({
    "-r", "--requirement", "-c", "--constraint", "-e", "--editable", "-i", "--index-url",
    "--extra-index-url", "-f", "--find-links", "-t", "--target", "--prefix", "--root",
    "--platform", "--python-version", "--implementation", "--abi", "--src", "--upgrade-strategy",
    "--progress-bar", "--log", "--proxy", "--retries", "--timeout", "--exists-action",
    "--trusted-host", "--cert", "--client-cert", "--cache-dir", "--report", "--config-settings",
    "-C", "--global-option", "--no-binary", "--only-binary",
})


def pip_requirements(installs: Sequence[PipInstall]) -> Iterator[tuple[int, Requirement]]:
    """The requirements ``installs`` name, with their cell: options and their values,
    paths, URLs and words with shell or Python substitutions (``$VERSION``,
    ``{version}``) are not requirements and are skipped."""
    for install in installs:
        skip_value = False
        for word in install.arguments:
            if skip_value:
                skip_value = False
                continue
            if word.startswith("-"):
                skip_value = word in _OPTIONS_WITH_VALUE
                continue
            if any(mark in word for mark in ("$", "{", "/", "\\")):
                continue
            try:
                yield install.cell, Requirement(word)
            except InvalidRequirement:
                continue


def notebook_keras_target(tree: ast.Module, configured: KerasVersion, path: Path | None,
                          installs: Sequence[PipInstall]) -> KerasTarget:
    """The Keras the notebook whose code cells are ``tree`` targets (see the module
    docstring); ``installs`` are its ``pip install`` commands."""
    if configured != "auto" or not installs:
        return keras_target(tree, configured, path)
    evidence = module_evidence(tree)
    if evidence is not None:
        return evidence
    declared = [(Path(f"%pip in cell {cell}"), requirement)
                for cell, requirement in pip_requirements(installs)]
    if declared:
        sources = tuple(dict.fromkeys(source for source, _ in declared))
        decided = dependency_evidence(DeclaredDependencies(Path(), sources, tuple(declared)))
        if decided.version is not None:
            return decided
    return keras_target(tree, configured, path)
