"""The hazard and its fixes with real Keras: tf_keras (Keras 2) and Keras 3, no mocks.

Each race is made certain rather than likely: the plain generator sleeps while
it prepares a batch, so a second worker thread always finds it running.
Delivery is checked by counting: every batch carries its id in column 0, the
model records the ids it trains on, and the ids must be distinct and exactly
the ones the generator yielded.

tf_keras' ``GeneratorEnqueuer`` submits a worker's task before it queues it,
so at the end of a finite generator a finished task can miss the final drain
and the last batch is lost now and then (docs/processes.md). The Keras 2
delivery tests therefore feed a stream longer than the steps ``fit`` takes:
``fit`` never meets the end, so every batch it trains on is counted, and what
the generator handed out is checked apart.
"""

from __future__ import annotations

import gc
import math
import threading
import time
import weakref

import pytest

np = pytest.importorskip("numpy")
tf_keras = pytest.importorskip("tf_keras")
keras = pytest.importorskip("keras")

from recording_model import RecordingModel  # noqa: E402
from safeloader import ThreadSafeIterator, sharded_generator, threadsafe_generator  # noqa: E402

BATCHES = 12
#: the Keras 2 delivery tests' stream: more than ``fit`` takes with its read-ahead
STREAM = 4 * BATCHES
BATCH_SIZE = 4
PREPARE_SECONDS = 0.02  # while one worker sleeps inside the generator, another calls next()


def make_batch(batch_id: int):
    x = np.zeros((BATCH_SIZE, 2), dtype="float32")
    x[:, 0] = batch_id  # the id travels with the data
    x[:, 1] = np.linspace(-1.0, 1.0, BATCH_SIZE, dtype="float32")
    y = 0.5 * x[:, 1:] + 0.1
    return x, y


def plain_batches(count: int, yielded: list[int], delay: float = PREPARE_SECONDS):
    """A plain generator, slow enough that concurrent next() calls always collide."""
    for batch_id in range(count):
        time.sleep(delay)
        yielded.append(batch_id)
        yield make_batch(batch_id)


def fit_keras2(source, seen: list[int]):
    model = RecordingModel(seen.append)
    model.compile(optimizer="sgd", loss="mse", run_eagerly=True)
    return model.fit(  # noqa: SLD302 (tf_keras, imported through importorskip)
        source,
        steps_per_epoch=BATCHES,
        epochs=1,
        workers=4,
        use_multiprocessing=False,
        verbose=0,
    )


# -- Keras 2 (tf_keras) --------------------------------------------------------------


def test_keras2_plain_generator_with_workers_fails():
    yielded: list[int] = []
    with pytest.raises(Exception, match="NOT thread-safe") as info:
        fit_keras2(plain_batches(BATCHES, yielded), [])
    # tf_keras raises RuntimeError in its enqueuer; tf.data's py_function
    # carries it out as an UnknownError whose text names the RuntimeError.
    assert isinstance(info.value, RuntimeError) or "RuntimeError" in str(info.value)


def assert_trained_once_each(seen: list[int], handed_out: list[int]) -> None:
    """``fit`` trained ``BATCHES`` distinct batches, each one the source handed out, and
    the source handed out each id once."""
    assert len(seen) == BATCHES and len(set(seen)) == BATCHES
    assert set(seen) <= set(handed_out)
    assert len(set(handed_out)) == len(handed_out)  # nothing handed out twice


def test_keras2_decorated_generator_trains_and_delivers_each_batch_once():
    yielded: list[int] = []
    seen: list[int] = []
    source = threadsafe_generator(plain_batches)(STREAM, yielded)
    history = fit_keras2(source, seen)
    assert len(history.history["loss"]) == 1
    assert math.isfinite(history.history["loss"][0])
    assert_trained_once_each(seen, yielded)
    rest = [int(x[0, 0]) for x, _ in source]  # the lock hands on the stream in order
    assert sorted(yielded) == list(range(STREAM))
    assert rest == sorted(rest) and not set(rest) & set(seen)


def test_keras2_sharded_generator_trains_and_delivers_each_batch_once():
    yielded: list[int] = []
    lock = threading.Lock()

    def shard(shard_index, num_shards):
        for batch_id in range(shard_index, STREAM, num_shards):
            time.sleep(PREPARE_SECONDS)
            with lock:
                yielded.append(batch_id)
            yield make_batch(batch_id)

    seen: list[int] = []
    with sharded_generator(shard, 3) as merged:
        history = fit_keras2(merged, seen)
        rest = [int(x[0, 0]) for x, _ in merged]
    assert math.isfinite(history.history["loss"][0])
    assert_trained_once_each(seen, yielded)
    assert sorted(yielded) == list(range(STREAM))  # every shard ran to its end, once
    assert not set(rest) & set(seen)


