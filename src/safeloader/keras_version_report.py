"""``safeloader keras-version PATH...``: which Keras each file is checked against, and why.

One line a file, ``train.py: Keras 3 (pyproject.toml: keras>=3.3)``, as the
flake8 plugin and ``safeloader-fix`` decide it (the same option, read from
the command line or the flake8 configuration, then the same evidence).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path
from typing import Sequence

from safeloader.analysis.config import KERAS_VERSIONS
from safeloader.analysis.keras_version import keras_target
from safeloader.fix.source_files import python_files
from safeloader.flake8_config import safeloader_settings
from safeloader.source_text import SourceError, read_source


def report_keras_versions(paths: Sequence[str], configured: str | None) -> int:
    """Print the targeted Keras of every Python file under ``paths``; return the exit status.

    ``configured``: the ``--keras-version`` given, else the flake8
    configuration's ``safeloader-keras-version``, else ``auto``. A file that
    cannot be read or parsed is reported on stderr and makes the status 1; a
    bad configured value makes it 2.
    """
    version = configured or safeloader_settings(Path.cwd()).get("keras_version", "auto")
    if version not in KERAS_VERSIONS:
        print(f"safeloader: safeloader-keras-version = {version!r} in the flake8 "
              f"configuration; expected one of {', '.join(KERAS_VERSIONS)}", file=sys.stderr)
        return 2
    status = 0
    for path in python_files(paths or ["."]):
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
        target = keras_target(tree, version, path)  # type: ignore[arg-type]
        print(f"{path}: {target.describe()}")
    return status
