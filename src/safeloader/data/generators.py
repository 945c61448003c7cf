"""``from_generator``: sharded Python generators as one parallel tf.data pipeline."""

from __future__ import annotations

from typing import Any, Callable, Iterator

import tensorflow as tf


def from_generator(
    fn: Callable[[int, int], Iterator[Any]],
    output_signature: Any,
    *,
    num_shards: int = 1,
    deterministic: bool = True,
) -> tf.data.Dataset:
    """Run ``fn(shard_index, num_shards)`` for every shard, in parallel, as a ``tf.data.Dataset``.

    Each shard is its own ``tf.data.Dataset.from_generator``; ``interleave``
    runs ``num_shards`` of them at once and merges their elements (round-robin
    when ``deterministic``, as they come otherwise). Keras 3's ``fit`` has no
    ``workers``: this is how a generator keeps its code and gets parallelism.
    The generators share the Python GIL, so the gain comes from work that
    releases it (I/O, NumPy, decoding); ``fn`` should make each shard yield a
    disjoint part of the data.

    ``output_signature`` is what ``tf.data.Dataset.from_generator`` takes (a
    nest of ``tf.TensorSpec``). Raises ``ValueError`` for ``num_shards`` < 1
    and ``TypeError`` for a ``fn`` that is not callable.
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable as fn(shard_index, num_shards), got {fn!r}")
    if isinstance(num_shards, bool) or not isinstance(num_shards, int) or num_shards < 1:
        raise ValueError(f"num_shards must be a positive integer, got {num_shards!r}")

    def shard(shard_index: Any, shards: Any) -> Iterator[Any]:
        # from_generator hands its args over as NumPy scalars; fn gets ints.
        return fn(int(shard_index), int(shards))

    def one_shard(index: tf.Tensor) -> tf.data.Dataset:
        return tf.data.Dataset.from_generator(
            shard, args=(index, num_shards), output_signature=output_signature
        )

    return tf.data.Dataset.range(num_shards).interleave(
        one_shard, cycle_length=num_shards, num_parallel_calls=num_shards,
        deterministic=deterministic,
    )
