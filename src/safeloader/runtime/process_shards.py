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
  else that cannot be pickled a :class:`~safeloader.SpawnSafetyError` naming
  the part (e.g. a ``functools.partial`` argument holding a generator).
- Items: NumPy arrays, also inside tuples, lists and dicts, cross through
  shared memory (:mod:`safeloader.runtime.shared_arrays`: a ring of segments per
  shard, reused, copied out by the consumer); anything else is pickled.
- Bounded buffers: a shard has at most ``max_queue_size`` items sent and not
  yet taken (a semaphore it takes before each send), plus the one in hand.
- Order and delivery: each item exactly once; round-robin over the shards
  when ``deterministic`` (shards that end drop out), first come first served
  otherwise.
- Errors: an exception in a shard is raised in the consumer as
  :class:`~safeloader.ShardError` naming the shard; its ``__cause__`` is the
  shard's exception (rebuilt from pickle, or a ``RuntimeError`` with its type
  and message when it cannot be), whose own ``__cause__`` is a
  :class:`ShardTraceback` holding the traceback text from the shard's
  process. A shard process that dies (killed, out of memory) is a
  ``ShardError`` too; the consumer watches each process, so it never waits on
  a dead one.
- Ending: on exhaustion, an error, ``close()``, leaving a ``with`` block,
  garbage collection of the iterator and interpreter exit, every process is
  asked to stop (``SIGTERM``: its generator is closed, so ``finally`` blocks
  run), killed if it has not ended within :data:`STOP_GRACE_SECONDS`, and
  reaped; its shared memory segments are unlinked. A shard process leaves
  with ``os._exit`` once its generator is closed: ``atexit`` handlers do not
  run there, and the consumer does not wait seconds for the interpreter to
  tear down what the main script imported (TensorFlow, say).
- No orphans: each shard process watches its parent (multiprocessing's
  parent sentinel, in a thread) and stops when the consumer's process dies,
  however it dies; the processes ignore ``SIGINT``, so Ctrl-C reaches the
  consumer alone, which then stops them (and a stopped shard process unlinks
  its segments; multiprocessing's resource tracker unlinks any left once the
  last of these processes is gone).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import pickle
import signal
import sys
import threading
import time
import traceback
import types
import weakref
from collections.abc import Iterable, Iterator
from multiprocessing import connection
from multiprocessing.context import BaseContext
from multiprocessing.reduction import ForkingPickler
from typing import Any, Callable, NoReturn, TypeVar

from safeloader.runtime.shared_arrays import SlotReader, SlotWriter, segment_prefix
from safeloader.runtime.sharded import ShardError, ShardedGenerator
from safeloader.runtime.spawn_safety import check_spawn_safe

__all__ = [
    "DEFAULT_START_METHOD",
    "STOP_GRACE_SECONDS",
    "ProcessShardedGenerator",
    "ShardTraceback",
    "process_sharded_generator",
]

T = TypeVar("T")

#: The start method used when no multiprocessing context is given.
DEFAULT_START_METHOD = "spawn"

#: How long a stopping shard process may take to close its generator before it is killed.
STOP_GRACE_SECONDS = 5.0

# ("item", payload, segment) | ("end",) | ("error", ...) | ("died", text)
_Message = tuple[Any, ...]


class ShardTraceback(Exception):
    """The traceback text of an exception raised in a shard's process.

    Set as the ``__cause__`` of the re-raised exception, so that a printed
    traceback shows where in the shard's code the error came from.
    """

    def __str__(self) -> str:
        return f"\n\nTraceback in the shard's process:\n{self.args[0]}"


# -- the shard process ---------------------------------------------------------


class _Stop(BaseException):
    """Raised in a shard process by ``SIGTERM``: the consumer asked it to stop."""


