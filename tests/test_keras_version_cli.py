"""Saying which Keras is targeted: ``safeloader keras-version``, and a bad configured value."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from safeloader.cli import main


def make_project(root: Path) -> None:
    (root / ".git").mkdir()
    (root / "pyproject.toml").write_text(
        '[project]\nname = "p"\ndependencies = ["keras>=3.3"]\n', encoding="utf-8")
    (root / "train.py").write_text("import keras\n", encoding="utf-8")
    (root / "src").mkdir()
    (root / "src" / "legacy.py").write_text("import tf_keras\n", encoding="utf-8")
    (root / "src" / "broken.py").write_text("def (:\n", encoding="utf-8")


def test_each_file_is_reported_with_its_evidence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    make_project(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert main(["keras-version", "train.py", "src"]) == 1  # broken.py cannot be parsed
    out, err = capsys.readouterr()
    assert sorted(out.splitlines()) == [
        "src/legacy.py: Keras 2 (imports tf_keras)",
        "train.py: Keras 3 (pyproject.toml: keras>=3.3)",
    ]
    assert err.startswith("src/broken.py: syntax error:")
    assert main(["keras-version", "--keras-version", "2", "train.py"]) == 0
    assert capsys.readouterr().out == "train.py: Keras 2 (configured)\n"


def test_the_configured_value_is_read_and_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    make_project(tmp_path)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "setup.cfg").write_text("[flake8]\nsafeloader-keras-version = 2\n")
    assert main(["keras-version", "train.py"]) == 0
    assert capsys.readouterr().out == "train.py: Keras 2 (configured)\n"
    (tmp_path / "setup.cfg").write_text("[flake8]\nsafeloader-keras-version = 4\n")
    assert main(["keras-version", "train.py"]) == 2
    assert "--safeloader-keras-version: invalid choice: '4'" in capsys.readouterr().err


@pytest.mark.parametrize("config", ["setup.cfg", "tox.ini", ".flake8"])
def test_flake8_rejects_a_bad_value_in_a_config_file_as_on_the_command_line(
    tmp_path: Path, config: str
) -> None:
    (tmp_path / config).write_text("[flake8]\nsafeloader-keras-version = 4\n")
    (tmp_path / "x.py").write_text("x = 1\n")
    done = subprocess.run([sys.executable, "-m", "flake8", "x.py"], cwd=tmp_path,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert "--safeloader-keras-version: invalid choice: '4'" in done.stderr
    (tmp_path / config).write_text("[flake8]\nsafeloader-keras-version = installed\n")
    done = subprocess.run([sys.executable, "-m", "flake8", "x.py"], cwd=tmp_path,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
