"""Real pre-commit with this repository's ``.pre-commit-hooks.yaml``, and with nbQA's
``nbqa-flake8`` hook given safeloader as an additional dependency.

A hook repository is made from this checkout (the package and the hooks file,
committed in a temporary git repository); a second temporary repository holds a
bad training script (or notebook) and a ``.pre-commit-config.yaml`` using the hooks.
pre-commit builds the hooks' environment itself, as for any user, with pip
pointed at an offline wheelhouse of the dependencies (see ``wheelhouse.py``),
which also holds a wheel of this checkout (``safeloader`` as an additional
dependency) and nbQA's. nbQA's hook repository cannot be cloned offline: a
stand-in declares its ``nbqa-flake8`` hook as nbQA does (``nbqa flake8`` on Jupyter
files, ``flake8`` as its default additional dependency) and installs nbqa.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from notebook_helpers import copy_fixture
from wheelhouse import build_wheelhouse, copy_checkout

BAD = '''\
import tf_keras as keras


def batches():
    while True:
        yield 1


model = keras.Sequential()
model.fit(batches(), steps_per_epoch=4, workers=3)
'''

FIXED = '''\
import tf_keras as keras
from safeloader import threadsafe_generator


@threadsafe_generator
def batches():
    while True:
        yield 1


model = keras.Sequential()
model.fit(batches(), steps_per_epoch=4, workers=3)
'''


GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "test", "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "test", "GIT_COMMITTER_EMAIL": "test@example.com",
}


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True,
        env={**os.environ, **GIT_IDENTITY},
    ).stdout.strip()


def _commit_all(repo: Path) -> str:
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "snapshot")
    return _git(repo, "rev-parse", "HEAD")


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    repo = copy_checkout(tmp_path_factory.mktemp("hooks"), ".pre-commit-hooks.yaml")
    _git(repo, "init", "-q")
    return repo, _commit_all(repo)


@pytest.fixture(scope="module")
def precommit_env(tmp_path_factory: pytest.TempPathFactory,
                  hook_repo: tuple[Path, str]) -> dict[str, str]:
    base = tmp_path_factory.mktemp("precommit")
    wheels = build_wheelhouse(
        base / "wheels", ["flake8", "libcst", "nbformat", "packaging", "wheel", "nbqa"])
    env = {
        **os.environ,
        "PRE_COMMIT_HOME": str(base / "cache"),
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(wheels),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "VIRTUALENV_NO_PERIODIC_UPDATE": "1",
        "TF_CPP_MIN_LOG_LEVEL": "3",
        **GIT_IDENTITY,
    }
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels),
                    str(hook_repo[0])], check=True, env=env, timeout=600)
    return env


NBQA_HOOKS = """\
- id: nbqa-flake8
  name: nbqa-flake8
  entry: nbqa flake8
  language: python
  require_serial: true
  types: [jupyter]
  additional_dependencies: [flake8]
"""


@pytest.fixture(scope="module")
def nbqa_hook_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    repo = tmp_path_factory.mktemp("nbqa-hooks")
    (repo / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n'
        '\n[project]\nname = "nbqa-hook-stand-in"\nversion = "0"\ndependencies = ["nbqa"]\n'
        "\n[tool.setuptools]\npy-modules = []\n"
    )
    (repo / ".pre-commit-hooks.yaml").write_text(NBQA_HOOKS)
    _git(repo, "init", "-q")
    return repo, _commit_all(repo)


def _project(tmp_path: Path, config: str) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    _git(project, "init", "-q")
    (project / ".pre-commit-config.yaml").write_text(config)
    return project


def _pre_commit(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", *args], cwd=cwd, env=env,
        capture_output=True, text=True, timeout=600,
    )


def _safeloader_project(tmp_path: Path, hook_repo: tuple[Path, str]) -> Path:
    """A project whose config runs safeloader's two hooks (the check at the manual stage)."""
    hooks, rev = hook_repo
    return _project(tmp_path, f"repos:\n- repo: {hooks}\n  rev: {rev}\n  hooks:\n"
                              "  - id: safeloader-check\n    stages: [manual]\n"
                              "  - id: safeloader-fix\n")


def _check(project: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The check hook on every file, which must find something (exit 1)."""
    check = _pre_commit(project, env, "run", "--hook-stage", "manual", "safeloader-check",
                        "--all-files")
    assert check.returncode == 1, check.stdout + check.stderr
    return check


def _fix(project: Path, env: dict[str, str]) -> None:
    """The fix hook on every file, which must change one (pre-commit then exits 1)."""
    fix = _pre_commit(project, env, "run", "safeloader-fix", "--all-files")
    assert fix.returncode == 1, fix.stdout + fix.stderr
    assert "files were modified by this hook" in fix.stdout


def test_hooks_fix_a_bad_training_script(
    tmp_path: Path, hook_repo: tuple[Path, str], precommit_env: dict[str, str]
) -> None:
    project = _safeloader_project(tmp_path, hook_repo)
    script = project / "train.py"
    script.write_text(BAD)
    _commit_all(project)

    assert "+@threadsafe_generator" in _check(project, precommit_env).stdout
    assert script.read_text() == BAD

    _fix(project, precommit_env)
    assert script.read_text() == FIXED

    again = _pre_commit(project, precommit_env, "run", "--all-files")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "safeloader-fix" in again.stdout and "Passed" in again.stdout


def test_hooks_fix_a_notebook_cell_by_cell(
    tmp_path: Path, hook_repo: tuple[Path, str], precommit_env: dict[str, str]
) -> None:
    project = _safeloader_project(tmp_path, hook_repo)
    notebook = copy_fixture("train_tf_keras.ipynb", project)
    original = notebook.read_bytes()
    _commit_all(project)

    assert "+++ b/train_tf_keras.ipynb:cell_6" in _check(project, precommit_env).stdout
    assert notebook.read_bytes() == original

    _fix(project, precommit_env)
    assert notebook.read_bytes() != original


def test_nbqa_flake8_hook_with_safeloader_reports_the_notebook_hazards(
    tmp_path: Path, nbqa_hook_repo: tuple[Path, str], precommit_env: dict[str, str]
) -> None:
    hooks, rev = nbqa_hook_repo
    project = _project(tmp_path, f"repos:\n- repo: {hooks}\n  rev: {rev}\n  hooks:\n"
                                 "  - id: nbqa-flake8\n    additional_dependencies: [safeloader]\n"
                                 "    args: [--select=SLD]\n")
    copy_fixture("train_tf_keras.ipynb", project)
    _commit_all(project)
    run = _pre_commit(project, precommit_env, "run", "nbqa-flake8", "--all-files")
    assert run.returncode == 1, run.stdout + run.stderr
    reported = [line.split(" ", 2)[:2] for line in run.stdout.splitlines()
                if line.startswith("train_tf_keras.ipynb:")]
    assert reported == [["train_tf_keras.ipynb:cell_6:2:17:", "SLD301"],
                        ["train_tf_keras.ipynb:cell_6:2:31:", "SLD102"],
                        ["train_tf_keras.ipynb:cell_8:1:17:", "SLD103"]]
    assert "cannot import what a notebook defines" in run.stdout
