"""What fixed code looks like: people read these diffs.

- over every fixture (``fixtures/*.py`` and ``fixtures/project_pkg``), with Keras
  2 and 3 configured, with and without ``--unsafe-fixes``, ``safeloader-fix``
  adds no pycodestyle warning of E1, E2, E3, W2, W3 that a file did not have
  (pycodestyle's API, and real flake8 in a subprocess);
- each layout case as text, before and after: moved keywords where their
  neighbours are, no trailing space, continuation lines realigned after a
  rename, comments kept, two blank lines above a ``def`` below new imports;
- a parameter a fix leaves unused is named, with its function and line, and
  the signature is kept.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pycodestyle
import pytest

from codemod_helpers import call_span, fix, run_fixes
from safeloader.analysis import AnalysisConfig, analyze_source
from safeloader.findings import FixKind
from safeloader.fix.cli import main
from safeloader.fix.realign import realign
from safeloader.fix.runner import fix_text
from safeloader.fix.selection import FixSelection

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
#: the pycodestyle families a fix must not add to
STYLE = ("E1", "E2", "E3", "W2", "W3")
FLAKE8_REPORT = re.compile(r"^(?P<path>.+?):\d+:\d+: (?P<code>[EW]\d+) ")


class _Codes(pycodestyle.BaseReport):
    """A pycodestyle report that counts the codes it is given."""

    def __init__(self, options: object) -> None:
        super().__init__(options)
        self.codes: Counter[str] = Counter()

    def error(self, line_number: int, offset: int, text: str, check: object) -> str | None:
        code = super().error(line_number, offset, text, check)
        if code:
            self.codes[code] += 1
        return code


def style_warnings(text: str) -> Counter[str]:
    """pycodestyle's E1, E2, E3, W2, W3 warnings of ``text``, by code."""
    options = pycodestyle.StyleGuide(select=list(STYLE), quiet=True).options
    report = _Codes(options)
    pycodestyle.Checker(lines=text.splitlines(keepends=True), options=options,
                        report=report).check_all()
    return report.codes


def flake8_warnings(cwd: Path, *trees: str) -> Counter[tuple[str, str]]:
    """Real flake8's E1, E2, E3, W2, W3 warnings under ``trees``, by (file, code)."""
    done = subprocess.run(
        [sys.executable, "-m", "flake8", "--isolated", "--select", ",".join(STYLE), *trees],
        cwd=cwd, capture_output=True, text=True, check=False, timeout=300,
    )
    assert done.returncode in (0, 1), done.stderr
    found: Counter[tuple[str, str]] = Counter()
    for line in done.stdout.splitlines():
        match = FLAKE8_REPORT.match(line)
        assert match, line
        found[(match["path"], match["code"])] += 1
    return found


@pytest.mark.parametrize("unsafe", [False, True], ids=["safe", "unsafe"])
@pytest.mark.parametrize("keras_version", ["2", "3"])
def test_fixes_add_no_style_warning_to_any_fixture(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    keras_version: str, unsafe: bool,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "setup.cfg").write_text(
        f"[flake8]\nsafeloader-keras-version = {keras_version}\nextend-select = SLD203\n")
    for tree in ("original", "fixed"):
        shutil.copytree(FIXTURES, tmp_path / tree,
                        ignore=shutil.ignore_patterns("expected", "__pycache__"))
    assert main(["-j", "1", "fixed", *(["--unsafe-fixes"] if unsafe else [])]) == 0
    capsys.readouterr()

    originals = sorted((tmp_path / "original").rglob("*.py"))
    assert (tmp_path / "original" / "project_pkg" / "train.py") in originals
    changed = new = 0
    added: dict[str, Counter[str]] = {}
    for original in originals:
        name = original.relative_to(tmp_path / "original")
        before, after = original.read_text(), (tmp_path / "fixed" / name).read_text()
        changed += before != after
        more = style_warnings(after) - style_warnings(before)
        if more:
            added[str(name)] = more
    assert added == {}
    assert changed >= 15  # the check has fixed code to look at

    flake8 = flake8_warnings(tmp_path, "original", "fixed")
    for (path, code), count in flake8.items():
        if path.startswith("fixed"):
            original_path = "original" + path[len("fixed"):]
            new += count > flake8.get((original_path, code), 0)
    assert new == 0, flake8
    assert sum(flake8.values()) > 0  # flake8 did read the files (some have warnings)


