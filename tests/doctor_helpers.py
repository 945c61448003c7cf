"""Running ``safeloader doctor`` on a script written by a test, in a subprocess.

Scripts are written to the test's ``tmp_path``; a trailing ``# @name`` comment
marks a line the test asserts on (:func:`line_of`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

#: Generous: a loaded 2-core machine imports TensorFlow in 5 to 20 seconds.
TIMEOUT = 300

#: What the doctor's timing scripts share, indented as their text is (``write_script``
#: dedents it): ``batches(cost)``, a generator sleeping ``cost`` a batch (its ``def``
#: marked ``@batches``); ``Compute(cost)``, a layer sleeping ``cost`` a step; and
#: ``model(cost)``, a small model around that layer. A script imports ``time``,
#: ``numpy as np``, ``tensorflow as tf`` and its Keras as ``keras`` above them.
COSTED_PARTS = """
    def batches(cost):  # @batches
        rng = np.random.default_rng(0)
        while True:
            time.sleep(cost)
            yield rng.random((16, 4), dtype=np.float32), rng.random((16, 1), dtype=np.float32)


    class Compute(keras.layers.Layer):
        def __init__(self, cost, **kwargs):
            super().__init__(**kwargs)
            self.cost = cost

        def call(self, x):
            def work(t):
                time.sleep(self.cost)
                return t

            if not self.cost:
                return x
            y = tf.py_function(work, [x], x.dtype)
            y.set_shape(x.shape)
            return y


    def model(cost):
        net = keras.Sequential([keras.Input((4,)), Compute(cost), keras.layers.Dense(1)])
        net.compile(optimizer="sgd", loss="mse")
        return net
"""


def write_script(directory: Path, name: str, text: str) -> Path:
    """Write ``text`` (dedented) to ``directory/name``; return the path."""
    path = directory / name
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def line_of(path: Path, marker: str) -> int:
    """The 1-based line of ``path`` that ends with ``# @marker``."""
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if line.rstrip().endswith(f"# @{marker}"):
            return number
    raise AssertionError(f"no line marked @{marker} in {path}")


def run_doctor(script: Path, *arguments: str, options: tuple[str, ...] = (),
               env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m safeloader doctor OPTIONS SCRIPT ARGUMENTS`` from the script's directory."""
    return subprocess.run(
        [sys.executable, "-m", "safeloader", "doctor", *options, script.name, *arguments],
        cwd=script.parent, capture_output=True, text=True, timeout=TIMEOUT,
        env={**os.environ, **(env or {})},
    )


def calls_by_line(result: subprocess.CompletedProcess[str]) -> dict[int, dict[str, Any]]:
    """The ``--json`` report's calls, by line."""
    document = json.loads(result.stdout)
    return {call["line"]: call for call in document["calls"]}


def codes_at(call: dict[str, Any]) -> list[tuple[str, int, int | None]]:
    """``(code, line, definition line)`` of each finding of a call, sorted."""
    return sorted(
        (finding["code"], finding["line"],
         finding["definition"]["line"] if finding["definition"] else None)
        for finding in call["findings"]
    )
