"""``safeloader-fix`` on notebooks: cell by cell, IPython lines and everything outside the
changed sources kept, flake8's configuration honoured, cell boundaries never crossed."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from notebook_helpers import (
    code_sources,
    copy_fixture,
    parses_on_its_own,
    without_sources,
    write_notebook,
)

import safeloader.fix.runner as runner
from safeloader.fix.cli import main

pytestmark = pytest.mark.usefixtures("outside_the_repository")

GENERATOR = "def batches():\n    while True:\n        yield 1"
FIT = "model.fit(batches(), steps_per_epoch=2, workers=3)"


def test_the_training_notebook_is_fixed_cell_by_cell_and_nothing_else_changes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    notebook = copy_fixture("train_tf_keras.ipynb", tmp_path)
    notebook.chmod(0o640)
    before_text, before = notebook.read_text(encoding="utf-8"), code_sources(notebook)
    assert main(["--unsafe-fixes", str(notebook)]) == 0
    after_text, after = notebook.read_text(encoding="utf-8"), code_sources(notebook)
    assert stat.S_IMODE(notebook.stat().st_mode) == 0o640
    assert sorted(path.name for path in tmp_path.iterdir()) == [".git", notebook.name]
    assert without_sources(after_text) == without_sources(before_text)
    assert [number for number, (old, new) in enumerate(zip(before, after), 1)
            if old != new] == [2, 4, 6, 8]
    assert after[1] == "import numpy as np\nimport tf_keras as keras\n" \
                       "from safeloader import threadsafe_generator"
    assert after[3] == "@threadsafe_generator\n" + before[3]
    assert after[5] == (
        "%time _ = model.predict(images[:2], verbose=0)\n"
        "history = model.fit(batches(images, labels, 8), steps_per_epoch=4, epochs=2,\n"
        "                    workers=3, use_multiprocessing=False, verbose=0)"
    )
    assert after[7] == before[7].replace("use_multiprocessing=True", "use_multiprocessing=False")
    assert all(parses_on_its_own(source) for source in after)
    assert capsys.readouterr().err.splitlines()[-1] == (
        "safeloader-fix: 1 files scanned, 1 changed; fixes: SLD102 x1, SLD103 x1, SLD301 x1"
    )
    mtime = notebook.stat().st_mtime_ns
    assert main(["--unsafe-fixes", str(notebook)]) == 0
    assert notebook.stat().st_mtime_ns == mtime


def test_without_unsafe_fixes_only_the_rename_is_applied_and_the_rest_counted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    notebook = copy_fixture("train_tf_keras.ipynb", tmp_path)
    assert main([str(notebook)]) == 0
    assert "history = model.fit(batches(images, labels, 8)" in code_sources(notebook)[5]
    assert capsys.readouterr().err.splitlines()[-1] == (
        "safeloader-fix: 1 files scanned, 1 changed; fixes: SLD301 x1; 2 more with --unsafe-fixes"
    )


def test_a_keras3_notebook_loads_its_own_datasets_in_threads_after_one_pass(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The settings move into the constructors of the notebook's classes (SLD302, SLD301)
    and are turned to threads there (SLD103) in the same pass: nothing is left to fix."""
    notebook = copy_fixture("processes_keras3.ipynb", tmp_path)
    before_text, before = notebook.read_text(encoding="utf-8"), code_sources(notebook)
    assert main(["--unsafe-fixes", str(notebook)]) == 0
    after = code_sources(notebook)
    assert without_sources(notebook.read_text(encoding="utf-8")) == without_sources(before_text)
    assert [number for number, (old, new) in enumerate(zip(before, after), 1)
            if old != new] == [4, 5, 7]
    assert after[3] == before[3].replace(
        "def __init__(self, images, labels, size):\n        super().__init__()",
        "def __init__(self, images, labels, size, **kwargs):\n        super().__init__(**kwargs)")
    assert after[4] == (
        "history = model.fit(Frames(images, labels, 8, workers=2, use_multiprocessing=False), "
        "epochs=1,\n                    verbose=0)\n"
        'print(len(history.history["loss"]))')
    assert after[6] == (
        "%time _ = model.predict(images[:2], verbose=0)\n"
        "history = model.fit(Batches(images, labels, 16, workers=2, use_multiprocessing=False), "
        "epochs=1,\n                    verbose=0)\n"
        'print(len(history.history["loss"]))')
    assert capsys.readouterr().err.splitlines()[-1] == (
        "safeloader-fix: 1 files scanned, 1 changed; fixes: SLD103 x2, SLD105 x1, SLD301 x1, "
        "SLD302 x1")
    assert main(["--check", "--unsafe-fixes", str(notebook)]) == 0
    assert capsys.readouterr().err.splitlines() == [
        "safeloader-fix: 1 files scanned, 0 would change; fixes: none"]