KERAS3 = AnalysisConfig(keras_version="3")
KERAS2 = AnalysisConfig(keras_version="2")

DATASET = '''\
import keras


class Batches(keras.utils.PyDataset):
    def __init__(self, images, norm=None, **kwargs):
        super().__init__(**kwargs)
        self.images = images


def batches():
    while True:
        yield 1


'''

#: the head of the tf_keras (Keras 2) cases: a model built from tf_keras' Sequential
TF_KERAS_MODEL = "from tf_keras.models import Sequential\n\nmodel = Sequential()\n"


def fixed(training: str, config: AnalysisConfig = KERAS3, unsafe: bool = False,
          head: str = DATASET) -> str:
    """``training`` after the fixes the analysis plans for ``head + training``;
    the fixed text adds no style warning and a second run changes nothing."""
    source = head + training
    found = analyze_source(source, Path("train.py"), config)
    result = fix_text(source, Path("train.py"),
                      FixSelection(unsafe_fixes=unsafe).fixes_to_apply(found))
    assert result.text is not None and result.text != source, result
    assert not style_warnings(result.text) - style_warnings(source)
    assert not any(line.endswith((" ", "\t")) for line in result.text.splitlines())
    again = analyze_source(result.text, Path("train.py"), config)
    assert not FixSelection(unsafe_fixes=unsafe).fixes_to_apply(again)
    return result.text[len(head):] if result.text.startswith(head) else result.text


@pytest.mark.parametrize("training, expected", [
    # the call has one argument per line, the last without a trailing comma: the
    # moved keyword gets a line of its own at their indentation (it used to land
    # after "norm=None, " with a trailing space, on the closing bracket's line)
    ("model.fit(\n"
     "    Batches(\n"
     "        images,\n"
     "        norm=None\n"
     "    ),\n"
     "    workers=4,\n"
     ")\n",
     "model.fit(\n"
     "    Batches(\n"
     "        images,\n"
     "        norm=None,\n"
     "        workers=4\n"
     "    ),\n"
     ")\n"),
    # one per line, aligned with the opening bracket
    ("model.fit(Batches(images,\n"
     "                  norm=None),\n"
     "          epochs=3, workers=4)\n",
     "model.fit(Batches(images,\n"
     "                  norm=None,\n"
     "                  workers=4),\n"
     "          epochs=3)\n"),
    # one per line with a trailing comma, through a name
    ("data = Batches(\n"
     "    images,\n"
     "    norm=None,\n"
     ")\n"
     "model.fit(data, workers=4, use_multiprocessing=True)\n",
     "data = Batches(\n"
     "    images,\n"
     "    norm=None,\n"
     "    workers=4,\n"
     "    use_multiprocessing=True,\n"
     ")\n"
     "model.fit(data)\n"),
    # inline stays inline
    ("model.fit(Batches(images, norm=None), workers=4, use_multiprocessing=True)\n",
     "model.fit(Batches(images, norm=None, workers=4, use_multiprocessing=True))\n"),
    # the comment at the end of the last argument's line stays there
    ("model.fit(Batches(\n"
     "    images,\n"
     "    norm=None,  # normalised\n"
     "), workers=4)\n",
     "model.fit(Batches(\n"
     "    images,\n"
     "    norm=None,  # normalised\n"
     "    workers=4,\n"
     "))\n"),
    # the bracket alone on a line: the keywords go before it
    ("model.evaluate(Batches(images, norm=None,\n"
     "                       ),\n"
     "               max_queue_size=8)\n",
     "model.evaluate(Batches(images, norm=None, max_queue_size=8,\n"
     "                       ))\n"),
])
def test_moved_keywords_go_where_their_neighbours_are(training: str, expected: str) -> None:
    assert fixed("images = []\n" + training) == "images = []\n" + expected


