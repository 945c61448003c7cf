"""Items per second of sharded generators on processes vs threads vs one shard, steady state.

Two generators (``safeloader.runtime.shard_workloads``), each yielding a 64 KiB
float32 array per item:

- ``gil-bound``: the item is computed in pure Python (a loop of ``math``
  calls, standing in for decoding or augmenting in Python), holding the GIL.
  Threads cannot run it in parallel; processes can. Target: 2 process shards
  >= 1.5x one thread shard (on a machine with 2 free cores).
- ``gil-free``: the item waits 5 ms with the GIL released (``time.sleep``,
  standing in for I/O). Threads and processes both overlap the waits.

For each, one consumer drains ``sharded_generator(fn, n)`` (threads) and
``sharded_generator(fn, n, processes=True)`` for each ``n`` of ``--processes``,
against ``sharded_generator(fn, 1)`` (one thread shard: the generator run in
the background, what a user has without sharding). Start-up (the time to the
first item of every shard: for processes, spawning them, importing NumPy
there) is reported apart; the rate is measured over the ``--items`` items
that follow. Best of ``--rounds`` interleaved rounds. "CPU ms/item" is the
CPU time of the consumer and its shard processes over the whole run (start-up
included) divided by the items: where other work holds the cores (Linux gives
each session's process group a fair share, so more processes do not get more
CPU under load) the rates say little, while this shows what processes cost
over threads.

Run: ``python benchmarks/bench_processes.py [--processes 1,2,4,8] [--items N] [--rounds R]``
"""

from __future__ import annotations

import argparse
import functools
import math
import os
import resource
import sys
import time
from typing import Any, Callable, Iterator

from safeloader import sharded_generator
from safeloader.runtime.shard_workloads import python_work, waits

GIL_BOUND_STEPS = 40_000  # Python-level math calls per item: several ms on one core
GIL_FREE_SECONDS = 0.005


def cpu_seconds() -> float:
    """CPU time of this process and of its reaped children (the shard processes)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(
        resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run(
    fn: Callable[..., Iterator[Any]], shards: int, processes: bool, items: int
) -> tuple[float, float, float]:
    """Start-up seconds, items per second after it, and CPU ms an item (all processes)."""
    total = shards + items
    cpu = cpu_seconds()
    start = time.perf_counter()
    source = functools.partial(fn, items=total)
    with sharded_generator(source, shards, processes=processes) as merged:
        for _ in range(shards):  # one item from each shard: every shard is running
            next(merged)
        ready = time.perf_counter()
        count = sum(1 for _ in merged)
        end = time.perf_counter()
    if count != items:
        raise AssertionError(f"delivered {count} items after start-up, expected {items}")
    return ready - start, items / (end - ready), (cpu_seconds() - cpu) * 1e3 / total


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
    gil_bound = functools.partial(python_work, steps=GIL_BOUND_STEPS)
    gil_free = functools.partial(waits, seconds=GIL_FREE_SECONDS)
    for label, fn in ((f"gil-bound ({GIL_BOUND_STEPS:,} math calls in Python an item)", gil_bound),
                      (f"gil-free ({GIL_FREE_SECONDS * 1e3:.0f} ms sleep an item)", gil_free)):
        runs = [("1 thread shard", 1, False)]
        for n in counts:
            if n > 1:
                runs.append((f"{n} thread shards", n, False))
            runs.append((f"{n} process shard{'s' if n > 1 else ''}", n, True))
        best: dict[str, tuple[float, float, float]] = {}
        for _ in range(args.rounds):
            for name, shards, processes in runs:
                startup, rate, cpu = run(fn, shards, processes, args.items)
                previous = best.get(name, (math.inf, 0.0, math.inf))
                best[name] = (min(previous[0], startup), max(previous[1], rate),
                              min(previous[2], cpu))
        base = best["1 thread shard"][1]
        print(f"\n{label}")
        print(f"  {'':<18} {'start-up s':>10} {'items/s':>9} {'vs 1 shard':>10} "
              f"{'CPU ms/item':>11}")
        for name, (startup, rate, cpu) in best.items():
            line = (f"  {name:<18} {startup:>10.2f} {rate:>9.1f} {rate / base:>9.2f}x "
                    f"{cpu:>11.2f}")
            if fn is gil_bound and name == "2 process shards":
                line += f"  (target >= 1.5x: {'met' if rate / base >= 1.5 else 'MISSED'})"
            print(line)
    print(f"\nload average {os.getloadavg()[0]:.1f} after the run")
    return 0


if __name__ == "__main__":
    sys.exit(main())