def test_check_and_diff_show_each_changed_cell_and_write_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    notebook = copy_fixture("train_tf_keras.ipynb", tmp_path)
    original = notebook.read_bytes()
    assert main(["--check", "--diff", "--unsafe-fixes", "train_tf_keras.ipynb"]) == 1
    assert notebook.read_bytes() == original
    out = capsys.readouterr().out
    headers = [line for line in out.splitlines() if line.startswith(("--- ", "+++ "))]
    assert headers == [f"{sign} {side}/train_tf_keras.ipynb:cell_{cell}"
                       for cell in (2, 4, 6, 8) for sign, side in (("---", "a"), ("+++", "b"))]
    assert "+from safeloader import threadsafe_generator\n" in out
    assert "-                    use_multiprocessing=True, verbose=0)\n" in out
    assert "No newline" not in out


def test_a_directory_walk_finds_notebooks_under_flake8s_configuration(tmp_path: Path) -> None:
    (tmp_path / "setup.cfg").write_text(
        "[flake8]\nextend-exclude = excluded\nper-file-ignores =\n    ignored/*.ipynb: SLD101\n"
    )
    found = write_notebook(tmp_path / "work" / "train.ipynb", GENERATOR, FIT)
    excluded = write_notebook(tmp_path / "excluded" / "train.ipynb", GENERATOR, FIT)
    ignored = write_notebook(tmp_path / "ignored" / "train.ipynb", GENERATOR, FIT)
    silenced = write_notebook(tmp_path / "noqa" / "train.ipynb", GENERATOR,
                              FIT + "  # noqa: SLD101")
    untouched = {path: path.read_bytes() for path in (excluded, ignored, silenced)}
    assert main([str(tmp_path)]) == 0
    assert code_sources(found)[0].startswith("from safeloader import threadsafe_generator\n\n\n@")
    assert {path: path.read_bytes() for path in untouched} == untouched


def test_select_chooses_the_rules_in_notebooks_too(tmp_path: Path) -> None:
    notebook = copy_fixture("train_tf_keras.ipynb", tmp_path)
    assert main(["--select", "SLD103", "--unsafe-fixes", str(notebook)]) == 0
    changed = [new for new, old in zip(code_sources(notebook),
                                       code_sources(Path(__file__).parent.parent / "fixtures"
                                                    / "notebooks" / "train_tf_keras.ipynb"))
               if new != old]
    assert changed == ["history = model.fit(Batches(images, labels, 8), epochs=1, workers=2,\n"
                       "                    use_multiprocessing=False, verbose=0)"]


def test_notebooks_that_cannot_be_read_are_named_and_left_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.ipynb"
    broken.write_text('{"cells": [\n')
    old = tmp_path / "old.ipynb"
    old.write_text('{"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": []}')
    prose = write_notebook(tmp_path / "prose.ipynb")
    script = write_notebook(tmp_path / "train.ipynb", GENERATOR, FIT)
    stamps = {path: (path.read_bytes(), path.stat().st_mtime_ns) for path in (broken, old, prose)}
    assert main([str(tmp_path)]) == 2
    assert {path: (path.read_bytes(), path.stat().st_mtime_ns) for path in stamps} == stamps
    assert code_sources(script)[0].startswith("from safeloader import")
    err = capsys.readouterr().err
    assert f"{broken}: invalid JSON: Expecting value (line 2, column 1): not a notebook; " \
           "left unchanged" in err
    assert f"{old}: an nbformat 3 notebook: safeloader reads nbformat 4" in err
    assert f"{prose}: no code cells: nothing to check\n" in err
    assert err.splitlines()[-1].endswith("; 2 could not be processed")


def test_a_syntax_error_names_the_cell_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    notebook = write_notebook(tmp_path / "train.ipynb", "%time x = 1\nimport os",
                              "def f(:\n    pass", FIT)
    assert main([str(notebook)]) == 2
    assert f"{notebook}: syntax error: invalid syntax (cell 2, line 1); left unchanged" in (
        capsys.readouterr().err
    )


def test_a_notebook_edited_while_being_fixed_is_left_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    notebook = write_notebook(tmp_path / "train.ipynb", GENERATOR, FIT)
    real_fix_text = runner.fix_text

    def fix_text_while_someone_saves(text, path, fixes):  # type: ignore[no-untyped-def]
        write_notebook(notebook, GENERATOR, FIT, "print('saved meanwhile')")
        return real_fix_text(text, path, fixes)

    monkeypatch.setattr(runner, "fix_text", fix_text_while_someone_saves)
    assert main([str(notebook)]) == 2
    assert code_sources(notebook)[-1] == "print('saved meanwhile')"
    assert f"{notebook}: changed on disk while being fixed; left unchanged" in (
        capsys.readouterr().err
    )


