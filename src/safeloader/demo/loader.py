"""The last chapter of ``safeloader demo``: the same model fed from TFRecords by tf.data.

The batches of the threads chapter (:func:`safeloader.demo.threads.read_batch`)
are written once to TFRecord files with :func:`safeloader.data.write_tfrecords`;
the same tiny tf_keras model then trains on them through
:func:`safeloader.data.tfrecord_dataset`, timed the same way, and its rate is
set against the generator rates that chapter measured.
"""

from __future__ import annotations

import functools
import tempfile
import time
from dataclasses import dataclass
from typing import Any, Iterator, Mapping, TextIO

import numpy as np
import tf_keras

from safeloader.data import tfrecord_dataset, write_tfrecords
from safeloader.demo.threads import BATCH_SIZE, BATCHES, FEATURES, ThreadsResult, read_batch

TITLE = "the same model from TFRecords (safeloader.data, tf.data)"

NUM_FILES = 4


@dataclass(frozen=True)
class LoaderResult:
    """What the loader chapter measured: training batches per second, and ratios."""

    rate: float
    vs_lock: float | None  # over @threadsafe_generator's rate (None: no threads chapter ran)
    vs_sharded: float | None  # over sharded_generator's rate


class _BatchClock(tf_keras.callbacks.Callback):
    """Times a ``fit`` call from its start to the end of its last batch (start-up included)."""

    def __init__(self) -> None:
        super().__init__()
        self.start = self.end = time.perf_counter()
        self.batches = 0

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        self.batches += 1
        self.end = time.perf_counter()

    def rate(self) -> float:
        return self.batches / (self.end - self.start)


def _records() -> Iterator[dict[str, np.ndarray]]:
    for batch_index in range(BATCHES):
        x, y = read_batch(batch_index)
        for row in range(len(x)):
            yield {"x": x[row], "y": y[row]}


def _model() -> tf_keras.Model:
    """The threads chapter's model: Dense(16, relu), Dense(1), adam, mse."""
    tf_keras.utils.set_random_seed(0)
    model = tf_keras.Sequential([
        tf_keras.layers.Dense(16, activation="relu", input_shape=(FEATURES,)),
        tf_keras.layers.Dense(1),
    ])
    model.compile(optimizer="adam", loss="mse")
    return model


def run(earlier: Mapping[str, Any], out: TextIO) -> LoaderResult:
    """Tell the loader chapter to ``out``; return the measured rate and ratios."""
    say = functools.partial(print, file=out, flush=True)
    with tempfile.TemporaryDirectory(prefix="safeloader-demo-") as work:
        say(f"The same {BATCHES} batches, written once with write_tfrecords into "
            f"{NUM_FILES} TFRecord files;\nthe same model, fed by tfrecord_dataset "
            f"(parallel reads, vectorised parsing, prefetch).")
        files = write_tfrecords(_records(), f"{work}/demo", num_shards=NUM_FILES)

        def source() -> Any:
            dataset = tfrecord_dataset(files, batch_size=BATCH_SIZE, label_key="y", repeat=True)
            return dataset.map(lambda features, label: (features["x"], label))

        model = _model()
        model.fit(source(), steps_per_epoch=3, epochs=1, verbose=0)  # trace once, untimed
        clock = _BatchClock()
        model.fit(source(), steps_per_epoch=BATCHES, epochs=1, verbose=0, callbacks=[clock])
    threads = earlier.get("threads")
    result = LoaderResult(
        clock.rate(),
        clock.rate() / threads.serialised_rate if isinstance(threads, ThreadsResult) else None,
        clock.rate() / threads.sharded_rate if isinstance(threads, ThreadsResult) else None,
    )
    say("")
    say(format_table(result, threads if isinstance(threads, ThreadsResult) else None))
    say("\nThe generators paid a simulated read per batch; tf.data reads the real bytes "
        "in C++ threads,\noutside the GIL, and overlaps them with training. "
        "See docs/loader.md.")
    return result


def format_table(result: LoaderResult, threads: ThreadsResult | None) -> str:
    """The chapter's table: batches per second of each loader, and the ratio to the lock."""
    rows = []
    if threads is not None:
        rows += [
            ("@threadsafe_generator, workers=3", threads.serialised_rate, 1.0),
            ("sharded_generator, workers=3", threads.sharded_rate, threads.speedup),
        ]
    rows.append(("tfrecord_dataset (tf.data)", result.rate, result.vs_lock))
    width = max(len(row[0]) for row in rows)
    lines = [f"{'loader':<{width}}  {'batches/s':>9}  {'vs lock':>7}"]
    lines.append("-" * len(lines[0]))
    for name, rate, ratio in rows:
        shown = f"{ratio:.2f}x" if ratio is not None else "-"
        lines.append(f"{name:<{width}}  {rate:>9.1f}  {shown:>7}")
    return "\n".join(lines)
