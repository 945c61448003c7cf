"""The Keras 3 migration fixes (SLD302, SLD301 under Keras 3) and SLD103's guard, as text.

Each case runs the analysis and applies the fixes it plans, through the
same engine ``safeloader-fix`` uses; the programs themselves are run in
``test_keras3_migration_runs.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from safeloader.analysis import AnalysisConfig, analyze_source
from safeloader.findings import Finding, FixKind
from safeloader.fix.runner import fix_text
from safeloader.fix.selection import FixSelection

KERAS3 = AnalysisConfig(keras_version="3")
KERAS2 = AnalysisConfig(keras_version="2")

DATASET = '''\
import keras
import numpy as np


class Batches(keras.utils.PyDataset):
    def __init__(self, x):
        super().__init__()
        self.x = x

    def __len__(self):
        return 1

    def __getitem__(self, index):
        return self.x


'''

FORWARDED = DATASET.replace("def __init__(self, x):\n        super().__init__()",
                            "def __init__(self, x, **kwargs):\n        super().__init__(**kwargs)")


def fixed(source: str, config: AnalysisConfig = KERAS3, unsafe: bool = False,
          path: Path = Path("train.py")) -> tuple[str, list[Finding], tuple[str, ...]]:
    """The fixed text, the findings, and the fixer's warnings."""
    found = analyze_source(source, path, config)
    chosen = FixSelection(unsafe_fixes=unsafe).fixes_to_apply(found)
    result = fix_text(source, path, chosen)
    assert result.text is not None, result.error
    return result.text, found, result.warnings


@pytest.mark.parametrize("training, expected", [
    # the constructor is the argument: any expression moves with it
    ("def train(model, n):\n"
     "    model.fit(Batches(1), epochs=2, workers=n, use_multiprocessing=True)\n",
     "def train(model, n):\n"
     "    model.fit(Batches(1, workers=n, use_multiprocessing=True), epochs=2)\n"),
    # a name bound once to the constructor call: literal values move
    ("data = Batches(1)\nmodel.fit(data, max_queue_size=4, workers=2)\n",
     "data = Batches(1, max_queue_size=4, workers=2)\nmodel.fit(data)\n"),
    # SLD301 under Keras 3: rename, Keras 1 spellings, positions, all in one pass
    ("model.fit_generator(Batches(1), 5, nb_worker=2, pickle_safe=False)\n",
     "model.fit(Batches(1, workers=2, use_multiprocessing=False), steps_per_epoch=5)\n"),
    ("model.fit_generator(Batches(1), 5, 1, 0, None, None, None, 1, None, 10, 3)\n",
     "model.fit(Batches(1, max_queue_size=10, workers=3), steps_per_epoch=5, epochs=1, "
     "verbose=0, callbacks=None, validation_data=None, validation_steps=None, "
     "validation_freq=1, class_weight=None)\n"),
])
def test_settings_move_into_the_dataset_constructor_and_the_class_forwards_them(
    training: str, expected: str
) -> None:
    text, found, warnings = fixed(DATASET + training)
    assert text == FORWARDED + expected and not warnings
    assert "SLD105" in {f.code for f in found}
    # a second run has nothing left to fix
    assert fixed(text)[0] == text


GENERATOR_REMEDY = ("remove them: Keras 3 already reads a generator in the background "
                    "(for parallel batch preparation, use safeloader.sharded_generator)")
IN_MEMORY_REMEDY = "remove them: Keras 3 loads arrays and tf.data pipelines without them"
UNKNOWN_REMEDY = ("if the data is a PyDataset, pass them to its constructor; if it is a "
                  "generator, remove them (Keras 3 already reads it in the background; for "
                  "parallel batch preparation, use safeloader.sharded_generator)")


@pytest.mark.parametrize("training, expected, remedy", [
    ("def gen():\n    yield 1\n\n\nmodel.fit(gen(), epochs=1, workers=4)\n",
     "def gen():\n    yield 1\n\n\nmodel.fit(gen(), epochs=1)\n", GENERATOR_REMEDY),
    ("model.fit((row for row in rows), workers=4)\n",
     "model.fit((row for row in rows))\n", GENERATOR_REMEDY),
    ("model.predict(np.zeros((4, 2)), workers=4, use_multiprocessing=True, )\n",
     "model.predict(np.zeros((4, 2)), )\n", IN_MEMORY_REMEDY),
    ("ds = tf.data.Dataset.range(8).batch(2)\nmodel.evaluate(ds, workers=4)\n",
     "ds = tf.data.Dataset.range(8).batch(2)\nmodel.evaluate(ds)\n", IN_MEMORY_REMEDY),
    ("model.fit([[1.0]], workers=2,\n          use_multiprocessing=False)\n",
     "model.fit([[1.0]])\n", IN_MEMORY_REMEDY),
])
def test_settings_are_removed_for_data_that_is_surely_no_pydataset(
    training: str, expected: str, remedy: str
) -> None:
    source = "import keras\nimport numpy as np\nimport tensorflow as tf\n\n" + training
    text, found, _ = fixed(source)
    assert text == source.replace(training, expected)
    [sld302] = [f for f in found if f.code == "SLD302"]
    assert sld302.message.endswith("(TypeError; Keras 3: configured); " + remedy)