@pytest.fixture
def analysed_as_scripts(monkeypatch: pytest.MonkeyPatch) -> None:
    """The analysis told nothing of cells: it plans fixes as for a script (SLD103's
    ``__main__`` guard included), which the engine must refuse to apply across cells."""
    real = runner.analyze_module

    def analysed_as_a_script(tree, lines, path, config, **cells):  # type: ignore[no-untyped-def]
        return real(tree, lines, path, config)

    monkeypatch.setattr(runner, "analyze_module", analysed_as_a_script)


@pytest.mark.usefixtures("analysed_as_scripts")
def test_a_fix_that_would_move_code_across_cells_is_refused_naming_the_cell(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # analysed as a script, the notebook would get SLD103's __main__ guard, which moves
    # the statements of cell 3 and of every later cell under one block
    notebook = copy_fixture("train_tf_keras.ipynb", tmp_path)
    original = notebook.read_bytes()
    assert main(["--select", "SLD103", "--unsafe-fixes", str(notebook)]) == 2
    assert notebook.read_bytes() == original
    assert f"{notebook}: cell 3: a fix would move code across a cell boundary (a separator " \
           "line moved); left unchanged" in capsys.readouterr().err


def test_a_generator_the_notebook_imports_is_fixed_in_its_module(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    module = tmp_path / "data.py"
    module.write_text(GENERATOR + "\n")
    notebook = write_notebook(tmp_path / "train.ipynb", "from data import batches", FIT)
    before = notebook.read_bytes()
    os.chdir(tmp_path)
    assert main(["train.ipynb"]) == 0
    assert module.read_text() == "from safeloader import threadsafe_generator\n\n\n" \
                                 "@threadsafe_generator\n" + GENERATOR + "\n"
    assert notebook.read_bytes() == before


NBQA_FILE = """\
# %%NBQA-CELL-SEP1a2b3c
import tf_keras as keras
hash(0x1A2B3C4D)


# %%NBQA-CELL-SEP1a2b3c
{generator}


# %%NBQA-CELL-SEP1a2b3c
model = keras.Sequential()
model.fit(batches(), steps_per_epoch=2, workers=3, use_multiprocessing=True)
"""


def write_nbqa_file(directory: Path) -> Path:
    """The file nbQA writes for a notebook of three cells (:data:`NBQA_FILE`)."""
    script = directory / "train_nbqa_ipynb.py"
    script.write_text(NBQA_FILE.format(generator=GENERATOR))
    return script


def test_a_file_nbqa_wrote_is_fixed_as_a_notebook(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = write_nbqa_file(tmp_path)
    assert main(["--unsafe-fixes", "--diff", str(script)]) == 0
    out = capsys.readouterr().out
    assert "+@threadsafe_generator\n" in out
    assert "use_multiprocessing=False" in out and "__main__" not in out


@pytest.mark.usefixtures("analysed_as_scripts")
def test_a_fix_crossing_nbqas_separators_is_refused_naming_the_cell(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = write_nbqa_file(tmp_path)
    original = script.read_bytes()
    assert main(["--select", "SLD103", "--unsafe-fixes", str(script)]) == 2
    assert script.read_bytes() == original
    # the guard would start at cell 1's magic placeholder, the first statement it moves
    assert f"{script}: cell 1 (line 2): a fix would move code across a cell boundary" in (
        capsys.readouterr().err
    )


def test_outputs_and_metadata_of_the_fixed_notebook_are_the_same_json(tmp_path: Path) -> None:
    notebook = copy_fixture("train_keras3.ipynb", tmp_path)
    before = json.loads(notebook.read_text(encoding="utf-8"))
    assert main(["--keras-version", "3", str(notebook)]) == 0
    after = json.loads(notebook.read_text(encoding="utf-8"))
    for cell in (*before["cells"], *after["cells"]):
        del cell["source"]
    assert after == before


def test_a_warning_names_the_cell_and_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    notebook = write_notebook(tmp_path / "train.ipynb", "import tf_keras as keras",
                              GENERATOR, "options = {}\nmodel.fit_generator(batches(), **options)")
    assert main([str(notebook)]) == 0
    assert f"{notebook}:cell_3:2:1: 'fit_generator' call left unchanged" in (
        capsys.readouterr().err
    )


def test_training_under_a_cell_magic_is_fixed_and_the_magic_stays_first(tmp_path: Path) -> None:
    notebook = write_notebook(tmp_path / "timed.ipynb", "import tf_keras as keras", GENERATOR,
                              "%%time\nmodel = keras.Sequential()\n"
                              "model.fit_generator(batches(), 2, workers=3)")
    assert main([str(notebook)]) == 0
    assert code_sources(notebook) == [
        "import tf_keras as keras\nfrom safeloader import threadsafe_generator",
        "@threadsafe_generator\n" + GENERATOR,
        "%%time\nmodel = keras.Sequential()\n"
        "model.fit(batches(), steps_per_epoch=2, workers=3)"]
