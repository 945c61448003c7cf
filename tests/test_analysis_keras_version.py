"""Which Keras a module targets: the option, then the package that runs it, then the
declared dependencies, then legacy usage. Never the installed Keras (unless asked for
with ``installed``)."""

from __future__ import annotations

import ast
import importlib
import importlib.metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from safeloader.analysis import AnalysisConfig, InlineRequirement, module_keras_target
from safeloader.analysis.declared_dependencies import declared_dependencies
from safeloader.analysis.keras_version import (
    KERAS2_ONLY_MODULES,
    KERAS2_ONLY_UTILS,
    dependency_evidence,
    keras_target,
    module_evidence,
)
from safeloader.source_text import split_lines


def evidence(source: str) -> tuple[str | None, str | None, str | None]:
    tree = ast.parse(source)
    calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call)]
    found = module_evidence(tree, calls)
    return found.runs_keras2, found.runs_keras3, found.legacy


@pytest.mark.parametrize("source, expected", [
    # the package that runs the module
    ("import tf_keras\n", ("imports tf_keras", None, None)),
    ("from tf_keras.utils import Sequence\n", ("imports tf_keras.utils", None, None)),
    ("try:\n    import tf_keras as keras\nexcept ImportError:\n    keras = None\n",
     ("imports tf_keras", None, None)),
    ("from tensorflow.python.keras.engine import training\n",
     ("imports tensorflow.python.keras.engine", None, None)),
    ("from tensorflow.python import keras\n", ("imports tensorflow.python.keras", None, None)),
    ('import os\nos.environ["TF_USE_LEGACY_KERAS"] = "1"\n',
     ("sets TF_USE_LEGACY_KERAS=1", None, None)),
    ("from os import environ\nenviron['TF_USE_LEGACY_KERAS'] = 'True'\n",
     ("sets TF_USE_LEGACY_KERAS=True", None, None)),
    ('import os\nos.environ.setdefault("TF_USE_LEGACY_KERAS", "1")\n',
     ("sets TF_USE_LEGACY_KERAS=1", None, None)),
    ('import os\nos.putenv("TF_USE_LEGACY_KERAS", "true")\n',
     ("sets TF_USE_LEGACY_KERAS=true", None, None)),
    ('import os\nos.environ.update(TF_USE_LEGACY_KERAS="1")\n',
     ("sets TF_USE_LEGACY_KERAS=1", None, None)),
    ('import os\nos.environ.update({"A": "x", "TF_USE_LEGACY_KERAS": "1"})\n',
     ("sets TF_USE_LEGACY_KERAS=1", None, None)),
    ('import os\nif True:\n    os.environ["TF_USE_LEGACY_KERAS"] = "1"\n',
     ("sets TF_USE_LEGACY_KERAS=1", None, None)),
    ('import os\nos.environ["TF_USE_LEGACY_KERAS"] = "0"\n', (None, None, None)),
    ('import os\nos.environ["TF_USE_LEGACY_KERAS"] = flag\n', (None, None, None)),
    ('import os\ndef f():\n    os.environ["TF_USE_LEGACY_KERAS"] = "1"\n', (None, None, None)),
    ("from keras import ops\n", (None, "imports keras.ops", None)),
    ("import keras.ops\n", (None, "imports keras.ops", None)),
    ("from keras.utils import PyDataset\n", (None, "imports keras.utils.PyDataset", None)),
    ("from keras.src.trainers import trainer\n", (None, "imports keras.src.trainers", None)),
    ("import keras\nclass B(keras.utils.PyDataset):\n    pass\n",
     (None, "subclasses keras.utils.PyDataset", None)),
    ("import tf_keras\nfrom keras import ops\n", ("imports tf_keras", "imports keras.ops", None)),
    # legacy usage
    ("from keras.utils.data_utils import Sequence\n",
     (None, None, "imports keras.utils.data_utils")),
    ("from keras.utils import np_utils\n", (None, None, "imports keras.utils.np_utils")),
    ("from tensorflow.keras.layers.experimental import preprocessing\n",
     (None, None, "imports tensorflow.keras.layers.experimental")),
    ("import keras.engine.topology\n", (None, None, "imports keras.engine.topology")),
    ("from keras.utils import OrderedEnqueuer\n",
     (None, None, "imports keras.utils.OrderedEnqueuer")),
    ("def f(m, g):\n    m.fit_generator(g, 10)\n", (None, None, "calls fit_generator")),
    ("def f(m, g):\n    m.fit(g, nb_epoch=3)\n", (None, None, "passes Keras 1's nb_epoch=")),
    # the first in source order, however deep
    ("def f(m, g):\n    m.fit(g, nb_epoch=3)\nm.fit_generator(g)\n",
     (None, None, "passes Keras 1's nb_epoch=")),
    ("from keras import ops\ndef f(m, g):\n    m.fit_generator(g)\n",
     (None, "imports keras.ops", "calls fit_generator")),
    # no evidence
    ("from tensorflow import keras\n", (None, None, None)),
    ("import keras\nfrom keras.utils import Sequence, to_categorical\n", (None, None, None)),
    ("from . import keras\nfrom .tf_keras import x\n", (None, None, None)),
    # imports inside functions are not read: too costly for the evidence they give
    ("def f():\n    import tf_keras\n", (None, None, None)),
])
def test_module_evidence(source: str, expected: tuple[str | None, str | None, str | None],
                         ) -> None:
    assert evidence(source) == expected


