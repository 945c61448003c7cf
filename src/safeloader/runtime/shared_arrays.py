"""NumPy arrays from a shard process to the consumer through shared memory.

Each shard process owns a ring of ``max_queue_size`` shared memory segments
(:class:`SlotWriter`), one per item it may have in flight. Item ``k`` goes
into slot ``k % max_queue_size``: a shard spends one of its credits before
it writes an item (the consumer returns one for each item it has copied out,
see :mod:`safeloader.runtime.shard_process`), so with at most
``max_queue_size`` items sent and not taken, the item that used the same
slot before has been taken. Every
NumPy array of the item (the item itself, or inside tuples, lists and dicts,
at any depth) is copied into the slot at an aligned offset and replaced by a
small :class:`SharedArray` record (offset, dtype, shape); everything else
stays as it is and is pickled with that payload. So an array's bytes are
never pickled or pushed through a pipe, and a steady stream of items costs no
system call and no page fault for its arrays: the segments are reused and
grow (doubling) only for a bigger item.

The consumer maps each segment once (:class:`SlotReader`) and copies an
item's arrays out before it gives the slot back. Why a copy rather than a
view: the slot is reused for a later item, so a view would change under the
user's feet; and what the consumer gets is a plain ``ndarray``, which Keras
and tf.data take as it is.

What a copy keeps: dtype, shape and values; Fortran order (an array that is
Fortran-contiguous and not C-contiguous is stored and copied out in Fortran
order; any other layout, a strided view say, arrives C-contiguous); a
read-only array stays read-only; the same array object twice in one item
(``(a, a)``) arrives as one array twice. What it does not keep: arrays that
share memory without being the same object (``a`` and ``a[1:]``) arrive as
separate copies, ``ndarray`` subclasses and arrays of Python objects travel
by pickle (as pickle rebuilds them: writable), and an empty array by pickle
too (its flags are pickle's).

Lifetimes: the producer creates its segments and unlinks those it replaces
(the consumer has read the item that used it) and, when it is stopped, all
of them. After a last message (its end, or an error) it leaves them to the
consumer, which may still be reading its items: the consumer unlinks every
segment it has seen when it has done with the shard
(:meth:`SlotReader.close`), which also covers a producer that was killed.
Segments nobody has seen are registered with
multiprocessing's resource tracker (``SharedMemory`` does that), which the
spawned processes share with their parent and which unlinks them when the
last of those processes is gone. On Windows a segment lives while a handle
is open: the producer keeps its handles until it replaces or ends them.

NumPy is imported only where arrays are: a process that never imported NumPy
cannot have produced one.
"""

from __future__ import annotations

import pickle
import secrets
import sys
from multiprocessing.shared_memory import SharedMemory
from typing import Any

__all__ = ["SharedArray", "SlotReader", "SlotWriter", "segment_prefix"]

#: Arrays start at multiples of this many bytes in a slot (a cache line).
ALIGNMENT = 64


class SharedArray:
    """Stands in a payload for one array: where its bytes are in the slot, and its layout.

    ``fortran``: the bytes are in Fortran order; ``writeable``: false for an
    array that was read-only.
    """

    __slots__ = ("offset", "dtype", "shape", "fortran", "writeable")

    def __init__(
        self, offset: int, dtype: Any, shape: tuple[int, ...], fortran: bool, writeable: bool
    ) -> None:
        self.offset = offset
        self.dtype = dtype
        self.shape = shape
        self.fortran = fortran
        self.writeable = writeable

    @property
    def order(self) -> str:
        """NumPy's name for the layout: ``"F"`` or ``"C"``."""
        return "F" if self.fortran else "C"

    def __reduce__(self) -> tuple[Any, ...]:
        return (SharedArray, (self.offset, self.dtype, self.shape, self.fortran, self.writeable))


def segment_prefix(consumer_pid: int, shard_index: int) -> str:
    """The start of every segment name a shard creates: ``sl<consumer pid>_<shard>_``.

    Short (macOS allows 31 characters) and traceable to the consumer process.
    """
    return f"sl{consumer_pid}_{shard_index}_"


class SlotWriter:
    """The producer's ring of segments: :meth:`write` puts an item's arrays into the next slot."""

    def __init__(self, prefix: str, slots: int) -> None:
        self._prefix = prefix
        self._segments: list[SharedMemory | None] = [None] * slots
        self._count = 0

    def write(self, item: Any) -> tuple[Any, str | None]:
        """The payload for ``item`` and the name of the segment holding its arrays (if any).

        Call once per item sent, after spending one of the shard's credits.
        """
        slot = self._count % len(self._segments)
        self._count += 1
        numpy = sys.modules.get("numpy")
        if numpy is None:
            return item, None
        layout = _Layout()
        payload = _plan(item, numpy.ndarray, layout)
        if not layout.arrays:
            return item, None
        segment = self._segment(slot, layout.size)
        for array, record in layout.arrays.values():
            view = numpy.ndarray(
                record.shape, record.dtype, buffer=segment.buf, offset=record.offset,
                order=record.order,
            )
            view[...] = array
            del view  # no view may outlive the segment's buffer
        return payload, segment.name

    def _segment(self, slot: int, size: int) -> SharedMemory:
        segment = self._segments[slot]
        if segment is not None and segment.size >= size:
            return segment
        if segment is not None:
            size = max(size, 2 * segment.size)  # untouched pages cost nothing
            _release(segment)
        while True:
            try:
                segment = SharedMemory(self._prefix + secrets.token_hex(5), create=True, size=size)
                break
            except FileExistsError:
                continue
        self._segments[slot] = segment
        return segment

    def close(self, unlink: bool) -> None:
        """Close every segment; unlink them too when the consumer will not read them.

        After its last message a producer leaves its segments to the consumer,
        which may still be reading items from them (:meth:`SlotReader.close`).
        """
        for slot, segment in enumerate(self._segments):
            if segment is not None:
                self._segments[slot] = None
                if unlink:
                    _release(segment)
                else:
                    segment.close()


