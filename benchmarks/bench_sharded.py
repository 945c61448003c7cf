"""Shard threads: sharded_generator vs the serialised decorator, and from_generator vs 1 shard.

Part 1. Four consumer threads (as Keras 2's ``fit(..., workers=4)`` runs) drain one
iterator of batches. Two costs per batch:

- ``io``: 5 ms of waiting with the GIL released (``time.sleep``, standing in
  for a file or network read). Target: sharded (4 shards) >= 3.5x serialised.
- ``cpu``: numpy work that releases the GIL (ufuncs and a sort on a large
  array, single-threaded: no BLAS). The ceiling is the number of cores
  (2 on the project's machines, so near 2x).

"serialised" is ``@threadsafe_generator`` over one generator: the lock lets
one batch be prepared at a time. "sharded" is ``sharded_generator(fn, 4)``:
four generators, each in its own thread. Both yield the same batches.

Part 2 (needs TensorFlow). :func:`safeloader.data.from_generator` with 4
shards against 1 shard, read by one tf.data iterator as Keras 3's ``fit``
does, for a GIL-free item (a 20 ms ``time.sleep``, target >= 3.5x) and a
GIL-bound one (a pure-Python loop: threads cannot help, about 1x expected).
Also shown: the plain ``tf.data.Dataset.from_generator`` over one generator
(what a user writes without safeloader) and the previous design, one
``Dataset.from_generator`` per shard under ``interleave``.

Run: ``python benchmarks/bench_sharded.py [--batches N] [--rounds R] [--items N]``
(70 s with the defaults on 2 loaded cores; about 21 s of it is the items' sleeps).
"""

from __future__ import annotations

import argparse
import math
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
SLEEP_SECONDS = 0.02  # from_generator's GIL-free item
PYTHON_LOOP = 20_000  # from_generator's GIL-bound item: a few ms of bytecode


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


def sleeping_item(index: int) -> int:
    time.sleep(SLEEP_SECONDS)
    return index


def python_item(index: int) -> int:
    total = index
    for value in range(PYTHON_LOOP):
        total = (total * 31 + value) % 1_000_003
    return total


def measure_from_generator(items: int, rounds: int) -> None:
    """Print items/s of from_generator's candidates, best of ``rounds`` interleaved rounds.

    Items/s are counted after the first item. The start-up is printed apart:
    "first item" (threads starting, first items; it is folded into the "pass"
    ratio, which times the whole pass) and tf.data's own ``iter(dataset)``
    (the same work for every candidate, which took 2 s now and then here,
    for the plain ``Dataset.from_generator`` too; the least is printed).
    """
    import tensorflow as tf

    from safeloader.data import from_generator

    signature = tf.TensorSpec([], tf.int64)

    def candidates(make: Callable[[int], int]) -> dict[str, Callable[[], Any]]:
        def shard(shard_index: int, num_shards: int) -> Iterator[int]:
            for index in range(shard_index, items, num_shards):
                yield make(index)

        def one_interleaved_source(index: Any) -> tf.data.Dataset:
            return tf.data.Dataset.from_generator(
                lambda i: shard(int(i), SHARDS), args=(index,), output_signature=signature)

        return {
            "tf.data.Dataset.from_generator (1 generator)": lambda: tf.data.Dataset.from_generator(
                lambda: shard(0, 1), output_signature=signature),
            "from_generator, 1 shard": lambda: from_generator(shard, signature, num_shards=1),
            f"from_generator, {SHARDS} shards": lambda: from_generator(
                shard, signature, num_shards=SHARDS),
            f"{SHARDS} sources under interleave (previous design)":
                lambda: tf.data.Dataset.range(SHARDS).interleave(
                    one_interleaved_source, cycle_length=SHARDS, num_parallel_calls=SHARDS),
        }

    cases = [
        (f"{SLEEP_SECONDS * 1e3:.0f} ms GIL-free wait an item", sleeping_item, 3.5),
        (f"pure-Python loop ({PYTHON_LOOP} steps) an item, holds the GIL", python_item, None),
    ]
    for label, make, target in cases:
        builders = candidates(make)
        steady = dict.fromkeys(builders, 0.0)
        whole = dict.fromkeys(builders, 0.0)
        first_item = dict.fromkeys(builders, math.inf)
        creation = dict.fromkeys(builders, math.inf)
        for _ in range(rounds):
            for name, build in builders.items():
                dataset = build()
                start = time.perf_counter()
                iterator = iter(dataset)  # tf.data's own start-up: the same for every candidate
                created = time.perf_counter()
                next(iterator)  # the shards' start-up: threads, first items
                first = time.perf_counter()
                count = 1 + sum(1 for _ in iterator)
                end = time.perf_counter()
                if count != items:
                    raise AssertionError(f"{name}: {count} items, expected {items}")
                steady[name] = max(steady[name], (items - 1) / (end - first))
                whole[name] = max(whole[name], items / (end - created))
                first_item[name] = min(first_item[name], first - created)
                creation[name] = min(creation[name], created - start)
        one, one_whole = steady["from_generator, 1 shard"], whole["from_generator, 1 shard"]
        print(f"  {label}")
        print(f"    {'':<48} {'items/s':>8} {'x 1 shard':>9}   {'first item':>10}   "
              f"{'pass: x 1 shard':>15}   {'iter()':>7}")
        for name in builders:
            print(f"    {name:<48} {steady[name]:8.1f} {steady[name] / one:8.2f}x   "
                  f"{first_item[name] * 1e3:7.0f} ms   {whole[name] / one_whole:14.2f}x   "
                  f"{creation[name] * 1e3:4.0f} ms")
        ratio = steady[f"from_generator, {SHARDS} shards"] / one
        if target is not None:
            print(f"    target: {SHARDS} shards >= {target}x of 1 shard after the first item "
                  f"({ratio:.2f}x: {'met' if ratio >= target else 'MISSED'})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=400, help="batches per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; the best counts")
    parser.add_argument("--items", type=int, default=120,
                        help="items per from_generator round (best of 2 rounds)")
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
    try:
        import tensorflow  # noqa: F401 - only to know whether part 2 can run
    except ImportError:
        print("from_generator: skipped (TensorFlow is not installed)")
        return 0
    print(f"from_generator: one tf.data iterator, {args.items} items, best of 2 rounds")
    measure_from_generator(args.items, rounds=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
