"""Input for ``tf.distribute``: a dataset function that reads each input pipeline's share."""

from __future__ import annotations

from typing import Any, Callable

import tensorflow as tf

from safeloader.data.files import FilesArg, resolve_files
from safeloader.data.reader import tfrecord_dataset


def tfrecord_dataset_fn(
    files: FilesArg, *, global_batch_size: int, **options: Any
) -> Callable[[tf.distribute.InputContext], tf.data.Dataset]:
    """Return ``dataset_fn(input_context)`` for ``strategy.distribute_datasets_from_function``.

    Each call builds :func:`~safeloader.data.tfrecord_dataset` with the
    per-replica batch size (``input_context.get_per_replica_batch_size``) and,
    when there are several input pipelines (one per worker of a multi-worker
    strategy), this pipeline's shard (``num_shards=num_input_pipelines``,
    ``shard_index=input_pipeline_id``). ``options`` are the other arguments of
    ``tfrecord_dataset``. The files are resolved now, so a missing file or
    pattern raises ``FileNotFoundError`` here rather than inside the strategy.
    """
    if isinstance(global_batch_size, bool) or not isinstance(global_batch_size, int) \
            or global_batch_size < 1:
        raise ValueError(f"global_batch_size must be an integer >= 1, got {global_batch_size!r}")
    for name in ("batch_size", "num_shards", "shard_index"):
        if name in options:
            raise ValueError(f"{name} is set from the input context; do not pass it")
    paths = resolve_files(files)

    def dataset_fn(input_context: tf.distribute.InputContext) -> tf.data.Dataset:
        shards: dict[str, int] = {}
        if input_context.num_input_pipelines > 1:
            shards = {"num_shards": input_context.num_input_pipelines,
                      "shard_index": input_context.input_pipeline_id}
        batch_size = input_context.get_per_replica_batch_size(global_batch_size)
        return tfrecord_dataset(paths, batch_size=batch_size, **shards, **options)

    return dataset_fn
