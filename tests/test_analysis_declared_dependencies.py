"""A project's declared dependencies: every packaging format, found by walking up, never fatal."""

from __future__ import annotations

from pathlib import Path

import pytest

from safeloader.analysis.declared_dependencies import declared_dependencies


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    (root / "pkg").mkdir(exist_ok=True)
    train = root / "pkg" / "train.py"
    train.write_text("import keras\n", encoding="utf-8")
    return train


def declared(root: Path, files: dict[str, str]) -> list[tuple[str, str]]:
    found = declared_dependencies(write(root, files))
    assert found is not None
    return [(path.name, str(requirement)) for path, requirement in found.requirements]


PYPROJECT = """
[project]
name = "p"
dependencies = ["keras>=3.3", "numpy"]
[project.optional-dependencies]
gpu = ["tensorflow[and-cuda]>=2.16"]
[tool.black]
line-length = 99
"""

SETUP_CFG = """
[metadata]
name = p
[options]
install_requires =
    tensorflow==2.12.0
    # a comment
    numpy; python_version>"3.8"
[options.extras_require]
legacy = tf-keras
[flake8]
max-line-length = 99
"""

SETUP_PY = """
from setuptools import setup
REQUIRED = ["tensorflow<2.16", "pillow"]
setup(name="p", install_requires=REQUIRED, extras_require={"x": ["keras~=2.15"]})
"""

REQUIREMENTS = """
# pinned
tensorflow==2.12.0 \\
    --hash=sha256:abc
-r other.txt
-e .
https://example.com/a.whl
keras<3  # inline comment
"""

ENVIRONMENT = """
name: env
channels:
  - conda-forge
dependencies:
  - python=3.10
  - conda-forge::tensorflow=2.12
  - keras 2.12.*
  - numpy>=1.23
  - pip
  - pip:
      - tf_keras==2.15.0
      - "keras-cv"
  - scipy
variables:
  - not_a_dependency
"""

PIPFILE = """
[packages]
tensorflow = "==2.15.0"
keras = {version = "<3"}
requests = "*"
[dev-packages]
pytest = ">=7"
"""


@pytest.mark.parametrize("files, expected", [
    ({"pyproject.toml": PYPROJECT},
     [("pyproject.toml", "keras>=3.3"), ("pyproject.toml", "numpy"),
      ("pyproject.toml", "tensorflow[and-cuda]>=2.16")]),
    ({"setup.cfg": SETUP_CFG},
     [("setup.cfg", "tensorflow==2.12.0"), ("setup.cfg", 'numpy; python_version > "3.8"'),
      ("setup.cfg", "tf-keras")]),
    ({"setup.py": SETUP_PY},
     [("setup.py", "tensorflow<2.16"), ("setup.py", "pillow"), ("setup.py", "keras~=2.15")]),
    ({"requirements.txt": REQUIREMENTS},
     [("requirements.txt", "tensorflow==2.12.0"), ("requirements.txt", "keras<3")]),
    ({"environment.yml": ENVIRONMENT},
     [("environment.yml", "tensorflow==2.12.*"), ("environment.yml", "keras==2.12.*"),
      ("environment.yml", "numpy>=1.23"), ("environment.yml", "tf_keras==2.15.0"),
      ("environment.yml", "keras-cv"), ("environment.yml", "scipy")]),
    ({"Pipfile": PIPFILE},
     [("Pipfile", "tensorflow==2.15.0"), ("Pipfile", "keras<3"), ("Pipfile", "requests"),
      ("Pipfile", "pytest>=7")]),
])
def test_each_format_is_read(tmp_path: Path, files: dict[str, str],
                             expected: list[tuple[str, str]]) -> None:
    assert declared(tmp_path, files) == expected