def test_keras2_only_imports_are_missing_from_the_installed_keras_3() -> None:
    keras = pytest.importorskip("keras")
    assert keras.__version__.startswith("3.")
    for name in KERAS2_ONLY_MODULES:
        with pytest.raises(ImportError):
            importlib.import_module(name)
    utils = importlib.import_module("keras.utils")
    assert not [name for name in KERAS2_ONLY_UTILS if hasattr(utils, name)]
    # and the Keras 3 ones are there, and not in tf_keras
    for name in ("keras.ops", "keras.src", "keras.random", "keras.tree"):
        importlib.import_module(name)
    assert hasattr(utils, "PyDataset")
    tf_keras = pytest.importorskip("tf_keras")
    assert not hasattr(tf_keras.utils, "PyDataset")


def project(tmp_path: Path, files: dict[str, str]) -> tuple[str | None, str]:
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    found = declared_dependencies(tmp_path)
    assert found is not None
    target = dependency_evidence(found)
    return target.version, target.evidence


POETRY = '[tool.poetry]\nname = "p"\n[tool.poetry.dependencies]\npython = "^3.10"\n'


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
    ({"requirements.txt": "keras>=3.0.0rc1\n"}, ("3", "requirements.txt: keras>=3.0.0rc1")),
    # what was found, and that it allows both (issue 15: "no Keras version in requirements.txt")
    ({"requirements.txt": "Keras>=2.0.2\n"},
     (None, "requirements.txt: Keras>=2.0.2 allows Keras 2 and 3")),
    ({"requirements.txt": "keras!=3.0\n"},
     (None, "requirements.txt: keras!=3.0 allows Keras 2 and 3")),
    ({"requirements.txt": "tensorflow\nkeras\n"},
     (None, "requirements.txt: keras, requirements.txt: tensorflow each allow Keras 2 and 3")),
    ({"requirements.txt": "numpy\n"},
     (None, "no keras, tf-keras or tensorflow declared in requirements.txt")),
    ({"environment.yml": "dependencies:\n  - tensorflow=2.10\n"},
     ("2", "environment.yml: tensorflow==2.10.*")),
    ({"Pipfile": '[packages]\nkeras = "~=3.1"\n'}, ("3", "Pipfile: keras~=3.1")),
    # Poetry: caret, tilde, tables, alternatives, groups; python is no dependency
    ({"pyproject.toml": POETRY + 'keras = "^3.0"\n'}, ("3", 'pyproject.toml: keras = "^3.0"')),
    ({"pyproject.toml": POETRY + 'tensorflow = "~2.15"\n'},
     ("2", 'pyproject.toml: tensorflow = "~2.15"')),
    ({"pyproject.toml": POETRY + 'tensorflow = {version = "^2.12", extras = ["and-cuda"]}\n'},
     (None, 'pyproject.toml: tensorflow = "^2.12" allows Keras 2 and 3')),
    ({"pyproject.toml": POETRY + 'keras = "^2.15 || ^3.0"\n'},
     (None, 'pyproject.toml: keras = "^2.15 || ^3.0" allows Keras 2 and 3')),
    ({"pyproject.toml": POETRY + '[tool.poetry.group.train.dependencies]\nkeras = "3.3.3"\n'},
     ("3", 'pyproject.toml: keras = "3.3.3"')),
    ({"pyproject.toml": POETRY},
     (None, "no keras, tf-keras or tensorflow declared in pyproject.toml")),
    # PDM, Hatch and PEP 735 groups
    ({"pyproject.toml": '[tool.pdm.dev-dependencies]\ntrain = ["tensorflow<2.16"]\n'},
     ("2", "pyproject.toml: tensorflow<2.16")),
    ({"pyproject.toml": '[tool.hatch.envs.default]\ndependencies = ["keras>=3"]\n'},
     ("3", "pyproject.toml: keras>=3")),
    ({"pyproject.toml": '[dependency-groups]\ndev = [{include-group = "x"}, "tf_keras"]\n'},
     ("2", "pyproject.toml: tf_keras")),
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


