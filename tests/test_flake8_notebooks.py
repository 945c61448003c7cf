"""``flake8 train.ipynb``: real flake8 in a subprocess, given a notebook by name, reports
the SLD findings of its code cells where their code is in the file (``# noqa`` read
there), with the same findings as ``safeloader lint`` and ``nbqa flake8``."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from json.decoder import scanstring
from pathlib import Path

import pytest
from notebook_helpers import FIXTURES, code_sources, copy_fixture, write_notebook

from safeloader.cli import main
from safeloader.source_text import split_lines

pytestmark = pytest.mark.usefixtures("outside_the_repository")

BIN = Path(sys.executable).parent
#: a line of flake8's default format for a notebook finding
NOTEBOOK_REPORT = re.compile(r"(?P<path>[^:]+):(?P<line>\d+):(?P<col>\d+): (?P<code>[A-Z]+\d+) "
                             r"(?P<text>.*?)(?: \(cell (?P<cell>\d+), line (?P<cell_line>\d+)\))?")
#: a line of ``safeloader lint`` or ``nbqa flake8``: the cell and its line
CELL_REPORT = re.compile(r"(?P<path>[^:]+):cell_(?P<cell>\d+):(?P<line>\d+):(?P<col>\d+): "
                         r"(?P<code>SLD\d+) (?P<text>.*)")
GENERATOR = "def batches():\n    while True:\n        yield 1"


def run(*command: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
           "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([str(BIN / command[0]), *command[1:]], cwd=cwd, env=env, input=stdin,
                          capture_output=True, text=True, timeout=300)


def flake8(*args: str, cwd: Path, status: int = 1,
           stdin: str | None = None) -> list[re.Match[str]]:
    """flake8's reports, each parsed; the run must exit with ``status`` and no traceback."""
    done = run("flake8", *args, cwd=cwd, stdin=stdin)
    assert done.returncode == status, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    reports = [NOTEBOOK_REPORT.fullmatch(line) for line in done.stdout.splitlines()]
    assert all(reports), done.stdout
    return [report for report in reports if report is not None]


def places(reports: list[re.Match[str]]) -> list[tuple[str, int, str]]:
    """``(file, line of the file, code)`` of each report."""
    return [(report["path"], int(report["line"]), report["code"]) for report in reports]


def line_of(path: Path, needle: str) -> int:
    """The line of the file ``path`` that holds ``needle``, the only one."""
    [number] = [number for number, line in enumerate(path.read_text().splitlines(), 1)
                if needle in line]
    return number


def test_flake8_reports_a_named_notebook_at_its_codes_lines_with_the_cell(tmp_path: Path) -> None:
    notebook = copy_fixture("train_tf_keras.ipynb", tmp_path)
    reports = flake8("--select", "SLD", "train_tf_keras.ipynb", cwd=tmp_path)
    fit_generator = line_of(notebook, '"history = model.fit_generator(')
    fit = line_of(notebook, '"history = model.fit(Batches(')
    assert places(reports) == [
        ("train_tf_keras.ipynb", fit_generator, "SLD301"),
        ("train_tf_keras.ipynb", fit_generator, "SLD102"),
        ("train_tf_keras.ipynb", fit, "SLD103"),
    ]
    assert [(report["cell"], report["cell_line"]) for report in reports] == [
        ("6", "2"), ("6", "2"), ("8", "1")]
    lines = notebook.read_text().splitlines()
    # the column is that of the code in the file's line
    assert [lines[int(report["line"]) - 1][int(report["col"]) - 1:][:14]
            for report in reports] == ["fit_generator(", "batches(images", "fit(Batches(im"]
    assert reports[1]["text"].startswith(
        "generator 'batches' feeds fit_generator(workers=3, use_multiprocessing=True) "
        "to worker processes, which cannot import what a notebook defines")
    assert "__main__" not in reports[2]["text"]


