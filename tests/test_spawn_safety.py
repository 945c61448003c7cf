"""check_spawn_safe: None for what pickles, else the path and type of the first part that cannot."""

from __future__ import annotations

import functools
import json
import multiprocessing
import os
import pickle
import subprocess
import sys
import threading
from pathlib import Path

import keras
import pytest

import safeloader
from safeloader import SpawnSafetyError, check_spawn_safe
from safeloader.runtime import main_module

SRC = Path(__file__).resolve().parent.parent / "src"


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


class ReducesToAList:
    """A __reduce__ that returns a list: pickle refuses it."""

    def __reduce__(self):
        return [dict, ()]


class ReducesWithArgumentsNotATuple:
    """A __reduce__ whose arguments are not a tuple: pickle refuses them."""

    def __reduce__(self):
        return (dict, 42)


@pytest.mark.parametrize("part", [ReducesToAList(), ReducesWithArgumentsNotATuple()],
                         ids=["list", "arguments"])
def test_a_malformed_reduce_is_named_with_its_path(part):
    with pytest.raises(SpawnSafetyError) as info:
        check_spawn_safe(Batches(extra=[1, part]))
    assert info.value.path == "Batches.extra[1]"
    assert info.value.type_name == f"test_spawn_safety.{type(part).__name__}"


def _defined_in_main(tmp_path: Path, code: str, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(SRC))
    return subprocess.run([sys.executable, *args], input=code, capture_output=True, text=True,
                          env=env, timeout=60, cwd=tmp_path)


INTERACTIVE = """
from safeloader import check_spawn_safe
def shard(shard_index, num_shards):
    yield shard_index
try:
    check_spawn_safe(shard)
except TypeError as error:
    print(error)
"""


def test_a_function_defined_in_python_c_is_refused_as_interactive(tmp_path):
    result = _defined_in_main(tmp_path, "", "-c", INTERACTIVE)
    assert result.stdout.startswith("shard: function __main__.shard (defined in an interactive "
                                    "session (a REPL, `python -c` or a script read from standard "
                                    "input), which a spawned process cannot import; move it to a "
                                    "module) cannot be sent"), result.stderr


NOTEBOOK_CELLS = [
    "import functools, json, multiprocessing",
    "def shard(shard_index, num_shards):\n    yield shard_index",
    "class Settings:\n    pass",
    """\
from safeloader import SpawnSafetyError, check_spawn_safe, sharded_generator

messages = {}
try:
    sharded_generator(shard, 2, processes=True)
except SpawnSafetyError as error:
    messages["sharded_generator"] = str(error)
try:
    check_spawn_safe(functools.partial(print, Settings()))
except SpawnSafetyError as error:
    messages["check_spawn_safe"] = str(error)
messages["children"] = len(multiprocessing.active_children())
print(json.dumps(messages))""",
]


def test_a_function_or_class_defined_in_a_notebook_is_refused_with_the_notebook_advice(tmp_path):
    """In a real kernel (ipykernel): __main__ is the kernel's namespace and has no __file__."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    notebook = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(source) for source in NOTEBOOK_CELLS])
    client = nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    messages = json.loads(notebook.cells[-1].outputs[0]["text"])
    advice = "defined in a notebook; move it to a module"
    assert messages["sharded_generator"].startswith(f"fn: function __main__.shard ({advice}")
    assert messages["check_spawn_safe"].startswith(
        f"partial.args[0] (its class): class __main__.Settings ({advice}")
    assert messages["children"] == 0


GUARDED_SOURCE = '''\
import os
from helpers import *

def top():
    pass

if True:
    def in_an_if():
        pass

if __name__ == "__main__":
    def guarded():
        pass

    class GuardedClass:
        pass

    def top():  # bound above the guard too: found by the child
        pass

    for looped in range(2):
        pass
else:
    def in_the_else():
        pass
'''


@pytest.mark.parametrize(
    ("name", "line"),
    [("guarded", 12), ("GuardedClass", 15), ("looped", 21), ("top", None), ("in_an_if", None),
     ("in_the_else", None), ("os", None), ("never_bound", None)],
)
def test_only_names_bound_under_the_guard_alone_are_unreachable(tmp_path, name, line):
    script = tmp_path / "train.py"
    script.write_text(GUARDED_SOURCE, encoding="utf-8")
    assert main_module._guarded_definition(script, name) == line
