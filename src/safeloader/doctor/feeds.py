"""What a Keras call is fed, recognised from the real object, and how to time it.

The data argument of ``fit``/``evaluate``/``predict`` is one of:

- ``generator``: a Python iterator (a generator, a ``ThreadSafeIterator``, a
  ``sharded_generator``, a hand-written iterator class). Keras pulls it with
  ``next()``; the doctor hands Keras a generator of its own that pulls the
  user's object and times each ``next()`` (the input's own cost, per batch,
  on the thread that pulls it) and keeps the last batch for the ceiling;
- ``dataset``: a Keras 3 ``PyDataset`` or a tf_keras ``Sequence``, indexed by
  Keras (maybe in worker threads or processes, out of the doctor's sight): its
  cost is read apart after the call, ``dataset[i]`` on the main thread;
- ``tf.data``: a ``tf.data.Dataset``, pulled inside the compiled step: read
  apart after the call, on a fresh iterator;
- ``arrays``: NumPy arrays or tensors (also in dicts, lists, tuples), already
  in memory: no input cost to read;
- ``other``: anything else (a torch ``DataLoader``, a grain dataset): the
  doctor runs it but does not measure it.

Nothing here imports TensorFlow: objects are recognised by their classes'
names and modules, as Keras itself does for tf.data and torch.
"""

from __future__ import annotations

import _thread
import functools
import inspect
import queue
import threading
import time
import types
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Callable

from safeloader.doctor.callsite import SourcePosition, shown_path
from safeloader.doctor.measurement import InputAlone
from safeloader.runtime.sharded import ShardedGenerator
from safeloader.runtime.threadsafe import ThreadSafeIterator

#: Objects whose presence among an iterator's attributes means it serialises its calls.
_LOCK_TYPES = (_thread.LockType, type(threading.RLock()), threading.Condition,
               threading.Semaphore, queue.Queue)

#: Batches read apart at most, and the time spent on it at most (seconds).
ALONE_BATCHES = 8
ALONE_BUDGET = 3.0


@dataclass
class ItemTimes:
    """How long each ``next()`` on the user's iterator took, and the last item."""

    durations: list[float] = field(default_factory=list)
    last: Any = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, seconds: float, item: Any) -> None:
        """Record one item (called from whichever thread pulled it)."""
        with self.lock:
            self.durations.append(seconds)
            self.last = item


def timed(source: Iterator[Any], times: ItemTimes) -> Iterator[Any]:
    """Yield ``source``'s items, timing each ``next()`` into ``times``.

    A real generator, so that Keras 3 accepts it wherever it accepted
    ``source``; wrap it in a ``ThreadSafeIterator`` for threads.
    """
    while True:
        started = time.perf_counter()
        try:
            item = next(source)
        except StopIteration:
            return
        times.add(time.perf_counter() - started, item)
        yield item


def is_tf_dataset(obj: object) -> bool:
    """A ``tf.data.Dataset`` (TensorFlow's own classes, by name, as Keras checks)."""
    return any(
        cls.__name__ in ("DatasetV2", "DatasetV1") and cls.__module__.startswith("tensorflow.")
        for cls in type(obj).__mro__
    )


def is_keras_dataset(obj: object) -> bool:
    """A Keras 3 ``PyDataset`` (``keras.utils.Sequence`` too) or a tf_keras ``Sequence``."""
    return any(
        cls.__name__ in ("PyDataset", "Sequence") and cls.__module__.startswith(("keras.",
                                                                                 "tf_keras."))
        for cls in type(obj).__mro__
    )


def is_iterator(obj: object) -> bool:
    """Whatever Keras would pull with ``next()``: has ``__next__`` and ``__iter__``."""
    return isinstance(obj, Iterator) or (hasattr(obj, "__next__") and hasattr(obj, "__iter__"))


def is_plain_generator(obj: object) -> bool:
    """A generator object itself (``type``, not ``isinstance``: safeloader's wrappers
    pose as generators for Keras 3)."""
    return type(obj) is types.GeneratorType


def is_thread_safe(obj: object) -> bool:
    """Whether several threads may call ``next()`` on ``obj`` at once.

    safeloader's wrappers and Keras 2's ``ThreadsafeIter`` are; a generator is
    not; an iterator written in C (``iter(list)``, ``itertools``) is, each
    ``next()`` being one step under the GIL; an iterator class written in
    Python is when it holds a lock (whether it takes it is the lint's SLD201).
    """
    kind = type(obj)
    if issubclass(kind, (ThreadSafeIterator, ShardedGenerator)):
        return True
    if kind.__name__ == "ThreadsafeIter" and kind.__module__.startswith(("tf_keras.", "keras.")):
        return True
    if kind is types.GeneratorType:
        return False
    if not isinstance(getattr(kind, "__next__", None), types.FunctionType):
        return True
    return any(isinstance(value, _LOCK_TYPES) for value in _attributes(obj))


def _attributes(obj: object) -> list[Any]:
    values = list(getattr(obj, "__dict__", {}).values())
    for cls in type(obj).__mro__:
        for slot in getattr(cls, "__slots__", ()):
            if isinstance(slot, str) and hasattr(obj, slot):
                values.append(getattr(obj, slot))
    return values


