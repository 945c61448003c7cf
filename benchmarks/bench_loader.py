"""Benchmark of the TFRecord loader (issue 5): the same code as ``safeloader bench``.

    python benchmarks/bench_loader.py [--records N] [--data DIR] [--plot FILE.png]

Prints records per second of the raw read ceiling, the naive pipeline,
``safeloader.data.tfrecord_dataset`` and a locked generator drained by three
threads, with their ratios; peak memory of each in its own process; and
tf_keras ``fit`` steps per second. See benchmarks/README.md, "Loader (issue 5)".
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from safeloader.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