class _Layout:
    """An item's arrays as they are placed in a slot: each array (by identity) and its record."""

    __slots__ = ("size", "arrays")

    def __init__(self) -> None:
        self.size = 0
        self.arrays: dict[int, tuple[Any, SharedArray]] = {}

    def place(self, array: Any) -> SharedArray:
        """The record of ``array``: placed after the others, or the one it got already."""
        placed = self.arrays.get(id(array))
        if placed is not None:
            return placed[1]  # the same array twice: one copy, one record
        offset = -(-self.size // ALIGNMENT) * ALIGNMENT
        self.size = offset + array.nbytes
        flags = array.flags
        record = SharedArray(offset, array.dtype, array.shape,
                             flags.f_contiguous and not flags.c_contiguous, flags.writeable)
        self.arrays[id(array)] = (array, record)  # the array is held: its id stays its own
        return record


def _plan(item: Any, ndarray: type, layout: _Layout) -> Any:
    """The payload for ``item``: its arrays replaced by the records ``layout`` gives them."""
    kind = type(item)
    if kind is ndarray:
        if item.dtype.hasobject or item.nbytes == 0:
            return item  # object arrays hold references, not bytes: pickled
        return layout.place(item)
    if kind is tuple or kind is list:
        return kind(_plan(part, ndarray, layout) for part in item)
    if kind is dict:
        return {key: _plan(value, ndarray, layout) for key, value in item.items()}
    return item


def _release(segment: SharedMemory) -> None:
    segment.close()
    try:
        segment.unlink()
    except FileNotFoundError:
        pass  # the consumer unlinked it already


class SlotReader:
    """The consumer's side of one shard's ring: maps each segment once, copies arrays out."""

    def __init__(self, slots: int) -> None:
        self._names: list[str | None] = [None] * slots
        self._mapped: dict[str, SharedMemory] = {}
        self._seen: set[str] = set()
        self._count = 0

    def read(self, data: bytes, name: str | None) -> Any:
        """The item that ``data`` (its pickled payload) stands for, arrays copied out of ``name``.

        Call once per item received from the shard, in order. The item's
        slot is used up even when this raises (the payload cannot be
        unpickled here, or the segment is gone), so the next call stays in
        step with the producer.
        """
        slot = self._count % len(self._names)
        self._count += 1
        if name is not None and self._names[slot] != name:  # the producer replaced the segment
            replaced = self._names[slot]
            if replaced is not None:
                self._mapped.pop(replaced).close()  # and the producer unlinked it
                self._seen.discard(replaced)
            self._names[slot] = None
            self._seen.add(name)
            self._mapped[name] = SharedMemory(name)
            self._names[slot] = name
        payload = pickle.loads(data)
        if name is None:
            return payload
        import numpy  # the producer had it, so it is installed

        return _copy_out(payload, self._mapped[name], numpy.ndarray, {})

    def note(self, name: str | None) -> None:
        """Remember a segment named by a message that will not be read, to unlink it on close."""
        if name is not None:
            self._seen.add(name)

    def close(self) -> None:
        """Unmap every segment and unlink those still there (call once the producer has ended)."""
        for segment in self._mapped.values():
            segment.close()
        for name in self._seen:
            try:
                SharedMemory(name).unlink()
            except FileNotFoundError:
                pass  # the producer unlinked it
        self._mapped.clear()
        self._seen.clear()
        self._names = [None] * len(self._names)


def _copy_out(payload: Any, segment: SharedMemory, ndarray: type, copies: dict[int, Any]) -> Any:
    """``payload`` with each record replaced by a copy of its array (one copy per record)."""
    kind = type(payload)
    if kind is SharedArray:
        copy = copies.get(id(payload))
        if copy is None:
            view = ndarray(payload.shape, payload.dtype, buffer=segment.buf,
                           offset=payload.offset, order=payload.order)
            copy = view.copy(order="K")  # keeps Fortran order
            del view  # no view may outlive the mapping
            copy.flags.writeable = payload.writeable
            copies[id(payload)] = copy
        return copy
    if kind is tuple or kind is list:
        return kind(_copy_out(part, segment, ndarray, copies) for part in payload)
    if kind is dict:
        return {key: _copy_out(value, segment, ndarray, copies) for key, value in payload.items()}
    return payload
