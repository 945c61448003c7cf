"""Which Keras a module targets: the option, then the module's evidence, then the project.

Never the installed Keras (unless asked for with ``installed``).
"""

from __future__ import annotations

import ast
import importlib
import importlib.metadata
from pathlib import Path

import pytest

from safeloader.analysis.declared_dependencies import declared_dependencies
from safeloader.analysis.keras_version import (
    KERAS2_ONLY_MODULES,
    KERAS2_ONLY_UTILS,
    dependency_evidence,
    keras_target,
    module_evidence,
)


def evidence(source: str) -> tuple[str | None, str] | None:
    found = module_evidence(ast.parse(source))
    return None if found is None else (found.version, found.evidence)


@pytest.mark.parametrize("source, expected", [
    ("import tf_keras\n", ("2", "imports tf_keras")),
    ("from tf_keras.utils import Sequence\n", ("2", "imports tf_keras.utils")),
    ("try:\n    import tf_keras as keras\nexcept ImportError:\n    keras = None\n",
     ("2", "imports tf_keras")),
    ("from tensorflow.python.keras.engine import training\n",
     ("2", "imports tensorflow.python.keras.engine")),
    ("from tensorflow.python import keras\n", ("2", "imports tensorflow.python.keras")),
    ("from keras.utils.data_utils import Sequence\n", ("2", "imports keras.utils.data_utils")),
    ("from keras.utils import np_utils\n", ("2", "imports keras.utils.np_utils")),
    ("from tensorflow.keras.layers.experimental import preprocessing\n",
     ("2", "imports tensorflow.keras.layers.experimental")),
    ("import keras.engine.topology\n", ("2", "imports keras.engine.topology")),
    ("from keras.utils import OrderedEnqueuer\n", ("2", "imports keras.utils.OrderedEnqueuer")),
    ("def f(m, g):\n    m.fit_generator(g, 10)\n", ("2", "calls fit_generator")),
    ("def f(m, g):\n    m.fit(g, nb_epoch=3)\n", ("2", "passes Keras 1's nb_epoch=")),
    ("from keras import ops\n", ("3", "imports keras.ops")),
    ("import keras.ops\n", ("3", "imports keras.ops")),
    ("from keras.utils import PyDataset\n", ("3", "imports keras.utils.PyDataset")),
    ("from keras.src.trainers import trainer\n", ("3", "imports keras.src.trainers")),
    ("from tensorflow import keras\n", None),
    ("import keras\nfrom keras.utils import Sequence, to_categorical\n", None),
    ("import tf_keras\nfrom keras import ops\n", None),
    ("from keras import ops\ndef f(m, g):\n    m.fit_generator(g)\n", None),
    # imports inside functions are not read: too costly for the evidence they give
    ("def f():\n    import tf_keras\n", None),
])
def test_module_evidence(source: str, expected: tuple[str, str] | None) -> None:
    assert evidence(source) == expected


def test_keras2_only_imports_are_missing_from_the_installed_keras_3() -> None:
    keras = pytest.importorskip("keras")
    assert keras.__version__.startswith("3.")
    for name in KERAS2_ONLY_MODULES:
        with pytest.raises(ImportError):
            importlib.import_module(name)
    utils = importlib.import_module("keras.utils")
    assert not [name for name in KERAS2_ONLY_UTILS if hasattr(utils, name)]
    # and the Keras 3 ones are there
    for name in ("keras.ops", "keras.src", "keras.random", "keras.tree"):
        importlib.import_module(name)
    assert hasattr(utils, "PyDataset")


def project(tmp_path: Path, files: dict[str, str]) -> tuple[str | None, str]:
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    found = declared_dependencies(tmp_path)
    assert found is not None
    target = dependency_evidence(found)
    return target.version, target.evidence


@pytest.mark.parametrize("files, expected", [
    ({"pyproject.toml": '[project]\nname = "p"\ndependencies = ["keras>=3.3"]\n'},
     ("3", "pyproject.toml: keras>=3.3")),
    ({"requirements.txt": "tensorflow==2.12.0\n"}, ("2", "requirements.txt: tensorflow==2.12.0")),
    ({"requirements.txt": "tensorflow>=2.16,<2.20\n"},
     ("3", "requirements.txt: tensorflow<2.20,>=2.16")),
    ({"requirements.txt": "tensorflow~=2.15.0\n"}, ("2", "requirements.txt: tensorflow~=2.15.0")),
    ({"requirements.txt": "tensorflow-cpu<2.16\n"}, ("2", "requirements.txt: tensorflow-cpu<2.16")),
    ({"requirements.txt": "tensorflow==2.12.0\nkeras>=3\n"}, ("3", "requirements.txt: keras>=3")),
    ({"requirements.txt": "tensorflow>=2.16\ntf-keras\n"}, ("2", "requirements.txt: tf-keras")),
    ({"requirements.txt": "keras==2.*\n"}, ("2", "requirements.txt: keras==2.*")),
    ({"requirements.txt": "keras>2.15\n"}, (None, "no Keras version in requirements.txt")),
    ({"requirements.txt": "keras>=3.0.0rc1\n"}, ("3", "requirements.txt: keras>=3.0.0rc1")),
    ({"requirements.txt": "keras!=3.0\n"}, (None, "no Keras version in requirements.txt")),
    ({"requirements.txt": "tensorflow\nkeras\n"}, (None, "no Keras version in requirements.txt")),
    ({"environment.yml": "dependencies:\n  - tensorflow=2.10\n"},
     ("2", "environment.yml: tensorflow==2.10.*")),
    ({"Pipfile": '[packages]\nkeras = "~=3.1"\n'}, ("3", "Pipfile: keras~=3.1")),
])
def test_declared_dependencies_decide(tmp_path: Path, files: dict[str, str],
                                      expected: tuple[str | None, str]) -> None:
    assert project(tmp_path, files) == expected


def test_evidence_from_an_included_file_outside_the_project_names_its_path(
    tmp_path: Path
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "keras.txt").write_text("keras<3\n", encoding="utf-8")
    project_dir = tmp_path / "project"
    project_dir.mkdir()
    (project_dir / "requirements.txt").write_text("-r ../shared/keras.txt\n", encoding="utf-8")
    found = declared_dependencies(project_dir)
    assert found is not None
    target = dependency_evidence(found)
    assert (target.version, target.evidence) == ("2", f"{shared / 'keras.txt'}: keras<3")


def test_the_order_is_option_then_module_then_project(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("keras>=3\n", encoding="utf-8")
    train = tmp_path / "train.py"

    def target(source: str, configured: str = "auto") -> str:
        return keras_target(ast.parse(source), configured, train).describe()  # type: ignore

    assert target("import keras\n") == "Keras 3 (requirements.txt: keras>=3)"
    assert target("import tf_keras\n") == "Keras 2 (imports tf_keras)"
    assert target("import tf_keras\n", "3") == "Keras 3 (configured)"
    assert target("from keras import ops\n", "2") == "Keras 2 (configured)"
    assert keras_target(ast.parse("import keras\n"), "auto", None).version is None


def test_installed_is_read_only_when_asked_for(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    train = tmp_path / "train.py"
    tree = ast.parse("import keras\n")
    assert keras_target(tree, "auto", train).version is None
    installed = importlib.metadata.version("keras")
    found = keras_target(tree, "installed", train)
    assert found.version == installed.split(".")[0]
    assert found.evidence == f"installed keras {installed}"
