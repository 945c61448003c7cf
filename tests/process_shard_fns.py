"""Shard functions for the process-shard tests.

Spawned shard processes import ``fn`` by module and name, so these live in an
importable module (the tests directory is on ``sys.path`` under pytest, and
spawned children receive the parent's ``sys.path``).
"""

from __future__ import annotations

import atexit
import os
import signal
import time
from typing import Any, Iterator

import numpy as np

MIB = 1 << 20


def numbered(shard_index: int, num_shards: int, count: int = 12) -> Iterator[int]:
    """Items ``shard_index, shard_index + num_shards, ...`` below ``count``."""
    yield from range(shard_index, count, num_shards)


def uneven(shard_index: int, num_shards: int) -> Iterator[tuple[int, int]]:
    """Shard i yields (i, 0), (i, 1), ...: 3, 1 and 5 items for shards 0, 1, 2."""
    for k in range((3, 1, 5)[shard_index]):
        yield shard_index, k


def arrays(shard_index: int, num_shards: int, count: int = 3) -> Iterator[Any]:
    """1 MiB arrays whose bytes encode shard and item, nested in tuples, dicts and lists."""
    for k in range(count):
        seed = shard_index * 100 + k
        big = np.random.default_rng(seed).integers(0, 255, MIB, dtype=np.uint8)
        yield {
            "x": big,
            "pair": (np.full((4, 5), seed, dtype=np.float32), np.arange(3, dtype=np.int64)[::-1]),
            "meta": [seed, "text", np.zeros(0)],
        }


def expected_arrays(shard_index: int, k: int) -> np.ndarray:
    """The 1 MiB array :func:`arrays` yields as item ``k`` of shard ``shard_index``."""
    return np.random.default_rng(shard_index * 100 + k).integers(0, 255, MIB, dtype=np.uint8)


class NeedsTwoArguments(Exception):
    """An exception pickle cannot rebuild (its __init__ takes two arguments)."""

    def __init__(self, code: int, detail: str) -> None:
        super().__init__(f"code {code}: {detail}")


def failing(shard_index: int, num_shards: int) -> Iterator[int]:
    """Shard 1 raises ValueError after one item; the others yield forever."""
    yield shard_index
    if shard_index == 1:
        raise ValueError(f"bad record in shard {shard_index}")
    while True:
        yield shard_index


def failing_unpicklable(shard_index: int, num_shards: int) -> Iterator[int]:
    """Raises an exception that cannot be rebuilt from pickle."""
    raise NeedsTwoArguments(7, "disk on fire")
    yield 0  # pragma: no cover - makes this a generator


def forever(shard_index: int, num_shards: int) -> Iterator[int]:
    """Yields its shard index without end."""
    while True:
        yield shard_index


def counting_forever(counter: Any, shard_index: int, num_shards: int) -> Iterator[int]:
    """Counts each item it has prepared in ``counter`` (a shared Value), without end."""
    while True:
        with counter.get_lock():
            counter.value += 1
        yield shard_index


def pid_then_forever(shard_index: int, num_shards: int) -> Iterator[int]:
    """Yields its process id, then its shard index without end."""
    yield os.getpid()
    while True:
        yield shard_index


def marks_finally(directory: str, shard_index: int, num_shards: int) -> Iterator[int]:
    """Writes ``<directory>/closed-<shard>`` when its generator is closed."""
    try:
        while True:
            yield shard_index
    finally:
        with open(os.path.join(directory, f"closed-{shard_index}"), "w", encoding="utf-8"):
            pass


def stuck(shard_index: int, num_shards: int) -> Iterator[int]:
    """Shard 0 yields forever; shard 1 blocks in one long call that ignores SIGTERM."""
    if shard_index == 1:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
        time.sleep(3600)
    while True:
        yield shard_index


def dies(shard_index: int, num_shards: int) -> Iterator[int]:
    """Shard 1 kills its own process after one item."""
    yield shard_index
    if shard_index == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    while True:
        yield shard_index


def registers_atexit(directory: str, shard_index: int, num_shards: int) -> Iterator[int]:
    """Registers an atexit handler that would write ``<directory>/atexit-<shard>``, yields twice."""
    path = os.path.join(directory, f"atexit-{shard_index}")
    atexit.register(lambda: open(path, "w", encoding="utf-8").close())
    yield shard_index
    yield shard_index


def not_iterable(shard_index: int, num_shards: int) -> int:
    """Returns a number instead of an iterable."""
    return shard_index


def id_batches(shard_index: int, num_shards: int, batches: int = 12) -> Iterator[Any]:
    """Batches ``shard_index::num_shards`` of 4 rows: x [4, 2] (column 0: the id), y [4, 1]."""
    for batch_id in range(shard_index, batches, num_shards):
        x = np.zeros((4, 2), dtype=np.float32)
        x[:, 0] = batch_id
        x[:, 1] = np.linspace(-1.0, 1.0, 4, dtype=np.float32)
        yield x, 0.5 * x[:, 1:] + 0.1


def many_id_batches(shard_index: int, num_shards: int) -> Iterator[Any]:
    """:func:`id_batches`, 64 of them: more than a short ``fit`` and its read-ahead take."""
    yield from id_batches(shard_index, num_shards, batches=64)


def tracked_arrays(directory: str, shard_index: int, num_shards: int) -> Iterator[dict[str, Any]]:
    """Three items a shard (within the default buffer: all sent without waiting for the consumer),
    each an array of ``100 * shard + k``.

    Once its first item was sent (a shared memory segment made), the shard writes the pid of
    the resource tracker it uses to ``<directory>/tracker-<shard>``: ``None`` when it was
    handed the pipe of a tracker it did not start.
    """
    from multiprocessing import resource_tracker

    for k in range(3):
        yield {"shard": shard_index, "k": k, "x": np.full(1000, 100 * shard_index + k)}
        if k == 0:
            with open(os.path.join(directory, f"tracker-{shard_index}"), "w",
                      encoding="ascii") as record:
                record.write(str(resource_tracker._resource_tracker._pid))


def _rebuild_only_in(pid: int, record: int) -> int:
    if os.getpid() != pid:
        raise LookupError(f"record {record} lives in process {pid} only")
    return record


class ProcessBound:
    """An object whose pickle rebuilds only in the process that made it (its __reduce__ fails
    in any other), as a handle to a per-process resource would."""

    def __init__(self, record: int) -> None:
        self.record = record

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_only_in, (os.getpid(), self.record))


def process_bound(shard_index: int, num_shards: int) -> Iterator[Any]:
    """Shard 0 yields arrays; shard 1 an array, then items the consumer cannot rebuild."""
    yield np.full(8, shard_index)
    while True:
        yield np.full(8, shard_index) if shard_index == 0 else (np.ones(8), ProcessBound(7))


def yields_a_generator(shard_index: int, num_shards: int) -> Iterator[Any]:
    """Yields an item that cannot be pickled (a generator object) in shard 1."""
    yield shard_index
    if shard_index == 1:
        yield (k for k in range(3))
    while True:
        yield shard_index


def flagged(shard_index: int, num_shards: int) -> Iterator[tuple[np.ndarray, ...]]:
    """One item: a read-only array, a Fortran-order array, and one array twice."""
    frozen = np.arange(6.0).reshape(2, 3)
    frozen.flags.writeable = False
    fortran = np.asfortranarray(np.arange(12).reshape(3, 4))
    twice = np.full(4, shard_index)
    yield frozen, fortran, twice, twice
