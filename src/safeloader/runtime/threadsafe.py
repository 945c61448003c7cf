"""A lock around an iterator, and a decorator that puts one around a generator.

Keras 2 (``tf_keras``) calls ``next()`` on the object given to
``fit(..., workers=N)`` from ``N`` threads at once. A plain generator cannot be
entered twice (``ValueError: generator already executing``, which Keras turns
into ``RuntimeError: Your generator is NOT thread-safe``).
:class:`ThreadSafeIterator` serialises every call into its source with one
lock, and :func:`threadsafe_generator` makes every call of a generator function
return one.

Why a ``ThreadSafeIterator`` reports ``generator`` as its ``__class__``:
Keras 3's ``fit`` accepts a Python iterator only when
``isinstance(x, types.GeneratorType)`` (``get_data_adapter`` in
``keras/src/trainers/data_adapters/__init__.py``) and rejects every other
iterator with ``ValueError: Unrecognized data type``. ``types.GeneratorType``
cannot be subclassed, and a real generator can never be made thread-safe (a
generator wrapping a locked iterator is itself "already executing" while one
thread waits inside it). ``isinstance`` falls back to ``obj.__class__`` when
``type(obj)`` does not match, so a ``__class__`` property, the technique
``unittest.mock`` uses for ``spec``, makes Keras 3 take the wrapper as a
generator while ``type(obj)`` and ``isinstance(obj, ThreadSafeIterator)`` stay
true to what it is. We checked what Keras 3 then does with it
(``GeneratorDataAdapter``): it only iterates (``itertools.islice``,
``itertools.chain``, ``for``), which this class supports, and the other
adapters' probes (``can_slice_array``, the tf.data / torch / grain ``__mro__``
checks) see a plain generator and pass. Nothing in Keras 3 or tf_keras reads a
generator's ``gi_*`` attributes, so they are not imitated.
"""

from __future__ import annotations

import functools
import inspect
import threading
import types
from collections.abc import Iterable, Iterator
from typing import Any, Callable, Generic, NoReturn, TypeVar

__all__ = ["ThreadSafeIterator", "threadsafe_generator", "threadsafe_iter"]

T = TypeVar("T")

PICKLE_MESSAGE = (
    "{name} cannot be pickled or copied: it wraps a generator, and a generator "
    "(its running frame) cannot cross a process boundary. With Keras, pass "
    "use_multiprocessing=False (worker threads share this object safely), or, "
    "to load in several processes, write a keras.utils.Sequence (Keras 2) or a "
    "keras.utils.PyDataset (Keras 3) whose __getitem__ builds batch i on its own."
)


class _Failed:
    """Takes a failed source's place: every ``next()`` raises the source's error again.

    The traceback is reset to the one the source raised, so repeated raises
    from many threads do not pile frames onto one shared exception.
    """

    __slots__ = ("error", "traceback")

    def __init__(self, error: BaseException) -> None:
        self.error = error
        self.traceback = error.__traceback__

    def __iter__(self) -> _Failed:
        return self

    def __next__(self) -> NoReturn:
        raise self.error.with_traceback(self.traceback)


