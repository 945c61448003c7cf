"""Linting notebooks: the notebook wording of SLD102/SLD103 (through nbQA's files in real
flake8, and natively), what SLD103 means in a notebook, and ``safeloader lint``."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from notebook_helpers import copy_fixture, write_notebook

from safeloader.analysis import analyze_module
from safeloader.cli import main
from safeloader.findings import FixKind, Span
from safeloader.notebooks.cells import CellBoundaries

pytestmark = pytest.mark.usefixtures("outside_the_repository")

SCRIPT = """\
import tf_keras as keras


def batches():
    while True:
        yield 1


class Data(keras.utils.Sequence):
    def __len__(self):
        return 1

    def __getitem__(self, index):
        return 1


model = keras.Sequential()
model.fit(batches(), steps_per_epoch=2, workers=3, use_multiprocessing=True)
model.fit(Data(), workers=2, use_multiprocessing=True)
"""

NBQA = "# %%NBQA-CELL-SEP0f1e2d\n"


def flake8(path: Path) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-m", "flake8", "--select", "SLD", "--format",
         "%(row)d:%(col)d: %(code)s %(text)s", str(path)],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 1, done.stderr
    return done.stdout.splitlines()


def test_flake8_gives_the_notebook_wording_for_a_file_nbqa_wrote(tmp_path: Path) -> None:
    script, converted = tmp_path / "train.py", tmp_path / "train_nbqa_ipynb.py"
    script.write_text(SCRIPT)
    converted.write_text(NBQA + SCRIPT.replace("\n\n\nclass", f"\n\n\n{NBQA}class"))
    guard = ("SLD103 fit(use_multiprocessing=True) starts worker processes from module top "
             "level without an 'if __name__ == \"__main__\":' guard; under spawn (Windows, "
             "macOS) each worker re-runs this script: move the training code under the guard")
    assert flake8(script) == [
        f"18:7: {guard}",
        "18:11: SLD102 generator 'batches' feeds fit(workers=3, use_multiprocessing=True) to "
        "worker processes: each process replays its own copy under fork and it cannot be "
        "pickled under spawn; set use_multiprocessing=False and decorate 'batches' with "
        "@safeloader.threadsafe_generator",
        f"19:7: {guard}",
    ]
    assert flake8(converted) == [
        "20:11: SLD102 generator 'batches' feeds fit(workers=3, use_multiprocessing=True) to "
        "worker processes, which cannot import what a notebook defines (spawn) and replay "
        "their own copy (fork); use threads: set use_multiprocessing=False and decorate "
        "'batches' with @safeloader.threadsafe_generator, or safeloader.sharded_generator for "
        "parallel batches (with processes=True it needs 'batches' moved into a module such as "
        "batches.py)",
        "21:7: SLD103 fit(use_multiprocessing=True) loads 'Data()' in worker processes, but "
        "spawned workers (Windows, macOS) cannot import class 'Data', which the notebook "
        "defines: move it into a module such as data.py and import it, or load in threads "
        "(use_multiprocessing=False)",
    ]


def notebook_findings(source: str) -> list[tuple[int, str, tuple[FixKind, ...]]]:
    tree = ast.parse(source)
    return [(finding.line, finding.code, tuple(fix.kind for fix in finding.fixes))
            for finding in analyze_module(tree, source.splitlines(True), None,
                                          cells=CellBoundaries((1,)))]


def test_in_a_notebook_sld103_is_about_classes_the_notebook_defines_wherever_used() -> None:
    assert notebook_findings(
        "import tf_keras as keras\nfrom data import Batches\n\n"
        "model = keras.Sequential()\n"
        "model.fit(Batches(), workers=2, use_multiprocessing=True)\n"
    ) == []
    assert notebook_findings(SCRIPT.replace(
        "model = keras.Sequential()\n", "\ndef train(model):\n"
    ).replace("\nmodel.fit", "\n    model.fit")) == [
        (19, "SLD102", (FixKind.DISABLE_MULTIPROCESSING, FixKind.DECORATE_GENERATOR)),
        (20, "SLD103", (FixKind.DISABLE_MULTIPROCESSING,)),
    ]


def test_a_pydataset_the_notebook_defines_is_loaded_in_threads_by_the_fix() -> None:
    source = (
        "import keras\n\n\nclass Data(keras.utils.PyDataset):\n"
        "    def __init__(self, **kwargs):\n        super().__init__(**kwargs)\n\n"
        "    def __len__(self):\n        return 1\n\n"
        "    def __getitem__(self, index):\n        return 1\n\n\n"
        "model = keras.Sequential()\n"
        "model.fit(Data(workers=2, use_multiprocessing=True), epochs=1)\n"
    )
    tree = ast.parse(source)
    [finding] = analyze_module(tree, source.splitlines(True), None, cells=CellBoundaries((1,)))
    assert finding.message == (
        "SLD103 fit(Data(..., use_multiprocessing=True)) loads 'Data(workers=2, "
        "use_multiprocessing=T...' in worker processes, but spawned workers (Windows, macOS) "
        "cannot import class 'Data', which the notebook defines: move it into a module such as "
        "data.py and import it, or load in threads (use_multiprocessing=False)"
    )
    [fix] = finding.fixes
    assert fix.kind is FixKind.DISABLE_MULTIPROCESSING and (fix.span.line, fix.span.col) == (16, 46)


KERAS3_CLASSES = """\
import keras
from data import Imported