@pytest.mark.parametrize("training, remedy", [
    # a generator, with more settings hidden in **kwargs: said, not fixed
    ("def gen():\n    yield 1\n\n\nmodel.fit(gen(), workers=4, **options)\n", GENERATOR_REMEDY),
    ("model.fit(Batches(1), workers=2, **options)\n", "pass them to Batches(...), a PyDataset"),
    ("model.fit(Batches(1, **options), workers=2)\n", "pass them to Batches(...), a PyDataset"),
    ("model.fit(np.zeros(2), workers=2, **options)\n", IN_MEMORY_REMEDY),
    # nothing sure about the data: both answers
    ("def train(model, data):\n    model.fit(data, workers=4)\n", UNKNOWN_REMEDY),
    ("model.fit(load(), workers=4)\n", UNKNOWN_REMEDY),
    ("class Plain:\n    pass\n\n\nmodel.fit(Plain(), workers=4)\n", UNKNOWN_REMEDY),
])
def test_an_unfixed_sld302_advises_what_is_true_of_the_data(training: str, remedy: str) -> None:
    found = analyze_source(DATASET + training, Path("train.py"), KERAS3)
    [sld302] = [f for f in found if f.code == "SLD302"]
    assert sld302.fixes == ()
    assert sld302.message.endswith("(TypeError; Keras 3: configured); " + remedy)


@pytest.mark.parametrize("training", [
    # a parameter may be a PyDataset: deleting its settings would make it single-threaded
    "def train(model, data):\n    model.fit(data, workers=4)\n",
    "def train(model, data):\n    model.fit_generator(data, workers=4)\n",
    # through a name, a non-literal value might not be bound where the constructor runs
    "data = Batches(1)\nn = 2\nmodel.fit(data, workers=n)\n",
    # the constructor passes a setting already, or may through **kwargs
    "model.fit(Batches(1, workers=1), workers=2)\n",
    "model.fit(Batches(1, **options), workers=2)\n",
    # workers hidden in **kwargs, or given by position to the modern fit
    "model.fit(Batches(1), **settings)\n",
])
def test_no_settings_fix_where_it_could_change_what_runs(training: str) -> None:
    source = DATASET + training
    found = analyze_source(source, Path("train.py"), KERAS3)
    for finding in found:
        if finding.code in ("SLD301", "SLD302"):
            assert finding.fixes == (), finding


def test_a_dataset_class_whose_init_cannot_be_fixed_gets_no_fix() -> None:
    source = DATASET.replace("super().__init__()", "super().__init__()\n        self.kw = kwargs")
    source = source.replace("def __init__(self, x):", "def __init__(self, x, **kwargs):")
    found = analyze_source(source + "model.fit(Batches(1), workers=2)\n", None, KERAS3)
    assert [(f.code, f.fixes) for f in found if f.code == "SLD302"] == [("SLD302", ())]


def test_a_dataset_class_of_another_module_is_fixed_there(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "data.py").write_text(DATASET, encoding="utf-8")
    train = tmp_path / "train.py"
    source = "import keras\nfrom data import Batches\n\nmodel.fit(Batches(1), workers=2)\n"
    train.write_text(source, encoding="utf-8")
    [finding] = analyze_source(source, train, KERAS3)
    kinds = [(fix.kind, fix.path) for fix in finding.fixes]
    assert kinds == [(FixKind.REMOVE_LOADER_SETTINGS, None), (FixKind.ADD_LOADER_SETTINGS, None),
                     (FixKind.FORWARD_KWARGS, (tmp_path / "data.py").resolve())]
    assert "pass them to Batches(...), a PyDataset" in finding.message


def test_sld301_under_keras2_keeps_the_settings() -> None:
    source = "def gen():\n    yield 1\n\n\nmodel.fit_generator(gen(), 5, workers=1)\n"
    text, _, _ = fixed(source, KERAS2)
    assert text.endswith("model.fit(gen(), steps_per_epoch=5, workers=1)\n")


