"""Parallel batch preparation: one generator per shard, each in its own thread.

A lock (:class:`~safeloader.ThreadSafeIterator`) makes one generator safe for
many consumers but prepares one batch at a time. :func:`sharded_generator`
instead calls ``fn(shard_index, num_shards)`` once per shard, drives each
resulting iterator in its own daemon thread (``safeloader-shard-<i>``), and
merges their items into one iterator:

- ``deterministic=True``: round-robin over the shards (shard 0, 1, ..., 0, ...);
  a shard that ends drops out of the rotation. The order depends only on what
  each shard yields, never on thread timing.
- ``deterministic=False``: items in the order the shards finished them.

Each shard buffers at most ``max_queue_size`` items ahead of the consumers and
then waits (backpressure). An exception in a shard is raised in the consumer as
:class:`ShardError` naming the shard, chained to the original; after that,
every call raises the same ``ShardError``. The threads end on exhaustion, on an
error, on ``close()`` (or leaving a ``with`` block), and when the consumer drops
the iterator (a ``weakref.finalize`` callback; the producer threads hold only
the shared state, never the iterator itself, so it can be collected).

Like :class:`~safeloader.ThreadSafeIterator`, the iterator is safe for several
consumer threads (Keras 2 workers) and reports ``generator`` as its
``__class__`` so that Keras 3's ``fit`` accepts it (see
:mod:`safeloader.threadsafe` for why).
"""

from __future__ import annotations

import threading
import types
import weakref
from collections import deque
from collections.abc import Iterable, Iterator
from typing import Any, Callable, Generic, NoReturn, TypeVar

from safeloader.threadsafe import PICKLE_MESSAGE

__all__ = ["DEFAULT_MAX_QUEUE_SIZE", "ShardError", "ShardedGenerator", "sharded_generator"]

T = TypeVar("T")

#: Items each shard may prepare ahead of the consumers.
DEFAULT_MAX_QUEUE_SIZE = 4


class ShardError(RuntimeError):
    """A shard of a :func:`sharded_generator` raised; ``__cause__`` is its error."""

    def __init__(self, shard_index: int, num_shards: int, error: BaseException) -> None:
        RuntimeError.__init__(
            self,
            f"shard {shard_index} of {num_shards} failed: {type(error).__name__}: {error}",
        )
        self.shard_index = shard_index
        self.num_shards = num_shards
        self.error = error

    def __reduce__(self) -> tuple[Any, ...]:
        return (ShardError, (self.shard_index, self.num_shards, self.error))