# -- Keras 3 ---------------------------------------------------------------------------


class SharedNextDataset(keras.utils.PyDataset):
    """The hazard in Keras 3 form: ``__getitem__`` pulls from one shared iterator."""

    def __init__(self, source, num_batches, **kwargs):
        super().__init__(**kwargs)
        self.source = source
        self.num_batches_ = num_batches
        self.served: list[int] = []

    def __len__(self):
        return self.num_batches_

    def __getitem__(self, index):
        x, y = next(self.source)  # noqa: SLD104 - the hazard under test
        self.served.append(int(x[0, 0]))
        return x, y


def keras3_model():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    return model


def test_keras3_pydataset_sharing_a_plain_generator_fails():
    # Keras may ask for a batch or two beyond the epoch: give the source spares.
    dataset = SharedNextDataset(plain_batches(3 * BATCHES, []), BATCHES, workers=4)
    with pytest.raises(Exception, match="generator already executing") as info:
        keras3_model().fit(dataset, epochs=1, verbose=0)
    # Raised in a PyDataset worker; with the TensorFlow backend it reaches the
    # caller inside tf.data's error, whose text names the ValueError.
    assert isinstance(info.value, ValueError) or "ValueError" in str(info.value)


def test_keras3_pydataset_sharing_a_thread_safe_iterator_trains():
    yielded: list[int] = []
    shared = ThreadSafeIterator(plain_batches(3 * BATCHES, yielded))
    dataset = SharedNextDataset(shared, BATCHES, workers=4)
    history = keras3_model().fit(dataset, epochs=1, verbose=0)
    assert math.isfinite(history.history["loss"][0])
    assert len(dataset.served) >= BATCHES
    assert len(set(dataset.served)) == len(dataset.served)  # no batch served twice
    assert set(dataset.served) <= set(yielded)


def test_keras3_fit_accepts_a_threadsafe_generator():
    history = keras3_model().fit(
        threadsafe_generator(plain_batches)(BATCHES, [], 0.0),
        steps_per_epoch=BATCHES,
        epochs=1,
        shuffle=False,
        verbose=0,
    )
    assert math.isfinite(history.history["loss"][0])


def test_keras3_fit_accepts_a_sharded_generator():
    def shard(shard_index, num_shards):
        for batch_id in range(shard_index, STREAM, num_shards):
            yield make_batch(batch_id)

    with sharded_generator(shard, 2) as merged:
        history = keras3_model().fit(
            merged, steps_per_epoch=BATCHES, epochs=1, shuffle=False, verbose=0
        )
    assert math.isfinite(history.history["loss"][0])


def keras2_fit_with_workers(batches):
    """tf_keras with workers=2; returns the batches it may keep: its peek, queue and workers'."""
    model = tf_keras.Sequential([tf_keras.Input((2,)), tf_keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(batches, steps_per_epoch=5, epochs=1, workers=2, max_queue_size=2,  # noqa: SLD302
              use_multiprocessing=False, verbose=0)
    return 1 + 2 + 2


def keras3_fit(batches):
    """Keras 3; returns the batches it keeps: the first 2, peeked at for the signature."""
    keras3_model().fit(batches, steps_per_epoch=5, epochs=1, shuffle=False, verbose=0)
    return 2


@pytest.mark.parametrize("fit_once", [keras3_fit, keras2_fit_with_workers])
def test_fit_inside_with_leaks_no_thread_and_no_batch_over_five_fits(fit_once):
    # Keras keeps the generator it was given after fit returns (Keras 3's
    # adapter stays in TensorFlow's from_generator state), so only close() can
    # end the shards: the documented pattern is ``with sharded_generator(...)``.
    # Without close() each fit would leave 4 threads and up to 4 x 4 batches.
    alive = set()  # ids of the x arrays the shards made that are still alive
    lock = threading.Lock()

    def forget(batch_id):
        with lock:
            alive.discard(batch_id)

    def endless(shard_index, num_shards):
        batch_id = shard_index
        while True:
            x, y = make_batch(batch_id)
            with lock:
                alive.add(batch_id)
            weakref.finalize(x, forget, batch_id)
            yield x, y
            batch_id += num_shards

    kept_by_keras = 0
    for fit in range(1, 6):
        with sharded_generator(endless, 4) as batches:
            kept_by_keras += fit_once(batches)
        gc.collect()
        assert [t for t in threading.enumerate() if t.name.startswith("safeloader-shard-")] == []
        assert len(alive) <= kept_by_keras, f"fit {fit}: {len(alive)} batches still alive"
