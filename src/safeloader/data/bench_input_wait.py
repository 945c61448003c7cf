"""Keras 3 ``fit`` on whatever device its backend trains on: how long steps wait for input.

A model's step time with data already in memory (numpy arrays handed to
``fit``) is the ceiling: input costs nothing beyond the hand-off. Fed by a
pipeline, the same model runs at that rate or slower; the shortfall,
``1 - rate / ceiling``, is the share of step time spent waiting for input.
This is the estimate the TensorFlow profiler's "input bound" figure also
makes; it needs no profiler, so it works on every Keras 3 backend (with
``KERAS_BACKEND=jax`` a tf.data pipeline feeds a model trained on the GPU).
"""

from __future__ import annotations

import time
from typing import Any, Callable, Mapping

import numpy as np
import tensorflow as tf

CEILING = "in-memory arrays (input costs nothing)"


def keras_device() -> str:
    """Say which Keras 3 backend trains and on which device, e.g. ``jax on NVIDIA H100``."""
    import keras

    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        device = jax.devices()[0]
        return f"jax on {device.device_kind} ({device.platform})"
    if backend == "torch":
        import torch

        return f"torch on {torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'CPU'}"
    gpus = tf.config.list_logical_devices("GPU")
    return f"{backend} on {gpus[0].name if gpus else 'CPU'}"


def bench_model(inputs: int, classes: int, hidden: int) -> Any:
    """The bench's Keras 3 classifier, compiled: ``inputs`` features, two ReLU layers of
    ``hidden`` units, ``classes`` logits; its weights seeded, so every source starts alike."""
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((inputs,)),
        keras.layers.Dense(hidden, activation="relu"),
        keras.layers.Dense(hidden, activation="relu"),
        keras.layers.Dense(classes),
    ])
    model.compile(optimizer="adam",
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def _in_memory(pipeline: tf.data.Dataset, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Read ``rows`` examples of ``pipeline`` (``(x, y)`` batches) into numpy arrays."""
    xs, ys, have = [], [], 0
    for x, y in pipeline.as_numpy_iterator():
        xs.append(x)
        ys.append(y)
        have += len(x)
        if have >= rows:
            break
    return np.concatenate(xs)[:rows], np.concatenate(ys)[:rows]


def _start_clock(skip: int) -> Any:
    """A Keras callback whose ``started`` is the time when step ``skip`` began."""
    import keras

    class StartClock(keras.callbacks.Callback):
        started = 0.0

        def on_train_batch_begin(self, batch: int, logs: Any = None) -> None:
            if batch == skip:
                self.started = time.perf_counter()

    return StartClock()


def measure_input_wait(
    pipelines: Mapping[str, Callable[[], tf.data.Dataset]], *, batch_size: int, steps: int,
    inputs: int, classes: int, hidden: int = 1024, skip: int = 20,
) -> dict[str, float]:
    """Return Keras 3 ``fit`` steps per second: :data:`CEILING` first, then each pipeline.

    ``pipelines`` build repeating datasets of ``(x, y)`` batches of
    ``batch_size``; the first one also fills the in-memory arrays. Each
    source trains a fresh model for ``skip + steps`` steps of one epoch; the
    clock starts when step ``skip`` begins, so compiling the step, starting
    the pipeline's threads and filling its shuffle buffer are not counted.
    """
    total = skip + steps
    first = next(iter(pipelines.values()))
    x, y = _in_memory(first(), total * batch_size)

    def steps_per_second(fit: Callable[..., Any]) -> float:
        clock = _start_clock(skip)
        fit(bench_model(inputs, classes, hidden), callbacks=[clock], epochs=1, shuffle=False,
            verbose=0)
        return steps / (time.perf_counter() - clock.started)

    rates = {CEILING: steps_per_second(
        lambda model, **options: model.fit(x, y, batch_size=batch_size, **options))}
    for name, build in pipelines.items():
        rates[name] = steps_per_second(
            lambda model, build=build, **options: model.fit(build(), steps_per_epoch=total,
                                                            **options))
    return rates


def input_bound_share(rate: float, ceiling: float) -> float:
    """The share of step time spent waiting for input: ``1 - rate / ceiling``, at least 0."""
    return max(0.0, 1.0 - rate / ceiling)
