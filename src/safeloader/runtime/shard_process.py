"""What runs inside a shard's process: :func:`run_shard`, and the messages it sends.

A shard process and its consumer share one duplex channel (a
``multiprocessing`` ``Pipe``). The shard sends, in order:

- ``("imported",)``: under ``spawn`` and ``forkserver``, sent while the
  process's arguments are unpickled, that is after the main module was
  imported and before ``fn`` is loaded (see :class:`MainImported`);
- ``("started",)``: ``fn`` is loaded, :func:`run_shard` runs;
- ``("item", data, segment)`` per item: ``data`` is the item pickled, its
  NumPy arrays replaced by records of where they are in shared memory
  segment ``segment`` (:mod:`safeloader.runtime.shared_arrays`);
- then ``("end",)`` or ``("error", data, type name, text, traceback text,
  context)``.

The consumer answers each item it has taken with a credit (an empty
message). The shard starts with ``max_queue_size`` credits and spends one
per item, so at most ``max_queue_size`` items are sent and not taken. Credits
travel on the channel the shard already has, so flow control costs no named
semaphore (a file in ``/dev/shm`` that lives as long as its Python object).
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
from collections.abc import Iterable, Iterator
from multiprocessing import connection
from multiprocessing.reduction import ForkingPickler
from typing import Any, Callable, NoReturn

from safeloader.runtime.shard_iterator import open_shard
from safeloader.runtime.shared_arrays import SlotWriter

__all__ = ["ORPHAN_GRACE_SECONDS", "MainImported", "Message", "run_shard"]

#: How long a shard process whose consumer died may take to close its generator.
ORPHAN_GRACE_SECONDS = 5.0

# ("imported",) | ("started",) | ("item", data, segment) | ("end",) | ("error", ...)
Message = tuple[Any, ...]


class MainImported:
    """Sends ``("imported",)`` on a channel when it is unpickled in a new process.

    Passed among a shard process's arguments before ``fn``: ``spawn`` and
    ``forkserver`` import the main module first and unpickle the arguments
    after, so the consumer learns whether a process that died got past that
    import. Under ``fork`` nothing is pickled and it is never sent.
    """

    def __init__(self, channel: connection.Connection) -> None:
        self.channel = channel

    def __reduce__(self) -> tuple[Any, ...]:
        return (_announce_imported, (self.channel,))


def _announce_imported(channel: connection.Connection) -> MainImported:
    channel.send(("imported",))
    return MainImported(channel)


class _Stop(BaseException):
    """Raised in a shard process by ``SIGTERM``, or when the consumer's end of the channel shuts."""


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


class _UnsendableItem(Exception):
    """An item the shard yielded could not be pickled to be sent."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


def _watch_parent() -> None:
    """Stop this process when its parent (the consumer) dies, even inside a long ``next()``."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        connection.wait([parent.sentinel])
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(ORPHAN_GRACE_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="safeloader-parent-watch", daemon=True).start()


def run_shard(
    channel: connection.Connection,
    announcement: MainImported,
    fn: Callable[[int, int], Iterable[Any]],
    index: int,
    num_shards: int,
    max_queue_size: int,
    prefix: str,
) -> None:
    """Body of shard ``index``'s process: send its items, then an end or error message.

    ``announcement`` has done its work by the time this runs (see
    :class:`MainImported`).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    stop = _StopSignal()
    ring = SlotWriter(prefix, max_queue_size)
    iterator: Iterator[Any] | None = None
    finished = False  # the last message is sent: the consumer unlinks the segments
    credits = max_queue_size
    try:
        _watch_parent()
        with stop.deferred():
            channel.send(("started",))
        try:
            iterator = open_shard(fn, index, num_shards)
            for item in iterator:
                if not credits:
                    _wait_for_credit(channel)
                    credits = 1
                credits -= 1
                with stop.deferred():
                    payload, segment_name = ring.write(item)
                    channel.send(("item", _pickled(payload), segment_name))
            message: Message = ("end",)
        except _Stop:
            return
        except _UnsendableItem as unsendable:
            message = _error_message(unsendable.error, "an item it yielded could not be pickled")
        except BaseException as error:  # noqa: BLE001 - handed to the consumer
            message = _error_message(error)
        with stop.deferred():
            channel.send(message)
            finished = True
    except (_Stop, OSError):
        return  # asked to stop, or the consumer is gone (BrokenPipeError, a reset)
    finally:
        stop.ignore()
        try:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()  # the generator's finally blocks run here
            ring.close(unlink=not finished)
            channel.close()
        except BaseException:  # noqa: BLE001 - nobody above us to raise to
            traceback.print_exc()
        _exit_at_once()


def _wait_for_credit(channel: connection.Connection) -> None:
    """Block until the consumer has taken an item; :class:`_Stop` if it closed the channel."""
    try:
        channel.recv_bytes()
    except (EOFError, OSError):
        raise _Stop from None


def _pickled(payload: Any) -> bytes:
    """``payload`` pickled on its own, so that a consumer that cannot rebuild it can still
    read the message around it (and give the item's slot back)."""
    try:
        return bytes(ForkingPickler.dumps(payload))
    except Exception as error:  # noqa: BLE001 - PicklingError, TypeError, AttributeError...
        raise _UnsendableItem(error) from error


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


def _error_message(error: BaseException, context: str = "") -> Message:
    text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    try:
        data: bytes | None = bytes(ForkingPickler.dumps(error))
        pickle.loads(data)  # an exception class whose __init__ needs other arguments fails here
    except Exception:  # noqa: BLE001 - sent as text instead
        data = None
    kind = type(error)
    return ("error", data, f"{kind.__module__}.{kind.__qualname__}", str(error), text, context)
