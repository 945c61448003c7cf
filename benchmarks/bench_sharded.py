"""Throughput with 4 consumer threads: sharded_generator vs the serialised decorator.

Four consumer threads (as Keras 2's ``fit(..., workers=4)`` runs) drain one
iterator of batches. Two costs per batch:

- ``io``: 5 ms of waiting with the GIL released (``time.sleep``, standing in
  for a file or network read). Target: sharded (4 shards) >= 3.5x serialised.
- ``cpu``: numpy work that releases the GIL (ufuncs and a sort on a large
  array, single-threaded: no BLAS). The ceiling is the number of cores
  (2 on the project's machines, so near 2x).

"serialised" is ``@threadsafe_generator`` over one generator: the lock lets
one batch be prepared at a time. "sharded" is ``sharded_generator(fn, 4)``:
four generators, each in its own thread. Both yield the same batches.

Run: ``python benchmarks/bench_sharded.py [--batches N] [--rounds R]``
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from typing import Any, Callable, Iterator

import numpy as np

from safeloader import sharded_generator, threadsafe_generator

CONSUMERS = 4
SHARDS = 4
IO_SECONDS = 0.005
CPU_ELEMENTS = 100_000  # one cpu batch: a few ms of numpy on one core


def io_batch(index: int) -> int:
    time.sleep(IO_SECONDS)
    return index


def cpu_batch(index: int) -> float:
    values = np.arange(CPU_ELEMENTS, dtype=np.float64)
    values *= (index % 7) + 1.0
    np.sin(values, out=values)
    np.exp(values, out=values)
    values.sort()
    return float(values[CPU_ELEMENTS // 2])


def serialised(make: Callable[[int], Any], batches: int) -> Iterator[Any]:
    @threadsafe_generator
    def generate() -> Iterator[Any]:
        for index in range(batches):
            yield make(index)

    return generate()


def sharded(make: Callable[[int], Any], batches: int) -> Iterator[Any]:
    def shard(shard_index: int, num_shards: int) -> Iterator[Any]:
        for index in range(shard_index, batches, num_shards):
            yield make(index)

    return sharded_generator(shard, SHARDS)


def drain(iterator: Iterator[Any], batches: int) -> float:
    """Batches per second for CONSUMERS threads draining ``iterator``."""
    counts = [0] * CONSUMERS

    def consume(slot: int) -> None:
        for _ in iterator:
            counts[slot] += 1

    threads = [threading.Thread(target=consume, args=(i,)) for i in range(CONSUMERS)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    if sum(counts) != batches:
        raise AssertionError(f"delivered {sum(counts)} batches, expected {batches}")
    return batches / elapsed


def measure(make: Callable[[int], Any], batches: int, rounds: int) -> tuple[float, float]:
    """Best rate of each loader over ``rounds`` interleaved rounds."""
    best_serial = best_sharded = 0.0
    for _ in range(rounds):
        best_serial = max(best_serial, drain(serialised(make, batches), batches))
        best_sharded = max(best_sharded, drain(sharded(make, batches), batches))
    return best_serial, best_sharded


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=400, help="batches per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; the best counts")
    args = parser.parse_args(argv)

    print(f"{CONSUMERS} consumer threads, {args.batches} batches, best of {args.rounds} rounds, "
          f"{os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.1f}")
    cases = [
        (f"io  ({IO_SECONDS * 1e3:.0f} ms GIL-released wait)", io_batch, 3.5),
        ("cpu (numpy, GIL released)", cpu_batch, None),
    ]
    for label, make, target in cases:
        serial_rate, sharded_rate = measure(make, args.batches, args.rounds)
        ratio = sharded_rate / serial_rate
        line = (f"  {label:<30} serialised {serial_rate:7.1f}/s "
                f"({1e3 / serial_rate:4.1f} ms a batch)  "
                f"sharded({SHARDS}) {sharded_rate:7.1f}/s  ratio {ratio:.2f}x")
        if target is not None:
            line += f"  (target >= {target}: {'met' if ratio >= target else 'MISSED'})"
        else:
            line += f"  (ceiling ~{min(SHARDS, os.cpu_count() or 1)}x: the cores)"
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