def describe(path: Path | None, source: str, configured: str = "auto",
             inline: tuple[InlineRequirement, ...] = ()) -> str:
    config = AnalysisConfig(keras_version=configured)  # type: ignore[arg-type]
    tree = ast.parse(source)
    return module_keras_target(tree, split_lines(source), path, config, inline).describe()


FIT_GENERATOR = "def train(model, gen):\n    model.fit_generator(gen, 10, workers=4)\n"


def test_the_order_is_option_runtime_declared_then_legacy(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "requirements.txt").write_text("keras>=3\n", encoding="utf-8")
    train = tmp_path / "train.py"
    assert describe(train, "import keras\n") == "Keras 3 (requirements.txt: keras>=3)"
    assert describe(train, "import tf_keras\n", "3") == "Keras 3 (configured)"
    assert describe(train, "from keras import ops\n", "2") == "Keras 2 (configured)"
    # the package that runs the module beats what the project declares
    assert describe(train, "import tf_keras\n") == (
        "Keras 2 (imports tf_keras; though requirements.txt: keras>=3)")
    assert describe(train, 'import os\nos.environ["TF_USE_LEGACY_KERAS"] = "1"\n') == (
        "Keras 2 (sets TF_USE_LEGACY_KERAS=1; though requirements.txt: keras>=3)")
    # declared Keras 3 beats legacy usage: the code is being migrated
    assert describe(train, FIT_GENERATOR) == (
        "Keras 3 (requirements.txt: keras>=3; still calls fit_generator: being migrated)")
    assert describe(train, "from keras.utils.data_utils import Sequence\n") == (
        "Keras 3 (requirements.txt: keras>=3; still imports keras.utils.data_utils: "
        "being migrated)")
    # evidence of both packages decides nothing: the declaration does
    assert describe(train, "import tf_keras\nfrom keras import ops\n") == (
        "Keras 3 (requirements.txt: keras>=3; also imports tf_keras)")
    assert describe(None, "import keras\n") == (
        "unknown (no Keras evidence in the module and no project file)")


