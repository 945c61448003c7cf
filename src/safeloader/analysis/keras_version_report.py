"""``safeloader keras-version PATH...``: which Keras each file is checked against, and why.

One line a file, ``train.py: Keras 3 (pyproject.toml: keras>=3.3)``, as the
flake8 plugin and ``safeloader-fix`` decide it: the files flake8 would check,
the same option (the command line's, else the flake8 configuration's), then
the same evidence.
"""

from __future__ import annotations

import ast
import sys
from typing import Sequence

from safeloader.analysis.keras_version import keras_target
from safeloader.fix.flake8_reporting import Flake8ConfigurationError, Flake8Reporting
from safeloader.source_text import SourceError, read_source


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
    version = reporting.analysis_config().keras_version
    status = 0
    for path in reporting.files():
        try:
            tree = ast.parse(read_source(path).text, filename=str(path))
        except SourceError as error:
            print(f"{path}: {error.reason}", file=sys.stderr)
            status = 1
            continue
        except (SyntaxError, ValueError) as error:
            print(f"{path}: cannot parse: {error}", file=sys.stderr)
            status = 1
            continue
        print(f"{path}: {keras_target(tree, version, path).describe()}")
    return status
