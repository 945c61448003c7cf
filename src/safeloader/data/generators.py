"""``from_generator``: sharded Python generators as one parallel tf.data pipeline."""

from __future__ import annotations

from multiprocessing.context import BaseContext
from typing import Any, Callable, Iterator

import tensorflow as tf

from safeloader.runtime.process_shards import (
    ProcessShardedGenerator,
    check_shard_function,
    resolve_context,
)
from safeloader.runtime.sharded import DEFAULT_MAX_QUEUE_SIZE, ShardedGenerator


def from_generator(
    fn: Callable[[int, int], Iterator[Any]],
    output_signature: Any,
    *,
    num_shards: int = 1,
    deterministic: bool = True,
    processes: bool = False,
    mp_context: BaseContext | str | None = None,
) -> tf.data.Dataset:
    """Run ``fn(shard_index, num_shards)`` for every shard, in parallel, as a ``tf.data.Dataset``.

    Each pass over the dataset (each iterator, hence each Keras epoch) starts a
    :func:`~safeloader.sharded_generator` that runs the ``num_shards`` shards
    in threads of their own, and one ``tf.data.Dataset.from_generator`` reads
    its merged items: round-robin over the shards when ``deterministic`` (an
    order that depends only on what each shard yields), first finished, first
    served otherwise. Every item is delivered exactly once. Keras 3's ``fit``
    has no ``workers``: this is how a generator keeps its code and gets
    parallelism. The shards share the Python GIL, so the gain comes from work
    that releases it (I/O, NumPy, decoding in C); ``fn`` should make each shard
    yield a disjoint part of the data.

    When the dataset's iterator is deleted (the end of a Keras epoch, a
    ``for`` loop left early), tf.data drops the merged generator and its
    threads stop. A shard's error is raised by the iterator as TensorFlow's
    error around a :class:`~safeloader.ShardError` naming the shard.

    ``processes=True`` runs each shard in its own spawned process instead
    (``sharded_generator(..., processes=True)``, for work that holds the GIL;
    ``mp_context`` picks another start method), started afresh for each pass
    over the dataset; ``fn`` is checked once, at once (a lambda or local
    function is a ``TypeError``, a function defined under the ``__main__``
    guard or in a notebook a ``SpawnSafetyError``). Each pass's processes,
    pipes and shared memory are released when it ends, errs or is dropped,
    even though Keras and tf.data keep that pass's generator object.

    ``output_signature`` is what ``tf.data.Dataset.from_generator`` takes (a
    nest of ``tf.TensorSpec``). Raises ``ValueError`` for ``num_shards`` < 1
    and ``TypeError`` for a ``fn`` that is not callable.
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable as fn(shard_index, num_shards), got {fn!r}")
    if isinstance(num_shards, bool) or not isinstance(num_shards, int) or num_shards < 1:
        raise ValueError(f"num_shards must be a positive integer, got {num_shards!r}")

    context = resolve_context(mp_context) if processes else None
    if context is not None:
        check_shard_function(fn, context)

    # One tf.data source over all the shards, not one per shard under
    # interleave: 4 shards of GIL-free work gave 4.2x-4.5x one shard this way,
    # 2.0x that way (benchmarks/bench_sharded.py), where each source is a
    # Python call from a tf.data thread of its own.
    def merged() -> ShardedGenerator[Any] | ProcessShardedGenerator[Any]:
        if context is not None:  # checked above, once for every pass
            return ProcessShardedGenerator(fn, num_shards, DEFAULT_MAX_QUEUE_SIZE, deterministic,
                                           context)
        return ShardedGenerator(fn, num_shards, DEFAULT_MAX_QUEUE_SIZE, deterministic)

    return tf.data.Dataset.from_generator(merged, output_signature=output_signature)
