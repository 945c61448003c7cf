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
:class:`ShardError` naming the shard, chained to the original, as soon as the
consumer next asks for an item (even while another shard is stuck in a long
call; the items delivered before it are a prefix of the round-robin order);
after that, every call raises the same ``ShardError``. A shard thread that
cannot be started (``RuntimeError: can't start new thread``) stops the threads
already started, and every ``next()`` raises that error.

The threads end on exhaustion, on an error, on ``close()`` (or leaving a
``with`` block), and when the consumer drops the iterator (a
``weakref.finalize`` callback; the producer threads hold only the shared
state, never the iterator itself, so it can be collected). Stopping drops the
buffered items at once; the consumer that stops the shards waits up to
:data:`ABANDON_AFTER_SECONDS` for each thread to finish the call it is in, and
abandons a thread still inside ``fn``'s code after that (it is a daemon) with a
:class:`ShardAbandonedWarning` pointing at the caller's line.

Keras keeps the object given to ``fit`` after ``fit`` returns (Keras 3's
generator adapter sits in TensorFlow's ``from_generator`` state, which lives as
long as the program), so nothing but ``close()`` can tell the shards that a
``fit`` is over: use ``with sharded_generator(...) as batches: model.fit(batches)``.

Like :class:`~safeloader.ThreadSafeIterator`, the iterator is safe for several
consumer threads (Keras 2 workers) and reports ``generator`` as its
``__class__`` so that Keras 3's ``fit`` accepts it (see
:mod:`safeloader.runtime.threadsafe` for why).
"""

from __future__ import annotations

import sys
import threading
import time
import types
import warnings
from collections import deque
from collections.abc import Iterable, Iterator
from multiprocessing.context import BaseContext
from typing import Any, Callable, TypeVar

from safeloader.runtime.process_shards import ProcessShardedGenerator, process_sharded_generator
from safeloader.runtime.shard_iterator import MergedShards, ShardError, open_shard, shard_name

__all__ = [
    "ABANDON_AFTER_SECONDS",
    "DEFAULT_MAX_QUEUE_SIZE",
    "ShardAbandonedWarning",
    "ShardError",
    "ShardedGenerator",
    "sharded_generator",
]

T = TypeVar("T")

#: Items each shard may prepare ahead of the consumers.
DEFAULT_MAX_QUEUE_SIZE = 4


#: Queued by a shard after its last item.
_END = object()

#: How long ``close()`` (and the consumer that meets an error or the end) waits
#: for the shard threads to finish the call they are in; a thread still inside
#: ``fn``'s code after that is abandoned (it is a daemon) with a
#: :class:`ShardAbandonedWarning`.
ABANDON_AFTER_SECONDS = 2.0


class ShardAbandonedWarning(RuntimeWarning):
    """A shard thread was still inside ``fn``'s code when its iterator stopped.

    The daemon thread is left to finish that call on its own; it then closes its
    generator and ends without queueing anything.
    """


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
        self.threads: list[threading.Thread] = []  # started, not yet reaped
        # in_fn[i]: shard i's thread is inside fn's code (fn() or next());
        # done[i]: it has closed its generator and ends. ``changed`` wakes the
        # thread that stops the shards (see _reap) when either becomes so.
        self.in_fn = [True] * num_shards
        self.done = [False] * num_shards
        self.changed = threading.Condition(self.lock)
        self.started = False
        self.stopping = False  # producers leave at their next item
        self.failure: tuple[int, BaseException] | None = None  # the first shard to raise
        # StopIteration, ShardError or a failed thread start: sticky, with the
        # traceback it had when recorded (re-raising must not pile frames on it).
        self.outcome: BaseException | None = None
        self.outcome_traceback: types.TracebackType | None = None

    # -- producers ---------------------------------------------------------

    def start(self) -> None:
        """Start one daemon thread per shard (lock held).

        If a thread cannot be started, the failure becomes the outcome: the
        threads already started stop, and every ``next()`` raises that error.
        """
        self.started = True
        for index in range(self.num_shards):
            thread = threading.Thread(
                target=self.produce, args=(index,), name=f"safeloader-shard-{index}", daemon=True
            )
            try:
                thread.start()
            except BaseException as error:  # noqa: BLE001 - the outcome of every next()
                self._stop(error)
                return
            self.threads.append(thread)

    def produce(self, index: int) -> None:
        """Body of shard ``index``'s thread: prepare items, queue them, then a marker."""
        iterator: Iterator[Any] | None = None
        buffer = self.buffers[index]
        has_space = self.has_space[index]
        in_fn = self.in_fn
        try:
            try:
                iterator = open_shard(self.fn, index, self.num_shards)
                while True:
                    item = next(iterator)  # the expensive part, outside the lock
                    with self.lock:
                        in_fn[index] = False
                        while len(buffer) >= self.max_queue_size and not self.stopping:
                            has_space.wait()
                        if self.stopping:
                            return
                        buffer.append(item)
                        if not self.deterministic:
                            self.arrivals.append(index)
                        self.has_item.notify()
                        in_fn[index] = True
            except StopIteration:
                with self.lock:
                    in_fn[index] = False
                    if not self.stopping:
                        buffer.append(_END)
                        if not self.deterministic:
                            self.arrivals.append(index)
                        self.has_item.notify_all()
            except BaseException as error:  # noqa: BLE001 - handed to the consumer
                with self.lock:
                    in_fn[index] = False
                    if self.failure is None and not self.stopping:
                        self.failure = (index, error)
                        self.has_item.notify_all()
        finally:
            with self.lock:
                in_fn[index] = False  # closing the generator is waited for, not abandoned
                self.changed.notify_all()
            close = getattr(iterator, "close", None)
            if close is not None:
                close()  # a generator's cleanup runs here, in its own thread
            with self.lock:
                self.done[index] = True
                self.changed.notify_all()

    # -- consumers ---------------------------------------------------------

    def next_item(self) -> Any:
        """Return the next merged item, or raise ``StopIteration``/``ShardError``.

        A shard's error is raised as soon as it is known, even while the shard
        whose turn it is has not produced its item: the items delivered before
        it are still a prefix of the round-robin order.
        """
        with self.lock:
            if not self.started:
                self.start()
            while self.outcome is None:
                if self.failure is not None:
                    index, cause = self.failure
                    error = ShardError(index, self.num_shards, cause)
                    error.__cause__ = cause
                    self._stop(error)
                    break
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
                self.has_space[index].notify()
                if self.deterministic:
                    self.position = (self.position + 1) % len(self.rotation)
                    ready = bool(self.buffers[self.rotation[self.position]])
                else:
                    ready = bool(self.arrivals)
                if ready:
                    self.has_item.notify()  # hand on to another waiting consumer
                return item
            outcome, traceback = self.outcome, self.outcome_traceback
            threads = self._take_threads()
        _reap(self, threads)  # outside the lock: stopping producers need it
        raise outcome.with_traceback(traceback)

    def _drop(self, index: int) -> None:
        """Shard ``index`` has ended: leave the rotation (lock held)."""
        if self.deterministic:
            del self.rotation[self.position]  # ``index`` sits at the current position
            if self.rotation:
                self.position %= len(self.rotation)
        else:
            self.rotation.remove(index)

    def _stop(self, outcome: BaseException) -> None:
        """Record the final outcome, drop what is buffered, wake every thread (lock held)."""
        if self.outcome is None:
            self.outcome = outcome
            self.outcome_traceback = outcome.__traceback__
        self.stopping = True
        for buffer in self.buffers:
            buffer.clear()
        self.arrivals.clear()
        self.has_item.notify_all()
        for has_space in self.has_space:
            has_space.notify_all()

    def _take_threads(self) -> list[threading.Thread]:
        """The threads to reap, handed to one caller only (lock held)."""
        threads, self.threads = self.threads, []
        return threads

    def shutdown(self) -> None:
        """Tell the producers to stop; does not wait (the finalizer's callback)."""
        with self.lock:
            self._stop(StopIteration())

    def close(self) -> None:
        """Stop the producers; wait a while for each to finish the call it is in."""
        with self.lock:
            self._stop(StopIteration())
            threads = self._take_threads()
        _reap(self, threads)