class _StopSignal:
    """``SIGTERM`` raises :class:`_Stop` in the main thread, except inside :meth:`deferred`.

    A flag, not a signal mask: the parent watcher's thread may be the one the
    signal is delivered to, while Python runs the handler in the main thread.
    """

    def __init__(self) -> None:
        self.deferring = False
        self.requested = False
        if hasattr(signal, "SIGTERM") and os.name == "posix":  # elsewhere terminate() is final
            signal.signal(signal.SIGTERM, self._handle)

    def _handle(self, signum: int, frame: Any) -> None:
        self.requested = True
        if not self.deferring:
            self.ignore()
            raise _Stop

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        """Hold a stop request back while an item is written and sent, then honour it.

        So no segment is made without being kept, and no message is cut in half.
        """
        self.deferring = True
        try:
            yield
        finally:
            self.deferring = False
        if self.requested:
            self.ignore()
            raise _Stop

    def ignore(self) -> None:
        """From now on a stop request changes nothing (the clean-up is running)."""
        self.deferring = True
        if hasattr(signal, "SIGTERM") and os.name == "posix":
            signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _watch_parent() -> None:
    """Stop this process when its parent (the consumer) dies, even inside a long ``next()``."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        connection.wait([parent.sentinel])
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(STOP_GRACE_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="safeloader-parent-watch", daemon=True).start()


def run_shard(
    fn: Callable[[int, int], Iterable[Any]],
    index: int,
    num_shards: int,
    writer: connection.Connection,
    slots: Any,
    max_queue_size: int,
    prefix: str,
) -> None:
    """Body of shard ``index``'s process: send its items, then an end or error message."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    stop = _StopSignal()
    ring = SlotWriter(prefix, max_queue_size)
    iterator: Iterator[Any] | None = None
    finished = False  # the last message is sent: the consumer unlinks the segments
    try:
        _watch_parent()
        try:
            iterator = _open(fn, index, num_shards)
            for item in iterator:
                slots.acquire()  # at most max_queue_size items in flight
                with stop.deferred():
                    payload, segment_name = ring.write(item)
                    writer.send(("item", payload, segment_name))
            message: _Message = ("end",)
        except _Stop:
            return
        except BaseException as error:  # noqa: BLE001 - handed to the consumer
            message = _error_message(error)
        with stop.deferred():
            writer.send(message)
            finished = True
    except (_Stop, BrokenPipeError):
        return  # asked to stop, or the consumer is gone
    finally:
        stop.ignore()
        try:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()  # the generator's finally blocks run here
            ring.close(unlink=not finished)
            writer.close()
        except BaseException:  # noqa: BLE001 - nobody above us to raise to
            traceback.print_exc()
        _exit_at_once()


def _exit_at_once() -> NoReturn:
    """End the shard process without finalizing its interpreter.

    The shard has closed its generator and handed over or unlinked its shared
    memory. What finalization would still do is tear down the modules the
    main script imported (with TensorFlow: seconds), while the consumer waits
    to reap the process at the end of every pass.
    """
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, OSError, ValueError):
            pass
    os._exit(0)


def _open(fn: Callable[[int, int], Iterable[Any]], index: int, num_shards: int) -> Iterator[Any]:
    result = fn(index, num_shards)
    try:
        return iter(result)
    except TypeError:
        raise TypeError(
            f"sharded_generator: {_name(fn)}({index}, {num_shards}) returned "
            f"{type(result).__name__}, which is not iterable"
        ) from None


def _error_message(error: BaseException) -> _Message:
    text = "".join(traceback.format_exception(error))
    try:
        data: bytes | None = bytes(ForkingPickler.dumps(error))
        pickle.loads(data)  # an exception class whose __init__ needs other arguments fails here
    except Exception:  # noqa: BLE001 - sent as text instead
        data = None
    kind = type(error)
    return ("error", data, f"{kind.__module__}.{kind.__qualname__}", str(error), text)


# -- the consumer --------------------------------------------------------------