class _Failure:
    """Queued by a shard in place of an item: the shard raised ``error``."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


#: Queued by a shard after its last item.
_END = object()


class _Shards:
    """The state shared by the consumers and the producer threads.

    One lock guards everything. Consumers wait on ``has_item``; the producer of
    shard ``i`` waits on ``has_space[i]`` when its buffer is full. This object
    never refers to the :class:`ShardedGenerator` that owns it, so dropping
    that iterator lets its finalizer call :meth:`shutdown`.
    """

    def __init__(
        self,
        fn: Callable[[int, int], Iterable[Any]],
        num_shards: int,
        max_queue_size: int,
        deterministic: bool,
    ) -> None:
        self.fn = fn
        self.num_shards = num_shards
        self.max_queue_size = max_queue_size
        self.deterministic = deterministic
        # RLock: the finalizer may run, through garbage collection, in a thread
        # that already holds the lock.
        self.lock = threading.RLock()
        self.has_item = threading.Condition(self.lock)
        self.has_space = [threading.Condition(self.lock) for _ in range(num_shards)]
        self.buffers: list[deque[Any]] = [deque() for _ in range(num_shards)]
        self.arrivals: deque[int] = deque()  # first-come order of buffered entries
        self.rotation = list(range(num_shards))  # round-robin over shards not ended
        self.position = 0
        self.threads: list[threading.Thread] = []
        self.started = False
        self.stopping = False  # producers leave at their next item
        self.outcome: BaseException | None = None  # StopIteration or ShardError, sticky

    # -- producers ---------------------------------------------------------

    def start(self) -> None:
        """Start one daemon thread per shard (lock held)."""
        self.started = True
        for index in range(self.num_shards):
            thread = threading.Thread(
                target=self.produce, args=(index,), name=f"safeloader-shard-{index}", daemon=True
            )
            self.threads.append(thread)
            thread.start()

    def produce(self, index: int) -> None:
        """Body of shard ``index``'s thread: prepare items, queue them, then a marker."""
        iterator: Iterator[Any] | None = None
        buffer = self.buffers[index]
        has_space = self.has_space[index]
        try:
            try:
                iterator = self._open(index)
                while True:
                    item = next(iterator)  # the expensive part, outside the lock
                    with self.lock:
                        while len(buffer) >= self.max_queue_size and not self.stopping:
                            has_space.wait()
                        if self.stopping:
                            return
                        buffer.append(item)
                        if not self.deterministic:
                            self.arrivals.append(index)
                        self.has_item.notify()
            except StopIteration:
                marker: Any = _END
            except BaseException as error:  # noqa: BLE001 - handed to the consumer
                marker = _Failure(error)
            with self.lock:
                if not self.stopping:
                    buffer.append(marker)
                    if not self.deterministic:
                        self.arrivals.append(index)
                    self.has_item.notify_all()
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()  # a generator's cleanup runs here, in its own thread

    def _open(self, index: int) -> Iterator[Any]:
        result = self.fn(index, self.num_shards)
        try:
            return iter(result)
        except TypeError:
            raise TypeError(
                f"sharded_generator: {_name(self.fn)}({index}, {self.num_shards}) returned "
                f"{type(result).__name__}, which is not iterable"
            ) from None

    # -- consumers ---------------------------------------------------------

    def next_item(self) -> Any:
        """Return the next merged item, or raise ``StopIteration``/``ShardError``."""
        threads: list[threading.Thread] = []
        with self.lock:
            if not self.started:
                self.start()
            while self.outcome is None:
                if not self.rotation:  # every shard has ended
                    self._stop(StopIteration())
                    break
                if self.deterministic:
                    index = self.rotation[self.position]
                    if not self.buffers[index]:
                        self.has_item.wait()
                        continue
                elif self.arrivals:
                    index = self.arrivals.popleft()
                else:
                    self.has_item.wait()
                    continue
                item = self.buffers[index].popleft()
                if item is _END:
                    self._drop(index)
                    continue
                if type(item) is _Failure:
                    error = ShardError(index, self.num_shards, item.error)
                    error.__cause__ = item.error
                    self._stop(error)
                    threads = list(self.threads)
                    break
                self.has_space[index].notify()
                if self.deterministic:
                    self.position = (self.position + 1) % len(self.rotation)
                    ready = bool(self.buffers[self.rotation[self.position]])
                else:
                    ready = bool(self.arrivals)
                if ready:
                    self.has_item.notify()  # hand on to another waiting consumer
                return item
            outcome = self.outcome
        _join(threads)  # outside the lock: stopping producers may need it
        raise outcome.with_traceback(None)

    def _drop(self, index: int) -> None:
        """Shard ``index`` has ended: leave the rotation, reap its thread (lock held)."""
        if self.deterministic:
            del self.rotation[self.position]  # ``index`` sits at the current position
            if self.rotation:
                self.position %= len(self.rotation)
        else:
            self.rotation.remove(index)
        # The thread has queued its last entry; it only closes its iterator now.
        self.threads[index].join()

    def _stop(self, outcome: BaseException) -> None:
        """Record the final outcome and wake every thread (lock held)."""
        if self.outcome is None:
            self.outcome = outcome
        self.stopping = True
        self.has_item.notify_all()
        for has_space in self.has_space:
            has_space.notify_all()

    def shutdown(self) -> None:
        """Tell the producers to stop; does not wait (the finalizer's callback)."""
        with self.lock:
            self._stop(StopIteration())

    def close(self) -> None:
        """Stop the producers and wait for each to finish the item in hand."""
        with self.lock:
            self._stop(StopIteration())
            threads = list(self.threads)
        _join(threads)


