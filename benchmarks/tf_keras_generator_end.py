"""How often tf_keras's ``fit(generator, workers=2)`` loses the last batch of a finite generator.

Not a speed benchmark: a rate, measured the way the test it replaced was
flaky. Each run trains a tf_keras model (run eagerly, recording the id in
column 0 of each batch) for exactly as many steps as a 2-process
``sharded_generator`` yields batches, with ``workers=2``. A counting
iterator between the two records what the shards handed on. A run counts as
lost when the model trained on fewer batches than the shards handed on
(tf_keras's ``GeneratorEnqueuer`` race: docs/processes.md); the script
also counts runs where the shards themselves handed on a wrong set (that
would be safeloader's loss; none is expected).

    python benchmarks/tf_keras_generator_end.py --runs 150 [--workers 1]
"""

from __future__ import annotations

import argparse
import os
import threading
import time
import warnings
from typing import Any, Iterator

import numpy as np

BATCHES = 12


def id_batches(shard_index: int, num_shards: int) -> Iterator[Any]:
    """Shard ``shard_index`` of the batches 0..11: x [4, 2] (column 0: the id), y [4, 1]."""
    for batch_id in range(shard_index, BATCHES, num_shards):
        x = np.zeros((4, 2), dtype=np.float32)
        x[:, 0] = batch_id
        yield x, np.zeros((4, 1), dtype=np.float32)


class Counted:
    """Hands on ``source``'s batches (no lock around ``next``) and records their ids."""

    def __init__(self, source: Iterator[Any]) -> None:
        self.source = source
        self.handed: list[int] = []
        self.calls = 0
        self.lock = threading.Lock()

    def __iter__(self) -> Counted:
        return self

    def __next__(self) -> Any:
        with self.lock:
            self.calls += 1
        try:
            batch = next(self.source)  # noqa: SLD201 - tf_keras's threads call it at once
            self.handed.append(int(batch[0][0, 0]))
            return batch
        finally:
            with self.lock:
                self.calls -= 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2, help="tf_keras's fit(workers=...)")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tf_keras

    from safeloader import sharded_generator

    seen: list[int] = []

    class Recording(tf_keras.Model):
        def __init__(self) -> None:
            super().__init__()
            self.dense = tf_keras.layers.Dense(1)

        def call(self, inputs: Any) -> Any:
            return self.dense(inputs[:, 1:])

        def train_step(self, data: Any) -> Any:
            seen.append(int(data[0][0, 0]))
            return super().train_step(data)

    model = Recording()
    model.compile(optimizer="sgd", loss="mse", run_eagerly=True)
    lost = wrong = 0
    start = time.monotonic()
    for _ in range(args.runs):
        seen.clear()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Your input ran out of data" on a lost run
            with sharded_generator(id_batches, 2, processes=True) as batches:
                counted = Counted(batches)
                model.fit(counted, steps_per_epoch=BATCHES, epochs=1,  # noqa: SLD302
                          workers=args.workers, use_multiprocessing=False, verbose=0)
        while counted.calls:  # a tf_keras thread still inside next()
            time.sleep(0.01)
        wrong += sorted(counted.handed) != list(range(BATCHES))
        lost += len(seen) < len(counted.handed)
    print(f"tf_keras fit(workers={args.workers}): {lost}/{args.runs} runs lost a batch the "
          f"shards had handed on; shards handed on a wrong set in {wrong}/{args.runs}; "
          f"{time.monotonic() - start:.0f} s; load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