def test_legacy_usage_decides_only_when_no_declaration_does(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    train = tmp_path / "train.py"
    assert describe(train, FIT_GENERATOR) == "Keras 2 (calls fit_generator)"
    (tmp_path / "requirements.txt").write_text("keras>=2.2\n", encoding="utf-8")
    assert describe(train, FIT_GENERATOR) == "Keras 2 (calls fit_generator)"
    assert describe(train, "import keras\n") == (
        "unknown (requirements.txt: keras>=2.2 allows Keras 2 and 3)")
    assert describe(train, "from keras import ops\n" + FIT_GENERATOR) == (
        "Keras 3 (imports keras.ops; still calls fit_generator: being migrated)")
    assert describe(train, "import tf_keras\nfrom keras import ops\n" + FIT_GENERATOR) == (
        "Keras 2 (calls fit_generator; also imports keras.ops)")
    assert describe(None, "import tf_keras\nfrom keras import ops\n") == (
        "unknown (imports tf_keras and imports keras.ops: both Keras 2 and 3)")


def test_a_notebooks_install_lines_come_before_the_project(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "requirements.txt").write_text("keras>=3\n", encoding="utf-8")
    notebook = tmp_path / "train.ipynb"
    pinned = (InlineRequirement(Requirement("tensorflow==2.12"), "train.ipynb: %pip install"),)
    assert describe(notebook, "import tensorflow as tf\n", inline=pinned) == (
        "Keras 2 (train.ipynb: %pip install tensorflow==2.12; though requirements.txt: keras>=3)")
    loose = (InlineRequirement(Requirement("keras"), "train.ipynb: !pip install"),)
    assert describe(notebook, "import keras\n", inline=loose) == (
        "Keras 3 (requirements.txt: keras>=3)")
    (tmp_path / "requirements.txt").unlink()
    assert describe(notebook, "import keras\n", inline=loose) == (
        "unknown (train.ipynb: !pip install keras allows Keras 2 and 3)")
    numpy = (InlineRequirement(Requirement("numpy"), "train.ipynb: %pip install"),)
    assert describe(notebook, "import keras\n", inline=numpy) == (
        "unknown (no keras, tf-keras or tensorflow declared in train.ipynb: %pip install)")


def test_an_unreadable_project_file_is_named_and_counts_as_no_evidence(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "pyproject.toml").write_text('[project]\ndependencies = ["keras<3"\n',
                                             encoding="utf-8")
    train = tmp_path / "train.py"
    assert describe(train, "import keras\n") == (
        "unknown (no project file could be read; pyproject.toml cannot be read: invalid TOML: "
        "Unclosed array (at end of document))")
    (tmp_path / "requirements.txt").write_text("keras>=3\n", encoding="utf-8")
    assert describe(train, "import keras\n") == (
        "Keras 3 (requirements.txt: keras>=3; pyproject.toml cannot be read: invalid TOML: "
        "Unclosed array (at end of document))")


def test_installed_is_read_only_when_asked_for(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    train = tmp_path / "train.py"
    assert describe(train, "import keras\n").startswith("unknown")
    installed = importlib.metadata.version("keras")
    assert describe(train, "import keras\n", "installed") == (
        f"Keras {installed.split('.')[0]} (installed keras {installed})")


FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
DECORATED = "@register(model.fit_generator(batches(), 10))\ndef train():\n    pass\n"


@pytest.mark.parametrize("path", sorted(FIXTURES.rglob("*.py")) + [None],
                         ids=lambda path: path.relative_to(FIXTURES).as_posix() if path
                         else "decorator")
def test_the_call_checkers_walk_finds_the_legacy_evidence_a_full_walk_finds(
    path: Path | None,
) -> None:
    """The targeting reads the loader calls the call checker's walk found: the same
    evidence as a walk of the whole tree (decorators above a ``def`` included)."""
    source = path.read_text(encoding="utf-8") if path else DECORATED
    tree = ast.parse(source)
    every_call = [node for node in ast.walk(tree) if isinstance(node, ast.Call)]
    expected = keras_target(tree, "auto", path, every_call)
    assert module_keras_target(tree, split_lines(source), path) == expected
    if path is None:
        assert expected.describe() == "Keras 2 (calls fit_generator)"