def definition_of(obj: object) -> SourcePosition | None:
    """Where ``obj`` was defined: a generator's function, an object's class."""
    if type(obj) is ThreadSafeIterator:
        return definition_of(obj.source)
    if type(obj).__module__.startswith("safeloader."):
        return None  # safeloader's own classes: not where the user's data comes from
    code = getattr(obj, "gi_code", None)
    if isinstance(code, types.CodeType):
        return SourcePosition(shown_path(code.co_filename), code.co_firstlineno)
    try:
        return _class_definition(type(obj))
    except TypeError:  # a metaclass that makes its classes unhashable: not remembered
        return _class_definition.__wrapped__(type(obj))


@functools.lru_cache(maxsize=256)
def _class_definition(kind: type) -> SourcePosition | None:
    """Where the class ``kind`` is defined. Remembered: ``inspect`` finds a class's line
    by parsing its whole module, and every call of ``fit`` asks again."""
    try:
        path = inspect.getsourcefile(kind)
        line = inspect.getsourcelines(kind)[1]
    except (OSError, TypeError):
        return None
    return SourcePosition(shown_path(path), line) if path else None


def describe(obj: object) -> str:
    """A short name for ``obj`` as a report shows it, e.g. ``generator batches()``."""
    if type(obj) is ThreadSafeIterator:
        return f"ThreadSafeIterator({describe(obj.source)})"
    if is_plain_generator(obj):
        return f"generator {obj.__name__}()"  # type: ignore[attr-defined]
    if isinstance(obj, ShardedGenerator):
        return repr(obj).strip("<>").partition(",")[0]
    if is_keras_dataset(obj):
        return f"{type(obj).__name__} ({_dataset_settings(obj)})"
    return type(obj).__name__ if not is_tf_dataset(obj) else "tf.data.Dataset"


def _dataset_settings(dataset: object) -> str:
    workers = getattr(dataset, "workers", None)
    if workers is None:
        return "a Sequence"
    processes = getattr(dataset, "use_multiprocessing", False)
    return f"workers={workers}" + (", use_multiprocessing=True" if processes else "")


@dataclass
class Feed:
    """The data of one call: its kind, its name, where it was defined, its timing."""

    kind: str  # "generator", "dataset", "tf.data", "arrays" or "other"
    obj: Any
    label: str
    definition: SourcePosition | None
    items: ItemTimes | None = None

    def instrumented(self, data: Any, threaded: bool) -> Any:
        """What to hand Keras instead of ``data`` (this feed's object, or what the hazard
        checks put in its place): a timing generator for an iterator (behind a lock when
        Keras reads it from threads), ``data`` itself otherwise."""
        if self.kind != "generator":
            return data
        self.items = ItemTimes()
        wrapper = timed(iter(data), self.items)
        return ThreadSafeIterator(wrapper) if threaded else wrapper

    def read_alone(self) -> tuple[InputAlone | None, Any]:
        """The input's cost per batch and one batch for the ceiling, after the call."""
        if self.kind == "generator":
            if self.items is None or not self.items.durations:
                return None, None
            durations = self.items.durations
            steady = durations[2:] if len(durations) > 4 else durations  # Keras peeks 1-2 first
            how = "time in next() during the run"
            if isinstance(self.obj, ShardedGenerator):
                how += ", the shards reading ahead"
            return InputAlone(sum(steady) / len(steady), how), self.items.last
        if self.kind == "dataset":
            size = dataset_length(self.obj)
            count = ALONE_BATCHES if size is None else min(ALONE_BATCHES, size)
            return _read(lambda index: self.obj[index], count,
                         "dataset[i] read apart, main thread")
        if self.kind == "tf.data":
            iterator = iter(self.obj)
            return _read(lambda index: next(iterator), ALONE_BATCHES,
                         "a fresh iterator read apart (the pipeline's own parallelism)")
        return None, None


def dataset_length(dataset: object) -> int | None:
    """``len(dataset)``, or ``None`` when the dataset has no length: a Keras 3
    ``PyDataset`` without ``__len__`` (``TypeError``; it may give ``num_batches``
    instead), or a tf_keras ``Sequence`` that does not override ``__len__``,
    whose base class raises ``NotImplementedError``."""
    try:
        return len(dataset)  # type: ignore[arg-type]
    except (TypeError, NotImplementedError):
        return None


def _read(fetch: Callable[[int], Any], count: int, how: str) -> tuple[InputAlone | None, Any]:
    """Fetch batches ``0..count-1``, the first untimed (start-up); stop at the time budget."""
    try:
        first = fetch(0)
    except (StopIteration, IndexError):
        return None, None
    durations: list[float] = []
    deadline = time.perf_counter() + ALONE_BUDGET
    for index in range(1, count):
        started = time.perf_counter()
        try:
            fetch(index)
        except (StopIteration, IndexError):
            break
        durations.append(time.perf_counter() - started)
        if started > deadline:
            break
    if not durations:
        return None, first
    return InputAlone(sum(durations) / len(durations), how), first


def classify(data: object) -> Feed:
    """Recognise the data argument of a Keras call."""
    if is_keras_dataset(data):
        kind = "dataset"
    elif is_tf_dataset(data):
        kind = "tf.data"
    elif is_iterator(data):
        kind = "generator"
    elif _is_arrays(data):
        kind = "arrays"
    else:
        kind = "other"
    definition = definition_of(data) if kind in ("generator", "dataset") else None
    return Feed(kind, data, describe(data), definition)


def _is_arrays(data: object) -> bool:
    if isinstance(data, dict):
        return bool(data) and all(_is_arrays(value) for value in data.values())
    if isinstance(data, (list, tuple)):
        return bool(data) and all(_is_arrays(value) for value in data)
    return hasattr(data, "shape") and hasattr(data, "__getitem__")
