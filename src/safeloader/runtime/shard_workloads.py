"""Synthetic shard generators for the benchmarks: one holds the GIL, one releases it.

They live in a module of their own, free of TensorFlow, so that the shard
processes of ``sharded_generator(..., processes=True)`` can import them
quickly (a spawned process imports ``fn``'s module); ``safeloader bench`` and
``benchmarks/bench_processes.py`` share them. Each item is a 64 KiB float32
array, so that arrays cross between processes as real items would.
"""

from __future__ import annotations

import math
import time
from typing import Iterator

import numpy as np

__all__ = ["ITEM_FLOATS", "python_work", "waits"]

#: float32 values per item (64 KiB).
ITEM_FLOATS = 16_384


def python_work(shard_index: int, num_shards: int, items: int, steps: int) -> Iterator[np.ndarray]:
    """Items ``shard_index::num_shards`` of ``items``, each ``steps`` math calls in pure Python.

    Stands for decoding or augmenting in Python: the work holds the GIL.
    """
    for index in range(shard_index, items, num_shards):
        total = 0.0
        for step in range(steps):
            total += math.sin(index + step * 0.001)
        yield np.full(ITEM_FLOATS, total, dtype=np.float32)


def waits(shard_index: int, num_shards: int, items: int, seconds: float) -> Iterator[np.ndarray]:
    """Items ``shard_index::num_shards`` of ``items``, each after a wait of ``seconds``.

    Stands for reading a file: ``time.sleep`` releases the GIL.
    """
    for index in range(shard_index, items, num_shards):
        time.sleep(seconds)
        yield np.full(ITEM_FLOATS, index, dtype=np.float32)