def test_messages_name_the_evidence_for_keras3(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "p"\ndependencies = ["keras>=3.3"]\n', encoding="utf-8")
    train = tmp_path / "train.py"
    source = DATASET.replace("keras.utils.PyDataset", "keras.utils.Sequence") + \
        "def train(model, data):\n    model.fit(data, workers=4)\n"
    found = {f.code: f.message for f in analyze_source(source, train, AnalysisConfig())}
    assert "(TypeError; Keras 3: pyproject.toml: keras>=3.3)" in found["SLD302"]
    assert found["SLD105"].endswith("(Keras 3: pyproject.toml: keras>=3.3)")


@pytest.mark.parametrize("workers", ["0", "-1", "False"])
def test_workers_of_zero_or_less_start_nothing_in_keras2(workers: str) -> None:
    source = ("import tf_keras as keras\n\n\ndef gen():\n    yield 1\n\n\n"
              f"model.fit(gen(), workers={workers}, use_multiprocessing=True)\n"
              f"model.fit_generator(gen(), 10, workers={workers})\n")
    assert [f.code for f in analyze_source(source, None, KERAS2)] == ["SLD301"]
    # one worker with processes still starts one process (Keras 2: workers > 0)
    one = source.replace(f"workers={workers}, use", "workers=1, use")
    assert {f.code for f in analyze_source(one, None, KERAS2)} >= {"SLD102", "SLD103"}


SCRIPT = '''\
"""Train."""
import numpy as np
import tf_keras as keras

EPOCHS = 1
# the data
rows = np.zeros((8, 2))


class Batches(keras.utils.Sequence):
    def __len__(self):
        return 2

    def __getitem__(self, index):
        return SCALE * index


model = keras.Sequential()
model.fit(Batches(), epochs=EPOCHS, workers=2, use_multiprocessing=True)

if __name__ == "__main__":
    print("done")
'''


def test_sld103_moves_the_training_under_the_guard_and_merges_the_old_one() -> None:
    source = SCRIPT.replace("SCALE * index", "index")
    text, found, warnings = fixed(source, KERAS2, unsafe=True)
    assert [f.code for f in found] == ["SLD103"] and not warnings
    assert text == source.replace('''EPOCHS = 1
# the data
rows = np.zeros((8, 2))
''', "EPOCHS = 1\n").replace('''model = keras.Sequential()
model.fit(Batches(), epochs=EPOCHS, workers=2, use_multiprocessing=True)

if __name__ == "__main__":
    print("done")
''', '''if __name__ == "__main__":
    # the data
    rows = np.zeros((8, 2))

    model = keras.Sequential()
    model.fit(Batches(), epochs=EPOCHS, workers=2, use_multiprocessing=True)
    print("done")
''')
    assert fixed(source, KERAS2)[0] == source  # unsafe: only when asked for
    assert fixed(text, KERAS2, unsafe=True)[0] == text


@pytest.mark.parametrize("change, reason", [
    (("SCALE * index", "rows[index]"),
     "'Batches', which worker processes run, reads the global 'rows', which the move "
     "would hide from them"),
    (("class Batches(keras.utils.Sequence):", "class Batches(keras.utils.Sequence):\n"
      "    size = len(rows)\n"),
     "'Batches' reads 'rows' when the module is imported"),
    (('    print("done")\n', '    print("done")\nelse:\n    pass\n'),
     "the existing 'if __name__ == \"__main__\":' block has an else branch"),
])
def test_sld103_refuses_a_move_that_would_break_the_program(
    change: tuple[str, str], reason: str
) -> None:
    source = SCRIPT.replace(*change).replace("SCALE * index", "index")
    text, found, warnings = fixed(source, KERAS2, unsafe=True)
    assert text == source
    assert len(warnings) == 1 and reason in warnings[0]


def test_a_pydataset_with_workers_of_zero_or_less_starts_no_process() -> None:
    source = ("import keras\n\n\nclass D(keras.utils.PyDataset):\n"
              "    def __init__(self, **kw):\n        super().__init__(**kw)\n\n\n"
              "model.fit(D(workers=-1, use_multiprocessing=True))\n"
              "model.fit(D(workers=0, use_multiprocessing=True))\n"
              "model.fit(D(workers=2, use_multiprocessing=True))\n")
    found = analyze_source(source, None, KERAS3)
    assert [(f.code, f.line) for f in found] == [("SLD103", 11)]


def test_a_keras3_sequence_built_with_processes_starts_them_after_the_safe_pass() -> None:
    """Keras 3's keras.utils.Sequence is PyDataset: once SLD302 has moved the settings into
    its constructor, SLD103 is still reported there, as it was at the call."""
    source = DATASET.replace("keras.utils.PyDataset", "keras.utils.Sequence") + (
        "model.fit(Batches(1), workers=2, use_multiprocessing=True)\n")
    text, found, _ = fixed(source)
    assert [f.code for f in found] == ["SLD105", "SLD103", "SLD302"]
    assert text.endswith("model.fit(Batches(1, workers=2, use_multiprocessing=True))\n")
    [after] = analyze_source(text, Path("train.py"), KERAS3)
    assert after.code == "SLD103"
    assert after.message.startswith("SLD103 fit(Batches(..., use_multiprocessing=True)) ")
    # a Keras 2 Sequence takes no such setting: under Keras 2 the constructor starts nothing
    keras2 = text.replace("import keras\n", "import tf_keras as keras\n")
    assert [f.code for f in analyze_source(keras2, Path("train.py"), KERAS2)] == []
