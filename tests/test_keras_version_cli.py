"""Saying which Keras is targeted: ``safeloader keras-version``, and a bad configured value."""

from __future__ import annotations

import ast
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
    (root / "migrating.py").write_text(
        "def train(model, gen):\n    model.fit_generator(gen, 10, workers=4)\n", encoding="utf-8")
    (root / "src").mkdir()
    (root / "src" / "legacy.py").write_text("import tf_keras\n", encoding="utf-8")
    (root / "src" / "broken.py").write_text("def (:\n", encoding="utf-8")


def test_each_file_is_reported_with_its_evidence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    make_project(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert main(["keras-version", "train.py", "migrating.py", "src"]) == 1  # broken.py
    out, err = capsys.readouterr()
    assert sorted(out.splitlines()) == [
        "migrating.py: Keras 3 (pyproject.toml: keras>=3.3; still calls fit_generator: "
        "being migrated)",
        "src/legacy.py: Keras 2 (imports tf_keras; though pyproject.toml: keras>=3.3)",
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


def test_what_was_found_is_said_and_an_unreadable_file_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "requirements.txt").write_text("Keras>=2.0.2\n", encoding="utf-8")
    (tmp_path / "Pipfile").write_text("[packages\n", encoding="utf-8")
    (tmp_path / "train.py").write_text("import keras\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert main(["keras-version", "train.py"]) == 0
    assert capsys.readouterr().out == (
        "train.py: unknown (requirements.txt: Keras>=2.0.2 allows Keras 2 and 3; "
        "Pipfile cannot be read: invalid TOML: Expected ']' at the end of a table "
        "declaration (at line 1, column 10))\n")


SRC = Path(__file__).resolve().parent.parent / "src" / "safeloader"
#: modules that read the command line or flake8's machinery: nothing below imports them
FRONT_ENDS = ("safeloader.cli", "safeloader.flake8_plugin", "safeloader.keras_version_cli",
              "safeloader.fix.cli")


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.update([node.module] + [f"{node.module}.{a.name}" for a in node.names])
    return names


def test_imports_flow_from_front_ends_to_fix_to_analysis() -> None:
    """The analysis imports neither the fixer nor a front end; the fixer no front end."""
    for layer, forbidden in (("analysis", ("safeloader.fix", *FRONT_ENDS)),
                             ("fix", FRONT_ENDS)):
        for path in sorted((SRC / layer).rglob("*.py")):
            wrong = {name for name in imported_modules(path)
                     if any(name == f or name.startswith(f + ".") for f in forbidden)}
            assert not wrong, (path, wrong)
