"""The flake8 front end: reports the analysis' findings under the ``SLD`` codes.

Options (command line, or ``setup.cfg``/``tox.ini``/``.flake8``):
``--safeloader-guards`` (comma-separated names that make a generator
thread-safe, beyond the built-in ones) and ``--safeloader-keras-version``
(``2``, ``3``, ``auto`` or ``installed``; a bad value in a configuration file
is an error, as on the command line). Codes whose rule is off by default (SLD203) are
added to flake8's default ignore list; ``--extend-select SLD203`` turns
them on (so does selecting the family explicitly, ``--select SLD``: flake8
lets an explicit selection beat a default ignore). ``# noqa`` is flake8's own business: findings are reported on the
line of the node they concern.

A file nbQA wrote from a notebook (its cells after ``# %%NBQA-CELL-SEP``
lines, as ``nbqa flake8 train.ipynb`` hands it over) is analysed as a
notebook: the messages say what holds there, and the notebook's ``%pip
install`` lines, which nbQA hides, are read from the notebook itself.

A notebook named on flake8's command line (``flake8 train.ipynb``) is read as a
notebook, not as the JSON flake8 parsed: :mod:`safeloader.flake8_notebook`.
"""

from __future__ import annotations

import argparse
import ast
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, ClassVar, Iterator, Sequence

from flake8.options.manager import OptionManager

from safeloader.analysis import analyze_module, cell_requirements, rule_groups
from safeloader.analysis.config import KERAS_VERSIONS, AnalysisConfig
from safeloader.fix.module_files import is_notebook
from safeloader.notebooks.cells import nbqa_cells
from safeloader.notebooks.nbqa import nbqa_code_cells
from safeloader.rules import RULES

_STDIN_NAMES = frozenset({"stdin", "-", "(none)"})


def keras_version_setting(value: str) -> str:
    """Check a ``--safeloader-keras-version`` value, from the command line or a config file.

    flake8 hands configuration values to argparse as defaults, which argparse
    converts with ``type`` but never checks against ``choices``: the check
    lives here so that a bad value in ``setup.cfg`` fails as it does on the
    command line.
    """
    value = value.strip()
    if value not in KERAS_VERSIONS:
        raise argparse.ArgumentTypeError(
            f"invalid choice: {value!r} (choose from {', '.join(KERAS_VERSIONS)})")
    return value


def _package_version() -> str:
    try:
        return version("safeloader")
    except PackageNotFoundError:
        return "unknown"


class Plugin:
    """flake8 checker: one instance per file, given its tree, lines and name."""

    name = "safeloader"
    version = _package_version()
    config: ClassVar[AnalysisConfig] = AnalysisConfig()
    #: flake8's ``--disable-noqa``, which a notebook's ``# flake8: noqa`` obeys
    disable_noqa: ClassVar[bool] = False

    def __init__(self, tree: ast.Module, lines: Sequence[str], filename: str):
        self.tree = tree
        self.lines = lines
        self.path = None if filename in _STDIN_NAMES else Path(filename)

    @staticmethod
    def add_options(option_manager: OptionManager) -> None:
        """Register safeloader's options and default-off codes with flake8."""
        option_manager.add_option(
            "--safeloader-guards",
            default="",
            parse_from_config=True,
            comma_separated_list=True,
            help="Comma-separated extra names (decorators or wrapper calls) that make a "
            "generator thread-safe, e.g. 'my_locked_gen,utils.locked'.",
        )
        option_manager.add_option(
            "--safeloader-keras-version",
            default="auto",
            type=keras_version_setting,
            parse_from_config=True,
            help="The Keras major version the code targets: 2, 3, auto (default: the "
            "package the module runs on, then the declared dependencies, then legacy "
            "usage; never what is installed) or installed (the installed keras' version).",
        )
        option_manager.extend_default_ignore(
            [code for code, rule in RULES.items() if not rule.default_enabled]
        )

    @classmethod
    def parse_options(cls, options: argparse.Namespace) -> None:
        """Keep the parsed options for every checker instance of this run."""
        cls.config = AnalysisConfig(
            keras_version=options.safeloader_keras_version,
            extra_guards=frozenset(name for name in options.safeloader_guards if name),
        )
        cls.disable_noqa = options.disable_noqa

    def run(self) -> Iterator[tuple[int, int, str, type[Any]]]:
        """Yield ``(line, column, message, type)`` for every finding in the file."""
        if self.path is not None and is_notebook(self.path):
            from safeloader.flake8_notebook import notebook_findings

            for line, col, message in notebook_findings(self.lines, self.path, self.config,
                                                        disable_noqa=self.disable_noqa):
                yield line, col, message, type(self)
            return
        text = "".join(self.lines)
        groups = rule_groups(text, self.path)
        if not groups:
            return
        cells = nbqa_cells(self.lines, text)
        requirements = cell_requirements(
            (cell.number, cell.source) for cell in nbqa_code_cells(self.path)
        ) if cells and self.path else ()
        for finding in analyze_module(self.tree, self.lines, self.path, self.config, cells,
                                      requirements, text=text, groups=groups):
            yield finding.line, finding.col, finding.message, type(self)
