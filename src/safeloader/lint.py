"""``safeloader lint PATH...``: safeloader's findings in Python files and notebooks.

flake8 reads Python files only; this reports the SLD findings of both, and
decides what is reported with flake8's own machinery, exactly as
``safeloader-fix`` does (:mod:`safeloader.fix.flake8_reporting`): the
configuration flake8 finds (``select``, ``ignore``, ``per-file-ignores``,
``exclude``, ``safeloader-keras-version``, ``safeloader-guards``), its file
discovery (plus ``*.ipynb``) and its ``# noqa`` handling, in a notebook's
cells too. A ``.py`` file gets what ``flake8 --select SLD`` would print; a
notebook's lines name the code cell as nbQA does::

    train.py:12:5: SLD101 generator 'batches' feeds fit(workers=3) ...
    train.ipynb:cell_4:2:5: SLD101 generator 'batches' feeds fit(workers=3) ...

Other plugins' codes are flake8's business. Exit status: 0 nothing
reported, 1 findings reported, 2 a file that could not be read or analysed
(named on stderr), or a configuration flake8 rejects.
"""

from __future__ import annotations

import argparse
import sys

from safeloader.fix.flake8_reporting import Flake8ConfigurationError
from safeloader.fix.options import add_flake8_choices, flake8_reporting
from safeloader.fix.runner import AnalysisFailure, file_findings, read_module_file
from safeloader.fix.module_files import ModuleFileError


def add_lint_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``safeloader lint``."""
    add_flake8_choices(parser, "report")


def lint(args: argparse.Namespace) -> int:
    """Print the findings of every file under ``args.paths``; return the exit status."""
    try:
        reporting = flake8_reporting(args)
    except Flake8ConfigurationError as error:
        print(f"safeloader: {error}", file=sys.stderr)
        return 2
    config = reporting.analysis_config()
    reported = failed = 0
    for path in reporting.files(notebooks=True):
        try:
            module = read_module_file(path)
            findings = file_findings(module, config, reporting)
        except (ModuleFileError, AnalysisFailure) as error:
            print(f"{path}: {error.reason}", file=sys.stderr)
            failed += 1
            continue
        if module.note is not None:
            print(f"{path}: {module.note}", file=sys.stderr)
        for finding in findings:
            print(f"{path}:{module.location(finding.line)}:{finding.col + 1}: {finding.message}")
        reported += len(findings)
    if failed:
        return 2
    return 1 if reported else 0
