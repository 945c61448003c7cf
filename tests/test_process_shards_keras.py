"""Process shards feeding real Keras: Keras 3 ``fit``, tf_keras ``fit(..., workers=2)``, tf.data.

Each batch carries its id in column 0 of ``x``; where the model can record
the ids it trains on (tf_keras, run eagerly), they must be exactly the ids the
shards yielded, each once.
"""

from __future__ import annotations

import math
import multiprocessing
import sys
import threading
import time
from pathlib import Path

import pytest

np = pytest.importorskip("numpy")
tf = pytest.importorskip("tensorflow")
tf_keras = pytest.importorskip("tf_keras")
keras = pytest.importorskip("keras")

import process_shard_fns as fns  # noqa: E402
from recording_model import RecordingModel  # noqa: E402
from safeloader import sharded_generator  # noqa: E402
from safeloader.data import from_generator  # noqa: E402

BATCHES = 12  # what fns.id_batches yields over all shards


def _ended(pids: list[int]) -> bool:
    return all(not Path(f"/proc/{pid}").exists() for pid in pids)


class CountingIterator:
    """Hands on ``source``'s batches and records each id it handed on.

    No lock around ``next(source)``: tf_keras's two worker threads still call
    the process-sharded generator at once. A lock guards only the count of
    calls in progress, so a test can wait until no call can still add an id.
    """

    def __init__(self, source):
        self.source = source
        self.handed: list[int] = []
        self._calls = 0
        self._lock = threading.Lock()

    def __iter__(self):
        return self

    def __next__(self):
        with self._lock:
            self._calls += 1
        try:
            batch = next(self.source)  # noqa: SLD201 - unlocked on purpose (see above)
            self.handed.append(int(batch[0][0, 0]))
            return batch
        finally:
            with self._lock:
                self._calls -= 1

    def settled(self) -> bool:
        with self._lock:
            return self._calls == 0


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
def test_tf_keras_fit_with_two_workers_trains_on_each_batch_once():
    """Exactly once, end to end, without tf_keras's end-of-generator race.

    tf_keras's ``GeneratorEnqueuer`` submits each ``next()`` to its pool
    before it queues the result, so at the end of a finite generator a batch
    can miss its final drain (docs/processes.md). So ``fit`` takes 12 steps
    of a 64-batch stream and never reaches its end; then the rest is read
    here. Every id is handed on by the sharded generator exactly once (a lost
    or repeated batch in ``sharded_generator`` fails), and tf_keras trains on
    12 distinct ones among them.
    """
    seen: list[int] = []
    model = RecordingModel(seen.append)
    model.compile(optimizer="sgd", loss="mse", run_eagerly=True)
    with sharded_generator(fns.many_id_batches, 2, processes=True) as batches:
        counted = CountingIterator(batches)
        history = model.fit(counted, steps_per_epoch=BATCHES, epochs=1, workers=2,  # noqa: SLD302
                            use_multiprocessing=False, verbose=0)
        rest = [int(x[0, 0]) for x, _ in batches]
        pids = batches.pids
    deadline = time.monotonic() + 60
    while not counted.settled():  # a tf_keras thread still inside next(): its id comes
        assert time.monotonic() < deadline, "a call of next() never returned"
        time.sleep(0.01)
    assert math.isfinite(history.history["loss"][0])
    assert sorted(counted.handed + rest) == list(range(64))
    assert len(seen) == BATCHES and len(set(seen)) == BATCHES
    assert set(seen) <= set(counted.handed)
    assert _ended(pids)


def test_tf_keras_fit_with_one_reader_trains_on_a_finite_stream_exactly_once():
    """The remedy docs/processes.md gives: the shards prepare in parallel, and
    tf_keras reads their merged stream in one thread (``workers=1``, no
    enqueuer), to its very end: exactly the 12 batches, each once."""
    seen: list[int] = []
    model = RecordingModel(seen.append)
    model.compile(optimizer="sgd", loss="mse", run_eagerly=True)
    with sharded_generator(fns.id_batches, 2, processes=True) as batches:
        model.fit(batches, steps_per_epoch=BATCHES, epochs=1, verbose=0)
    assert sorted(seen) == list(range(BATCHES))


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
def test_keras_3_fit_on_a_process_sharded_generator():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    with sharded_generator(fns.id_batches, 2, processes=True) as batches:
        history = model.fit(batches, steps_per_epoch=BATCHES, epochs=1, shuffle=False, verbose=0)
        pids = batches.pids
    assert math.isfinite(history.history["loss"][0])
    assert len(pids) == 2 and _ended(pids)


def test_from_generator_with_processes_yields_each_batch_once():
    signature = (tf.TensorSpec((4, 2), tf.float32), tf.TensorSpec((4, 1), tf.float32))
    dataset = from_generator(fns.id_batches, signature, num_shards=2, processes=True)
    ids = [int(x[0, 0]) for x, _ in dataset.as_numpy_iterator()]
    assert ids == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]  # round-robin over shards 0::2, 1::2


def test_from_generator_refuses_a_lambda_with_processes_at_once():
    signature = tf.TensorSpec((), tf.int64)
    with pytest.raises(TypeError, match="is a lambda"):
        from_generator(lambda i, n: iter([i]), signature, num_shards=2, processes=True)
    assert multiprocessing.active_children() == []  # nothing started
