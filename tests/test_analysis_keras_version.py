"""Which Keras a module targets: configuration, then imports, then the installed keras."""

from __future__ import annotations

import ast
import importlib.metadata

import pytest

from safeloader.analysis.keras_version import (
    installed_keras_version,
    module_evidence,
    targeted_keras_version,
)


def version_of(source: str, configured: str = "auto") -> str | None:
    return targeted_keras_version(ast.parse(source), configured)  # type: ignore[arg-type]


@pytest.mark.parametrize("source, expected", [
    ("import tf_keras\n", "2"),
    ("from tf_keras.utils import Sequence\n", "2"),
    ("try:\n    import tf_keras as keras\nexcept ImportError:\n    keras = None\n", "2"),
    ("from tensorflow.python.keras.engine import training\n", "2"),
    ("from tensorflow.python import keras\n", "2"),
    ("import tensorflow.python.keras as legacy\n", "2"),
    ("from tensorflow import keras\n", None),
    ("from keras import ops\n", "3"),
    ("import keras.ops\n", "3"),
    ("from keras.utils import PyDataset\n", "3"),
    ("from keras.src.trainers import trainer\n", "3"),
    ("import tf_keras\nfrom keras import ops\n", None),
])
def test_module_evidence(source: str, expected: str | None) -> None:
    assert module_evidence(ast.parse(source))[0] == expected


def test_configured_version_wins_over_imports() -> None:
    assert version_of("import tf_keras\n", "3") == "3"
    assert version_of("from keras import ops\n", "2") == "2"


def test_installed_version_decides_only_for_modules_importing_keras() -> None:
    installed = importlib.metadata.version("keras").split(".")[0]
    assert installed_keras_version() == installed
    assert version_of("import keras\n") == installed
    assert version_of("from tensorflow import keras\n") == installed
    assert version_of("import numpy\n") is None
    # imports inside functions are not read: too costly for the evidence they give
    assert version_of("def f():\n    import tf_keras\n") is None
