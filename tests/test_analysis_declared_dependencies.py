"""A project's declared dependencies: every packaging format, found by walking up, never
fatal, and a file that cannot be read named with its reason."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet

from safeloader.analysis.declared_dependencies import declared_dependencies
from safeloader.analysis.poetry_constraints import PoetryConstraintError, poetry_specifiers


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
    return [(found.source.name, found.text) for found in found.declarations]


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
    declared = found.requirement("TF_Keras")
    assert declared is not None
    assert declared.source.name == "base.txt" and declared.text == "tf.keras==2.15"
    declared = found.requirement("tensorflow")
    assert declared is not None
    assert declared.source.name == "pyproject.toml" and declared.name == "tensorflow"
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
    declared = found.requirement("keras")
    assert declared is not None and declared.options[0].specifier == ">=3.3"


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


@pytest.mark.parametrize("name, text, reason", [
    ("pyproject.toml", "[project\ndependencies = [", re.escape(
        "invalid TOML: Expected ']' at the end of a table declaration (at line 1, column 9)")),
    ("Pipfile", '[packages]\nkeras = "<3"\nkeras = "<3"\n',
     re.escape("invalid TOML: Cannot overwrite a value (at line 3, column 13)")),
    # PyYAML's words differ with and without LibYAML; the position does not
    ("environment.yml", "dependencies: [tensorflow=2.10\n",
     r"invalid YAML: .*',' or '\]'.* \(line 2, column 1\)"),
    ("setup.cfg", "[options]\ninstall_requires = keras>=%(version)s\n", re.escape(
        "invalid setup.cfg: Bad value substitution: option 'install_requires' in section "
        "'options' contains an interpolation key 'version' which is not a valid option name. "
        "Raw value: 'keras>=%(version)s'")),
    ("setup.py", "setup(install_requires=[\n",
     re.escape("invalid Python: '[' was never closed (line 1)")),
    ("pyproject.toml", '[tool.poetry.dependencies]\nkeras = "^three"\n', re.escape(
        "[tool.poetry.dependencies] keras: cannot read '^three' in the constraint '^three'")),
    ("pyproject.toml", '[tool.poetry.group.dev.dependencies]\nkeras = 3\n',
     re.escape("[tool.poetry.group.dev.dependencies] keras: 3 is not a version constraint")),
    ("requirements.txt", "keras\xff\n", re.escape("not UTF-8: invalid start byte at byte 5")),
])
def test_an_unreadable_file_declares_nothing_and_is_named_with_its_reason(
    tmp_path: Path, name: str, text: str, reason: str
) -> None:
    (tmp_path / "requirements-dev.txt").write_text("keras>=3\n", encoding="utf-8")
    (tmp_path / name).write_bytes(text.encode("latin-1"))
    found = declared_dependencies(tmp_path / "train.py")
    assert found is not None
    assert [(d.source.name, d.text) for d in found.declarations] == [
        ("requirements-dev.txt", "keras>=3")]
    [(path, why)] = found.unreadable
    assert path.name == name and re.fullmatch(reason, why), why
    assert [path.name for path in found.read] == ["requirements-dev.txt"]


def test_a_missing_include_is_named_and_the_rest_is_read(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("-r base.txt\nkeras<3\n", encoding="utf-8")
    found = declared_dependencies(tmp_path / "train.py")
    assert found is not None
    assert [d.text for d in found.declarations] == ["keras<3"]
    assert [(path.name, why) for path, why in found.unreadable] == [
        ("base.txt", "no such file (included by -r from requirements.txt)")]


def test_invalid_entries_are_skipped_not_fatal(tmp_path: Path) -> None:
    files = {
        "setup.cfg": "[options]\ninstall_requires = not a valid requirement ===\n",
        "requirements.txt": "keras>=3\n./local/package\n",
    }
    assert declared(tmp_path, files) == [("requirements.txt", "keras>=3")]


def test_setup_cfg_is_interpolated_as_setuptools_does(tmp_path: Path) -> None:
    files = {"setup.cfg": "[options]\nkeras = 3.1\ninstall_requires = keras>=%(keras)s\n"
                          "[flake8]\nformat = %(path)s:%(row)d: %(text)s\n"}
    assert declared(tmp_path, files) == [("setup.cfg", "keras>=3.1")]


POETRY = """
[tool.poetry]
name = "p"
[tool.poetry.dependencies]
python = "^3.10"
keras = "^3.0"
tensorflow = {version = "~2.16", extras = ["and-cuda"], optional = true}
numpy = [{version = "<2", python = "<3.12"}, {version = ">=2", python = ">=3.12"}]
mylib = {git = "https://example.com/mylib.git"}
[tool.poetry.dev-dependencies]
pytest = ">=7 <9"
[tool.poetry.group.legacy.dependencies]
tf-keras = "2.15.*"
"""

PDM_HATCH_PEP735 = """
[dependency-groups]
test = ["pytest>=8", {include-group = "lint"}]
lint = ["flake8"]
[tool.pdm.dev-dependencies]
train = ["tensorflow>=2.16"]
[tool.hatch.envs.default]
dependencies = ["keras>=3.3"]
extra-dependencies = ["rich"]
[tool.hatch.envs.docs]
dependencies = ["mkdocs"]
"""


def test_poetry_pdm_hatch_and_dependency_groups_are_read(tmp_path: Path) -> None:
    assert declared(tmp_path, {"pyproject.toml": POETRY}) == [
        ("pyproject.toml", 'keras = "^3.0"'), ("pyproject.toml", 'tensorflow = "~2.16"'),
        ("pyproject.toml", 'numpy = "<2 || >=2"'), ("pyproject.toml", 'mylib = "*"'),
        ("pyproject.toml", 'pytest = ">=7 <9"'), ("pyproject.toml", 'tf-keras = "2.15.*"'),
    ]
    found = declared_dependencies(tmp_path)
    assert found is not None
    options = {d.name: [str(r) for r in d.options] for d in found.declarations}
    assert options == {
        "keras": ["keras<4,>=3.0"], "tensorflow": ["tensorflow<2.17,>=2.16"],
        "numpy": ["numpy<2", "numpy>=2"], "mylib": ["mylib"], "pytest": ["pytest<9,>=7"],
        "tf-keras": ["tf-keras==2.15.*"],
    }
    (tmp_path / "pyproject.toml").write_text(PDM_HATCH_PEP735, encoding="utf-8")
    assert declared(tmp_path, {}) == [
        ("pyproject.toml", "pytest>=8"), ("pyproject.toml", "flake8"),
        ("pyproject.toml", "tensorflow>=2.16"), ("pyproject.toml", "keras>=3.3"),
        ("pyproject.toml", "rich"), ("pyproject.toml", "mkdocs"),
    ]


@pytest.mark.parametrize("constraint, expected", [
    # the table of Poetry's documentation, "Dependency specification"
    ("^1.2.3", [">=1.2.3,<2"]), ("^1.2", [">=1.2,<2"]), ("^1", [">=1,<2"]),
    ("^0.2.3", [">=0.2.3,<0.3"]), ("^0.0.3", [">=0.0.3,<0.0.4"]), ("^0.0", [">=0.0,<0.1"]),
    ("^0", [">=0,<1"]), ("~1.2.3", [">=1.2.3,<1.3"]), ("~1.2", [">=1.2,<1.3"]),
    ("~1", [">=1,<2"]), ("*", [""]), ("", [""]), ("1.2.*", ["==1.2.*"]),
    ("2.15.0", ["==2.15.0"]), ("=2.15", ["==2.15"]), ("v3.1", ["==3.1"]),
    (">= 1.2, < 1.5", [">=1.2,<1.5"]), (">=1.2 <1.5", [">=1.2,<1.5"]),
    ("~=2.15", ["~=2.15"]), ("!=2.14.*", ["!=2.14.*"]), ("^3.0.0rc1", [">=3.0.0rc1,<4"]),
    ("^2.15 || ^3.0", [">=2.15,<3", ">=3.0,<4"]), ("<2 | >=3", ["<2", ">=3"]),
])
def test_poetry_constraints_translate_to_pep_440(constraint: str, expected: list[str]) -> None:
    assert poetry_specifiers(constraint) == tuple(SpecifierSet(spec) for spec in expected)


@pytest.mark.parametrize("constraint, message", [
    ("^three", "cannot read '^three' in the constraint '^three'"),
    (">=*", "a wildcard cannot follow '>=': >=*"),
    ("3.x", "'3.x' is not a version"),
    (">=2 <<3", "cannot read '<<3' in the constraint '>=2 <<3'"),
])
def test_a_bad_poetry_constraint_is_named(constraint: str, message: str) -> None:
    with pytest.raises(PoetryConstraintError, match=re.escape(message)):
        poetry_specifiers(constraint)


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
    assert found is not None and found.declarations[0].text == "keras<3"
    (tmp_path / "requirements.txt").write_text("keras>=3.1\n", encoding="utf-8")
    found = declared_dependencies(train)
    assert found is not None and found.declarations[0].text == "keras>=3.1"


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
