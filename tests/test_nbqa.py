"""Real nbQA: ``nbqa flake8`` reports the SLD codes per cell with the notebook wording and
the Keras the notebook's ``%pip`` line declares, and ``nbqa safeloader-fix`` fixes a
notebook as ``safeloader-fix`` does natively, byte for byte, where it used to move code
across cells (SLD103's ``__main__`` guard)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from notebook_helpers import code_sources, copy_fixture, parses_on_its_own, write_notebook

BIN = Path(sys.executable).parent


def run(*command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
           "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([str(BIN / command[0]), *command[1:]], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_nbqa_flake8_reports_each_cell_with_the_notebook_wording(tmp_path: Path) -> None:
    copy_fixture("train_tf_keras.ipynb", tmp_path)
    done = run("nbqa", "flake8", "train_tf_keras.ipynb", "--select", "SLD", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    assert [line.split(" ", 2)[:2] for line in lines] == [
        ["train_tf_keras.ipynb:cell_6:2:17:", "SLD301"],
        ["train_tf_keras.ipynb:cell_6:2:31:", "SLD102"],
        ["train_tf_keras.ipynb:cell_8:1:17:", "SLD103"],
    ]
    assert "cannot import what a notebook defines" in lines[1]
    assert "move it into a module such as batches.py" in lines[2]
    assert "__main__" not in done.stdout


@pytest.mark.parametrize("name, options", [
    ("train_tf_keras.ipynb", ["--unsafe-fixes"]),
    ("train_keras3.ipynb", []),  # its Keras 3 from its %pip line, which nbQA hides
])
def test_nbqa_safeloader_fix_gives_the_native_fix_and_keeps_every_cell_whole(
    tmp_path: Path, name: str, options: list[str]
) -> None:
    through_nbqa = copy_fixture(name, tmp_path / "nbqa")
    native = copy_fixture(name, tmp_path / "native")
    original = code_sources(native)
    done = run("nbqa", "safeloader-fix", "--nbqa-shell", *options, name, cwd=through_nbqa.parent)
    assert done.returncode == 0, done.stdout + done.stderr
    assert run("safeloader-fix", *options, name, cwd=native.parent).returncode == 0
    assert through_nbqa.read_bytes() == native.read_bytes()
    sources = code_sources(through_nbqa)
    assert sources != original
    assert all(parses_on_its_own(source) for source in sources)
    assert not any("__main__" in source for source in sources)
    assert sources[0] == original[0]  # a %%capture cell, or the %pip line


def test_nbqa_flake8_reads_the_keras_a_notebook_declares_with_pip(tmp_path: Path) -> None:
    copy_fixture("train_keras3.ipynb", tmp_path)
    done = run("nbqa", "flake8", "train_keras3.ipynb", "--select=SLD", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert [line.split(" ", 2)[:2] for line in done.stdout.splitlines()] == [
        ["train_keras3.ipynb:cell_4:2:5:", "SLD105"],
        ["train_keras3.ipynb:cell_5:2:17:", "SLD302"],
        ["train_keras3.ipynb:cell_6:7:17:", "SLD302"],
    ]
    assert "(TypeError; Keras 3: subclasses keras.utils.PyDataset)" in done.stdout
    write_notebook(tmp_path / "declared.ipynb", '%pip install "keras>=3"',
                   "def batches():\n    while True:\n        yield 1",
                   "model.fit(batches(), steps_per_epoch=2, workers=3)")
    done = run("nbqa", "flake8", "declared.ipynb", "--select=SLD", cwd=tmp_path)
    assert "(TypeError; Keras 3: cell 1: %pip install keras>=3)" in done.stdout, done.stdout


def test_nbqa_safeloader_fix_fixes_training_under_a_cell_magic_as_the_native_fix(
    tmp_path: Path
) -> None:
    cells = ("import tf_keras as keras", "def batches():\n    while True:\n        yield 1",
             "%%time\nmodel = keras.Sequential()\nmodel.fit_generator(batches(), 2, workers=3)")
    through_nbqa = write_notebook(tmp_path / "nbqa" / "timed.ipynb", *cells)
    native = tmp_path / "native" / "timed.ipynb"
    native.parent.mkdir()
    native.write_bytes(through_nbqa.read_bytes())  # the same cell ids
    for directory in (through_nbqa.parent, native.parent):
        (directory / ".git").mkdir()
    done = run("nbqa", "safeloader-fix", "--nbqa-shell", "timed.ipynb", cwd=through_nbqa.parent)
    assert done.returncode == 0, done.stdout + done.stderr
    assert run("safeloader-fix", "timed.ipynb", cwd=native.parent).returncode == 0
    assert through_nbqa.read_bytes() == native.read_bytes()
    assert code_sources(native)[2].startswith("%%time\n")
    assert "model.fit(batches(), steps_per_epoch=2" in code_sources(native)[2]
