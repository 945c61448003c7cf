"""A notebook's install lines (``%pip install``, ``!pip install``...) as its declared
dependencies: every spelling users write, and nothing else."""

from __future__ import annotations

import pytest

from safeloader.analysis import install_requirements


def read(*cells: str) -> list[str]:
    return [str(found) for found in install_requirements(cells, "train.ipynb")]


@pytest.mark.parametrize("line, expected", [
    ("%pip install keras>=3", ["train.ipynb: %pip install keras>=3"]),
    ("!pip install tensorflow==2.12", ["train.ipynb: !pip install tensorflow==2.12"]),
    ("  !!pip3 install 'keras<3'", ["train.ipynb: !pip3 install keras<3"]),
    ('!pip install -q -U "tensorflow[and-cuda]==2.16.1" keras-hub',
     ["train.ipynb: !pip install tensorflow[and-cuda]==2.16.1",
      "train.ipynb: !pip install keras-hub"]),
    ("%pip install --upgrade --quiet keras==3.* numpy<2  # pinned",
     ["train.ipynb: %pip install keras==3.*", "train.ipynb: %pip install numpy<2"]),
    ("!python -m pip install --index-url https://example.com/simple tf_keras~=2.15",
     ["train.ipynb: !python -m pip install tf_keras~=2.15"]),
    ("!{sys.executable} -m pip install -r requirements.txt keras",
     ["train.ipynb: !{sys.executable} -m pip install keras"]),
    ("!/usr/bin/python3 -m pip --no-cache-dir install tensorflow",
     ["train.ipynb: !/usr/bin/python3 -m pip install tensorflow"]),
    ("!uv pip install keras>=3.3", ["train.ipynb: !uv pip install keras>=3.3"]),
    ("%conda install -y -c conda-forge tensorflow=2.10",
     ["train.ipynb: %conda install tensorflow==2.10.*"]),
    ("!mamba install --name env conda-forge::keras=3 python=3.11",
     ["train.ipynb: !mamba install keras==3.*"]),
    ("!PIP_NO_INPUT=1 pip install keras && pip uninstall -y tf_keras; pip install numpy",
     ["train.ipynb: !pip install keras", "train.ipynb: !pip install numpy"]),
    # not install lines, or nothing that is a requirement
    ("!pip uninstall -y keras", []),
    ("!pip list", []),
    ("%pip install git+https://github.com/keras-team/keras.git ./local", []),
    ("%pip install keras=={version}", []),
    ("!pip install 'keras", []),
    ("%time model.fit(x)", []),
    ("pip install keras", []),
    ("# !pip install keras", []),
    ("%%pip install keras", []),
])
def test_install_lines(line: str, expected: list[str]) -> None:
    assert read(line) == expected


def test_cells_in_order_with_continuations_and_shell_cells() -> None:
    cells = [
        "import os\n%pip install \\\n    keras>=3 \\\n    numpy\n",
        "%%bash\npip install tensorflow==2.16.1\necho done\n",
        "%%capture\n!pip install keras-cv\n",
        "print('pip install keras==2.15')\n",
    ]
    assert read(*cells) == [
        "train.ipynb: %pip install keras>=3", "train.ipynb: %pip install numpy",
        "train.ipynb: pip install tensorflow==2.16.1", "train.ipynb: !pip install keras-cv",
    ]


def test_each_requirement_keeps_its_parsed_form_and_where() -> None:
    [found] = install_requirements(["!pip install 'Keras >= 3.0'"], "nb/train.ipynb")
    assert found.requirement.name == "Keras" and str(found.requirement.specifier) == ">=3.0"
    assert found.where == "nb/train.ipynb: !pip install"
