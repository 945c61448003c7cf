"""Chapter 1 of ``safeloader demo``: a plain generator, a lock, and shards.

A tiny tf_keras model trains on built-in data with ``fit(..., workers=3)``:

1. from a plain generator: Keras stops with its "NOT thread-safe" error;
2. from the same generator under ``@threadsafe_generator``: it trains, but the
   lock lets one worker prepare a batch at a time;
3. from ``sharded_generator`` with three shards: three batches are prepared
   at once.

Preparing a batch costs :data:`IO_SECONDS` of simulated I/O (``time.sleep``,
which, like a file or network read, releases the GIL) plus a little numpy.
The chapter returns the measured rates (:class:`ThreadsResult`) for later
chapters to compare against.
"""

from __future__ import annotations

import functools
import re
import time
from dataclasses import dataclass
from typing import Any, Iterator, Mapping, TextIO

import numpy as np
import tf_keras

from safeloader import sharded_generator, threadsafe_generator

TITLE = "a plain generator, a lock, and shards (tf_keras, fit with workers=3)"

WORKERS = 3
BATCHES = 90  # batches in each measured fit
BATCH_SIZE = 32
FEATURES = 8
IO_SECONDS = 0.03  # the simulated read of one batch

_WEIGHTS = np.linspace(-1.0, 1.0, FEATURES, dtype="float32").reshape(FEATURES, 1)


@dataclass(frozen=True)
class ThreadsResult:
    """What chapter 1 measured; rates are training batches per second."""

    failure: str | None  # what Keras said about the plain generator (None: it did not fail)
    serialised_rate: float  # @threadsafe_generator
    sharded_rate: float  # sharded_generator, WORKERS shards

    @property
    def speedup(self) -> float:
        """Sharded rate over serialised rate."""
        return self.sharded_rate / self.serialised_rate


def read_batch(batch_index: int) -> tuple[np.ndarray, np.ndarray]:
    """Batch ``batch_index`` of a fixed regression problem, after a simulated read."""
    time.sleep(IO_SECONDS)
    rng = np.random.default_rng(batch_index)
    x = rng.standard_normal((BATCH_SIZE, FEATURES), dtype=np.float32)
    y = x @ _WEIGHTS + np.float32(0.01) * rng.standard_normal((BATCH_SIZE, 1), dtype=np.float32)
    return x, y


def plain_batches(count: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The generator users write: fine with one worker, broken with several."""
    for batch_index in range(count):
        yield read_batch(batch_index)


#: The same generator behind a lock.
serialised_batches = threadsafe_generator(plain_batches)


def shard_batches(
    shard_index: int, num_shards: int, count: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Shard ``shard_index`` reads every ``num_shards``-th batch, starting at its index."""
    for batch_index in range(shard_index, count, num_shards):
        yield read_batch(batch_index)


class _BatchClock(tf_keras.callbacks.Callback):
    """Times a ``fit`` call from its start to the end of its last training batch.

    The rate counts the whole call, start-up included. Timing from the first
    batch instead would credit the faster loader twice: whatever its threads
    prepared while Keras was starting up would seem to cost nothing.
    """

    def __init__(self) -> None:
        super().__init__()
        self.start = time.perf_counter()
        self.batches = 0
        self.end = self.start

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        self.batches += 1
        self.end = time.perf_counter()

    def rate(self) -> float:
        """Training batches per second."""
        return self.batches / (self.end - self.start)


def _model() -> tf_keras.Model:
    tf_keras.utils.set_random_seed(0)
    model = tf_keras.Sequential(
        [
            tf_keras.layers.Dense(16, activation="relu", input_shape=(FEATURES,)),
            tf_keras.layers.Dense(1),
        ]
    )
    model.compile(optimizer="adam", loss="mse")
    return model


def _fit(model: tf_keras.Model, source: Any, steps: int, workers: int) -> _BatchClock:
    clock = _BatchClock()
    model.fit(
        source,
        steps_per_epoch=steps,
        epochs=1,
        workers=workers,
        use_multiprocessing=False,
        callbacks=[clock],
        verbose=0,
    )
    return clock


def _keras_message(error: BaseException) -> str:
    """Keras' own sentence out of the error (tf.data wraps it in an UnknownError)."""
    text = str(error)
    found = re.search(r"(RuntimeError: Your generator is NOT thread-safe\.[^\n]*)", text)
    if found:
        return found.group(1).strip()
    first_line = text.strip().splitlines()[0] if text.strip() else ""
    return f"{type(error).__name__}: {first_line}"


def run(earlier: Mapping[str, Any], out: TextIO) -> ThreadsResult:
    """Tell chapter 1 to ``out``; return the measured rates."""
    del earlier  # the first chapter compares against nothing
    say = functools.partial(print, file=out, flush=True)
    say(
        f"A tiny tf_keras model trains on {BATCHES} batches of built-in data with "
        f"fit(..., workers={WORKERS}, use_multiprocessing=False).\n"
        f"Each batch costs {IO_SECONDS * 1000:.0f} ms of simulated I/O (time.sleep releases "
        f"the GIL, like a real read)."
    )
    model = _model()
    _fit(model, plain_batches(3), steps=3, workers=1)  # trace the model once, untimed

    say("\n1. A plain generator:")
    failure: str | None = None
    try:
        _fit(model, plain_batches(BATCHES), steps=BATCHES, workers=WORKERS)
    except Exception as error:  # noqa: BLE001 - the point of this step is showing it
        failure = _keras_message(error)
        say(f"   Keras stopped: {failure}")
    else:
        say("   Keras did not catch the race this time (it is still there).")

    say("\n2. The same generator with @threadsafe_generator:")
    serialised = _fit(model, serialised_batches(BATCHES), steps=BATCHES, workers=WORKERS)
    say(
        f"   trained {BATCHES} batches. Safe, but the lock lets one worker read at a time."
    )

    say(f"\n3. sharded_generator with {WORKERS} shards:")
    with sharded_generator(
        functools.partial(shard_batches, count=BATCHES), WORKERS
    ) as merged:
        sharded = _fit(model, merged, steps=BATCHES, workers=WORKERS)
    say(f"   trained {BATCHES} batches, {WORKERS} read at once.")

    result = ThreadsResult(failure, serialised.rate(), sharded.rate())
    say("")
    say(format_table(result))
    return result


def format_table(result: ThreadsResult) -> str:
    """The chapter's closing table: batches per second and the ratio to the lock."""
    rows = [
        (f"plain generator, workers={WORKERS}", "fails" if result.failure else "(race)", ""),
        (
            f"@threadsafe_generator, workers={WORKERS}",
            f"{result.serialised_rate:.1f}",
            "1.00x",
        ),
        (
            f"sharded_generator({WORKERS} shards), workers={WORKERS}",
            f"{result.sharded_rate:.1f}",
            f"{result.speedup:.2f}x",
        ),
    ]
    header = ("loader", "batches/s", "vs lock")
    width = max(len(row[0]) for row in [header, *rows])
    lines = [f"{header[0]:<{width}}  {header[1]:>9}  {header[2]:>7}"]
    lines.append("-" * len(lines[0]))
    lines += [f"{name:<{width}}  {rate:>9}  {ratio:>7}" for name, rate, ratio in rows]
    return "\n".join(lines)
