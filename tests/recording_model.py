"""A tf_keras model that records the id of every batch it trains on.

Shared by the tests that check delivery through real Keras: each batch carries
its id in column 0 of ``x``. Import it after ``pytest.importorskip("tf_keras")``.
"""

from __future__ import annotations

import tf_keras


class RecordingModel(tf_keras.Model):
    """Learns y from column 1 and records the batch id in column 0 of each step."""

    def __init__(self, record):
        super().__init__()
        self.dense = tf_keras.layers.Dense(1)
        self.record = record  # a bound method, not a list: Keras would wrap a list

    def call(self, inputs):
        return self.dense(inputs[:, 1:])

    def train_step(self, data):
        x, _ = data
        self.record(int(x[0, 0]))  # run_eagerly=True: a real number here
        return super().train_step(data)