class _ProcessShards:
    """The consumer's side: processes, pipes and slots, under one lock.

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
        self.processes: list[Any] = []
        self.readers: list[connection.Connection] = []
        self.slots: list[Any] = []
        self.rings: list[SlotReader] = []
        self.rotation = list(range(num_shards))
        self.position = 0
        self.started = False
        self.outcome: BaseException | None = None  # StopIteration or ShardError, sticky
        # close() from another thread wakes a consumer waiting in next() through this pipe.
        self.closing = False
        self.wake_reader, self.wake_writer = connection.Pipe(duplex=False)

    def start(self) -> None:
        """Start one process per shard (lock held)."""
        self.started = True
        consumer = os.getpid()
        try:
            for index in range(self.num_shards):
                reader, writer = self.context.Pipe(duplex=False)
                slots = self.context.Semaphore(self.max_queue_size)
                process = self.context.Process(
                    target=run_shard,
                    args=(self.fn, index, self.num_shards, writer, slots, self.max_queue_size,
                          segment_prefix(consumer, index)),
                    name=f"safeloader-shard-{index}",
                    daemon=True,
                )
                try:
                    process.start()
                except BaseException:
                    reader.close()
                    raise
                finally:
                    writer.close()  # the child holds the write end: EOF once it is gone
                self.readers.append(reader)
                self.slots.append(slots)
                self.rings.append(SlotReader(self.max_queue_size))
                self.processes.append(process)
        except BaseException:
            self.outcome = StopIteration()
            self._stop_processes()
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
                index = self._next_shard()
                message = self._receive(index) if index is not None else ("closed",)
                if message[0] == "closed":
                    if self.outcome is None:
                        self.outcome = StopIteration()
                    break
                if message[0] == "item":
                    try:
                        item = self.rings[index].read(message[1], message[2])
                    except Exception as error:  # noqa: BLE001 - e.g. the segment vanished
                        self._finish(self._shard_error(index, error))
                        break
                    self.slots[index].release()
                    if self.deterministic:
                        self.position = (self.position + 1) % len(self.rotation)
                    return item
                if message[0] == "end":
                    self._drop(index)
                    continue
                self._finish(self._error_of(index, message))
            outcome = self.outcome
        raise outcome.with_traceback(None)

    def _next_shard(self) -> int | None:
        """The shard whose item comes next, or ``None`` when ``close()`` was called (lock held)."""
        if self.deterministic:
            return self.rotation[self.position]
        watched: list[Any] = [self.wake_reader]
        for index in self.rotation:
            watched += [self.readers[index], self.processes[index].sentinel]
        ready = set(connection.wait(watched))
        if self.closing:
            return None
        count = len(self.rotation)
        for offset in range(count):  # the first ready shard after the last one served
            index = self.rotation[(self.position + offset) % count]
            if self.readers[index] in ready or self.processes[index].sentinel in ready:
                self.position = (self.position + offset + 1) % count
                return index
        raise AssertionError("connection.wait returned no watched object")

    def _receive(self, index: int) -> _Message:
        """Shard ``index``'s next message; waits for it, the process's end or ``close()``."""
        reader, process = self.readers[index], self.processes[index]
        connection.wait([reader, process.sentinel, self.wake_reader])
        if self.closing:
            return ("closed",)
        try:
            if reader.poll():  # its messages first: it may have ended right after sending
                return reader.recv()  # type: ignore[no-any-return]
        except EOFError:
            pass
        process.join()
        return ("died", f"the process of shard {index} (pid {process.pid}) ended with exit "
                        f"code {process.exitcode} before its last item (its own error, if any, "
                        f"went to stderr)")

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

    def _error_of(self, index: int, message: _Message) -> ShardError:
        if message[0] == "died":
            return self._shard_error(index, RuntimeError(
                f"{message[1]}. A spawned process first imports the script being run: its "
                f"work must start under `if __name__ == \"__main__\":`."
            ))
        _, data, type_name, text, traceback_text = message
        error: BaseException
        try:
            error = pickle.loads(data) if data is not None else RuntimeError(f"{type_name}: {text}")
        except Exception:  # noqa: BLE001 - the class may not load here
            error = RuntimeError(f"{type_name}: {text}")
        error.__cause__ = ShardTraceback(traceback_text)
        return self._shard_error(index, error)

    def _shard_error(self, index: int, error: BaseException) -> ShardError:
        shard_error = ShardError(index, self.num_shards, error)
        shard_error.__cause__ = error
        return shard_error

    def _finish(self, outcome: BaseException) -> None:
        """Record the final outcome and end every process (lock held)."""
        if self.outcome is None:
            self.outcome = outcome
        self._stop_processes()

    def _stop_processes(self, indices: list[int] | None = None) -> None:
        """Stop, reap and drain the given shard processes (by default all not yet stopped)."""
        if indices is None:
            indices = [index for index, reader in enumerate(self.readers) if not reader.closed]
        pending = {}
        for index in indices:
            process = self.processes[index]
            if process.exitcode is None:
                process.terminate()
            pending[process.sentinel] = index
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        while pending and time.monotonic() < deadline:
            readers = [self.readers[index] for index in pending.values()]
            ready = connection.wait(list(pending) + readers, deadline - time.monotonic())
            for index in pending.values():
                self._drain(index)  # a sender blocked on a full pipe may then finish
            for sentinel in ready:
                if sentinel in pending:
                    self.processes[pending.pop(sentinel)].join()
        for index in pending.values():
            self.processes[index].kill()
            self.processes[index].join()
        for index in indices:
            self._drain(index)
            self.readers[index].close()
            self.rings[index].close()

    def _drain(self, index: int) -> None:
        """Read and drop what shard ``index`` sent and nobody will take (frees a blocked sender)."""
        reader = self.readers[index]
        try:
            while not reader.closed and reader.poll():
                message = reader.recv()
                if message[0] == "item":
                    self.rings[index].note(message[2])
        except (EOFError, OSError, pickle.UnpicklingError):
            return

    def close(self) -> None:
        """End every process and free what they sent; later ``next()`` raises ``StopIteration``.

        A consumer waiting in ``next()`` in another thread is woken first (its
        call raises ``StopIteration``), so closing never waits for a shard.
        """
        if not self.closing:
            self.closing = True
            self.wake_writer.send_bytes(b"wake")
        with self.lock:
            if self.outcome is None:
                self.outcome = StopIteration()
            self._stop_processes()


def _name(fn: Callable[..., Any]) -> str:
    return getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)


class ProcessShardedGenerator(ShardedGenerator[T]):
    """The iterator ``sharded_generator(..., processes=True)`` returns; see the module docstring.

    What the consumer sees (a generator to Keras, ``with``, ``close()``, no
    pickling) is :class:`~safeloader.runtime.sharded.ShardedGenerator`'s; the
    shards behind it are processes.
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
        self._shards = _ProcessShards(  # type: ignore[assignment]
            fn, num_shards, max_queue_size, bool(deterministic), context
        )
        self._finalizer = weakref.finalize(self, self._shards.close)

    @property
    def pids(self) -> list[int]:
        """The process ids of the shards started so far (empty before the first ``next()``)."""
        return [process.pid for process in self._shards.processes]  # type: ignore[attr-defined]

    def close(self) -> None:
        """End the shard processes and unlink their shared memory.

        Each process is asked to stop (its generator is closed, so its
        ``finally`` blocks run) and killed after :data:`STOP_GRACE_SECONDS`.
        Later ``next()`` calls raise ``StopIteration``.
        """
        self._shards.close()

    def __repr__(self) -> str:
        shards = self._shards
        mode = "round-robin" if shards.deterministic else "first-come"
        return (
            f"<safeloader.ProcessShardedGenerator {_name(shards.fn)} x {shards.num_shards} "
            f"processes ({shards.context.get_start_method()}), {mode}, "
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
    main_file = getattr(sys.modules.get("__main__"), "__file__", None)
    if main_file is not None and not os.path.exists(main_file):
        raise TypeError(
            f"sharded_generator(processes=True): the program runs from {main_file}, which a "
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
