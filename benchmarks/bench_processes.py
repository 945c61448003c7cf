"""Items per second of sharded generators on processes vs threads vs one shard, steady state.

Two generators, each yielding a 64 KiB float32 array per item:

- ``gil-bound``: the item is computed in pure Python (a loop of ``math``
  calls, standing in for decoding or augmenting in Python), holding the GIL.
  Threads cannot run it in parallel; processes can. Target: 2 process shards
  >= 1.5x one thread shard (on a machine with 2 free cores).
- ``gil-free``: the item waits 5 ms with the GIL released (``time.sleep``,
  standing in for I/O), then fills its array with NumPy. Threads and
  processes both overlap the waits.

For each, one consumer drains ``sharded_generator(fn, n)`` (threads) and
``sharded_generator(fn, n, processes=True)`` for each ``n`` of ``--processes``,
against ``sharded_generator(fn, 1)`` (one thread shard: the generator run in
the background, what a user has without sharding). Start-up (the time to the
first item of every shard: for processes, spawning them, importing NumPy
there) is reported apart; the rate is measured over the ``--items`` items
that follow. Best of ``--rounds`` interleaved rounds.

Run: ``python benchmarks/bench_processes.py [--processes 1,2,4,8] [--items N] [--rounds R]``
"""

from __future__ import annotations

import argparse
import functools
import math
import os
import sys
import time
from typing import Any, Callable, Iterator

import numpy as np

from safeloader import sharded_generator

ITEM_FLOATS = 16_384  # 64 KiB of float32 per item: arrays go through shared memory
GIL_BOUND_STEPS = 40_000  # Python-level math calls per item: about 7 ms on one core here
GIL_FREE_SECONDS = 0.005


def gil_bound(shard_index: int, num_shards: int, total: int) -> Iterator[np.ndarray]:
    """Items ``shard_index::num_shards`` of ``total``, each computed in pure Python."""
    for index in range(shard_index, total, num_shards):
        acc = 0.0
        for step in range(GIL_BOUND_STEPS):
            acc += math.sin(index + step * 0.001)
        yield np.full(ITEM_FLOATS, acc, dtype=np.float32)


def gil_free(shard_index: int, num_shards: int, total: int) -> Iterator[np.ndarray]:
    """Items ``shard_index::num_shards`` of ``total``, each after a GIL-released wait."""
    for index in range(shard_index, total, num_shards):
        time.sleep(GIL_FREE_SECONDS)
        yield np.full(ITEM_FLOATS, index, dtype=np.float32)


def run(
    fn: Callable[..., Iterator[Any]], shards: int, processes: bool, items: int
) -> tuple[float, float]:
    """(start-up seconds, items per second after it) for one sharded generator."""
    total = shards + items
    start = time.perf_counter()
    source = functools.partial(fn, total=total)
    with sharded_generator(source, shards, processes=processes) as merged:
        for _ in range(shards):  # one item from each shard: every shard is running
            next(merged)
        ready = time.perf_counter()
        count = sum(1 for _ in merged)
        end = time.perf_counter()
    if count != items:
        raise AssertionError(f"delivered {count} items after start-up, expected {items}")
    return ready - start, items / (end - ready)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", default="2",
                        help="comma-separated shard counts to measure, e.g. 1,2,4,8 (default 2)")
    parser.add_argument("--items", type=int, default=160, help="items timed per run")
    parser.add_argument("--rounds", type=int, default=2, help="rounds; the best counts")
    args = parser.parse_args(argv)
    counts = [int(part) for part in args.processes.split(",")]

    print(f"{os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.1f} before the run; "
          f"{args.items} items timed per run, best of {args.rounds} rounds")
    for label, fn in (("gil-bound (pure Python)", gil_bound),
                      ("gil-free (5 ms sleep)", gil_free)):
        runs = [("1 thread shard", 1, False)]
        for n in counts:
            runs += [(f"{n} thread shards", n, False), (f"{n} process shards", n, True)]
        best: dict[str, tuple[float, float]] = {}
        for _ in range(args.rounds):
            for name, shards, processes in runs:
                startup, rate = run(fn, shards, processes, args.items)
                previous = best.get(name, (math.inf, 0.0))
                best[name] = (min(previous[0], startup), max(previous[1], rate))
        base = best["1 thread shard"][1]
        print(f"\n{label}")
        print(f"  {'':<18} {'start-up s':>10} {'items/s':>9} {'vs 1 shard':>10}")
        for name, (startup, rate) in best.items():
            line = f"  {name:<18} {startup:>10.2f} {rate:>9.1f} {rate / base:>9.2f}x"
            if fn is gil_bound and name == "2 process shards":
                line += f"  (target >= 1.5x: {'met' if rate / base >= 1.5 else 'MISSED'})"
            print(line)
    print(f"\nload average {os.getloadavg()[0]:.1f} after the run")
    return 0


if __name__ == "__main__":
    sys.exit(main())
