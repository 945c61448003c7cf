"""Soak: open fds and /dev/shm over many passes of ``from_generator(..., processes=True)``.

Keras and tf.data keep each epoch's generator alive after the epoch (the
tf.data iterator holds it, and Keras holds the iterator), so whatever a
pass of process shards made (channels, pipes, process handles, shared
memory) must be released when the pass ends, not when its generator is
garbage. This script runs ``--epochs`` passes, each to its end, and keeps
every pass's tf.data iterator in a list, as Keras does; each pass must
deliver every item exactly once. It counts this process's open file
descriptors (``/proc/self/fd``) and shared memory it holds: the entries of
``/dev/shm`` it created (segments named ``sl<pid>_*``) and the
``/dev/shm`` files mapped in it (``/proc/self/maps``; a named semaphore is
one), before the first pass, after it, and after the last. The whole of
``/dev/shm`` is counted too, for the record (other programs change it).

Run under a real file limit, as the test does::

    bash -c 'ulimit -n 128 && python benchmarks/soak_process_shards.py --epochs 100'

``--start-method forkserver`` preloads NumPy and this script in the fork
server, so that each pass's processes start in milliseconds (the test's
choice); ``spawn`` is the default of ``processes=True``. ``--json`` prints
one JSON object instead of the text. Exits 1 when a count grew or a pass
lost or repeated an item.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import time
from typing import Any, Iterator

import numpy as np

ITEMS_PER_SHARD = 4
ITEM_FLOATS = 256


def numbered_arrays(shard_index: int, num_shards: int) -> Iterator[np.ndarray]:
    """Shard ``i`` yields arrays filled with ``1000 * i + k`` (they cross through shared memory)."""
    for k in range(ITEMS_PER_SHARD):
        yield np.full(ITEM_FLOATS, 1000 * shard_index + k, dtype=np.float32)


def open_fds() -> int:
    """This process's open file descriptors."""
    return len(os.listdir("/proc/self/fd"))


def shared_memory_held() -> int:
    """Shared memory held here: this process's ``sl<pid>_*`` segments, mapped /dev/shm files."""
    own = [name for name in os.listdir("/dev/shm") if name.startswith(f"sl{os.getpid()}_")]
    with open("/proc/self/maps", encoding="ascii", errors="replace") as maps:
        mapped = {line.split(None, 5)[-1].strip() for line in maps if " /dev/shm/" in line}
    return len(own) + len(mapped)


def snapshot() -> dict[str, int]:
    """The counts, now."""
    return {"fds": open_fds(), "shm_held": shared_memory_held(),
            "dev_shm_entries": len(os.listdir("/dev/shm"))}


def soak(epochs: int, shards: int, start_method: str) -> dict[str, Any]:
    """Run the passes and return the counts and timings."""
    import tensorflow as tf

    from safeloader.data import from_generator

    context = multiprocessing.get_context(start_method)
    if start_method == "forkserver":
        context.set_forkserver_preload(["__main__", "numpy", "safeloader.runtime.shard_process"])
    signature = tf.TensorSpec([ITEM_FLOATS], tf.float32)
    dataset = from_generator(numbered_arrays, signature, num_shards=shards, processes=True,
                             mp_context=context)
    expected = sorted(1000 * shard + k for shard in range(shards) for k in range(ITEMS_PER_SHARD))
    kept = []  # every pass's iterator, hence its generator, stays alive as under Keras
    before = snapshot()
    after_first: dict[str, int] = {}
    wrong_passes = 0
    start = time.perf_counter()
    for epoch in range(epochs):
        iterator = iter(dataset)
        kept.append(iterator)
        values = sorted(int(item[0]) for item in iterator)
        wrong_passes += values != expected
        if epoch == 0:
            after_first = snapshot()
    seconds = time.perf_counter() - start
    after = snapshot()
    return {
        "epochs": epochs, "shards": shards, "start_method": start_method,
        "fd_limit": _fd_limit(), "before": before, "after_first_epoch": after_first,
        "after": after, "wrong_passes": wrong_passes, "seconds": round(seconds, 2),
        "ms_per_epoch": round(1000 * seconds / epochs, 1),
        "flat": after["fds"] == after_first["fds"] and after["shm_held"] == before["shm_held"],
    }


def _fd_limit() -> int:
    import resource

    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--shards", type=int, default=2)
    parser.add_argument("--start-method", default="spawn",
                        choices=("spawn", "forkserver", "fork"))
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    options = parser.parse_args(argv)
    result = soak(options.epochs, options.shards, options.start_method)
    if options.json:
        print(json.dumps(result))
    else:
        print(f"{result['epochs']} passes of from_generator(processes=True), "
              f"{result['shards']} shards, {result['start_method']}, fd limit "
              f"{result['fd_limit']}: {result['seconds']} s ({result['ms_per_epoch']} ms a pass)")
        for key in ("before", "after_first_epoch", "after"):
            print(f"  {key:>17}: {result[key]}")
        print(f"  passes that lost or repeated an item: {result['wrong_passes']}")
    return 0 if result["flat"] and not result["wrong_passes"] else 1


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.exit(main())