def test_files_are_read_in_a_fixed_order_and_looked_up_by_canonical_name(tmp_path: Path) -> None:
    train = write(tmp_path, {
        "Pipfile": PIPFILE,
        "requirements-dev.txt": "pytest\n",
        "requirements.txt": "Tensorflow==2.12.0\n",
        "requirements/base.txt": "tf.keras==2.15\n",
        "pyproject.toml": PYPROJECT,
        "setup.cfg": "[flake8]\nmax-line-length = 99\n",
    })
    found = declared_dependencies(train)
    assert found is not None
    assert found.root == tmp_path.resolve()
    # setup.cfg declares nothing: not a source
    assert [p.relative_to(found.root).as_posix() for p in found.sources] == [
        "pyproject.toml", "requirements-dev.txt", "requirements.txt", "requirements/base.txt",
        "Pipfile",
    ]
    path, requirement = found.requirement("TF_Keras")
    assert path.name == "base.txt" and str(requirement) == "tf.keras==2.15"
    path, requirement = found.requirement("tensorflow")
    assert path.name == "pyproject.toml" and requirement.name == "tensorflow"
    assert found.requirement("torch") is None


def test_the_nearest_project_wins_and_the_walk_stops_at_the_repository(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("keras<3\n", encoding="utf-8")
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "src").mkdir()
    script = repo / "src" / "train.py"
    script.write_text("", encoding="utf-8")
    assert declared_dependencies(script) is None
    (repo / "pyproject.toml").write_text(PYPROJECT, encoding="utf-8")
    other = repo / "src" / "other"
    other.mkdir()
    found = declared_dependencies(other)
    assert found is not None and found.root == repo.resolve()
    assert found.requirement("keras")[1].specifier == ">=3.3"


def test_requirements_files_follow_their_includes_once(tmp_path: Path) -> None:
    files = {
        "requirements.txt": "-r requirements/base.txt\nnumpy\n",
        "requirements/base.txt": "--requirement=gpu.txt\n-r ../requirements.txt\nkeras<3\n",
        "requirements/gpu.txt": "tensorflow[and-cuda]==2.15.1\n",
    }
    assert declared(tmp_path, files) == [
        ("requirements.txt", "numpy"), ("base.txt", "keras<3"),
        ("gpu.txt", "tensorflow[and-cuda]==2.15.1"),
    ]


def test_unreadable_files_declare_nothing_and_never_raise(tmp_path: Path) -> None:
    files = {
        "pyproject.toml": "[project\ndependencies = [",
        "setup.py": "setup(install_requires=[",
        "setup.cfg": "[options]\ninstall_requires = not a valid requirement ===\n",
        "requirements.txt": "keras>=3\n",
        "Pipfile": "[packages\n",
    }
    assert declared(tmp_path, files) == [("requirements.txt", "keras>=3")]


def test_a_setup_py_call_with_computed_lists_declares_nothing(tmp_path: Path) -> None:
    files = {"setup.py": "import setuptools\nREQ = open('r').read().split()\n"
                         "setuptools.setup(install_requires=REQ + ['x'])\n"}
    assert declared(tmp_path, files) == []


def test_no_project_file_means_none(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    assert declared_dependencies(tmp_path / "train.py") is None


def test_the_answer_is_cached_per_project_root(tmp_path: Path) -> None:
    train = write(tmp_path, {"requirements.txt": "keras>=3\n"})
    (tmp_path / "pkg" / "more.py").write_text("", encoding="utf-8")
    assert declared_dependencies(train) is declared_dependencies(tmp_path / "pkg" / "more.py")


def test_an_edited_or_new_project_file_is_read_again(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    train = tmp_path / "train.py"
    train.write_text("", encoding="utf-8")
    assert declared_dependencies(train) is None
    (tmp_path / "requirements.txt").write_text("keras<3\n", encoding="utf-8")
    found = declared_dependencies(train)
    assert found is not None and str(found.requirements[0][1]) == "keras<3"
    (tmp_path / "requirements.txt").write_text("keras>=3.1\n", encoding="utf-8")
    found = declared_dependencies(train)
    assert found is not None and str(found.requirements[0][1]) == "keras>=3.1"


@pytest.mark.parametrize("installed", ["lib/site-packages/pkg", "venv/lib/x/pkg"])
def test_an_installed_module_belongs_to_no_project_around_it(
    tmp_path: Path, installed: str
) -> None:
    (tmp_path / "pyproject.toml").write_text(PYPROJECT, encoding="utf-8")
    (tmp_path / "venv").mkdir()
    (tmp_path / "venv" / "pyvenv.cfg").write_text("home = /usr\n", encoding="utf-8")
    package = tmp_path / installed
    package.mkdir(parents=True)
    assert declared_dependencies(package / "module.py") is None
    assert declared_dependencies(tmp_path / "module.py") is not None
