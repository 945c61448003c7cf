"""Process shards: ``sharded_generator(fn, n, processes=True)`` runs each shard in its own process.

Threads help a generator whose work releases the GIL (I/O, NumPy); work that
holds it (decoding or augmenting in Python) needs processes. Each shard
``i`` runs ``fn(i, num_shards)`` in a process started with the ``spawn``
method unless another multiprocessing context is given: ``spawn`` is safe
with TensorFlow already loaded and behaves the same on Linux, macOS and
Windows. The guarantees are the thread mode's (see :mod:`safeloader.runtime.sharded`),
modelled on PyTorch's ``DataLoader`` workers and Grain's multiprocessing
workers:

- ``fn`` is checked before anything starts: a lambda or a local function
  (which a spawned process cannot import) is a ``TypeError``, and anything
  else a spawned process could not receive a
  :class:`~safeloader.SpawnSafetyError` naming the part (a
  ``functools.partial`` argument holding a generator; a function or class
  defined under the ``__main__`` guard or in a notebook).
- Items: NumPy arrays, also inside tuples, lists and dicts, cross through
  shared memory (:mod:`safeloader.runtime.shared_arrays`: a ring of segments per
  shard, reused, copied out by the consumer); anything else is pickled.
- Bounded buffers: a shard has at most ``max_queue_size`` items sent and not
  yet taken (it spends a credit per item; the consumer returns one per item
  taken, see :mod:`safeloader.runtime.shard_process`), plus the one in hand.
- Order and delivery: each item exactly once; round-robin over the shards
  when ``deterministic`` (shards that end drop out), first come first served
  otherwise.
- Errors: an exception in a shard is raised in the consumer as
  :class:`~safeloader.ShardError` naming the shard; its ``__cause__`` is the
  shard's exception (rebuilt from pickle, or a ``RuntimeError`` with its type
  and message when it cannot be), whose own ``__cause__`` is a
  :class:`ShardTraceback` holding the traceback text from the shard's
  process. An item the consumer cannot rebuild (its ``__reduce__`` fails
  there) is a ``ShardError`` naming the shard, its cause that failure. A
  shard process that dies (killed, out of memory) is a ``ShardError`` too,
  saying how far it got (importing the main module, loading ``fn``, or
  running); the consumer watches each process, so it never waits on a dead
  one.
- Ending: on exhaustion, an error, ``close()``, leaving a ``with`` block,
  garbage collection of the iterator and interpreter exit, every process is
  asked to stop (``SIGTERM``: its generator is closed, so ``finally`` blocks
  run), killed if it has not ended within :data:`STOP_GRACE_SECONDS`, and
  reaped; then every operating-system resource the iterator made is
  released, whoever still holds the Python object (Keras and tf.data keep
  each epoch's generator): each channel, the wake-up pipe, each process's
  handles (``Process.close()``) and every shared memory segment. Nothing is
  made before the first ``next()``. A shard process leaves
  with ``os._exit`` once its generator is closed: ``atexit`` handlers do not
  run there, and the consumer does not wait seconds for the interpreter to
  tear down what the main script imported (TensorFlow, say).
- No orphans: each shard process watches its parent (multiprocessing's
  parent sentinel, in a thread) and stops when the consumer's process dies,
  however it dies; the processes ignore ``SIGINT``, so Ctrl-C reaches the
  consumer alone, which then stops them (and a stopped shard process unlinks
  its segments; multiprocessing's resource tracker unlinks any left once the
  last of these processes is gone).

Start methods. ``spawn`` (the default) and ``forkserver`` pickle ``fn`` and
import the main module in each new process; ``fork`` copies the consumer's
memory and pickles nothing. Every one of them delivers every item exactly
once. That needs one precaution under ``fork``: multiprocessing starts its
resource tracker lazily, and a forked child that creates the first shared
memory segment starts a tracker of its own, which unlinks that child's
segments when the child exits, items not yet read included. So the
consumer starts its tracker before it starts any process: forked children
then inherit it (as CPython intends for ``fork``; spawned and forkserver
children are handed it anyway), and a segment is unlinked by the consumer
once read, or by that one tracker once every process of the program is gone.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import threading
import time
import types
from collections.abc import Iterable
from multiprocessing import connection, resource_tracker
from multiprocessing.context import BaseContext
from typing import Any, Callable, TypeVar

from safeloader.runtime.main_module import GUARD, main_file
from safeloader.runtime.shard_iterator import MergedShards, ShardError, shard_name
from safeloader.runtime.shard_process import MainImported, Message, run_shard
from safeloader.runtime.shared_arrays import SlotReader, segment_prefix
from safeloader.runtime.spawn_safety import check_spawn_safe

__all__ = [
    "DEFAULT_START_METHOD",
    "STOP_GRACE_SECONDS",
    "ProcessShardedGenerator",
    "ShardTraceback",
    "check_shard_function",
    "process_sharded_generator",
    "resolve_context",
]

T = TypeVar("T")

#: The start method used when no multiprocessing context is given.
DEFAULT_START_METHOD = "spawn"

#: How long a stopping shard process may take to close its generator before it is killed.
STOP_GRACE_SECONDS = 5.0

#: How far a shard process got, as its consumer knows it.
_STARTING, _IMPORTED, _RUNNING = "importing the main module", "loading fn", "running"

_REBUILD_CONTEXT = "an item it sent could not be rebuilt in the consumer's process"


class ShardTraceback(Exception):
    """The traceback text of an exception raised in a shard's process.

    Set as the ``__cause__`` of the re-raised exception, so that a printed
    traceback shows where in the shard's code the error came from.
    """

    def __str__(self) -> str:
        return f"\n\nTraceback in the shard's process:\n{self.args[0]}"


class _ShardProcess:
    """One shard as its consumer sees it: the process, the channel, the ring, how far it got."""

    __slots__ = ("index", "process", "pid", "channel", "ring", "stage")

    def __init__(
        self, index: int, process: Any, channel: connection.Connection, ring: SlotReader,
        stage: str,
    ) -> None:
        self.index = index
        self.process = process
        self.pid: int = process.pid
        self.channel = channel
        self.ring = ring
        self.stage = stage

    @property
    def released(self) -> bool:
        """Whether :meth:`release` has run."""
        return self.channel.closed

    def give_credit(self) -> None:
        """Tell the shard that one more of its items was taken (its slot is free)."""
        try:
            self.channel.send_bytes(b"")
        except OSError:
            pass  # the process has ended; its death or its last message is read next

    def drain(self) -> bool:
        """Read and drop what the shard sent and nobody will take (frees a blocked sender).

        Returns whether more may come (the shard's end of the channel is open).
        """
        channel = self.channel
        try:
            while not channel.closed and channel.poll():
                message = channel.recv()
                if message[0] == "item":
                    self.ring.note(message[2])
        except (EOFError, OSError, pickle.UnpicklingError):
            return False
        return not channel.closed

    def release(self) -> None:
        """Free the channel, the segments and the process's handles (the process has ended)."""
        if self.released:
            return
        self.drain()
        self.channel.close()
        self.ring.close()
        self.process.close()  # its sentinel and the pipes multiprocessing kept for it


class _ProcessShards:
    """The consumer's side: the shards' processes, under one lock.

    Never refers to the :class:`ProcessShardedGenerator` that owns it, so that
    dropping the iterator lets its finalizer call :meth:`close`.
    """

    def __init__(
        self,
        fn: Callable[[int, int], Iterable[Any]],
        num_shards: int,
        max_queue_size: int,
        deterministic: bool,
        context: BaseContext,
    ) -> None:
        self.fn = fn
        self.num_shards = num_shards
        self.max_queue_size = max_queue_size
        self.deterministic = deterministic
        self.context = context
        self.lock = threading.RLock()
        self.shards: list[_ShardProcess] = []
        self.rotation = list(range(num_shards))
        self.position = 0
        self.started = False
        self.outcome: BaseException | None = None  # StopIteration, ShardError...: sticky
        # close() from another thread wakes a consumer waiting in next() through
        # this pipe. Made by start(), closed with the rest; wake_lock, not lock,
        # guards it: close() writes to it while a consumer holds the lock.
        self.closing = False
        self.wake_lock = threading.Lock()
        self.wake: tuple[connection.Connection, connection.Connection] | None = None

    def start(self) -> None:
        """Start one process per shard (lock held); on failure that error is every outcome."""
        self.started = True
        try:
            if os.name == "posix":
                # Forked children inherit a running tracker; without one, each
                # would start its own and lose its unread segments at exit.
                resource_tracker.ensure_running()
            self.wake = connection.Pipe(duplex=False)
            consumer = os.getpid()
            stage = _IMPORTED if self.context.get_start_method() == "fork" else _STARTING
            for index in range(self.num_shards):
                ours, theirs = self.context.Pipe(duplex=True)
                try:
                    process = self.context.Process(
                        target=run_shard,
                        args=(theirs, MainImported(theirs), self.fn, index, self.num_shards,
                              self.max_queue_size, segment_prefix(consumer, index)),
                        name=f"safeloader-shard-{index}",
                        daemon=True,
                    )
                    process.start()
                except BaseException:
                    ours.close()
                    raise
                finally:
                    theirs.close()  # the child holds its end: EOF here once it is gone
                self.shards.append(
                    _ShardProcess(index, process, ours, SlotReader(self.max_queue_size), stage)
                )
        except BaseException as error:
            self.outcome = error if isinstance(error, Exception) else StopIteration()
            self._release()
            raise

    def next_item(self) -> Any:
        """Return the next merged item, or raise ``StopIteration``/``ShardError``."""
        with self.lock:
            if self.outcome is None and not self.started:
                self.start()
            while self.outcome is None:
                if not self.rotation:
                    self._finish(StopIteration())
                    break
                shard = self._next_shard()
                message = self._receive(shard) if shard is not None else ("closed",)
                kind = message[0]
                if shard is None or kind == "closed":
                    self.outcome = StopIteration()  # close() releases everything
                    break
                if kind == "imported":
                    shard.stage = _IMPORTED
                elif kind == "started":
                    shard.stage = _RUNNING
                elif kind == "item":
                    try:
                        item = shard.ring.read(message[1], message[2])
                    except Exception as error:  # noqa: BLE001 - its __reduce__ failed here...
                        failure: ShardError | None = self._shard_error(
                            shard, error, _REBUILD_CONTEXT)
                    else:
                        failure = None
                    shard.give_credit()  # the slot is free, whatever came of the item
                    if failure is not None:
                        self._finish(failure)
                        break
                    if self.deterministic:
                        self.position = (self.position + 1) % len(self.rotation)
                    return item
                elif kind == "end":
                    self._drop(shard.index)
                else:
                    self._finish(self._error_of(shard, message))
            outcome = self.outcome
        raise outcome.with_traceback(None)

    def _next_shard(self) -> _ShardProcess | None:
        """The shard whose message comes next; ``None`` once ``close()`` was called (lock held)."""
        if self.deterministic:
            return self.shards[self.rotation[self.position]]
        assert self.wake is not None
        watched: list[Any] = [self.wake[0]]
        for index in self.rotation:
            watched += [self.shards[index].channel, self.shards[index].process.sentinel]
        ready = set(connection.wait(watched))
        if self.closing:
            return None
        count = len(self.rotation)
        for offset in range(count):  # the first ready shard after the last one served
            shard = self.shards[self.rotation[(self.position + offset) % count]]
            if shard.channel in ready or shard.process.sentinel in ready:
                self.position = (self.position + offset + 1) % count
                return shard
        raise AssertionError("connection.wait returned no watched object")

    def _receive(self, shard: _ShardProcess) -> Message:
        """The shard's next message; waits for it, the process's end or ``close()``."""
        assert self.wake is not None
        connection.wait([shard.channel, shard.process.sentinel, self.wake[0]])
        if self.closing:
            return ("closed",)
        try:
            if shard.channel.poll():  # its messages first: it may have ended right after sending
                return shard.channel.recv()  # type: ignore[no-any-return]
        except (EOFError, OSError, pickle.UnpicklingError):
            pass  # cut short: the process died while sending
        shard.process.join()
        return ("died",)

    def _drop(self, index: int) -> None:
        """Shard ``index`` has ended: it leaves the rotation (lock held).

        Its process is ending by itself; it is reaped with the others when
        the last shard ends, so that a shard's exit never stalls the rest.
        """
        position = self.rotation.index(index)
        del self.rotation[position]
        if position < self.position:
            self.position -= 1
        self.position = self.position % len(self.rotation) if self.rotation else 0

    def _error_of(self, shard: _ShardProcess, message: Message) -> ShardError:
        if message[0] == "died":
            return self._shard_error(shard, RuntimeError(self._death(shard)))
        _, data, type_name, text, traceback_text, context = message
        error: BaseException
        try:
            error = pickle.loads(data) if data is not None else RuntimeError(f"{type_name}: {text}")
        except Exception:  # noqa: BLE001 - the class may not load here
            error = RuntimeError(f"{type_name}: {text}")
        error.__cause__ = ShardTraceback(traceback_text)
        return self._shard_error(shard, error, context)

    def _death(self, shard: _ShardProcess) -> str:
        """What to say of a shard process that ended before its last message."""
        ended = (f"the process of shard {shard.index} (pid {shard.pid}) ended with exit code "
                 f"{shard.process.exitcode}")
        if shard.stage == _STARTING:
            path = main_file()
            return (f"{ended} while importing the main module{f' ({path})' if path else ''}, "
                    f"before it could load fn (its traceback went to stderr). A spawned process "
                    f"first imports the script being run: the script's work must start under "
                    f"`{GUARD}`.")
        if shard.stage == _IMPORTED:
            return (f"{ended} while loading fn ({shard_name(self.fn)}; its traceback went to "
                    f"stderr): fn must be importable there, a def at the top level of an "
                    f"importable module")
        return f"{ended} before its last item (its own error, if any, went to stderr)"

    def _shard_error(self, shard: _ShardProcess, error: BaseException,
                     context: str = "") -> ShardError:
        shard_error = ShardError(shard.index, self.num_shards, error, context)
        shard_error.__cause__ = error
        return shard_error

    def _finish(self, outcome: BaseException) -> None:
        """Record the final outcome and release everything (lock held)."""
        if self.outcome is None:
            self.outcome = outcome
        self._release()

    def _release(self) -> None:
        """End every shard process, then free every resource the shards hold (lock held).

        Idempotent: each shard's channel, segments and process handles, and the
        wake-up pipe, are released once.
        """
        live = [shard for shard in self.shards if not shard.released]
        pending = {}
        for shard in live:
            if shard.process.exitcode is None:
                shard.process.terminate()
            pending[shard.process.sentinel] = shard
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        open_channels = {shard.channel: shard for shard in live}
        while pending and time.monotonic() < deadline:
            ready = connection.wait(list(pending) + list(open_channels),
                                    deadline - time.monotonic())
            for channel in ready:
                shard = open_channels.get(channel)  # type: ignore[call-overload]
                if shard is not None and not shard.drain():  # a blocked sender may then finish
                    del open_channels[channel]  # at its end: watching it would spin
            for sentinel in ready:
                if sentinel in pending:
                    pending.pop(sentinel).process.join()
        for shard in pending.values():
            shard.process.kill()
            shard.process.join()
        for shard in live:
            shard.release()
        with self.wake_lock:
            if self.wake is not None:
                for end in self.wake:
                    end.close()
                self.wake = None

    def close(self) -> None:
        """End every process and free what they hold; later ``next()`` raises ``StopIteration``.

        A consumer waiting in ``next()`` in another thread is woken first (its
        call raises ``StopIteration``), so closing never waits for a shard.
        """
        with self.wake_lock:
            wake = not self.closing and self.wake is not None
            self.closing = True  # before the wake-up: the woken consumer reads it
            if wake:
                self.wake[1].send_bytes(b"wake")  # type: ignore[index]
        with self.lock:
            if self.outcome is None:
                self.outcome = StopIteration()
            self._release()


class ProcessShardedGenerator(MergedShards[T]):
    """The iterator ``sharded_generator(..., processes=True)`` returns; see the module docstring.

    ``close()`` asks each process to stop (its generator is closed, so its
    ``finally`` blocks run), kills it after :data:`STOP_GRACE_SECONDS`, and
    releases every resource; later ``next()`` calls raise ``StopIteration``.
    """

    __slots__ = ()

    def __init__(
        self,
        fn: Callable[[int, int], Iterable[T]],
        num_shards: int,
        max_queue_size: int,
        deterministic: bool,
        context: BaseContext,
    ) -> None:
        shards = _ProcessShards(fn, num_shards, max_queue_size, bool(deterministic), context)
        super().__init__(shards, shards.close)

    @property
    def pids(self) -> list[int]:
        """The process ids of the shards started so far (empty before the first ``next()``)."""
        return [shard.pid for shard in self._shards.shards]  # type: ignore[attr-defined]

    def __repr__(self) -> str:
        shards = self._shards
        mode = "round-robin" if shards.deterministic else "first-come"
        return (
            f"<safeloader.ProcessShardedGenerator {shard_name(shards.fn)} x {shards.num_shards} "
            f"processes ({shards.context.get_start_method()}), "  # type: ignore[attr-defined]
            f"{mode}, "
            f"max_queue_size={shards.max_queue_size}>"
        )


def resolve_context(mp_context: BaseContext | str | None) -> BaseContext:
    """The multiprocessing context to start shards with: ``spawn`` unless told otherwise."""
    if mp_context is None:
        return multiprocessing.get_context(DEFAULT_START_METHOD)
    if isinstance(mp_context, str):
        return multiprocessing.get_context(mp_context)
    if isinstance(mp_context, BaseContext):
        return mp_context
    raise TypeError(
        f"sharded_generator: mp_context must be a multiprocessing context, a start method name "
        f"or None; got {type(mp_context).__name__}"
    )


def check_shard_function(fn: Callable[..., Any], context: BaseContext) -> None:
    """Raise ``TypeError`` now if ``fn`` cannot reach a shard process started by ``context``."""
    if context.get_start_method() == "fork":
        return  # a forked child inherits fn; nothing is pickled
    qualname = getattr(fn, "__qualname__", "")
    if isinstance(fn, types.FunctionType) and ("<lambda>" in qualname or "<locals>" in qualname):
        kind = "a lambda" if qualname.endswith("<lambda>") else "a local function"
        raise TypeError(
            f"sharded_generator(processes=True): fn {fn.__module__}.{qualname} is {kind}; a "
            f"spawned shard process imports fn by module and name, so define it with `def` at "
            f"the top level of an importable module, and pass data it needs with "
            f"functools.partial(fn, ...)."
        )
    check_spawn_safe(fn, name="fn")
    path = main_file()
    if path is not None and not os.path.exists(path):
        raise TypeError(
            f"sharded_generator(processes=True): the program runs from {path}, which a "
            f"spawned process cannot import (multiprocessing starts it from the script's "
            f"file); save the script to a file and run that."
        )


def process_sharded_generator(
    fn: Callable[[int, int], Iterable[T]],
    num_shards: int,
    *,
    max_queue_size: int,
    deterministic: bool,
    mp_context: BaseContext | str | None = None,
) -> ProcessShardedGenerator[T]:
    """Check ``fn`` and return the iterator; the processes start at the first ``next()``.

    Called by :func:`safeloader.sharded_generator` with ``processes=True``,
    which has checked the counts.
    """
    context = resolve_context(mp_context)
    check_shard_function(fn, context)
    return ProcessShardedGenerator(fn, num_shards, max_queue_size, deterministic, context)