@pytest.mark.parametrize("name", sorted(path.name for path in FIXTURES.glob("*.ipynb")))
def test_flake8_lint_nbqa_and_keras_version_agree_on_the_fixture_notebooks(
    tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    notebook = copy_fixture(name, tmp_path)
    through_flake8 = flake8("--select", "SLD", name, cwd=tmp_path)
    done = run("nbqa", "flake8", name, "--select=SLD", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    through_nbqa = [CELL_REPORT.fullmatch(line) for line in done.stdout.splitlines()]
    assert main(["lint", name]) == 1
    through_lint = [CELL_REPORT.fullmatch(line) for line in capsys.readouterr().out.splitlines()]
    assert all(through_nbqa) and all(through_lint)
    by_cell = [(int(report["cell"]), int(report["line"]), report["code"], report["text"])
               for report in through_lint if report is not None]
    assert by_cell
    assert [(int(report["cell"]), int(report["line"]), report["code"], report["text"])
            for report in through_nbqa if report is not None] == by_cell
    assert [(int(report["cell"]), int(report["cell_line"]), report["code"],
             f"{report['code']} {report['text']}") for report in through_flake8] == [
        (cell, line, code, f"{code} {text}") for cell, line, code, text in by_cell]
    # flake8's line and column hold the code at lint's cell, line and column
    file_lines = notebook.read_text(encoding="utf-8").splitlines()
    sources = code_sources(notebook)
    for flake8_report, lint_report in zip(through_flake8, through_lint):
        assert lint_report is not None
        code_line = split_lines(sources[int(lint_report["cell"]) - 1])[int(lint_report["line"]) - 1]
        written = file_lines[int(flake8_report["line"]) - 1]
        rest = scanstring(written, int(flake8_report["col"]) - 1)[0]
        assert rest == code_line[int(lint_report["col"]) - 1:]
    # and the Keras each route checked against is the one keras-version names
    assert main(["keras-version", name]) == 0
    target = capsys.readouterr().out.strip()
    evidence = re.fullmatch(rf"{re.escape(name)}: Keras (\d) \((.*)\)", target)
    assert evidence is not None, target
    keras3_findings = [report for report in through_flake8 if "(TypeError; Keras 3" in
                       report["text"]]
    assert bool(keras3_findings) is (evidence[1] == "3")
    # a finding names the deciding evidence; keras-version adds the notes after it
    # (``still calls fit_generator: being migrated``)
    for report in keras3_findings:
        deciding = re.search(r"\(TypeError; Keras 3: (.*?)\)", report["text"])
        assert deciding is not None, report["text"]
        assert f"{evidence[2]};".startswith(f"{deciding[1]};"), (deciding[1], evidence[2])


def test_the_keras_a_notebook_declares_with_pip_decides_its_findings(tmp_path: Path) -> None:
    write_notebook(tmp_path / "declared.ipynb", '%pip install "keras>=3"', GENERATOR,
                   "model.fit(batches(), steps_per_epoch=2, workers=3)")
    [report] = flake8("--select", "SLD", "declared.ipynb", cwd=tmp_path)
    assert report["code"] == "SLD302" and (report["cell"], report["cell_line"]) == ("3", "1")
    assert "(TypeError; Keras 3: cell 1: %pip install keras>=3)" in report["text"]


def test_noqa_on_a_line_of_a_cell_is_read_where_flake8_reads_it(tmp_path: Path) -> None:
    write_notebook(tmp_path / "noqa.ipynb", GENERATOR,
                   "model.fit(batches(), workers=2)  # noqa: SLD101\n"
                   "model.fit(batches(), workers=3)  # noqa: SLD102\n"
                   "model.fit(batches(), workers=4)  # noqa\n"
                   "model.fit(batches(), workers=5)  # NOQA:SLD301,SLD101\n"
                   "model.fit(batches(), workers=6)")
    reports = flake8("--select", "SLD", "noqa.ipynb", cwd=tmp_path)
    assert [(report["code"], report["cell_line"]) for report in reports] == [
        ("SLD101", "2"), ("SLD101", "5")]
    assert flake8("--select", "SLD", "--disable-noqa", "noqa.ipynb", cwd=tmp_path)[0][
        "cell_line"] == "1"


def test_a_source_written_as_one_string_is_reported_on_its_line(tmp_path: Path) -> None:
    """The cell is one line of the file: its findings are there, named by cell and line,
    and a ``# noqa`` anywhere in the cell is on that line (documented)."""
    source = GENERATOR + "\n\nx = \"\\t\"; model.fit(batches(), workers=3)\n"
    cells = [{"cell_type": "code", "execution_count": None, "id": "one", "metadata": {},
              "outputs": [], "source": source}]
    document = {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    notebook = tmp_path / "one.ipynb"
    notebook.write_text(json.dumps(document, indent=1) + "\n")
    [report] = flake8("--select", "SLD", "one.ipynb", cwd=tmp_path)
    assert (report["code"], report["cell"], report["cell_line"]) == ("SLD101", "1", "5")
    assert int(report["line"]) == line_of(notebook, '"source": "def batches')
    written = notebook.read_text().splitlines()[int(report["line"]) - 1]
    assert written[int(report["col"]) - 1:].startswith("batches(), workers=3)")
    cells[0]["source"] = source.replace("while True:", "while True:  # noqa: SLD101")
    notebook.write_text(json.dumps(document, indent=1) + "\n")
    assert flake8("--select", "SLD", "one.ipynb", cwd=tmp_path, status=0) == []


def test_flake8_noqa_in_a_cell_skips_the_notebook(tmp_path: Path) -> None:
    write_notebook(tmp_path / "skipped.ipynb", "# flake8: noqa\n" + GENERATOR,
                   "model.fit(batches(), workers=3)")
    assert flake8("--select", "SLD", "skipped.ipynb", cwd=tmp_path, status=0) == []
    assert places(flake8("--select", "SLD", "--disable-noqa", "skipped.ipynb", cwd=tmp_path)) == [
        ("skipped.ipynb", line_of(tmp_path / "skipped.ipynb", '"model.fit('), "SLD101")]


def test_select_ignore_and_per_file_ignores_apply_to_a_notebook(tmp_path: Path) -> None:
    copy_fixture("train_tf_keras.ipynb", tmp_path)
    codes = ["SLD301", "SLD102", "SLD103"]
    assert [report["code"] for report in flake8("--select", "SLD", "train_tf_keras.ipynb",
                                                cwd=tmp_path)] == codes
    assert [report["code"] for report in flake8("--select", "SLD102", "train_tf_keras.ipynb",
                                                cwd=tmp_path)] == ["SLD102"]
    assert [report["code"] for report in flake8(
        "--select", "SLD", "--extend-ignore", "SLD3", "train_tf_keras.ipynb", cwd=tmp_path,
    )] == ["SLD102", "SLD103"]
    (tmp_path / "setup.cfg").write_text(
        "[flake8]\nselect = SLD\nper-file-ignores =\n    train_tf_keras.ipynb: SLD102,SLD103\n")
    assert [report["code"] for report in flake8("train_tf_keras.ipynb", cwd=tmp_path)] == [
        "SLD301"]


def test_notebooks_are_linted_when_named_or_matched_by_filename_only(tmp_path: Path) -> None:
    copy_fixture("train_tf_keras.ipynb", tmp_path / "notebooks")
    (tmp_path / "train.py").write_text("import tf_keras\n\n\n" + GENERATOR + "\n\n\n"
                                       "tf_keras.Model().fit(batches(), workers=3)\n")
    assert [(report["path"], report["code"]) for report in flake8(
        "--select", "SLD", ".", cwd=tmp_path)] == [("./train.py", "SLD101")]
    reports = flake8("--select", "SLD", "--filename", "*.py,*.ipynb", ".", cwd=tmp_path)
    assert sorted({(report["path"], report["code"]) for report in reports}) == [
        ("./notebooks/train_tf_keras.ipynb", "SLD102"),
        ("./notebooks/train_tf_keras.ipynb", "SLD103"),
        ("./notebooks/train_tf_keras.ipynb", "SLD301"),
        ("./train.py", "SLD101"),
    ]


def test_a_notebook_on_stdin_is_read_by_its_display_name(tmp_path: Path) -> None:
    text = (FIXTURES / "train_tf_keras.ipynb").read_text()
    reports = flake8("--select", "SLD", "--stdin-display-name", "train_tf_keras.ipynb", "-",
                     cwd=tmp_path, stdin=text)
    assert [report["code"] for report in reports] == ["SLD301", "SLD102", "SLD103"]


FIT = "def gen():\n    yield 1\nmodel.fit(gen(), workers=3)"


@pytest.mark.parametrize("text, flake8_says", [
    ('{"cells": [' + json.dumps(FIT), ["E999"]),  # not JSON, nor Python: flake8's own E999
    # Python, not JSON
    (f"{{'cells': [{{'cell_type': 'code', 'source': {FIT!r}}}], 'nbformat': 4}}\n", []),
    (json.dumps({"cells": [{"cell_type": "markdown", "metadata": {}, "source": FIT}],
                 "metadata": {}, "nbformat": 4, "nbformat_minor": 5}), []),  # no code cells
    (json.dumps({"cells": [{"cell_type": "code", "metadata": {}, "outputs": []},
                           {"cell_type": "code", "metadata": {}, "outputs": [], "source": FIT}],
                 "metadata": {}, "nbformat": 4, "nbformat_minor": 5}), []),  # no source
    (json.dumps({"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": [
        {"cells": [{"cell_type": "code", "input": FIT, "language": "python", "outputs": []}],
         "metadata": {}}]}), []),
])
def test_a_notebook_that_cannot_be_read_gets_nothing_from_the_plugin(
    tmp_path: Path, text: str, flake8_says: list[str]
) -> None:
    """No crash, nothing reported (``safeloader lint`` names the reason); each of these
    has a hazard in a code cell's text, so the plugin does read it."""
    (tmp_path / "bad.ipynb").write_text(text)
    reports = flake8("--select", "SLD,E9", "bad.ipynb", cwd=tmp_path,
                     status=1 if flake8_says else 0)
    assert [report["code"] for report in reports] == flake8_says


def test_a_cell_that_is_not_python_gets_nothing_from_the_plugin(tmp_path: Path) -> None:
    """No crash: ``safeloader lint`` names the cell and line that do not parse."""
    write_notebook(tmp_path / "broken.ipynb", GENERATOR, "model.fit(batches(), workers=3",
                   "model.fit(batches(), workers=3)")
    assert flake8("--select", "SLD", "broken.ipynb", cwd=tmp_path, status=0) == []


def test_training_under_a_cell_magic_is_linted_on_every_route(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # %%time and %%capture run their body in the kernel: nbQA hands it to flake8, and
    # the native routes read it too
    write_notebook(tmp_path / "timed.ipynb", "import tf_keras as keras", GENERATOR,
                   "%%time\nmodel = keras.Sequential()\nmodel.fit(batches(), workers=3)",
                   "%%capture\n!pip list\nmodel.fit(batches(), workers=2)",
                   "%%bash\nmodel.fit(batches(), workers=4)")
    expected = [("3", "3", "SLD101"), ("4", "3", "SLD101")]
    assert [(report["cell"], report["cell_line"], report["code"]) for report in flake8(
        "--select", "SLD", "timed.ipynb", cwd=tmp_path)] == expected
    done = run("nbqa", "flake8", "timed.ipynb", "--select=SLD", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    through_nbqa = [CELL_REPORT.fullmatch(line) for line in done.stdout.splitlines()]
    assert [(report["cell"], report["line"], report["code"]) for report in through_nbqa
            if report is not None] == expected
    os.chdir(tmp_path)
    assert main(["lint", "timed.ipynb"]) == 1
    through_lint = [CELL_REPORT.fullmatch(line) for line in capsys.readouterr().out.splitlines()]
    assert [(report["cell"], report["line"], report["code"]) for report in through_lint
            if report is not None] == expected
