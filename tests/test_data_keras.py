"""Training on tfrecord_dataset: Keras 3 and tf_keras, and MirroredStrategy over two CPUs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from safeloader.data import tfrecord_dataset, write_tfrecords  # noqa: E402

N = 64


def records(n: int = N):
    rng = np.random.default_rng(0)
    for i in range(n):
        x = rng.random(4, dtype=np.float32)
        yield {"id": i, "x": x, "y": np.float32(x.sum())}


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    return write_tfrecords(records(), str(tmp_path_factory.mktemp("fit") / "f"), num_shards=2)


def xy(dataset):
    return dataset.map(lambda features, label: (features["x"], label))


def test_keras3_fit_on_the_dataset(shards):
    keras = pytest.importorskip("keras")
    dataset = xy(tfrecord_dataset(shards, batch_size=8, label_key="y", shuffle_buffer=32))
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    history = model.fit(dataset, epochs=3, verbose=0, shuffle=False)
    assert len(history.history["loss"]) == 3
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_tf_keras_fit_on_the_dataset(shards):
    tf_keras = pytest.importorskip("tf_keras")
    dataset = xy(tfrecord_dataset(shards, batch_size=8, label_key="y", repeat=True))
    model = tf_keras.Sequential([tf_keras.Input((4,)), tf_keras.layers.Dense(1)])
    model.compile(optimizer=tf_keras.optimizers.SGD(0.1), loss="mse")
    history = model.fit(dataset, epochs=3, steps_per_epoch=N // 8, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]


MIRRORED = textwrap.dedent("""
    import json, os, sys
    import numpy as np
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras
    from safeloader.data import tfrecord_dataset_fn

    paths = json.loads(sys.argv[1])
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    dataset_fn = tfrecord_dataset_fn(paths, global_batch_size=8, label_key="y")
    shares = {}
    for features, _ in strategy.distribute_datasets_from_function(dataset_fn):
        for replica, ids in enumerate(strategy.experimental_local_results(features["id"])):
            shares.setdefault(replica, []).extend(int(i) for i in ids.numpy())

    def xy(features, label):
        return features["x"], label

    training = strategy.distribute_datasets_from_function(
        lambda context: dataset_fn(context).map(xy).repeat())
    with strategy.scope():
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    history = model.fit(training, epochs=3, steps_per_epoch=8, verbose=0)
    print(json.dumps({"replicas": strategy.num_replicas_in_sync, "shares": shares,
                      "loss": history.history["loss"]}))
""")


def test_mirrored_strategy_over_two_cpus_trains_and_splits_each_batch(shards):
    # Logical devices must be set before TensorFlow starts: hence a fresh process.
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    completed = subprocess.run(
        [sys.executable, "-c", MIRRORED, json.dumps(shards)],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert result["replicas"] == 2
    shares = result["shares"]
    assert sorted(shares) == ["0", "1"]
    assert len(shares["0"]) == len(shares["1"]) == N // 2, "each replica gets 4 of every 8"
    assert sorted(shares["0"] + shares["1"]) == list(range(N))
    assert result["loss"][-1] < result["loss"][0]
