"""safeloader doctor's ``input_bound`` against the known truth, on a grid of costs.

Each cell of the grid is one ``fit`` call in one generated script: a model
whose training step sleeps ``C`` ms (a ``tf.py_function`` layer: the compute),
fed by a Python generator that sleeps ``I`` ms per batch (the input). Both
sleeps release the GIL, so the input can overlap the compute exactly as
Keras arranges it. The script runs once under ``safeloader doctor --json``;
every call is one row of the table.

The truth is measured apart, without the doctor, in this process, for each
cell (each figure the typical, median, value of 15 to 30 repetitions):

- ``I``: the generator drained alone, time per batch;
- ``C``: the model's training step on in-memory arrays;
- ``T``: the real step of the same model fed by the generator, plain Keras.

Keras 3 (TensorFlow backend) and tf_keras with ``workers=1`` both read a
generator in the background, one batch ahead (``tf.data`` prefetch), so a
steady step takes ``max(I, C)`` and waits ``max(0, I - C)`` of it:
``truth = max(0, I - C) / max(I, C)``. The doctor's figure is good when it is
within 0.1 of that. ``plain`` is ``1 - C / T``, what plain Keras showed: where
it departs from the truth (costs within a few ms of each other), Keras' own
feeding work (the generator's thread takes the GIL to hand each batch over)
makes the step wait where the two costs alone would not.

Run: ``python benchmarks/bench_doctor.py [--costs 0,10,20,40] [--flavours keras,tf_keras]``
(about 2 minutes with the defaults).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import warnings
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

#: The definitions of the script the doctor runs; :func:`grid_script` adds one ``fit``
#: line per cell (a call site each: the doctor measures the first call at a line).
DEFINITIONS = textwrap.dedent(
    '''
    import time
    import numpy as np
    import tensorflow as tf
    import keras
    import tf_keras


    def batches(cost):
        rng = np.random.default_rng(0)
        while True:
            time.sleep(cost)
            yield (rng.standard_normal((32, 8)).astype("float32"),
                   rng.standard_normal((32, 1)).astype("float32"))


    def model(package, cost):
        class Compute(package.layers.Layer):
            @tf.autograph.experimental.do_not_convert
            def call(self, x, training=None):
                if not cost:
                    return x

                def work(t):
                    time.sleep(cost)
                    return t

                y = tf.py_function(work, [x], x.dtype)
                y.set_shape(x.shape)
                return y

        net = package.Sequential([package.Input((8,)), Compute(), package.layers.Dense(1)])
        net.compile(optimizer="sgd", loss="mse")
        return net
    '''
)


def grid_script(cells: list[tuple[str, float, float]]) -> str:
    """The definitions, then one ``fit`` line per ``(flavour, I ms, C ms)`` cell."""
    lines = [f"model({flavour}, {compute_ms / 1000!r}).fit(batches({input_ms / 1000!r}), "
             f"steps_per_epoch=1000, epochs=10, verbose=0)"
             for flavour, input_ms, compute_ms in cells]
    return DEFINITIONS + "\n\n" + "\n".join(lines) + "\n"


def _median_cycle(keras: Any, net: Any, data: Any, skip: int = 10, **options: Any) -> float:
    """The typical time from one training step's start to the next's, after ``skip``."""
    stamps: list[float] = []

    class Stamp(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch: int, logs: Any = None) -> None:
            stamps.append(time.perf_counter())

    net.fit(data, epochs=1, verbose=0, callbacks=[Stamp()], **options)
    steady = stamps[skip:]
    return statistics.median(b - a for a, b in zip(steady, steady[1:]))


def measured_costs(flavour: str, input_ms: float, compute_ms: float) -> tuple[float, ...]:
    """``(I, C, T)`` in seconds, measured without the doctor, each the typical value:
    the generator drained alone, the model's step on in-memory arrays, and the real
    step of the model fed by the generator (plain Keras)."""
    import numpy as np

    namespace: dict[str, Any] = {}
    exec(compile(DEFINITIONS, "<bench>", "exec"), namespace)  # noqa: S102 - our own text
    keras = namespace[flavour]
    source = namespace["batches"](input_ms / 1000)
    next(source)
    pulls = []
    for _ in range(15):
        started = time.perf_counter()
        next(source)
        pulls.append(time.perf_counter() - started)
    net = namespace["model"](keras, compute_ms / 1000)
    x = np.zeros((32 * 40, 8), "float32")
    y = np.zeros((32 * 40, 1), "float32")
    compute = _median_cycle(keras, net, x, y=y, batch_size=32, shuffle=False)
    real = _median_cycle(keras, net, namespace["batches"](input_ms / 1000), steps_per_epoch=40)
    return statistics.median(pulls), compute, real


def truth_share(input_seconds: float, compute_seconds: float) -> float:
    """The share of a steady step that waits, with the input read one batch ahead."""
    slower = max(input_seconds, compute_seconds)
    return max(0.0, input_seconds - compute_seconds) / slower if slower > 0 else 0.0


def main() -> int:
    warnings.simplefilter("ignore")  # Keras' notes on shuffle=True with generators
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--costs", default="0,10,20,40",
                        help="input and compute costs in ms, comma-separated (default 0,10,20,40)")
    parser.add_argument("--flavours", default="keras,tf_keras",
                        help="Keras packages to run (default keras,tf_keras)")
    args = parser.parse_args()
    costs = [float(part) for part in args.costs.split(",")]
    cells = [(flavour, i, c) for flavour in args.flavours.split(",") for i in costs
             for c in costs if i or c]  # both free: only Keras' own overhead is left
    with tempfile.TemporaryDirectory() as work:
        script = os.path.join(work, "grid.py")
        with open(script, "w") as handle:
            handle.write(grid_script(cells))
        started = time.perf_counter()
        result = subprocess.run([sys.executable, "-m", "safeloader", "doctor", "--json", script],
                                capture_output=True, text=True, check=False)
        doctor_seconds = time.perf_counter() - started
    if result.returncode not in (0, 1):
        print(result.stderr, file=sys.stderr)
        return 1
    print(f"doctor run: {doctor_seconds:.0f} s for {len(cells)} calls; "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"{'flavour':<9} {'I ms':>5} {'C ms':>5} | {'I':>5} {'C':>5} {'T':>5} | "
          f"{'truth':>5} {'plain':>5} | {'doctor':>6} {'error':>6}")
    worst = 0.0
    shares = [call["input_bound"] for call in json.loads(result.stdout)["calls"]]
    for (flavour, input_ms, compute_ms), share in zip(cells, shares):
        input_s, compute_s, real_s = measured_costs(flavour, input_ms, compute_ms)
        truth = truth_share(input_s, compute_s)
        plain = max(0.0, 1.0 - compute_s / real_s)
        error = share - truth
        worst = max(worst, abs(error))
        print(f"{flavour:<9} {input_ms:>5g} {compute_ms:>5g} | {input_s * 1000:>5.1f} "
              f"{compute_s * 1000:>5.1f} {real_s * 1000:>5.1f} | {truth:>5.2f} {plain:>5.2f} | "
              f"{share:>6.2f} {error:>+6.2f}")
    print(f"largest error against the truth: {worst:.2f} (target: within 0.1); "
          f"load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