class Data(keras.utils.PyDataset):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)

    def __len__(self):
        return 1

    def __getitem__(self, index):
        return 1


class Frames(keras.utils.Sequence):
    def __len__(self):
        return 1

    def __getitem__(self, index):
        return 1


def batches():
    while True:
        yield 1


model = keras.Sequential()
"""


@pytest.mark.parametrize("training, constructor, setting", [
    ("model.fit(Data(), workers=2, use_multiprocessing=True)", "Data()",
     "use_multiprocessing=True"),
    ("model.fit_generator(Frames(), 2, 1, 1, None, None, None, None, None, 10, 2, True)",
     "Frames()", "use_multiprocessing=True"),
    ("frames = Frames()\nmodel.fit_generator(frames, workers=2, pickle_safe=True)", "Frames()",
     "pickle_safe=True"),
])
def test_under_keras3_the_thread_route_sets_the_moved_setting_in_the_constructor(
    training: str, constructor: str, setting: str
) -> None:
    """The Keras 3 fix of the call (SLD302, or SLD301 for a *_generator form) moves its
    settings into the constructor of a class the notebook defines: SLD103 is reported
    before the move, and its fix turns the moved setting off there, in the same pass."""
    source = KERAS3_CLASSES + training + "\n"
    tree = ast.parse(source)
    findings = analyze_module(tree, source.splitlines(True), None, cells=CellBoundaries((1,)))
    [finding] = [finding for finding in findings if finding.code == "SLD103"]
    assert finding.line == source.count("\n")
    name = constructor.split("(")[0]
    data = "frames" if "frames =" in training else constructor
    method = "fit" if ".fit(" in training else "fit_generator"
    assert finding.message == (
        f"SLD103 {method}({setting}) loads '{data}' in worker processes, but spawned workers "
        f"(Windows, macOS) cannot import class '{name}', which the notebook defines: move it "
        f"into a module such as {name.lower()}.py and import it, or load in threads "
        "(use_multiprocessing=False)")
    [threads] = finding.fixes
    assert threads.kind is FixKind.DISABLE_MOVED_MULTIPROCESSING
    assert threads.params == {"keyword": "use_multiprocessing"}
    [move] = [fix for other in findings if other.code in ("SLD301", "SLD302")
              for fix in other.fixes if fix.kind is FixKind.ADD_LOADER_SETTINGS]
    assert threads.span == move.span
    assert ast.get_source_segment(source, _at(tree, move.span)) == constructor


def _at(tree: ast.Module, span: Span) -> ast.AST:
    """The call of ``tree`` whose extent is ``span``."""
    return next(node for node in ast.walk(tree) if isinstance(node, ast.Call) and (
        node.lineno, node.col_offset, node.end_lineno, node.end_col_offset) == (
        span.line, span.col, span.end_line, span.end_col))


@pytest.mark.parametrize("training", [
    # Keras 3 starts no process for a generator: the fix drops the setting
    "model.fit_generator(batches(), steps_per_epoch=2, workers=2, use_multiprocessing=True)",
    # a class of a module, which spawned workers import
    "model.fit(Imported(), workers=2, use_multiprocessing=True)",
    # the settings stay where Keras 3 rejects them (no move): no worker starts
    "model.fit(Data(), workers=2, use_multiprocessing=True, **options)",
])
def test_under_keras3_nothing_else_is_a_process_start_in_a_notebook(training: str) -> None:
    source = KERAS3_CLASSES + "options = {}\n" + training + "\n"
    tree = ast.parse(source)
    findings = analyze_module(tree, source.splitlines(True), None, cells=CellBoundaries((1,)))
    assert [finding for finding in findings if finding.code == "SLD103"] == []


def test_safeloader_lint_reports_scripts_and_notebook_cells_as_flake8_decides(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "setup.cfg").write_text(
        "[flake8]\nper-file-ignores =\n    quiet.ipynb: SLD301\n"
    )
    copy_fixture("train_tf_keras.ipynb", tmp_path).rename(tmp_path / "quiet.ipynb")
    copy_fixture("train_tf_keras.ipynb", tmp_path)
    write_notebook(tmp_path / "noqa.ipynb", "def batches():\n    while True:\n        yield 1",
                   "model.fit(batches(), workers=3)  # noqa: SLD101\n"
                   "model.fit(batches(), workers=4)")
    (tmp_path / "train.py").write_text(SCRIPT)
    assert main(["lint", "."]) == 1
    lines = capsys.readouterr().out.splitlines()
    where = sorted(line.split(" ", 2)[0] + " " + line.split(" ", 2)[1] for line in lines)
    assert where == [
        "noqa.ipynb:cell_2:2:11: SLD101",
        "quiet.ipynb:cell_6:2:31: SLD102", "quiet.ipynb:cell_8:1:17: SLD103",
        "train.py:18:11: SLD102", "train.py:18:7: SLD103", "train.py:19:7: SLD103",
        "train_tf_keras.ipynb:cell_6:2:17: SLD301",
        "train_tf_keras.ipynb:cell_6:2:31: SLD102",
        "train_tf_keras.ipynb:cell_8:1:17: SLD103",
    ]
    assert main(["lint", "--select", "SLD101", "train.py"]) == 0


def test_safeloader_lint_names_what_it_cannot_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "bad.ipynb").write_text("{")
    write_notebook(tmp_path / "prose.ipynb")
    assert main(["lint", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'bad.ipynb'}: invalid JSON" in err
    assert f"{tmp_path / 'prose.ipynb'}: no code cells: nothing to check" in err