def _reap(shards: _Shards, threads: list[threading.Thread]) -> None:
    """Wait for the stopped ``threads``; abandon, with a warning, those stuck in ``fn``'s code.

    A thread in safeloader's code (waiting for space, closing its generator)
    is waited for. Once every thread left is inside ``fn``'s code, they get
    :data:`ABANDON_AFTER_SECONDS` in all to come out of it.
    """
    current = threading.current_thread()
    indices = [i for i, thread in enumerate(threads) if thread is not current]
    deadline: float | None = None
    with shards.lock:
        while True:
            live = [i for i in indices if not shards.done[i]]
            if not live:
                break
            if not all(shards.in_fn[i] for i in live):
                shards.changed.wait()  # one is on its way out through safeloader's code
                continue
            if deadline is None:
                deadline = time.monotonic() + ABANDON_AFTER_SECONDS
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            shards.changed.wait(remaining)
    for i in indices:
        if i not in live:
            threads[i].join()  # it has only to return
    if live:
        warnings.warn(
            f"sharded_generator: shard {', '.join(map(str, live))} of {shards.num_shards} is "
            f"still inside fn's code after {ABANDON_AFTER_SECONDS:g} s; its daemon thread is "
            f"abandoned and ends when that call returns (nothing more is queued)",
            ShardAbandonedWarning,
            stacklevel=_caller_stacklevel(),
        )


