"""Which Keras a notebook targets: its code cells' evidence, then its own ``pip install``
lines, then its project's files; and ``safeloader keras-version`` saying so."""

from __future__ import annotations

from pathlib import Path

import pytest
from notebook_helpers import copy_fixture, write_notebook

from safeloader.cli import main
from safeloader.analysis import cell_requirements
from safeloader.notebooks.nbqa import nbqa_code_cells, nbqa_notebook

pytestmark = pytest.mark.usefixtures("outside_the_repository")


def test_the_install_lines_of_the_cells_are_named_by_their_cell() -> None:
    cells = [
        '%pip install -q "keras>=3" numpy\nimport keras',
        "!pip install tensorflow==2.12  # pinned\n!pip3 install -r requirements.txt",
        "!python -m pip install -U \\\n    tf_keras\n!pip list\n!pip uninstall -y keras",
        "x = 1  # pip install keras==2.15 is only a comment",
    ]
    assert [str(requirement) for requirement in cell_requirements(enumerate(cells, 1))] == [
        "cell 1: %pip install keras>=3",
        "cell 1: %pip install numpy",
        "cell 2: !pip install tensorflow==2.12",
        "cell 3: !python -m pip install tf_keras",
    ]


@pytest.mark.parametrize("cells, expected", [
    (['%pip install "keras>=3"', "import keras"], "Keras 3 (cell 1: %pip install keras>=3)"),
    (["!pip install -q keras==2.15.0", "import keras"],
     "Keras 2 (cell 1: !pip install keras==2.15.0; though pyproject.toml: keras>=3.3)"),
    (["import tensorflow as tf", "!pip install tensorflow==2.12 pandas"],
     "Keras 2 (cell 2: !pip install tensorflow==2.12; though pyproject.toml: keras>=3.3)"),
    (["!pip install --index-url https://example.org/simple tensorflow>=2.16"],
     "Keras 3 (cell 1: !pip install tensorflow>=2.16)"),
    (['%pip install "keras>=3"', "import tf_keras"],
     "Keras 2 (imports tf_keras; though cell 1: %pip install keras>=3)"),
    (["!pip install $PACKAGE -r keras.txt", "import keras"],
     "Keras 3 (pyproject.toml: keras>=3.3)"),
    (["import keras"], "Keras 3 (pyproject.toml: keras>=3.3)"),
])
def test_a_notebooks_keras_comes_from_its_code_then_its_pip_lines_then_its_project(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], cells: list[str], expected: str
) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "p"\ndependencies = ["keras>=3.3"]\n')
    write_notebook(tmp_path / "train.ipynb", *cells)
    assert main(["keras-version", "train.ipynb"]) == 0
    assert capsys.readouterr().out == f"train.ipynb: {expected}\n"


def test_keras_version_lists_notebooks_and_names_the_unreadable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy_fixture("train_keras3.ipynb", tmp_path)
    copy_fixture("train_tf_keras.ipynb", tmp_path)
    (tmp_path / "broken.ipynb").write_text("{")
    assert main(["keras-version", "--keras-version", "auto", "."]) == 1
    out, err = capsys.readouterr()
    assert sorted(out.splitlines()) == [
        "train_keras3.ipynb: Keras 3 (subclasses keras.utils.PyDataset)",
        "train_tf_keras.ipynb: Keras 2 (imports tf_keras)",
    ]
    assert err.startswith("broken.ipynb: invalid JSON")
    assert main(["keras-version", "--keras-version", "2", "train_keras3.ipynb"]) == 0
    assert capsys.readouterr().out == "train_keras3.ipynb: Keras 2 (configured)\n"


def test_a_file_nbqa_wrote_leads_to_its_notebooks_pip_lines(tmp_path: Path) -> None:
    write_notebook(tmp_path / "train.ipynb", '%pip install "keras>=3"')
    written = tmp_path / "trainq7x_k2ab_nbqa_ipynb.py"
    assert nbqa_notebook(written) == tmp_path / "train.ipynb"
    assert [cell.source for cell in nbqa_code_cells(written)] == ['%pip install "keras>=3"']
    assert nbqa_notebook(tmp_path / "train_nbqa_ipynb.py") is None
    assert nbqa_code_cells(tmp_path / "otherq7x_k2ab_nbqa_ipynb.py") == ()
    (tmp_path / "brokenq7x_k2ab_nbqa_ipynb.py").touch()
    (tmp_path / "broken.ipynb").write_text("{")
    assert nbqa_code_cells(tmp_path / "brokenq7x_k2ab_nbqa_ipynb.py") == ()
