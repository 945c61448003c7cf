"""safeloader doctor on the bench's model: the naive tf.data pipeline against ``tfrecord_dataset``.

``safeloader bench`` times Keras 3 ``fit`` on a three-layer model fed by
in-memory arrays, by the naive pipeline (``map(parse_single_example)`` then
``batch``) and by ``safeloader.data.tfrecord_dataset`` (its "waiting for input"
figure). This script writes the same kind of records, then runs a training
script with both pipelines under ``safeloader doctor --json`` and prints the
doctor's ``input_bound`` for each: the "GPU keeps waiting" of the naive
pipeline made visible, and its cure measured, by the doctor alone.

On a GPU machine, run it as it is (Keras 3 on TensorFlow trains on the GPU),
or with ``KERAS_BACKEND=jax`` for JAX's GPU.

Run: ``python benchmarks/bench_doctor_pipelines.py [--records N] [--steps N]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

#: The training script: ``python train.py DIR RECORDS`` writes RECORDS records of the
#: bench's kind under DIR (untimed: no fit), then trains the bench's model on each pipeline.
SCRIPT = textwrap.dedent(
    '''
    import sys

    import tensorflow as tf

    from safeloader.data import tfrecord_dataset, write_tfrecords
    from safeloader.data.bench import (BATCH_SIZE, CLASSES, FEATURE_FLOATS, KERAS3_HIDDEN,
                                       NUM_FILES, SHUFFLE_BUFFER, synthetic_records)
    from safeloader.data.bench_input_wait import bench_model


    def model():
        return bench_model(FEATURE_FLOATS, CLASSES, KERAS3_HIDDEN)


    files, spec = write_tfrecords(synthetic_records(int(sys.argv[2])), sys.argv[1] + "/bench",
                                  num_shards=NUM_FILES, return_spec=True)
    naive = (tf.data.TFRecordDataset(files)
             .map(lambda record: tf.io.parse_single_example(record, spec))
             .batch(BATCH_SIZE).map(lambda f: (f["x"], f["y"])).repeat())
    loader = tfrecord_dataset(files, batch_size=BATCH_SIZE, features=spec, label_key="y",
                              repeat=True, shuffle_buffer=SHUFFLE_BUFFER)
    loader = loader.map(lambda features, label: (features["x"], label))
    model().fit(naive, steps_per_epoch=1000, epochs=5, verbose=0)
    model().fit(loader, steps_per_epoch=1000, epochs=5, verbose=0)
    '''
)

PIPELINES = ("naive (map(parse_single_example).batch)", "safeloader tfrecord_dataset")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--records", type=int, default=50_000, help="records to write")
    parser.add_argument("--steps", type=int, default=40, help="the doctor's --steps")
    args = parser.parse_args()
    from safeloader.data.bench_input_wait import keras_device

    with tempfile.TemporaryDirectory() as work:
        script = os.path.join(work, "train.py")
        with open(script, "w") as handle:
            handle.write(SCRIPT)
        started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "safeloader", "doctor", "--json", "--steps", str(args.steps),
             script, work, str(args.records)], capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - started
    if result.returncode != 0:
        print(result.stderr, file=sys.stderr)
        return 1
    document = json.loads(result.stdout)
    print(f"keras {document['keras']} on {keras_device()}; {args.records} records; "
          f"doctor run {seconds:.0f} s (writing included); load average {os.getloadavg()[0]:.1f}")
    width = max(map(len, PIPELINES))
    print(f"{'pipeline':<{width}}  {'input_bound':>11}  {'steps/s':>8}  {'step ms':>8}  "
          f"{'compute ms':>10}  {'input ms':>8}")
    for name, call in zip(PIPELINES, document["calls"]):
        print(f"{name:<{width}}  {call['input_bound']:>11.2f}  {call['steps_per_second']:>8.1f}  "
              f"{call['step_seconds'] * 1000:>8.2f}  {call['compute_seconds'] * 1000:>10.2f}  "
              f"{call['input_seconds_per_batch'] * 1000:>8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
