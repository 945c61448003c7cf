"""from_generator on shard threads: parallel, exactly once, in order, and no thread left behind.

Parallelism is shown by a barrier that every shard must reach before any of
them yields (it cannot be passed one shard at a time), not by timing.
"""

from __future__ import annotations

import gc
import math
import threading

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

import safeloader.runtime.sharded  # noqa: E402
from safeloader.data import from_generator  # noqa: E402
from safeloader.runtime.sharded import ShardAbandonedWarning  # noqa: E402

WAIT = 30.0  # a guard against a hang, never reached when the code is right
PREFIX = "safeloader-shard-"
SCALAR = tf.TensorSpec([], tf.int64)


def shard_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(PREFIX)]


def wait_for_no_shard_threads() -> None:
    gc.collect()
    for thread in shard_threads():
        thread.join(WAIT)
    assert shard_threads() == []


def uneven(shard_index, num_shards):
    """Shard i yields 10 * i + k for k < (3, 1, 5)[i]."""
    for k in range((3, 1, 5)[shard_index]):
        yield 10 * shard_index + k


def test_deterministic_order_is_round_robin_and_every_item_comes_once():
    items = [int(i) for i in from_generator(uneven, SCALAR, num_shards=3)]
    assert items == [0, 10, 20, 1, 21, 2, 22, 23, 24]
    loose = [int(i) for i in from_generator(uneven, SCALAR, num_shards=3, deterministic=False)]
    assert sorted(loose) == sorted(items)
    wait_for_no_shard_threads()


def test_the_shards_run_at_the_same_time():
    shards = 4
    everyone_inside = threading.Barrier(shards, timeout=WAIT)

    def meeting(shard_index, num_shards):
        everyone_inside.wait()  # breaks (BrokenBarrierError) if the shards ran one at a time
        yield shard_index

    items = from_generator(meeting, SCALAR, num_shards=shards)
    assert sorted(int(i) for i in items) == [0, 1, 2, 3]
    assert not everyone_inside.broken


def test_every_pass_runs_the_shards_again():
    dataset = from_generator(uneven, SCALAR, num_shards=3)
    assert [int(i) for i in dataset] == [int(i) for i in dataset]
    wait_for_no_shard_threads()


def test_dropping_the_iterator_early_stops_the_shard_threads():
    produced = [0, 0]
    lock = threading.Lock()

    def endless(shard_index, num_shards):
        while True:
            with lock:
                produced[shard_index] += 1
            yield shard_index

    dataset = from_generator(endless, SCALAR, num_shards=2)
    assert [int(i) for i in dataset.take(4)] == [0, 1, 0, 1]
    wait_for_no_shard_threads()  # tf.data dropped the merged generator with its iterator
    with lock:
        stopped = list(produced)
    # Bounded work: what was consumed plus each shard's buffer and the item in hand.
    assert all(count <= 2 + 4 + 1 for count in stopped)


def test_a_shard_error_names_the_shard():
    def failing(shard_index, num_shards):
        yield shard_index
        if shard_index == 1:
            raise ValueError("bad file in shard 1")
        yield from range(100, 110)

    with pytest.raises(tf.errors.OpError, match=r"shard 1 of 2 failed: ValueError: bad file"):
        for _ in from_generator(failing, SCALAR, num_shards=2):
            pass
    wait_for_no_shard_threads()


def test_a_shard_error_reaches_the_iterator_while_another_shard_is_stuck(monkeypatch):
    monkeypatch.setattr(safeloader.runtime.sharded, "ABANDON_AFTER_SECONDS", 0.0)
    release = threading.Event()

    def stuck_and_failing(shard_index, num_shards):
        if shard_index == 0:
            release.wait(WAIT)  # stuck in a long call: its turn never comes
            yield 0
        else:
            raise OSError("cannot open shard 1")

    try:
        with pytest.warns(ShardAbandonedWarning, match="shard 0 of 2"):
            with pytest.raises(tf.errors.OpError, match=r"shard 1 of 2 failed: OSError"):
                next(iter(from_generator(stuck_and_failing, SCALAR, num_shards=2)))
    finally:
        release.set()
    wait_for_no_shard_threads()


def batches(seen: list[int], lock: threading.Lock):
    """Shards of 12 batches of 4 rows (y = x / 2 + 0.1); each batch id is recorded when yielded."""

    def shard(shard_index, num_shards):
        for batch_id in range(shard_index, 12, num_shards):
            with lock:
                seen.append(batch_id)
            x = np.linspace(-1.0, 1.0, 4, dtype=np.float32).reshape(4, 1) * (1 + batch_id % 3)
            yield x, 0.5 * x + 0.1

    return shard


XY = (tf.TensorSpec([None, 1], tf.float32), tf.TensorSpec([None, 1], tf.float32))


def test_keras3_fit_five_times_delivers_each_batch_once_a_epoch_and_leaks_no_thread():
    keras = pytest.importorskip("keras")
    seen: list[int] = []
    dataset = from_generator(batches(seen, threading.Lock()), XY, num_shards=3)
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    for fit in range(5):
        history = model.fit(dataset, epochs=2, shuffle=False, verbose=0)
        assert math.isfinite(history.history["loss"][-1])
        gc.collect()
        assert shard_threads() == [], f"shard threads alive after fit {fit + 1}"
    assert sorted(seen) == sorted(list(range(12)) * 10)  # 5 fits x 2 epochs, each batch once


def test_tf_keras_fit_on_the_dataset():
    tf_keras = pytest.importorskip("tf_keras")
    seen: list[int] = []
    dataset = from_generator(batches(seen, threading.Lock()), XY, num_shards=3)
    model = tf_keras.Sequential([tf_keras.Input((1,)), tf_keras.layers.Dense(1)])
    model.compile(optimizer=tf_keras.optimizers.SGD(0.1), loss="mse")
    history = model.fit(dataset, epochs=2, verbose=0)
    assert math.isfinite(history.history["loss"][-1])
    assert sorted(seen) == sorted(list(range(12)) * 2)
    wait_for_no_shard_threads()