@pytest.mark.parametrize("training, expected", [
    # a removed keyword's line break stays for the argument after it, with the
    # comment of its line
    ("model.fit(batches(), epochs=3, workers=4,  # three passes\n"
     "          verbose=0)\n",
     "model.fit(batches(), epochs=3,  # three passes\n"
     "          verbose=0)\n"),
    # the comment of the last kept argument's line stays: the bracket moves down
    ("model.fit(batches(), epochs=3,  # three passes\n"
     "          workers=4)\n",
     "model.fit(batches(), epochs=3,  # three passes\n"
     "          )\n"),
    ("model.fit(\n"
     "    batches(),\n"
     "    epochs=3,  # three passes\n"
     "    workers=4,\n"
     ")\n",
     "model.fit(\n"
     "    batches(),\n"
     "    epochs=3,  # three passes\n"
     ")\n"),
    # comments written before a comma, or on lines of their own, stay too
    ("model.fit(batches(),\n"
     "          epochs=3  # three passes\n"
     "          , workers=4)\n",
     "model.fit(batches(),\n"
     "          epochs=3  # three passes\n"
     "          )\n"),
    ("model.fit(batches(),\n"
     "          epochs=3,\n"
     "          # the loader\n"
     "          workers=4)\n",
     "model.fit(batches(),\n"
     "          epochs=3,\n"
     "          # the loader\n"
     "          )\n"),
    # a removed keyword's own comment goes with it
    ("model.fit(batches(),\n"
     "          workers=4,  # four threads\n"
     "          epochs=3)\n",
     "model.fit(batches(),\n"
     "          epochs=3)\n"),
])
def test_removed_keywords_leave_the_rest_of_the_call_as_it_was(
    training: str, expected: str
) -> None:
    assert fixed(training) == expected


def test_continuation_lines_are_realigned_after_a_rename() -> None:
    training = (
        "model.fit_generator(Batches(images,\n"
        "                            norm=None),\n"
        "                    steps_per_epoch=10,\n"
        "                    # stop early\n"
        "                    callbacks=[\n"
        "                        stop,\n"
        "                    ],\n"
        "                    validation_data=(images,\n"
        "                                     images),\n"
        "                    workers=4)\n"
    )
    assert fixed("images = stop = None\n" + training) == (
        "images = stop = None\n"
        "model.fit(Batches(images,\n"
        "                  norm=None,\n"
        "                  workers=4),\n"
        "          steps_per_epoch=10,\n"
        "          # stop early\n"
        "          callbacks=[\n"
        "              stop,\n"
        "          ],\n"
        "          validation_data=(images,\n"
        "                           images))\n"
    )


@pytest.mark.parametrize("training, expected", [
    # positional arguments become keywords on their own lines
    ("model.fit_generator(batches(), 10,\n"
     "                    5)\n",
     "model.fit(batches(), steps_per_epoch=10,\n"
     "          epochs=5)\n"),
    # a hanging bracket lined up with the call moves with it; one indented from
    # its line's start stays
    ("model.fit_generator(batches(), callbacks=make(\n"
     "                                  stop),\n"
     "                    validation_data=[\n"
     "    1])\n",
     "model.fit(batches(), callbacks=make(\n"
     "                        stop),\n"
     "          validation_data=[\n"
     "    1])\n"),
    # the inner lines of a string are never touched
    ('model.fit_generator(batches(), """a\n'
     '                    b""",\n'
     "                    5)\n",
     'model.fit(batches(), steps_per_epoch="""a\n'
     '                    b""",\n'
     "          epochs=5)\n"),
])
def test_keras2_renames_realign_what_was_aligned(training: str, expected: str) -> None:
    assert fixed(training, KERAS2, head=TF_KERAS_MODEL) == expected


def test_a_wrapped_expression_and_the_call_around_it_are_realigned() -> None:
    training = (
        "model.fit_generator((row\n"
        "                     for row in range(3)),\n"
        "                    steps_per_epoch=2,\n"
        "                    workers=3)\n"
    )
    assert fixed(training, KERAS2, head=TF_KERAS_MODEL) == (
        "from tf_keras.models import Sequential\n"
        "from safeloader import ThreadSafeIterator\n"
        "\n"
        "model = Sequential()\n"
        "model.fit(ThreadSafeIterator((row\n"
        "                              for row in range(3))),\n"
        "          steps_per_epoch=2,\n"
        "          workers=3)\n"
    )


def test_a_longer_value_moves_the_bracket_after_it() -> None:
    head = TF_KERAS_MODEL + "\n\ndef batches():\n    yield 1\n\n\n"
    training = (
        "def train(stop, log):\n"
        "    model.fit(batches(), workers=3, use_multiprocessing=True, callbacks=[stop,\n"
        "                                                                      log])\n"
    )
    text = fixed(training, KERAS2, unsafe=True, head=head)
    assert text.endswith(
        "    model.fit(batches(), workers=3, use_multiprocessing=False, callbacks=[stop,\n"
        "                                                                       log])\n"
    )


