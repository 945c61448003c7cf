"""check_spawn_safe: None for what pickles, else the path and type of the first part that cannot."""

from __future__ import annotations

import functools
import multiprocessing
import pickle
import threading

import keras
import pytest

import safeloader
from safeloader import SpawnSafetyError, check_spawn_safe


def _stream():
    yield 1


class Batches:
    """What a PyDataset user writes: plain settings, plus things that cannot travel."""

    def __init__(self, **extra):
        self.paths = ["a.npz", "b.npz"]
        self.batch_size = 32
        self.cfg = {"augment": True}
        self.__dict__.update(extra)


class Slotted:
    __slots__ = ("guard", "size")

    def __init__(self, guard):
        self.guard = guard
        self.size = 3


def test_what_pickles_passes():
    assert check_spawn_safe(Batches()) is None
    assert check_spawn_safe([1, {"a": (2.0, "x")}]) is None
    assert check_spawn_safe(functools.partial(_stream)) is None


@pytest.mark.parametrize(
    ("obj", "path", "type_name"),
    [
        (Batches(stream=_stream()), "Batches.stream", "generator object"),
        (Batches(cfg={"guard": threading.Lock()}), "Batches.cfg['guard']", "_thread.lock"),
        ([1, {"x": (2, threading.RLock())}], "list[1]['x'][1]", "_thread.RLock"),
        (Slotted(threading.Lock()), "Slotted.guard", "_thread.lock"),
        (functools.partial(print, _stream()), "partial.args[0]", "generator object"),
        (functools.partial(print, end=_stream()), "partial.keywords['end']", "generator object"),
        (Batches(stream=_stream()).__init__, "Batches.__init__.__self__.stream",
         "generator object"),
    ],
)
def test_the_first_part_that_cannot_be_pickled_is_named_with_its_type(obj, path, type_name):
    with pytest.raises(SpawnSafetyError) as info:
        check_spawn_safe(obj)
    error = info.value
    assert str(error).startswith(f"{path}: {type_name} cannot be sent to a spawned process (")
    assert (error.path, error.type_name) == (path, type_name)
    assert isinstance(error, TypeError)


def test_functions_must_be_importable_by_module_and_name():
    def local(x):
        return x

    with pytest.raises(SpawnSafetyError, match=r"^Batches\.transform: function .*<lambda> \(a"):
        check_spawn_safe(Batches(transform=lambda x: x))
    with pytest.raises(SpawnSafetyError, match=r"^Batches\.transform: function .*<locals>\.local "
                                               r"\(a local function or class\)"):
        check_spawn_safe(Batches(transform=local))
    assert check_spawn_safe(Batches(transform=_stream)) is None  # top level: imported by name


def test_an_instance_of_a_local_class_names_its_class():
    class Local:
        pass

    with pytest.raises(SpawnSafetyError, match=r"^dict\['k'\] \(its class\): class .*\.Local"):
        check_spawn_safe({"k": Local()})


def test_the_name_argument_starts_the_path():
    with pytest.raises(SpawnSafetyError, match=r"^train_data\.stream: generator object"):
        check_spawn_safe(Batches(stream=_stream()), name="train_data")


def test_multiprocessing_locks_and_values_travel_to_a_starting_process():
    context = multiprocessing.get_context("spawn")
    assert check_spawn_safe(Batches(lock=context.Lock(), count=context.Value("i", 0))) is None


def test_the_error_pickles_and_is_exported_from_the_package():
    assert safeloader.check_spawn_safe is check_spawn_safe
    error = SpawnSafetyError("A.b", "generator object", "TypeError: no")
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.path, copy.type_name, copy.reason, str(copy)) == (
        error.path, error.type_name, error.reason, str(error))


class Records(keras.utils.PyDataset):
    """A Keras 3 PyDataset meant for use_multiprocessing=True, with a reader opened too early."""

    def __init__(self, paths, open_early=False, **kwargs):
        super().__init__(**kwargs)
        self.paths = paths
        if open_early:
            self.reader = (path for path in paths)  # cannot travel to a worker process

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, index):
        return self.paths[index]


def test_a_keras_3_pydataset_is_checked_as_the_docs_show():
    """The docs' pattern: check a PyDataset meant for use_multiprocessing=True in a test."""
    assert check_spawn_safe(Records(["a", "b"], workers=2, use_multiprocessing=True)) is None
    early = Records(["a", "b"], open_early=True, workers=2, use_multiprocessing=True)
    with pytest.raises(SpawnSafetyError, match=r"^Records\.reader: generator object"):
        check_spawn_safe(early)
