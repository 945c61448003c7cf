"""NumPy arrays from a shard process to the consumer through shared memory.

A shard process turns each item into a *payload* with :func:`encode`: every
NumPy array in the item (the item itself, or inside tuples, lists and dicts,
at any depth) is copied into a new :class:`multiprocessing.shared_memory.SharedMemory`
segment and replaced by a small :class:`SharedArray` record (segment name,
dtype, shape); everything else stays as it is and is pickled with the payload.
So an array's bytes are never pickled or pushed through a pipe: the producer
copies them once into the segment, the consumer once out of it
(:func:`decode`), and unlinks the segment at once.

Why the consumer copies out instead of handing over a view of the segment:
the segment could then live only as long as the user's array, which needs an
``ndarray`` subclass holding the segment (Keras and tf.data would see that
subclass), and a consumer that keeps arrays would keep ``/dev/shm`` entries.
With a copy, every segment is unlinked when its item is taken, and what the
consumer gets is a plain ``ndarray``.

Lifetimes: the consumer owns a segment from the moment it receives the
payload (:func:`decode` or, for an item never taken, :func:`discard` unlink
it). The producer keeps its own handle open until the consumer has taken the
item (:class:`SentSegments`): on Windows a named segment disappears when its
last handle closes. Each segment is registered with multiprocessing's
resource tracker (``SharedMemory`` does that), which the spawned processes
share with their parent: if every process dies before a segment is unlinked,
the tracker unlinks it when the last of them is gone.

NumPy is imported only where arrays are: a process that never imported NumPy
cannot have produced one.
"""

from __future__ import annotations

import secrets
import sys
from collections import deque
from multiprocessing.shared_memory import SharedMemory
from typing import Any

__all__ = ["SentSegments", "SharedArray", "decode", "discard", "encode", "segment_prefix"]


class SharedArray:
    """Stands in a payload for one array: the segment that holds its bytes, dtype and shape."""

    __slots__ = ("name", "dtype", "shape")

    def __init__(self, name: str, dtype: Any, shape: tuple[int, ...]) -> None:
        self.name = name
        self.dtype = dtype
        self.shape = shape

    def __reduce__(self) -> tuple[Any, ...]:
        return (SharedArray, (self.name, self.dtype, self.shape))


def segment_prefix(consumer_pid: int, shard_index: int) -> str:
    """The start of every segment name a shard creates: ``sl<consumer pid>_<shard>_``.

    Short (macOS allows 31 characters) and traceable to the consumer process.
    """
    return f"sl{consumer_pid}_{shard_index}_"


def encode(item: Any, prefix: str) -> tuple[Any, list[SharedMemory]]:
    """The payload for ``item`` and the segments created for its arrays (producer side)."""
    segments: list[SharedMemory] = []
    numpy = sys.modules.get("numpy")
    if numpy is None:
        return item, segments
    try:
        payload = _encode(item, prefix, numpy.ndarray, segments)
    except BaseException:
        for segment in segments:
            segment.close()
            segment.unlink()
        raise
    return payload, segments


def _encode(item: Any, prefix: str, ndarray: type, segments: list[SharedMemory]) -> Any:
    kind = type(item)
    if kind is ndarray:
        if item.dtype.hasobject or item.nbytes == 0:
            return item  # object arrays hold references, not bytes: pickled
        segment = _create(prefix, item.nbytes)
        segments.append(segment)
        view = ndarray(item.shape, item.dtype, buffer=segment.buf)
        view[...] = item
        del view  # the segment's buffer must have no views left when it closes
        return SharedArray(segment.name, item.dtype, item.shape)
    if kind is tuple or kind is list:
        return kind(_encode(part, prefix, ndarray, segments) for part in item)
    if kind is dict:
        return {key: _encode(value, prefix, ndarray, segments) for key, value in item.items()}
    return item


def _create(prefix: str, size: int) -> SharedMemory:
    while True:
        try:
            return SharedMemory(name=prefix + secrets.token_hex(5), create=True, size=size)
        except FileExistsError:
            continue


def decode(payload: Any) -> Any:
    """The item a payload stands for; its segments are copied out and unlinked (consumer side)."""
    if type(payload) is SharedArray:
        import numpy  # the producer had it, so it is installed

        segment = SharedMemory(name=payload.name)
        try:
            view = numpy.ndarray(payload.shape, payload.dtype, buffer=segment.buf)
            array = view.copy()
            del view
        finally:
            segment.close()
            segment.unlink()
        return array
    kind = type(payload)
    if kind is tuple or kind is list:
        return kind(decode(part) for part in payload)
    if kind is dict:
        return {key: decode(value) for key, value in payload.items()}
    return payload


def discard(payload: Any) -> None:
    """Unlink the segments of a payload that will never be decoded (consumer side)."""
    if type(payload) is SharedArray:
        try:
            segment = SharedMemory(name=payload.name)
        except FileNotFoundError:
            return
        segment.close()
        segment.unlink()
        return
    if type(payload) in (tuple, list):
        for part in payload:
            discard(part)
    elif type(payload) is dict:
        for value in payload.values():
            discard(value)


class SentSegments:
    """The producer's handles on segments it sent and the consumer may not have taken yet.

    A shard may have at most ``max_queue_size`` items in flight (it takes a
    slot before each send). So after it got the slot for its next item, all
    but the last ``max_queue_size - 1`` items it sent have been taken, and
    their handles can close.
    """

    def __init__(self, max_queue_size: int) -> None:
        self._keep = max_queue_size - 1
        self._sent: deque[list[SharedMemory]] = deque()

    def add(self, segments: list[SharedMemory]) -> None:
        """Remember the segments of an item just sent (an empty list for an item without arrays)."""
        self._sent.append(segments)

    def release_taken(self) -> None:
        """Close the handles of items the consumer has surely taken (call after taking a slot)."""
        while len(self._sent) > self._keep:
            for segment in self._sent.popleft():
                segment.close()

    def close(self) -> None:
        """Close every handle (the consumer, or the resource tracker, unlinks)."""
        while self._sent:
            for segment in self._sent.popleft():
                segment.close()
