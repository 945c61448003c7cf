"""How the doctor recognises real objects, finds call sites and waits for imports.

No Keras needed: the objects are generators, iterators and arrays made here.
"""

from __future__ import annotations

import inspect
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest

from safeloader import ThreadSafeIterator, sharded_generator, threadsafe_generator
from safeloader.doctor.callsite import find_call_site
from safeloader.doctor.feeds import classify, definition_of, describe, is_thread_safe
from safeloader.doctor.flavours import _capped, known_batches
from safeloader.doctor.import_hook import PostImportHook
from safeloader.doctor.spawn_parity import unguarded_start


def numbers():
    yield from range(10)


class Counter:
    """An iterator class written in Python, without a lock."""

    def __init__(self):
        self.count = 0

    def __iter__(self):
        return self

    def __next__(self):
        self.count += 1
        return self.count


class LockedCounter(Counter):
    def __init__(self):
        super().__init__()
        self.lock = threading.Lock()


@pytest.mark.parametrize("make, safe", [
    (numbers, False),
    (lambda: (n for n in range(3)), False),
    (Counter, False),
    (LockedCounter, True),
    (lambda: ThreadSafeIterator(numbers()), True),
    (lambda: threadsafe_generator(numbers)(), True),
    (lambda: iter([1, 2, 3]), True),  # a C iterator: one step under the GIL
])
def test_thread_safety_is_read_from_the_real_object(make, safe):
    assert is_thread_safe(make()) is safe


def test_a_sharded_generator_is_thread_safe():
    with sharded_generator(lambda index, count: iter(range(index, 6, count)), 2) as merged:
        assert is_thread_safe(merged)


def test_definitions_and_names():
    generator = numbers()
    where = definition_of(generator)
    assert Path(where.file).resolve() == Path(__file__).resolve()
    assert where.line == numbers.__code__.co_firstlineno
    assert definition_of(ThreadSafeIterator(generator)) == where
    assert definition_of(Counter()).line == inspect.getsourcelines(Counter)[1]
    assert describe(generator) == "generator numbers()"
    assert describe(ThreadSafeIterator(generator)) == "ThreadSafeIterator(generator numbers())"
    assert describe(Counter()) == "Counter"


class _Unhashable(type):
    __hash__ = None  # type: ignore[assignment]


class _OddClass(metaclass=_Unhashable):
    pass


def test_a_class_definition_is_found_whatever_its_metaclass():
    assert definition_of(Counter()) == definition_of(Counter())  # remembered per class
    assert definition_of(_OddClass()).line == inspect.getsourcelines(_OddClass)[1]


@pytest.mark.parametrize("data, kind", [
    (numbers(), "generator"),
    (Counter(), "generator"),
    (np.zeros((4, 2)), "arrays"),
    ({"a": np.zeros(3), "b": [np.zeros(3)]}, "arrays"),
    ([np.zeros(3), np.zeros(3)], "arrays"),
    ("text", "other"),
    (None, "other"),
])
def test_what_a_call_is_fed(data, kind):
    assert classify(data).kind == kind


def test_a_timed_feed_records_each_pull_and_the_last_batch():
    feed = classify(numbers())
    wrapper = feed.instrumented(feed.obj, threaded=False)
    assert type(wrapper).__name__ == "generator"  # what Keras 3 accepts
    assert list(wrapper) == list(range(10))
    alone, batch = feed.read_alone()
    assert batch == 9 and len(feed.items.durations) == 10
    assert alone.seconds_per_batch >= 0
    threaded = classify(numbers()).instrumented(numbers(), threaded=True)
    assert isinstance(threaded, ThreadSafeIterator)


@pytest.mark.parametrize("given, size, cap, expected", [
    (500, None, 26, 26),  # asked for more: capped
    (10, None, 26, 10),  # asked for fewer: kept
    (None, None, 26, 26),  # unknown length: capped
    (None, 8, 26, None),  # shorter than the cap: Keras' own count
    (None, 100, 26, 26),
])
def test_capped_steps(given, size, cap, expected):
    assert _capped(given, size, cap) == expected


def test_known_batches_of_arrays():
    assert known_batches(np.zeros((100, 3)), None, None) == 4  # batches of 32
    assert known_batches(np.zeros((100, 3)), None, 10) == 10
    assert known_batches((np.zeros((50, 3)), np.zeros(50)), None, 25) == 2  # validation_data
    assert known_batches({"a": np.zeros((64, 1))}, None, 32) == 2
    assert known_batches(numbers(), None, 32) is None


def test_known_batches_of_datasets_with_and_without_a_length():
    keras = pytest.importorskip("keras")
    tf_keras = pytest.importorskip("tf_keras")

    class Sized(keras.utils.PyDataset):
        def __len__(self):
            return 3

    class Endless(keras.utils.PyDataset):  # no __len__: len() raises TypeError
        num_batches = None

    class Unsized(tf_keras.utils.Sequence):  # the base __len__ raises NotImplementedError
        def __getitem__(self, index):
            return index

    assert known_batches(Sized(), None, None) == 3
    assert known_batches(Endless(), None, None) is None
    assert known_batches(Unsized(), None, None) is None


def test_the_call_site_is_the_first_frame_outside_the_libraries():
    library = {"find_call_site": find_call_site}
    exec(compile("def fit():\n    return find_call_site(['/fake/keras/'])\n",  # noqa: S102
                 "/fake/keras/trainer.py", "exec"), library)
    position = library["fit"]()  # the line the test calls "Keras" from
    assert position.line == sys._getframe().f_lineno - 1
    assert Path(position.file).resolve() == Path(__file__).resolve()


def test_unguarded_start_finds_the_module_level_line(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent("""
        import probe
        start = probe.where()
        if __name__ == "__main__":
            guarded = probe.where()
        else:
            other = probe.where()

        def main():
            return probe.where()

        late = main()
    """).lstrip())
    probe = type(sys)("probe")
    probe.where = lambda: unguarded_start(str(script), sys._getframe(1))
    namespace = {"__name__": "__main__"}
    sys.modules["probe"] = probe
    try:
        exec(compile(script.read_text(), str(script), "exec"), namespace)
        namespace["__name__"] = "imported"
        exec(compile(script.read_text(), str(script), "exec"), namespace)
    finally:
        del sys.modules["probe"]
    assert namespace["start"].line == 2
    assert namespace["guarded"] is None
    assert namespace["other"].line == 6  # the else branch runs when imported
    assert namespace["late"].line == 11  # main() called from module level, unguarded


def test_the_import_hook_waits_for_the_package_then_calls_back(tmp_path, monkeypatch):
    package = tmp_path / "fakekeras"
    package.mkdir()
    (package / "__init__.py").write_text(
        "class Model:\n    def fit(self):\n        return 'real'\n")
    (package / "data.txt").write_text("resource")
    monkeypatch.syspath_prepend(str(tmp_path))
    seen = []
    hook = PostImportHook({"fakekeras": lambda module: seen.append(module.Model().fit())})
    hook.install()
    try:
        assert seen == []
        import fakekeras

        assert seen == ["real"]
        assert fakekeras.__spec__.loader.is_package("fakekeras")  # delegated to the real loader
        import importlib.resources

        assert importlib.resources.files("fakekeras").joinpath("data.txt").read_text() \
            == "resource"
    finally:
        hook.uninstall()
        sys.modules.pop("fakekeras", None)
    assert hook not in sys.meta_path
    again = PostImportHook({"numpy": lambda module: seen.append(module.__name__)})
    again.install()  # numpy is already imported: called at once
    again.uninstall()
    assert seen[-1] == "numpy"
