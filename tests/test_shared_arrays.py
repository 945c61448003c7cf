"""shared_arrays: arrays go through a ring of reused segments, the rest as it is, nothing left."""

from __future__ import annotations

import glob
import os
import pickle
import sys

import numpy as np
import pytest

from safeloader.runtime.shared_arrays import SharedArray, SlotReader, SlotWriter

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="lists /dev/shm")

PREFIX = f"sl{os.getpid()}_99_"


def _segments() -> list[str]:
    return sorted(glob.glob(f"/dev/shm/{PREFIX}*"))


@pytest.fixture
def ring():
    writer, reader = SlotWriter(PREFIX, 2), SlotReader(2)
    yield writer, reader
    writer.close(unlink=False)
    reader.close()
    assert _segments() == []


def test_arrays_travel_as_small_records_and_come_back_equal(ring):
    writer, reader = ring
    big = np.arange(1 << 18, dtype=np.float32)  # 1 MiB
    strided = np.arange(20, dtype=np.int16).reshape(4, 5)[:, ::2]
    rows = [np.zeros(0), np.array(["a"], dtype=object)]
    item = {"x": big, "pair": (strided, "label"), "rows": rows}
    payload, name = writer.write(item)
    assert type(payload["x"]) is SharedArray and type(payload["pair"][0]) is SharedArray
    assert payload["pair"][0].offset % 64 == 0 and payload["pair"][0].offset >= big.nbytes
    assert payload["pair"][1] == "label"
    assert payload["rows"][0] is rows[0]  # empty: nothing to share
    assert payload["rows"][1] is rows[1]  # object dtype holds references: pickled
    assert len(pickle.dumps(payload)) < 1024  # the megabyte is not in the message
    back = reader.read(pickle.dumps(payload), name)
    np.testing.assert_array_equal(back["x"], big)
    np.testing.assert_array_equal(back["pair"][0], strided)
    assert back["pair"][0].dtype == np.int16 and type(back["pair"]) is tuple
    assert back["x"].flags.owndata  # a copy: the slot will be reused


def test_slots_are_reused_in_turn_and_replaced_only_to_grow(ring):
    writer, reader = ring
    names = []
    for size in (100, 100, 50, 100, 1000):  # slots 0, 1, 0, 1, 0
        payload, name = writer.write(np.full(size, size, dtype=np.int32))
        names.append(name)
        assert reader.read(pickle.dumps(payload), name).tolist() == [size] * size
    assert names[0] == names[2] and names[1] == names[3]  # reused: no new segment
    assert names[4] != names[0]  # too small for 1000 bytes: replaced
    assert _segments() == sorted(f"/dev/shm/{name}" for name in {names[1], names[4]})


def test_items_without_arrays_take_a_turn_but_no_segment(ring):
    writer, reader = ring
    item = {"a": [1, 2], "b": ("x", None)}
    assert writer.write(item) == (item, None)
    assert reader.read(pickle.dumps(item), None) == item
    assert _segments() == []


def test_the_consumer_unlinks_segments_of_messages_it_will_not_read():
    writer, reader = SlotWriter(PREFIX, 2), SlotReader(2)
    _, name = writer.write(np.ones(8))
    writer.close(unlink=False)  # a producer that sent its last message
    reader.note(name)
    assert len(_segments()) == 1
    reader.close()
    assert _segments() == []


def test_a_stopped_producer_unlinks_its_segments():
    writer = SlotWriter(PREFIX, 2)
    writer.write(np.ones(8))
    writer.write(np.ones(8))
    assert len(_segments()) == 2
    writer.close(unlink=True)
    assert _segments() == []


def test_read_only_and_fortran_order_are_kept_and_one_array_twice_stays_one(ring):
    writer, reader = ring
    frozen = np.arange(6, dtype=np.float64).reshape(2, 3)
    frozen.flags.writeable = False
    fortran = np.asfortranarray(np.arange(12, dtype=np.int32).reshape(3, 4))
    shared = np.ones(5, dtype=np.uint8)
    strided = np.arange(16).reshape(4, 4)[:, ::2]  # neither C- nor Fortran-contiguous
    payload, name = writer.write((frozen, fortran, shared, shared, strided, shared[1:]))
    assert payload[2] is payload[3]  # one record, one copy in the segment
    back = reader.read(pickle.dumps(payload), name)
    assert not back[0].flags.writeable and back[0].flags.c_contiguous
    assert back[1].flags.f_contiguous and not back[1].flags.c_contiguous
    assert back[1].flags.writeable
    assert back[2] is back[3] and back[2].flags.writeable
    assert back[4].flags.c_contiguous  # other layouts arrive C-contiguous
    assert not np.shares_memory(back[2], back[5])  # a view of another array: its own copy
    for sent, got in zip((frozen, fortran, shared, shared, strided, shared[1:]), back):
        np.testing.assert_array_equal(got, sent)


def test_a_payload_that_cannot_be_unpickled_still_uses_up_its_slot(ring):
    writer, reader = ring
    payload, name = writer.write(np.full(4, 1.0))
    with pytest.raises(pickle.UnpicklingError):
        reader.read(b"not a pickle", name)
    payload, name = writer.write(np.full(4, 2.0))  # the next slot: reader and writer in step
    assert reader.read(pickle.dumps(payload), name).tolist() == [2.0] * 4
    payload, name = writer.write(np.full(4, 3.0))  # back to the first slot
    assert reader.read(pickle.dumps(payload), name).tolist() == [3.0] * 4
