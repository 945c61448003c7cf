"""Shared test setup.

TensorFlow reads ``TF_CPP_MIN_LOG_LEVEL`` once, when it is first imported;
setting it here, before any test module imports TensorFlow or Keras, keeps
its C++ start-up chatter out of the test output.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@pytest.fixture
def outside_the_repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run in ``tmp_path``. ``safeloader-fix`` reads flake8's configuration from the
    current directory upwards, as flake8 does; this repository's own (``extend-select
    = SLD``, its excludes) must not apply to the files a test fixes."""
    monkeypatch.chdir(tmp_path)
