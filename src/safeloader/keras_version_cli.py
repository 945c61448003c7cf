"""``safeloader keras-version PATH...``: which Keras each file is checked against, and why.

One line a file, ``train.py: Keras 3 (pyproject.toml: keras>=3.3)``, as the
flake8 plugin and ``safeloader-fix`` decide it: the files flake8 would check,
the same option (the command line's, else the flake8 configuration's), then
the same evidence (:func:`safeloader.analysis.module_keras_target`). After the
deciding evidence come the notes: evidence that lost (``still calls
fit_generator: being migrated``) and project files that could not be read.
A front end: it reads flake8's files and options through the fixer's
:mod:`safeloader.fix.flake8_reporting`.
"""

from __future__ import annotations

import ast
import sys
from typing import Sequence

from safeloader.analysis import module_keras_target
from safeloader.fix.flake8_reporting import Flake8ConfigurationError, Flake8Reporting
from safeloader.source_text import SourceError, read_source, split_lines


def report_keras_versions(paths: Sequence[str], configured: str | None) -> int:
    """Print the targeted Keras of every Python file under ``paths``; return the exit status.

    Files and settings are flake8's (its file discovery and configuration);
    ``configured`` overrides ``safeloader-keras-version``. A file that cannot
    be read or parsed is reported on stderr and makes the status 1; a
    configuration flake8 rejects makes it 2.
    """
    argv = [*(paths or ["."])]
    if configured is not None:
        argv.append(f"--safeloader-keras-version={configured}")
    try:
        reporting = Flake8Reporting.from_arguments(argv)
    except Flake8ConfigurationError as error:
        print(f"safeloader: {error}", file=sys.stderr)
        return 2
    config = reporting.analysis_config()
    status = 0
    for path in reporting.files():
        try:
            text = read_source(path).text
            tree = ast.parse(text, filename=str(path))
        except SourceError as error:
            print(f"{path}: {error.reason}", file=sys.stderr)
            status = 1
            continue
        except (SyntaxError, ValueError) as error:
            print(f"{path}: cannot parse: {error}", file=sys.stderr)
            status = 1
            continue
        target = module_keras_target(tree, split_lines(text), path, config)
        print(f"{path}: {target.describe()}")
    return status