@pytest.mark.parametrize("init, expected", [
    # one parameter per line with a trailing comma; an empty call spread over lines
    ("    def __init__(\n"
     "        self,\n"
     "    ):\n"
     "        super().__init__(\n"
     "        )\n",
     "    def __init__(\n"
     "        self,\n"
     "        **kwargs,\n"
     "    ):\n"
     "        super().__init__(**kwargs)\n"),
    # lined up with the bracket, a comment on the first line (not copied)
    ("    def __init__(self, x,  # the data\n"
     "                 y=1):\n"
     "        super().__init__(name='x',  # named\n"
     "                         dtype=1)\n",
     "    def __init__(self, x,  # the data\n"
     "                 y=1,\n"
     "                 **kwargs):\n"
     "        super().__init__(name='x',  # named\n"
     "                         dtype=1,\n"
     "                         **kwargs)\n"),
])
def test_sld105_adds_kwargs_in_the_layout_of_the_parameters(init: str, expected: str) -> None:
    head = "import keras\n\n\nclass B(keras.utils.PyDataset):\n"
    assert fixed(init, KERAS3, head=head) == expected


def test_an_import_added_above_a_def_leaves_two_blank_lines() -> None:
    source = "def batches():\n    yield 1\n\n\nmodel.fit(batches(), workers=3)\n"
    assert fixed(source, KERAS2, head="") == (
        "from safeloader import threadsafe_generator\n\n\n@threadsafe_generator\n" + source)


def test_the_codemod_lays_out_as_the_engine_does() -> None:
    source = (
        "model.fit_generator(batches(),\n"
        "                    steps_per_epoch=10,\n"
        "                    epochs=3)\n"
    )
    rename = fix(FixKind.RENAME_GENERATOR_CALL, call_span(source, "fit_generator"), "SLD301",
                 old="fit_generator", new="fit")
    code, warnings = run_fixes(source, [rename])  # asserts the engine gives the same
    assert (code, warnings) == (
        "model.fit(batches(),\n          steps_per_epoch=10,\n          epochs=3)\n", [])


FSTRING = 'model.fit_generator(a, f"""{x}\n{y(1,\n  2)}""",\n                    5)\n'
TABS = "def f():\n\tmodel.fit_generator(a,\n\t                    b)\n"


@pytest.mark.parametrize("old, new, expected", [
    # the lines of a string (an f-string: several tokens on Python 3.12) stay
    (FSTRING, FSTRING.replace("fit_generator", "fit"),
     'model.fit(a, f"""{x}\n{y(1,\n  2)}""",\n          5)\n'),
    # tabs: a tab's width is the reader's, so the line is left as it is
    (TABS, TABS.replace("fit_generator", "fit"), TABS.replace("fit_generator", "fit")),
    # text that does not tokenize comes back as it is
    ("f(a,\n  b\n", "g(a,\n  b\n", "g(a,\n  b\n"),
])
def test_realign_moves_only_what_it_can_measure(old: str, new: str, expected: str) -> None:
    assert realign(old, new) == expected


LIBRARY = '''\
"""A library function passing the loader settings through."""


def batches(images):
    while True:
        yield images


def train(model, images, gen_workers=1,
          gen_use_multiprocessing=False):
    model.fit(batches(images), epochs=1,
              workers=gen_workers,
              use_multiprocessing=gen_use_multiprocessing)
'''


def test_a_parameter_left_unused_is_named_and_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "setup.cfg").write_text("[flake8]\nsafeloader-keras-version = 3\n")
    library = tmp_path / "library.py"
    library.write_text(LIBRARY + "\n\ndef evaluate(model, data, workers):\n"
                                 "    model.evaluate(batches(data), workers=workers)\n"
                                 "    return workers\n")
    assert main(["library.py"]) == 0
    said = "is no longer used after the fix; the signature is kept for its callers: " \
        "remove it by hand if none needs it"
    assert capsys.readouterr().err.splitlines()[:-1] == [
        f"library.py:9:26: parameter 'gen_workers' of train() {said}",
        f"library.py:10:11: parameter 'gen_use_multiprocessing' of train() {said}",
    ]
    text = library.read_text()
    assert "def train(model, images, gen_workers=1,\n          gen_use_multiprocessing=False):\n" \
        "    model.fit(batches(images), epochs=1)\n" in text
    # evaluate() still reads its parameter: nothing said
    assert "    model.evaluate(batches(data))\n    return workers\n" in text
