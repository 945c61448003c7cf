"""The same findings with and without Keras installed: linting never reads the environment.

A virtual environment gets only safeloader's core install (flake8, LibCST,
packaging; no Keras, no TensorFlow), as pre-commit's isolated hook has, from
an offline wheelhouse (see ``wheelhouse.py``). flake8 lints the same
projects there and in this environment (TensorFlow, tf_keras and Keras 3
installed); the reports must be identical and the expected ones: a project
declaring Keras 2, one declaring Keras 3, a file with Keras 2 evidence only,
and the programs whose fixes ``test_keras3_migration_runs.py`` runs.
``safeloader lint`` does the same for notebooks (which flake8 does not read):
nbformat, in the core install, reads them, and a notebook's ``%pip install``
line declares its Keras wherever it is linted.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from migration_programs import PROGRAMS
from notebook_helpers import copy_fixture
from wheelhouse import build_wheelhouse, copy_checkout

ROOT = Path(__file__).resolve().parent.parent

TRAIN = '''\
import tensorflow as tf


def batches():
    while True:
        yield 1


class Data(tf.keras.utils.Sequence):
    def __init__(self, x):
        self.x = x

    def __len__(self):
        return 1

    def __getitem__(self, index):
        return self.x


def train(model):
    model.fit(batches(), workers=4)
    model.fit(Data(1), workers=4, use_multiprocessing=True)


model = tf.keras.Sequential()
model.fit(batches(), workers=-1, use_multiprocessing=True)
'''

KERAS2_EVIDENCE = '''\
from keras.utils.data_utils import Sequence


def batches():
    while True:
        yield 1


def train(model):
    model.fit_generator(batches(), 10, workers=4)
'''

#: project -> (files, the findings flake8 must report as "file:line:col: CODE")
PROJECTS = {
    "keras2_declared": ({"requirements.txt": "tensorflow==2.12.0\n", "train.py": TRAIN},
                        ["train.py:21:15: SLD101"]),
    "keras3_declared": ({"pyproject.toml": '[project]\nname = "p"\n'
                                           'dependencies = ["keras>=3.3"]\n',
                         "train.py": TRAIN},
                        ["train.py:10:5: SLD105", "train.py:21:11: SLD302",
                         "train.py:22:11: SLD302", "train.py:26:7: SLD302"]),
    "keras2_evidence": ({"train.py": KERAS2_EVIDENCE},
                        ["train.py:10:11: SLD301", "train.py:10:25: SLD101"]),
    # the programs test_keras3_migration_runs.py fixes and runs
    "pydataset": ({**PROGRAMS["pydataset"][1], "train.py": PROGRAMS["pydataset"][0]},
                  ["train.py:21:11: SLD302", "train.py:6:5: SLD105"]),
    # Keras 3 (configured): no SLD101, the rename drops workers and one thread reads it
    "fit_generator": ({**PROGRAMS["fit_generator"][1], "train.py": PROGRAMS["fit_generator"][0]},
                      ["train.py:12:7: SLD301"]),
    "spawn": ({**PROGRAMS["spawn"][1], "train.py": PROGRAMS["spawn"][0]},
              ["train.py:18:7: SLD103"]),
}


@pytest.fixture(scope="session")
def core_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The interpreter of a venv holding safeloader's core install and nothing of Keras."""
    base = tmp_path_factory.mktemp("core")
    wheels = build_wheelhouse(
        base / "wheels", ["flake8", "libcst", "nbformat", "packaging", "wheel"])
    source = copy_checkout(base / "source")
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    env = {**_clean_env(), "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheels),
           "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    subprocess.run([str(python), "-m", "pip", "install", "-q", str(source)],
                   check=True, env=env, timeout=600)
    return python


def _clean_env() -> dict[str, str]:
    """This environment without what would leak the outer packages into the venv."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    return {**env, "PYTHONNOUSERSITE": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}


def _flake8(python: Path, project: Path, env: dict[str, str]) -> list[str]:
    done = subprocess.run(
        [str(python), "-m", "flake8", "--select", "SLD", "--format", "%(path)s:%(row)d:%(col)d: "
         "%(code)s", "."], cwd=project, env=env, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode in (0, 1), done.stderr
    return sorted(line.removeprefix("./") for line in done.stdout.splitlines())


def test_the_core_install_has_no_keras_and_its_own_safeloader(core_python: Path) -> None:
    done = subprocess.run(
        [str(core_python), "-c", "import importlib.util as u, safeloader; "
         "print(safeloader.__file__); "
         "print([m for m in ('tensorflow', 'keras', 'tf_keras') if u.find_spec(m)])"],
        env=_clean_env(), capture_output=True, text=True, check=True, timeout=300,
    )
    where, found = done.stdout.splitlines()
    assert Path(where).is_relative_to(core_python.parent.parent) and found == "[]"


@pytest.mark.parametrize("name", sorted(PROJECTS))
def test_findings_are_the_same_with_and_without_keras(
    tmp_path: Path, core_python: Path, name: str
) -> None:
    files, expected = PROJECTS[name]
    project = tmp_path / name
    (project / ".git").mkdir(parents=True)  # nothing above the project is read
    for file, text in files.items():
        (project / file).write_text(text, encoding="utf-8")
    here = {**_clean_env(), "PYTHONPATH": str(ROOT / "src")}
    with_keras = _flake8(Path(sys.executable), project, here)
    assert with_keras == expected
    assert _flake8(core_python, project, _clean_env()) == with_keras


#: fixture notebook -> the findings ``safeloader lint`` must report as "file:cell:line:col: CODE"
NOTEBOOKS = {
    "train_keras3.ipynb": ["train_keras3.ipynb:cell_4:2:5: SLD105",
                           "train_keras3.ipynb:cell_5:2:17: SLD302",
                           "train_keras3.ipynb:cell_6:7:17: SLD302"],
    "train_tf_keras.ipynb": ["train_tf_keras.ipynb:cell_6:2:17: SLD301",
                             "train_tf_keras.ipynb:cell_6:2:31: SLD102",
                             "train_tf_keras.ipynb:cell_8:1:17: SLD103"],
}


def _lint(python: Path, project: Path, env: dict[str, str]) -> list[str]:
    done = subprocess.run([str(python), "-m", "safeloader", "lint", "."], cwd=project, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode in (0, 1), done.stderr
    return sorted(" ".join(line.split(" ", 2)[:2]) for line in done.stdout.splitlines())


@pytest.mark.parametrize("name", sorted(NOTEBOOKS))
def test_notebooks_are_linted_the_same_with_and_without_keras(
    tmp_path: Path, core_python: Path, name: str
) -> None:
    copy_fixture(name, tmp_path)
    here = {**_clean_env(), "PYTHONPATH": str(ROOT / "src")}
    with_keras = _lint(Path(sys.executable), tmp_path, here)
    assert with_keras == NOTEBOOKS[name]
    assert _lint(core_python, tmp_path, _clean_env()) == with_keras