class ThreadSafeIterator(Generic[T]):
    """Serialise ``next``/``send``/``throw``/``close`` of an iterator with a lock.

    ``ThreadSafeIterator(iterable)`` calls ``iter(iterable)`` once and shares
    the result between all threads that use the wrapper. Each item is handed to
    exactly one caller.

    Once the source raises (an error, ``StopIteration`` at its end, or a
    ``KeyboardInterrupt``/``SystemExit`` that went through it), every later
    ``next()``/``send()``/``throw()``, from any thread, raises that same
    exception object again: a worker thread cannot mistake another thread's
    error for a normal end of data. ``send`` and ``throw`` need a source that
    has them (a generator); ``close`` closes the source when it can and
    always ends the wrapper. Pickling or copying raises ``TypeError``.

    The wrapper is accepted by Keras 3's ``fit`` as a generator; see the module
    docstring for why its ``__class__`` says ``generator``.
    """

    # The hot path calls next(self._iterator): the source until it raises, then
    # a ``_Failed`` that raises the same error, so no flag is tested per item.
    # The lock is taken with acquire()/release() rather than ``with``: measured
    # faster on CPython 3.11 (benchmarks/bench_threadsafe.py).
    __slots__ = ("_source", "_iterator", "_lock", "_error", "__weakref__")

    def __init__(self, iterable: Iterable[T]) -> None:
        try:
            source = iter(iterable)
        except TypeError:
            raise TypeError(
                f"ThreadSafeIterator needs an iterable; got {type(iterable).__name__}"
            ) from None
        self._source: Iterator[T] = source
        self._iterator: Iterator[T] = source
        self._lock = threading.Lock()
        self._error: BaseException | None = None

    # Keras 3 recognises a Python generator input by isinstance(x, GeneratorType);
    # see the module docstring. type(self) is unaffected.
    @property  # type: ignore[misc]
    def __class__(self) -> type:  # noqa: D105
        return types.GeneratorType

    def __iter__(self) -> ThreadSafeIterator[T]:
        return self

    def __next__(self) -> T:
        lock = self._lock
        lock.acquire()
        try:
            return next(self._iterator)
        except BaseException as error:  # KeyboardInterrupt too: the source has ended
            self._record(error)
            raise
        finally:
            lock.release()

    def _record(self, error: BaseException) -> None:
        """Make ``error`` the answer to every later call (lock held)."""
        if self._error is None:
            self._error = error
            self._iterator = _Failed(error)

    @property
    def source(self) -> Iterator[T]:
        """The wrapped iterator (do not call it directly from several threads)."""
        return self._source

    def send(self, value: Any) -> T:
        """Send ``value`` into the source generator, under the lock."""
        return self._call("send", value)

    def throw(self, *exc_info: Any) -> T:
        """Raise an exception inside the source generator, under the lock."""
        return self._call("throw", *exc_info)

    def _call(self, method_name: str, *args: Any) -> T:
        with self._lock:
            if self._error is not None:
                next(self._iterator)  # raises the recorded error
            method = getattr(self._source, method_name, None)
            if method is None:
                raise TypeError(
                    f"ThreadSafeIterator.{method_name}(): the wrapped "
                    f"{type(self._source).__name__} has no {method_name}() method "
                    f"(only generators do)"
                )
            try:
                return method(*args)
            except BaseException as error:
                # Only an error that ended the source is sticky: a generator still
                # suspended afterwards (send(1) to a just-started one) lives on.
                if getattr(self._source, "gi_frame", None) is None:
                    self._record(error)
                raise

    def close(self) -> None:
        """Close the source (if it has ``close``); later ``next()`` raises ``StopIteration``.

        Waits for a call in progress in another thread. Closing a wrapper whose
        source has already raised changes nothing.
        """
        with self._lock:
            if self._error is not None:
                return
            close = getattr(self._source, "close", None)
            if close is not None:
                close()
            self._record(StopIteration())

    def __reduce_ex__(self, protocol: Any) -> NoReturn:
        raise TypeError(PICKLE_MESSAGE.format(name="ThreadSafeIterator"))

    def __reduce__(self) -> NoReturn:
        raise TypeError(PICKLE_MESSAGE.format(name="ThreadSafeIterator"))

    def __repr__(self) -> str:
        return f"<safeloader.ThreadSafeIterator over {self._source!r}>"


#: The name of the hand-written wrapper found across forum answers.
threadsafe_iter = ThreadSafeIterator


def threadsafe_generator(fn: Callable[..., Iterable[T]]) -> Callable[..., ThreadSafeIterator[T]]:
    """Decorate a generator function so that each call returns a :class:`ThreadSafeIterator`.

    Works on functions and on methods (``self`` passes through like any other
    argument). The wrapper keeps ``fn``'s name, docstring and signature
    (``functools.wraps``). If ``fn`` returns something that is not an
    iterator, the call raises ``TypeError`` naming ``fn``.

    The lock makes the generator safe for Keras 2's ``fit(..., workers=N)``;
    it does not make it parallel: one thread prepares a batch at a time. For
    parallel batch preparation see :func:`safeloader.sharded_generator`.
    """
    if not callable(fn):
        raise TypeError(
            f"threadsafe_generator decorates a generator function; got "
            f"{type(fn).__name__} {fn!r}, which is not callable"
        )
    if inspect.isasyncgenfunction(fn) or inspect.iscoroutinefunction(fn):
        raise TypeError(
            f"threadsafe_generator cannot wrap {_describe(fn)}: it is async; "
            f"Keras calls next() on plain generators"
        )

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> ThreadSafeIterator[T]:
        result = fn(*args, **kwargs)
        if not isinstance(result, Iterator):
            hint = (
                " (an iterable, not an iterator: use yield, or return iter(...))"
                if isinstance(result, Iterable)
                else ""
            )
            raise TypeError(
                f"threadsafe_generator: {_describe(fn)} returned "
                f"{type(result).__name__}, which is not an iterator{hint}"
            )
        return ThreadSafeIterator(result)

    return wrapper


def _describe(fn: Callable[..., Any]) -> str:
    """``module.qualname()`` of ``fn`` for error messages."""
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)
    module = getattr(fn, "__module__", None)
    return f"{module}.{name}()" if module else f"{name}()"
