"""Per-item cost of next() through ThreadSafeIterator, one thread.

Compares, on a trivial generator (the cost measured is the wrapper's own):

- a raw generator (no lock: the floor);
- safeloader's ``ThreadSafeIterator``;
- tf_keras's own wrapper, ``tf_keras.src.utils.data_utils.ThreadsafeIter``
  (skipped when tf_keras is not installed).

Target: ``ThreadSafeIterator`` no slower than Keras' wrapper (ratio <= 1.0).
Each figure is the best of several rounds, the candidates interleaved so that
machine noise hits them alike.

Run: ``python benchmarks/bench_threadsafe.py [--items N] [--rounds R]``
"""

from __future__ import annotations

import argparse
import collections
import itertools
import os
import sys
import time
from typing import Callable, Iterator

from safeloader import ThreadSafeIterator


def trivial(count: int) -> Iterator[None]:
    """A generator whose items cost next to nothing."""
    yield from itertools.repeat(None, count)


def keras_wrapper() -> Callable[[Iterator[None]], Iterator[None]] | None:
    """tf_keras's ThreadsafeIter, or None when tf_keras is not installed."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        from tf_keras.src.utils.data_utils import ThreadsafeIter
    except ImportError:
        return None
    return ThreadsafeIter  # type: ignore[no-any-return]


def per_item_ns(wrap: Callable[[Iterator[None]], Iterator[None]], items: int) -> float:
    """Nanoseconds per next() to drain ``wrap(trivial(items))`` (C-level loop)."""
    iterator = wrap(trivial(items))
    start = time.perf_counter()
    collections.deque(iterator, maxlen=0)
    return (time.perf_counter() - start) / items * 1e9


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1_000_000, help="items per round")
    parser.add_argument("--rounds", type=int, default=7, help="rounds; the best counts")
    args = parser.parse_args(argv)

    candidates: dict[str, Callable[[Iterator[None]], Iterator[None]]] = {
        "raw generator": lambda it: it,
        "safeloader ThreadSafeIterator": ThreadSafeIterator,
    }
    keras = keras_wrapper()
    if keras is not None:
        candidates["tf_keras ThreadsafeIter"] = keras
    best = {name: float("inf") for name in candidates}
    for _ in range(args.rounds):
        for name, wrap in candidates.items():
            best[name] = min(best[name], per_item_ns(wrap, args.items))

    print(f"next() per item, one thread, best of {args.rounds} x {args.items:,} items "
          f"(Python {sys.version.split()[0]})")
    width = max(map(len, best))
    for name, ns in best.items():
        print(f"  {name:<{width}}  {ns:7.1f} ns")
    ours = best["safeloader ThreadSafeIterator"]
    print(f"  ThreadSafeIterator / raw generator: {ours / best['raw generator']:.2f}")
    if keras is None:
        print("  tf_keras not installed: no comparison with Keras' wrapper")
        return 0
    ratio = ours / best["tf_keras ThreadsafeIter"]
    verdict = "met" if ratio <= 1.0 else "MISSED"
    print(f"  ThreadSafeIterator / tf_keras ThreadsafeIter: {ratio:.2f} "
          f"(target <= 1.0: {verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