def _caller_stacklevel() -> int:
    """The ``stacklevel`` that points ``warnings.warn`` at the first frame outside safeloader's
    shard modules (this one, and :mod:`~safeloader.runtime.shard_iterator` for ``close()``).

    Written by hand: ``warnings.warn(skip_file_prefixes=...)`` needs Python 3.12.
    """
    internal = (__name__, MergedShards.__module__)
    frame = sys._getframe(1)  # _reap, which calls warnings.warn
    level = 1
    while frame is not None and frame.f_globals.get("__name__") in internal:
        frame = frame.f_back
        level += 1
    return level


class ShardedGenerator(MergedShards[T]):
    """The iterator :func:`sharded_generator` returns: shards in threads; see the module docstring.

    ``close()`` lets each thread finish the call it is in, for up to
    :data:`ABANDON_AFTER_SECONDS` in all; a shard still inside ``fn``'s code
    then is abandoned with a :class:`ShardAbandonedWarning`. A shard's
    generator is closed in its own thread, so its ``finally`` blocks run;
    ``close()`` waits for that cleanup (it is not a call in ``fn``'s data
    path, and a shard that ends mid-cleanup would leak its files).
    """

    __slots__ = ()

    def __init__(
        self,
        fn: Callable[[int, int], Iterable[T]],
        num_shards: int,
        max_queue_size: int = DEFAULT_MAX_QUEUE_SIZE,
        deterministic: bool = True,
    ) -> None:
        shards = _Shards(fn, num_shards, max_queue_size, bool(deterministic))
        # dropped without close(): tell the threads to stop, wait for none of them
        super().__init__(shards, shards.shutdown)

    def __repr__(self) -> str:
        shards = self._shards
        mode = "round-robin" if shards.deterministic else "first-come"
        return (
            f"<safeloader.ShardedGenerator {shard_name(shards.fn)} x {shards.num_shards} shards, "
            f"{mode}, max_queue_size={shards.max_queue_size}>"
        )


def sharded_generator(
    fn: Callable[[int, int], Iterable[T]],
    num_shards: int,
    *,
    max_queue_size: int = DEFAULT_MAX_QUEUE_SIZE,
    deterministic: bool = True,
    processes: bool = False,
    mp_context: BaseContext | str | None = None,
) -> ShardedGenerator[T] | ProcessShardedGenerator[T]:
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
        processes: run each shard in its own process instead of a thread, for
            work that holds the GIL; see :mod:`safeloader.runtime.process_shards`.
            ``fn`` must then be importable by the children (``def`` at the top
            level of a module, not under the ``__main__`` guard, not in a
            notebook): a lambda or local function is a ``TypeError``, and
            whatever else a child could not receive a ``SpawnSafetyError``.
        mp_context: with ``processes``, the multiprocessing context (or start
            method name: ``spawn``, ``forkserver`` or ``fork``) to start them
            with; ``spawn`` when ``None``. Each delivers every item exactly
            once; see docs/processes.md for what each costs.

    Returns:
        A :class:`ShardedGenerator` (a ``ProcessShardedGenerator`` with
        ``processes``): an iterator, safe for several consumer threads, usable
        as a context manager, accepted by Keras 2 and Keras 3 ``fit``. Errors
        in a shard are raised as :class:`ShardError`.
    """
    if not callable(fn):
        raise TypeError(
            f"sharded_generator: fn must be callable as fn(shard_index, num_shards); "
            f"got {type(fn).__name__}"
        )
    _check_count("num_shards", num_shards)
    _check_count("max_queue_size", max_queue_size)
    if processes:
        return process_sharded_generator(
            fn, num_shards, max_queue_size=max_queue_size, deterministic=deterministic,
            mp_context=mp_context,
        )
    return ShardedGenerator(fn, num_shards, max_queue_size, deterministic)


def _check_count(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"sharded_generator: {name} must be an int; got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"sharded_generator: {name} must be >= 1; got {value}")