def _join(threads: list[threading.Thread]) -> None:
    current = threading.current_thread()
    for thread in threads:
        if thread is not current:
            thread.join()


def _name(fn: Callable[..., Any]) -> str:
    return getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)


class ShardedGenerator(Generic[T]):
    """The iterator :func:`sharded_generator` returns; see the module docstring."""

    __slots__ = ("_shards", "_finalizer", "__weakref__")

    def __init__(
        self,
        fn: Callable[[int, int], Iterable[T]],
        num_shards: int,
        max_queue_size: int = DEFAULT_MAX_QUEUE_SIZE,
        deterministic: bool = True,
    ) -> None:
        self._shards = _Shards(fn, num_shards, max_queue_size, bool(deterministic))
        self._finalizer = weakref.finalize(self, self._shards.shutdown)

    # Keras 3 accepts a Python iterator only if isinstance(x, GeneratorType);
    # see safeloader.threadsafe's module docstring.
    @property  # type: ignore[misc]
    def __class__(self) -> type:  # noqa: D105
        return types.GeneratorType

    @property
    def num_shards(self) -> int:
        """How many shards (and producer threads) feed this iterator."""
        return self._shards.num_shards

    def __iter__(self) -> ShardedGenerator[T]:
        return self

    def __next__(self) -> T:
        return self._shards.next_item()  # type: ignore[no-any-return]

    def close(self) -> None:
        """Stop the shards' threads and wait for them; later ``next()`` raises ``StopIteration``.

        Each thread first finishes the item it is preparing. A shard's
        generator is closed in its own thread, so its ``finally`` blocks run.
        """
        self._shards.close()

    def __enter__(self) -> ShardedGenerator[T]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __reduce_ex__(self, protocol: Any) -> NoReturn:
        raise TypeError(PICKLE_MESSAGE.format(name="ShardedGenerator"))

    def __reduce__(self) -> NoReturn:
        raise TypeError(PICKLE_MESSAGE.format(name="ShardedGenerator"))

    def __repr__(self) -> str:
        shards = self._shards
        mode = "round-robin" if shards.deterministic else "first-come"
        return (
            f"<safeloader.ShardedGenerator {_name(shards.fn)} x {shards.num_shards} shards, "
            f"{mode}, max_queue_size={shards.max_queue_size}>"
        )


def sharded_generator(
    fn: Callable[[int, int], Iterable[T]],
    num_shards: int,
    *,
    max_queue_size: int = DEFAULT_MAX_QUEUE_SIZE,
    deterministic: bool = True,
) -> ShardedGenerator[T]:
    """Run ``fn(shard_index, num_shards)`` in ``num_shards`` threads and merge the items.

    ``fn`` is called once per shard, in that shard's thread, and must return
    an iterable (typically ``fn`` is a generator function that yields the
    batches of its share of the data, e.g. files ``shard_index::num_shards``).
    The threads start at the first ``next()``.

    Args:
        fn: called as ``fn(shard_index, num_shards)``.
        num_shards: how many shards, hence threads (an ``int`` >= 1).
        max_queue_size: items each shard may prepare ahead of the consumers
            (an ``int`` >= 1).
        deterministic: round-robin over the shards (a reproducible order) when
            true; first finished, first served when false.

    Returns:
        A :class:`ShardedGenerator`: an iterator, safe for several consumer
        threads, usable as a context manager, accepted by Keras 2 and Keras 3
        ``fit``. Errors in a shard are raised as :class:`ShardError`.
    """
    if not callable(fn):
        raise TypeError(
            f"sharded_generator: fn must be callable as fn(shard_index, num_shards); "
            f"got {type(fn).__name__}"
        )
    _check_count("num_shards", num_shards)
    _check_count("max_queue_size", max_queue_size)
    return ShardedGenerator(fn, num_shards, max_queue_size, deterministic)


def _check_count(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"sharded_generator: {name} must be an int; got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"sharded_generator: {name} must be >= 1; got {value}")
