"""shared_arrays: arrays go through shared memory, the rest as it is, and nothing is left behind."""

from __future__ import annotations

import glob
import os
import pickle
import sys

import numpy as np
import pytest

from safeloader.shared_arrays import SentSegments, SharedArray, decode, discard, encode

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="lists /dev/shm")

PREFIX = f"sl{os.getpid()}_99_"


def _segments() -> list[str]:
    return glob.glob(f"/dev/shm/{PREFIX}*")


def test_arrays_travel_as_small_records_and_come_back_equal():
    big = np.arange(1 << 18, dtype=np.float32)  # 1 MiB
    strided = np.arange(20, dtype=np.int16).reshape(4, 5)[:, ::2]
    rows = [np.zeros(0), np.array(["a"], dtype=object)]
    item = {"x": big, "pair": (strided, "label"), "rows": rows}
    payload, segments = encode(item, PREFIX)
    assert type(payload["x"]) is SharedArray and type(payload["pair"][0]) is SharedArray
    assert payload["pair"][1] == "label"
    assert payload["rows"][0] is item["rows"][0]  # empty: nothing to share
    assert payload["rows"][1] is item["rows"][1]  # object dtype holds references: pickled
    assert len(pickle.dumps(payload)) < 1024  # the megabyte is not in the message
    assert len(_segments()) == 2
    for segment in segments:
        segment.close()  # the producer's handles; the consumer still finds the segments
    back = decode(payload)
    assert _segments() == []  # decoding unlinks
    np.testing.assert_array_equal(back["x"], big)
    np.testing.assert_array_equal(back["pair"][0], strided)
    assert back["pair"][0].dtype == np.int16 and type(back["pair"]) is tuple


def test_discard_unlinks_what_will_never_be_decoded():
    payload, segments = encode((np.ones(10), [np.ones(3)]), PREFIX)
    for segment in segments:
        segment.close()
    assert len(_segments()) == 2
    discard(payload)
    assert _segments() == []
    discard(payload)  # already gone: nothing to do


def test_items_without_arrays_pass_unchanged():
    item = {"a": [1, 2], "b": ("x", None)}
    payload, segments = encode(item, PREFIX)
    assert payload == item and segments == []
    assert decode(payload) == item


def test_the_producer_keeps_handles_only_on_items_possibly_in_flight():
    sent = SentSegments(max_queue_size=2)
    batches = []
    for _ in range(3):
        payload, segments = encode(np.ones(4), PREFIX)
        batches.append((payload, segments))
        sent.release_taken()
        sent.add(segments)
    # With 2 items in flight at most, taking the slot for the third means the first was taken.
    assert [segments[0].buf is None for _, segments in batches] == [True, False, False]
    sent.close()
    assert all(segments[0].buf is None for _, segments in batches)
    for payload, _ in batches:
        discard(payload)
