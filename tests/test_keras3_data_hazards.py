"""The Keras 3 data hazards SLD303-SLD306: what is reported, what is not, and the fixes
as text (the fixed programs are run on real Keras in ``test_keras3_hazard_runs.py``)."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from pyflakes.checker import Checker
from pyflakes.messages import UnusedImport

from codemod_helpers import fix, run_fixes, span_of
from lock_wrappers import forum_wrapper

from safeloader.analysis import AnalysisConfig, analyze_source
from safeloader.findings import Finding, FixKind
from safeloader.fix.cli import main as safeloader_fix
from safeloader.fix.runner import fix_text
from safeloader.fix.selection import FixSelection, fix_key

KERAS3 = AnalysisConfig(keras_version="3")
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SRC = FIXTURES.parent / "src"

#: the forum's lock wrapper under another name, its decorator and a generator it wraps
WRAPPER = "import threading\n\n\n" + forum_wrapper("Locked") + '''


def locked(f):
    def g(*a, **kw):
        return Locked(f(*a, **kw))
    return g


@locked
def batches():
    while True:
        yield 1


'''


def found(source: str, code: str, config: AnalysisConfig = KERAS3) -> list[Finding]:
    return [f for f in analyze_source(textwrap.dedent(source), None, config) if f.code == code]


def lines(source: str, code: str, config: AnalysisConfig = KERAS3) -> list[int]:
    return [f.line for f in found(source, code, config)]


def fixed(source: str, config: AnalysisConfig = KERAS3) -> str:
    """``source`` after every default fix, checked to be stable on a second run."""
    chosen = FixSelection().fixes_to_apply(analyze_source(source, Path("train.py"), config))
    result = fix_text(source, Path("train.py"), chosen)
    assert result.text is not None, result.error
    again = FixSelection().fixes_to_apply(analyze_source(result.text, Path("train.py"), config))
    assert fix_text(result.text, Path("train.py"), again).text == result.text
    return result.text


def unused_imports(source: str) -> set[str]:
    """The names pyflakes (flake8's F401) reports as imported but unused."""
    return {m.message_args[0] for m in Checker(ast.parse(source)).messages
            if isinstance(m, UnusedImport)}


# -- SLD303 -------------------------------------------------------------------

@pytest.mark.parametrize("training", [
    "def train(model):\n    model.fit(batches(), steps_per_epoch=2)\n",
    "def train(model):\n    data = batches()\n    model.fit(data, steps_per_epoch=2)\n",
    "def train(model, g):\n    model.fit(g, validation_data=Locked(g))\n",
    "def train(model, g):\n    model.evaluate(x=Locked(g), steps=1)\n",
    "def train(model):\n    model.fit_generator(batches(), 2)\n",
])
def test_sld303_reports_wrapper_objects_handed_to_keras3(training: str) -> None:
    (finding,) = found(WRAPPER + training, "SLD303")
    assert "not a generator" in finding.message and "Unrecognized data type" in finding.message


@pytest.mark.parametrize("training", [
    # a generator, or something the analysis cannot see
    "def train(model, g):\n    model.fit(g)\n",
    "def train(model):\n    model.fit(batches.__wrapped__())\n",
    "def train(model):\n    data = batches()\n    data = iter([])\n    model.fit(data)\n",
    "def train(model, it):\n    model.fit(it.Locked(1))\n",
])
def test_sld303_stays_silent_where_it_cannot_be_sure(training: str) -> None:
    assert lines(WRAPPER + training, "SLD303") == []


def test_sld303_is_keras3_only() -> None:
    training = "def train(model):\n    model.fit(batches(), steps_per_epoch=2)\n"
    assert lines(WRAPPER + training, "SLD303", AnalysisConfig(keras_version="2")) == []
    assert lines(WRAPPER + training, "SLD303", AnalysisConfig()) == []  # unknown Keras


@pytest.mark.parametrize("change", [
    ("class Locked:", "class Locked(Base):"),             # an unknown base may be a PyDataset
    ("return next(self.it)", "return self.it"),           # hands out no item
    ("self.it = it", "self.it = make()"),                 # not the wrapped argument
    ("def __iter__(self):\n        return self", "def __iter__(self):\n        yield 1"),
    ("return Locked(f(*a, **kw))", "return list(f(*a, **kw))"),  # the decorator wraps nothing
])
def test_wrappers_are_recognised_by_structure_only(change: tuple[str, str]) -> None:
    training = "def train(model):\n    model.fit(batches(), steps_per_epoch=2)\n"
    assert lines(WRAPPER + training, "SLD303") == [30]
    assert lines(WRAPPER.replace(*change) + training, "SLD303") == []


def test_sld303_fix_replaces_the_pair_and_leaves_no_unused_import() -> None:
    source = WRAPPER + "def train(model):\n    model.fit(batches(), steps_per_epoch=2)\n"
    (finding,) = found(source, "SLD303")
    assert [(f.kind, f.params["replacement"]) for f in finding.fixes] == [
        (FixKind.REPLACE_HANDWRITTEN, "threadsafe_generator"),
        (FixKind.REPLACE_HANDWRITTEN, "ThreadSafeIterator")]
    text = fixed(source)
    assert text.startswith("from safeloader import threadsafe_generator as locked\n\n\n@locked\n")
    assert "threading" not in text and "class Locked" not in text
    assert unused_imports(text) == set()
    # the class still used elsewhere keeps its name, now safeloader's
    used = source + "\n\nEMPTY = Locked(iter(()))\n"
    text = fixed(used)
    assert ("from safeloader import ThreadSafeIterator as Locked, "
            "threadsafe_generator as locked\n") in text
    assert unused_imports(text) == set()


#: a class whose generator method is under the wrapper decorator, as a video
#: classifier's DataSet.frame_generator is
METHOD = WRAPPER + '''\
class Clips:
    @locked
    def frames(self, size):
        while True:
            yield size


'''


@pytest.mark.parametrize("training", [
    "def train(model):\n    model.fit(Clips().frames(2), steps_per_epoch=2)\n",
    "def train(model):\n    data = Clips()\n    gen = data.frames(2)\n    model.fit(gen)\n",
    "def train(model):\n    model.fit_generator(Clips().frames(2), 2, workers=3)\n",
])
def test_sld303_reports_a_generator_method_under_the_wrapper_decorator(training: str) -> None:
    (finding,) = found(METHOD + training, "SLD303")
    assert "what @locked makes of 'frames'" in finding.message
    assert [f.params["replacement"] for f in finding.fixes] == [
        "threadsafe_generator", "ThreadSafeIterator"]


@pytest.mark.parametrize("training", [
    # a method the class does not define under the decorator, or an unknown receiver
    "def train(model, clips):\n    model.fit(clips.frames(2))\n",
    "def train(model):\n    model.fit(Clips().other(2))\n",
    "def train(model):\n    model.fit(Clips.frames(Clips(), 2))\n",
])
def test_sld303_leaves_other_method_calls_alone(training: str) -> None:
    assert lines(METHOD + training, "SLD303") == []


def test_a_wrapped_generator_method_loses_its_loader_settings_in_one_pass() -> None:
    # the wrapper's result is a generator to Keras 3 once SLD303 gives it safeloader's
    # decorator, so SLD301's rename drops workers (without that, it had no fix at all)
    source = METHOD + ("def train(model):\n    gen = Clips().frames(2)\n"
                       "    model.fit_generator(gen, 2, workers=3)\n")
    (rename,) = found(source, "SLD301")
    assert rename.fixes[0].params["drop"] == "workers"
    assert "    model.fit(gen, steps_per_epoch=2)\n" in fixed(source)


def test_sld303_without_fix_where_the_class_does_more() -> None:
    source = WRAPPER.replace("    def __iter__", "    def __len__(self):\n        return 3\n\n"
                             "    def __iter__") + "def train(model):\n    model.fit(batches())\n"
    (finding,) = found(source, "SLD303")
    assert finding.fixes == ()
    assert "use safeloader.threadsafe_generator" in finding.message


def test_sld203_and_sld303_plan_the_same_edits() -> None:
    source = WRAPPER + "def train(model):\n    model.fit(batches(), steps_per_epoch=2)\n"
    findings = analyze_source(source, None, KERAS3)
    sld203 = {fix_key(fix_) for f in findings if f.code == "SLD203" for fix_ in f.fixes}
    sld303 = {fix_key(fix_) for f in findings if f.code == "SLD303" for fix_ in f.fixes}
    assert sld203 == sld303 and len(sld303) == 2


@pytest.mark.parametrize("name", ["sld203_forum_pair.py", "sld203_renamed_pair.py",
                                  "sld203_decorator_only.py", "sld303_lock_wrapper_keras3.py"])
def test_wrapper_fixes_add_no_unused_import(name: str) -> None:
    before = (FIXTURES / name).read_text()
    after = (FIXTURES / "expected" / name).read_text()
    assert unused_imports(after) <= unused_imports(before)


# -- SLD304 -------------------------------------------------------------------

DATASET = '''\
import keras


class Pairs(keras.utils.PyDataset):
    def __len__(self):
        return 2

    def __getitem__(self, index):
'''


@pytest.mark.parametrize("body, expected", [
    ("        return [index, index], [index]\n", [9, 9]),
    ("        return ([index, index], index)\n", [9]),
    ("        return [[index, index], index]\n", [9]),            # inside a whole-batch list
    ("        return (index, [index]), index\n", [9]),
    ("        x = [index]\n        return x, index\n", [9]),
    ("        return [index, index]\n", []),                       # the whole batch: works
    ("        x = [index]\n        x = [index, 1]\n        return x, index\n", []),
    ("        x = make(index)\n        return x, index\n", []),
    ("        return [i for i in index], index\n", [9]),           # a comprehension
    ("        x = [i for i in index]\n        return x, index\n", [9]),
    ("        return [i for i in index]\n", []),                   # the whole batch: works
    ("        return list(index), index\n", []),                   # a call: not guessed at
])
def test_sld304_lists_inside_batches(body: str, expected: list[int]) -> None:
    assert lines(DATASET + body, "SLD304") == expected


def test_sld304_is_keras3_only_and_for_datasets_only() -> None:
    body = "        return [index, index], index\n"
    assert lines(DATASET + body, "SLD304", AnalysisConfig(keras_version="2")) == []
    plain = (DATASET + body).replace("(keras.utils.PyDataset)", "")
    assert lines(plain, "SLD304") == []


@pytest.mark.parametrize("before, after", [
    ("return [a, b], [y]", "return (a, b), (y,)"),
    ("return [a, b,], [y,]", "return (a, b,), (y,)"),
    ("return ([a, *rest]), y", "return ((a, *rest)), y"),
    ("return [  # inputs\n    a,\n    b,\n], y", "return (  # inputs\n    a,\n    b,\n), y"),
    ("return [], y", "return (), y"),
    ("return [a * k for k in b], y", "return tuple(a * k for k in b), y"),
    ("return ([a for _ in b if y]), y", "return (tuple(a for _ in b if y)), y"),
    ("return [  # scaled\n        a * k\n        for k in b\n    ], y",
     "return tuple(  # scaled\n        a * k\n        for k in b\n    ), y"),
    ("return [a * k\n            for k in b], y",
     "return tuple(a * k\n                 for k in b), y"),
])
def test_list_to_tuple_keeps_everything_but_the_brackets(before: str, after: str) -> None:
    source = f"def f(a, b, y, rest):\n    {before}\n"
    kind = ast.ListComp if " for " in before else ast.List
    spans = [span_of(source, kind, index) for index in range(before.count("["))]
    text, warnings = run_fixes(source, [fix(FixKind.LIST_TO_TUPLE, span, "SLD304")
                                        for span in spans])
    assert text == f"def f(a, b, y, rest):\n    {after}\n" and warnings == []


# -- SLD305 -------------------------------------------------------------------

STEPS = '''\
import math

import numpy as np

BATCH = 32


def train(model, data, n):
    half = n / 2
'''


@pytest.mark.parametrize("value", [
    "2.5", "n / BATCH", "n * 0.7 // BATCH", "(n * 0.7) // BATCH", "-(n / 2)", "half",
    "float(n)", "np.ceil(n / BATCH)", "np.floor(n)", "n // BATCH + 0.0",
])
def test_sld305_reports_surely_float_steps(value: str) -> None:
    source = STEPS + f"    model.fit(data, steps_per_epoch={value})\n"
    (finding,) = found(source, "SLD305")
    assert finding.line == 10 and f"steps_per_epoch={value}" in finding.message


@pytest.mark.parametrize("value", [
    "2", "n // BATCH", "int(n * 0.7)", "math.ceil(n / BATCH)", "math.floor(n * 0.5)",
    "round(n / BATCH)", "len(data) // BATCH", "n * 2", "np.round(n)", "steps",
])
def test_sld305_leaves_integers_and_unknowns_alone(value: str) -> None:
    source = STEPS + f"    model.fit(data, steps_per_epoch={value})\n"
    assert lines(source, "SLD305") == []


def test_sld305_reads_every_step_count_by_keyword_or_position() -> None:
    source = STEPS + (
        "    model.fit(data, validation_data=data, validation_steps=half)\n"
        "    model.evaluate(data, steps=half)\n"
        "    model.predict(data, None, 0, half)\n"
        "    model.fit_generator(data, half, 2, 0, None, data, half)\n"
        "    model.evaluate_generator(data, half)\n"
    )
    assert lines(source, "SLD305") == [10, 11, 12, 13, 13, 14]


def test_sld305_shadowed_float_is_not_the_builtin() -> None:
    source = STEPS + "    float = int\n    model.fit(data, steps_per_epoch=float(n))\n"
    assert lines(source, "SLD305") == []


@pytest.mark.parametrize("value, expected", [
    ("2.5", "3"), ("2.0", "2"), ("1e3", "1000"), ("+0.5", "1"),
    ("n / BATCH", "math.ceil(n / BATCH)"), ("(n / BATCH)", "math.ceil(n / BATCH)"),
    ("half", "math.ceil(half)"),
])
def test_sld305_fix_rounds_up_as_keras2_counted(value: str, expected: str) -> None:
    source = STEPS + f"    model.fit(data, steps_per_epoch={value})\n"
    assert f"steps_per_epoch={expected})" in fixed(source)


def test_sld305_fix_imports_math_once_or_falls_back_to_ceil() -> None:
    without = STEPS.replace("import math\n\n", "")
    text = fixed(without + "    model.fit(data, steps_per_epoch=n / 2, validation_steps=half)\n")
    assert text.startswith("import numpy as np\nimport math\n") and text.count("import math") == 1
    assert "steps_per_epoch=math.ceil(n / 2), validation_steps=math.ceil(half))" in text
    bound = without.replace("BATCH = 32", "BATCH = 32\nmath = None")
    text = fixed(bound + "    model.fit(data, steps_per_epoch=n / 2)\n")
    assert "from math import ceil\n" in text and "steps_per_epoch=ceil(n / 2))" in text


@pytest.mark.parametrize("source", [
    STEPS + "    model.fit(data, steps_per_epoch=-1.5)\n",
    STEPS.replace("n):", "n, math):") + "    model.fit(data, steps_per_epoch=n / 2)\n",
    STEPS.replace("n):", "n):\n    ceil = 1") + "    model.fit(data, steps_per_epoch=n / 2)\n",
])
def test_sld305_without_fix_where_rounding_up_is_not_sure(source: str) -> None:
    (finding,) = found(source, "SLD305")
    assert finding.fixes == ()


def test_one_pass_renames_rounds_and_replaces_together() -> None:
    source = WRAPPER + "def train(model, n):\n    model.fit_generator(batches(), n / 4, 2)\n"
    text = fixed(source)
    assert "model.fit(batches(), steps_per_epoch=math.ceil(n / 4), epochs=2)\n" in text
    assert text.startswith("import math\n") and unused_imports(text) == set()


# -- SLD306 -------------------------------------------------------------------

SEQUENCE = '''\
import keras

FACTOR = 4


class Batches(keras.utils.Sequence):
    def __len__(self):
        return 10

    def __getitem__(self, index):
        return index, index


def train(model):
    data = Batches()
'''


@pytest.mark.parametrize("call, expected", [
    ("model.fit(data, steps_per_epoch=len(data) * 8)", [16]),
    ("model.fit(data, steps_per_epoch=FACTOR * len(data))", [16]),
    ("model.fit(data, steps_per_epoch=len(data) + 1)", [16]),
    ("model.fit(data, steps_per_epoch=11)", [16]),
    ("model.fit(x=data, validation_data=data, validation_steps=20)", [16]),
    ("model.predict(data, steps=len(data) * 1.5)", [16]),
    ("model.fit(data, steps_per_epoch=10)", []),
    ("model.fit(data, steps_per_epoch=len(data))", []),
    ("model.fit(data, steps_per_epoch=len(data) * 1)", []),
    ("model.fit(data, steps_per_epoch=len(data) + 0)", []),
    ("model.fit(data, steps_per_epoch=len(other) * 8)", []),
    ("model.fit(data, validation_data=other, validation_steps=len(data) * 8)", []),
    ("model.fit(iter(data), steps_per_epoch=len(data) * 8)", []),
])
def test_sld306_steps_provably_beyond_the_length(call: str, expected: list[int]) -> None:
    findings = found(SEQUENCE + f"    {call}\n", "SLD306")
    assert [f.line for f in findings] == expected
    assert all(f.fixes == () and "ends each epoch" in f.message for f in findings)


def test_sld306_needs_a_dataset_class_of_the_project_and_keras3() -> None:
    plain = SEQUENCE.replace("(keras.utils.Sequence)", "") + (
        "    model.fit(data, steps_per_epoch=len(data) * 8)\n")
    assert lines(plain, "SLD306") == []
    looped = SEQUENCE + "    model.fit(data, steps_per_epoch=len(data) * 8)\n"
    assert lines(looped, "SLD306", AnalysisConfig(keras_version="2")) == []


def test_sld304_comprehension_fix_only_where_tuple_is_the_builtin() -> None:
    body = "        return [i for i in index], index\n"
    [finding] = found(DATASET + body, "SLD304")
    assert "the list [i for i in index] inside its batch" in finding.message
    assert [fix.kind for fix in finding.fixes] == [FixKind.LIST_TO_TUPLE]
    assert fixed(DATASET + body).endswith("        return tuple(i for i in index), index\n")
    # __getitem__ binds tuple: reported, no fix
    local = "        tuple = list\n" + body
    [finding] = found(DATASET + local, "SLD304")
    assert finding.fixes == ()
    # the module binds it: the fix is left undone, with a warning
    source = DATASET.replace("import keras\n", "import keras\n\ntuple = list\n") + body
    [finding] = found(source, "SLD304")
    result = fix_text(source, Path("train.py"), FixSelection().fixes_to_apply([finding]))
    assert result.text == source
    assert any("'tuple' names something else in this module" in warning
               for warning in result.warnings)


# -- SLD303 across the project's modules ----------------------------------------

def _project(directory: Path, **modules: str) -> Path:
    (directory / ".git").mkdir()
    for name, text in modules.items():
        (directory / f"{name}.py").write_text(text, encoding="utf-8")
    return directory


@pytest.mark.parametrize("script, wrapper", [
    # the decorated generator imported, called where fit is
    ("from loaders import batches\n\nmodel.fit(batches(), steps_per_epoch=2)\n", "locked"),
    # through the module's name
    ("import loaders\n\nmodel.fit(loaders.batches(), steps_per_epoch=2)\n", "locked"),
    # the generator here, under the decorator the project module defines
    ("from loaders import locked\n\n\n@locked\ndef frames():\n    yield 1\n\n\n"
     "model.fit(frames(), steps_per_epoch=2)\n", "locked"),
    # the wrapper class itself, imported under another name
    ("from loaders import Locked as Safe\n\nmodel.fit(Safe(iter([])), steps_per_epoch=2)\n",
     "Locked"),
    # an instance of a project class whose method is under the decorator
    ("from loaders import Clips\n\nclips = Clips()\nmodel.fit(clips.frames(2))\n", "locked"),
])
def test_sld303_follows_the_wrapper_into_the_project_module_and_fixes_it_there(
        tmp_path: Path, script: str, wrapper: str) -> None:
    project = _project(tmp_path, loaders=METHOD, train=script)
    [finding] = [f for f in analyze_source(script, project / "train.py", KERAS3)
                 if f.code == "SLD303"]
    assert finding.message.endswith("(in loaders.py)")
    assert {fix.path for fix in finding.fixes} == {project / "loaders.py"}
    assert wrapper in {fix.params["name"] for fix in finding.fixes}


def test_sld303_across_modules_is_fixed_by_safeloader_fix_in_one_pass(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = ("import keras\n\nfrom loaders import Clips\n\n"
              "model = keras.Sequential()\nmodel.fit(Clips().frames(2), steps_per_epoch=2)\n")
    project = _project(tmp_path, loaders=METHOD, train=script)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(project)
        assert safeloader_fix(["--keras-version", "3", "."]) == 0
        assert safeloader_fix(["--keras-version", "3", "--check", "."]) == 0
    assert (project / "train.py").read_text(encoding="utf-8") == script
    loaders = (project / "loaders.py").read_text(encoding="utf-8")
    assert "class Locked" not in loaders and "def locked" not in loaders
    assert "threadsafe_generator as locked" in loaders and unused_imports(loaders) == set()


@pytest.mark.parametrize("script", [
    # a module that is not the project's: nothing to follow
    "from elsewhere import batches\n\nmodel.fit(batches(), steps_per_epoch=2)\n",
    # a plain generator of the project module
    "from loaders import plain\n\nmodel.fit(plain(), steps_per_epoch=2)\n",
])
def test_sld303_across_modules_stays_silent_where_it_cannot_be_sure(tmp_path: Path,
                                                                    script: str) -> None:
    project = _project(tmp_path, loaders=WRAPPER + "def plain():\n    yield 1\n", train=script)
    assert [f for f in analyze_source(script, project / "train.py", KERAS3)
            if f.code == "SLD303"] == []


def test_a_wrapper_other_modules_import_stays_importable_after_the_fix(tmp_path: Path) -> None:
    # the forum's pair alone in utils.py, its decorator used by data.py, fit in train.py
    data = "from utils import locked\n\n\nclass Clips:\n    @locked\n" \
           "    def frames(self, size):\n        while True:\n            yield size\n"
    script = ("import keras\n\nfrom data import Clips\n\n"
              "model = keras.Sequential()\nmodel.fit(Clips().frames(2), steps_per_epoch=2)\n")
    utils = WRAPPER.split("\n\n\n@locked")[0] + "\n"
    assert utils.rstrip().endswith("return g")
    project = _project(tmp_path, utils=utils, data=data, train=script)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(project)
        assert safeloader_fix(["--keras-version", "3", "."]) == 0
    utils = (project / "utils.py").read_text(encoding="utf-8")
    assert utils == "from safeloader import threadsafe_generator as locked\n"
    # the fixed modules import, and the method's result is safeloader's generator
    check = ("import inspect\nfrom data import Clips\nframes = Clips().frames(3)\n"
             "print(inspect.isgenerator(frames), next(frames))\n")
    done = subprocess.run([sys.executable, "-c", check], cwd=project, capture_output=True,
                          text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(SRC), "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "3"]


def test_sld203_keeps_a_wrapper_class_its_module_never_uses_importable() -> None:
    source = "import threading\n\n\n" + forum_wrapper("Locked").rstrip("\n") + "\n"
    [finding] = [f for f in analyze_source(source, Path("utils.py"), KERAS3)
                 if f.code == "SLD203"]
    chosen = FixSelection(select=("SLD203",)).fixes_to_apply([finding])
    result = fix_text(source, Path("utils.py"), chosen)
    assert result.text == "from safeloader import ThreadSafeIterator as Locked\n"
