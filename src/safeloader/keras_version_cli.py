"""``safeloader keras-version PATH...``: which Keras each file is checked against, and why.

One line a file, ``train.py: Keras 3 (pyproject.toml: keras>=3.3)`` or
``train.ipynb: Keras 3 (cell 1: %pip install keras>=3)``, as the flake8 plugin,
``safeloader lint`` and ``safeloader-fix`` decide it: the files flake8 would check,
the same option (the command line's, else the flake8 configuration's), then
the same evidence (:func:`safeloader.fix.runner.file_keras_target`). After the
deciding evidence come the notes: evidence that lost (``still calls
fit_generator: being migrated``) and project files that could not be read.
A front end: it reads flake8's files and options through the fixer's
:mod:`safeloader.fix.flake8_reporting`.
"""

from __future__ import annotations

import sys
from typing import Sequence

from safeloader.fix.flake8_reporting import Flake8ConfigurationError, Flake8Reporting
from safeloader.fix.module_files import ModuleFileError
from safeloader.fix.runner import AnalysisFailure, file_keras_target


def report_keras_versions(paths: Sequence[str], configured: str | None) -> int:
    """Print the targeted Keras of every Python file and notebook under ``paths``; return
    the exit status.

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
    for path in reporting.files(notebooks=True):
        try:
            target = file_keras_target(path, config)
        except (ModuleFileError, AnalysisFailure) as error:
            print(f"{path}: {error.reason}", file=sys.stderr)
            status = 1
            continue
        print(f"{path}: {target.describe()}")
    return status
