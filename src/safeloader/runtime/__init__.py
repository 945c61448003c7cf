"""The runtime: what training scripts import (re-exported by :mod:`safeloader`).

- :mod:`~safeloader.runtime.threadsafe`: :func:`threadsafe_generator` and
  :class:`ThreadSafeIterator`, one lock around a generator;
- :mod:`~safeloader.runtime.sharded`: :func:`sharded_generator`, one thread (or,
  with ``processes=True``, one spawned process) per shard;
- :mod:`~safeloader.runtime.shard_iterator`: what both kinds of shards hand
  the consumer (:class:`ShardError`, the iterator's face); they import it,
  never each other;
- :mod:`~safeloader.runtime.process_shards` (the consumer's side),
  :mod:`~safeloader.runtime.shard_process` (what runs in a shard's process)
  and :mod:`~safeloader.runtime.shared_arrays`: the process shards and their
  shared-memory transport of NumPy arrays;
- :mod:`~safeloader.runtime.spawn_safety`: :func:`check_spawn_safe`, with
  :mod:`~safeloader.runtime.main_module` for what a spawned process finds
  of ``__main__`` (a script's guard, a notebook);
- :mod:`~safeloader.runtime.shard_workloads`: the synthetic shard generators
  that ``safeloader bench`` and ``benchmarks/`` measure.

Nothing here imports TensorFlow.
"""
