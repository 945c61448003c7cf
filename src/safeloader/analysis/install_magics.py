"""The requirements a notebook declares for itself with its install lines.

A notebook that starts with ``%pip install keras>=3`` or
``!pip install -q tensorflow==2.12`` says which Keras it runs on, whatever
the project around it declares. :func:`install_requirements` reads those
lines from a notebook's code cells; the Keras targeting
(:func:`safeloader.analysis.keras_version.keras_target`) reads the result
before the project's files.

Recognised, with leading whitespace allowed:

* IPython's ``%pip``, ``%conda``, ``%mamba`` and ``%micromamba`` magics;
* shell escapes (``!`` or ``!!``) running ``pip``, ``pip3``...,
  ``python -m pip`` (any interpreter, ``{sys.executable}`` included),
  ``uv pip``, ``conda``, ``mamba`` or ``micromamba``; several commands joined
  by ``&&``, ``||``, ``;`` or ``|`` are read one by one, and leading
  ``NAME=value`` assignments are skipped;
* every line of a ``%%bash``, ``%%sh`` or ``%%script bash|sh`` cell, as shell commands;
* backslash line continuations, quotes (read as a shell reads them), ``#``
  comments, and the ``install`` subcommand's options: flags (``-U``, ``-q``,
  ``--user``, ``-y``...) are skipped, and so are the options that take a
  value (``-r FILE``, ``-c CHANNEL``, ``--index-url URL``...) with it.

Each remaining argument is a requirement: pip's are PEP 508 (``keras>=3``,
``"tensorflow[and-cuda]==2.16.1"``: an unquoted ``>=3`` would be a shell
redirection when run, but the intent is clear and it is read as written),
conda's are match specs (``tensorflow=2.12`` is ``tensorflow==2.12.*``).
Arguments that are not requirements (paths, URLs, ``{variables}``) are skipped.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from typing import Iterable, Iterator

from packaging.requirements import InvalidRequirement, Requirement

from safeloader.analysis.declared_dependencies import conda_requirement

__all__ = ["InlineRequirement", "cell_requirements", "install_requirements"]

_PIP_MAGICS = frozenset({"pip"})
_CONDA_MAGICS = frozenset({"conda", "mamba", "micromamba"})
_SHELL_CELLS = re.compile(r"%%(?:bash|sh|script[ \t]+(?:bash|sh))\b")
_PIP_PROGRAM = re.compile(r"pip[0-9.]*")
_SEPARATORS = frozenset({"&&", "||", ";", "|"})
#: options of ``pip`` (global and ``install``) and ``conda install`` that take a value
_OPTIONS_WITH_VALUES = frozenset({
    "-r", "--requirement", "-c", "--constraint", "-e", "--editable", "-t", "--target",
    "--platform", "--python-version", "--implementation", "--abi", "--root", "--prefix",
    "--src", "--upgrade-strategy", "-C", "--config-settings", "--global-option",
    "--no-binary", "--only-binary", "--progress-bar", "--root-user-action", "--report",
    "-i", "--index-url", "--extra-index-url", "-f", "--find-links", "--log", "--proxy",
    "--retries", "--timeout", "--exists-action", "--trusted-host", "--cert",
    "--client-cert", "--cache-dir", "--python", "--channel", "-n", "--name", "-p",
    "--file", "--solver", "--repodata-fn",
})


@dataclass(frozen=True)
class InlineRequirement:
    """A requirement a module declares for itself, and where.

    ``where`` names the line for a reader, up to its ``install``
    (``train.ipynb: %pip install``); ``str()`` gives the whole declaration
    (``train.ipynb: %pip install keras>=3``).
    """

    requirement: Requirement
    where: str

    def __str__(self) -> str:
        return f"{self.where} {self.requirement}"


def install_requirements(cells: Iterable[str], where: str) -> tuple[InlineRequirement, ...]:
    """The requirements that the install lines of ``cells`` (a notebook's code cell
    sources, in order) declare, in order; ``where`` (the notebook, as the user
    knows it: ``train.ipynb``) starts each one's :attr:`~InlineRequirement.where`."""
    found: list[InlineRequirement] = []
    for cell in cells:
        text = re.sub(r"\\\r?\n", " ", cell)
        lines = text.splitlines()
        shell_cell = bool(lines) and _SHELL_CELLS.match(lines[0].strip()) is not None
        for line in lines[1:] if shell_cell else lines:
            found.extend(_line_requirements(line.strip(), where, shell_cell))
    return tuple(found)


def cell_requirements(cells: Iterable[tuple[int, str]]) -> tuple[InlineRequirement, ...]:
    """:func:`install_requirements` of a notebook's ``(cell number, source)`` pairs,
    each named by its cell (``cell 2: !pip install tensorflow==2.12``)."""
    return tuple(requirement for number, source in cells
                 for requirement in install_requirements([source], f"cell {number}"))


def _line_requirements(line: str, where: str, shell: bool) -> Iterator[InlineRequirement]:
    if shell:
        prefix, command = "", line
    elif line.startswith("!"):
        prefix, command = "!", line.lstrip("!")
    elif line.startswith("%") and not line.startswith("%%"):
        name = line[1:].split(None, 1)[0] if line[1:].strip() else ""
        if name not in _PIP_MAGICS | _CONDA_MAGICS:
            return
        prefix, command = "%", line[1:]
    else:
        return
    try:
        tokens = shlex.split(command, comments=True)
    except ValueError:  # an unclosed quote: the line does not run either
        return
    for words in _commands(tokens):
        yield from _installed(words, prefix, where)


def _commands(tokens: list[str]) -> Iterator[list[str]]:
    """The commands of a shell line, without their leading ``NAME=value`` assignments."""
    command: list[str] = []
    for token in [*tokens, ";"]:
        if token.endswith(";") and token != ";":  # ``pip install x; ...``
            command.append(token[:-1])
            token = ";"
        if token in _SEPARATORS:
            while command and re.fullmatch(r"[A-Za-z_]\w*=.*", command[0]):
                command.pop(0)
            if command:
                yield command
            command = []
        else:
            command.append(token)


def _installed(words: list[str], prefix: str, where: str) -> Iterator[InlineRequirement]:
    """The requirements an install command (as words) names; nothing for other commands."""
    program = words[0].rsplit("/", 1)[-1]
    if _PIP_PROGRAM.fullmatch(program):
        start, conda = 1, False
    elif words[1:3] == ["-m", "pip"]:
        start, conda = 3, False
    elif program == "uv" and words[1:2] == ["pip"]:
        start, conda = 2, False
    elif program in _CONDA_MAGICS:
        start, conda = 1, True
    else:
        return
    arguments = _arguments(words[start:])
    if arguments is None:
        return
    label = f"{where}: {prefix}{' '.join(words[:start])} install"
    for argument in arguments:
        text = conda_requirement(argument) if conda else argument
        try:
            requirement = Requirement(text) if text else None
        except InvalidRequirement:
            continue
        if requirement is not None:
            yield InlineRequirement(requirement, label)


def _arguments(words: list[str]) -> list[str] | None:
    """The non-option arguments after an ``install`` subcommand (``None``: another
    subcommand); options before the subcommand and after it are skipped."""
    subcommand = None
    arguments: list[str] = []
    skip_value = False
    for word in words:
        if skip_value:
            skip_value = False
        elif word.startswith("-"):
            skip_value = word in _OPTIONS_WITH_VALUES
        elif subcommand is None:
            subcommand = word
        else:
            arguments.append(word)
    return arguments if subcommand == "install" else None
