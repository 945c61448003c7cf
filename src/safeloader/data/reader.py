"""``tfrecord_dataset``: a parallel, checked TFRecord input pipeline built from tf.data ops."""

from __future__ import annotations

import os
import warnings
from typing import Any, Callable, Mapping

import tensorflow as tf

from safeloader.data.files import (
    FileCheck,
    FilesArg,
    check_cache_location,
    check_file,
    normalise_compression,
    readable_prefix,
    resolve_files,
)
from safeloader.data.framing import FRAME_BYTES
from safeloader.data.index import spec_from_json
from safeloader.data.service import DEFAULT_SERVICE_TIMEOUT, distribute_bounded
from safeloader.service_address import check_timeout, parse_service_address

# Records per read batch of one file (per-batch ops are cheap once amortised
# over this many records; rebatch then cuts batch_size batches).
_READ_BATCH = 512


class RecordsSkippedWarning(UserWarning):
    """``ignore_errors=True`` skipped damaged records; the message says where and how many."""


_INT64_MAX = 2**63 - 1  # tf.data takes sizes and counts as int64


def _positive_int(name: str, value: Any, minimum: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not (
        minimum <= value <= _INT64_MAX
    ):
        raise ValueError(
            f"{name} must be an integer from {minimum} to 2**63 - 1, got {value!r}")


def _validate(
    batch_size: Any, shuffle_buffer: Any, repeat: Any, num_shards: Any, shard_index: Any,
    features: Any, parse_fn: Any, service: Any, cache: Any,
) -> None:
    _positive_int("batch_size", batch_size)
    _positive_int("shuffle_buffer", shuffle_buffer, minimum=0)
    if not isinstance(repeat, bool):
        _positive_int("repeat", repeat)
    if (num_shards is None) != (shard_index is None):
        raise ValueError("give both num_shards and shard_index, or neither")
    if num_shards is not None:
        _positive_int("num_shards", num_shards)
        _positive_int("shard_index", shard_index, minimum=0)
        if shard_index >= num_shards:
            raise ValueError(f"shard_index must be < num_shards ({num_shards}), got {shard_index}")
        if service is not None:
            raise ValueError(
                "num_shards/shard_index and service= both split the data: the tf.data service "
                "already gives each record to one worker, so use one or the other"
            )
    if features is not None and parse_fn is not None:
        raise ValueError("give features= or parse_fn=, not both")
    if parse_fn is not None and not callable(parse_fn):
        raise ValueError(f"parse_fn must be callable, got {parse_fn!r}")
    if service is not None:
        parse_service_address(service, name="service")
    if not isinstance(cache, (bool, str, os.PathLike)):
        raise ValueError(f"cache must be True, False or a file path, got {cache!r}")


def _expected_records(
    checks: list[FileCheck], ignore_errors: bool
) -> tuple[list[int], list[str]]:
    """Return the record count to expect from each file and the losses to warn about.

    Without ``ignore_errors`` a file whose framing is broken raises
    ``DataLossError`` naming it. With it, every file is read once here so that
    the warning can say exactly what is lost.
    """
    expected, losses = [], []
    for check in checks:
        layout = check.layout
        if layout is not None and layout.problem and not ignore_errors:
            raise tf.errors.DataLossError(
                None, None,
                f"TFRecord file {check.path!r} is damaged: {layout.problem}. Its first "
                f"{layout.records} records are intact; pass ignore_errors=True to read them "
                f"and skip the rest.",
            )
        if not ignore_errors:
            expected.append(check.records)
            continue
        readable, end = readable_prefix(check)
        if readable < check.records or (layout is not None and layout.problem):
            where = "decompressed byte" if check.compression else "byte"
            if readable < check.records:
                reason = (f"record #{readable} at {where} {end} is corrupt, and TFRecordDataset "
                          f"cannot resume after it in the same file")
            else:
                reason = layout.problem
            losses.append(
                f"TFRecord file {check.path!r} is damaged: {reason}. Read its first "
                f"{readable} records; lost {_lost(check, readable, end)}"
            )
        expected.append(readable)
    return expected, losses


def _lost(check: FileCheck, readable: int, end: int) -> str:
    """Say what a damaged file lost after its first ``readable`` records, ending at ``end``."""
    if check.written is not None:
        total: int | None = check.written  # what the writer's index recorded
    elif check.layout is not None and check.layout.problem:
        total = None  # records past a broken frame cannot be counted
    else:
        total = check.records
    lost = (f"{total - readable} records of {total}" if total is not None
            else "the records after them (the file has no index to count them)")
    if check.compression:
        return f"{lost}, from decompressed byte {end} on"
    return f"{lost} and {tf.io.gfile.stat(check.path).length - end} bytes, from byte {end} on"


def _resolve_features(
    features: Mapping[str, Any] | None,
    parse_fn: Callable[..., Any] | None,
    checks: list[FileCheck],
    label_key: str | None,
) -> Mapping[str, Any] | None:
    if features is None and parse_fn is None:
        indexed = next((c.features for c in checks if c.features), None)
        if indexed is None:
            raise ValueError(
                f"give features= (a tf.io feature spec) or parse_fn=: {checks[0].path!r} "
                f"has no index written by write_tfrecords to take the spec from"
            )
        features = spec_from_json(indexed)
    if features is not None:
        if not isinstance(features, Mapping) or not features:
            raise ValueError(
                f"features must be a non-empty dict of tf.io features, got {features!r}"
            )
        if label_key is not None and label_key not in features:
            raise ValueError(f"label_key {label_key!r} is not in features {sorted(features)}")
    return features


def _checked_file_reader(
    read_batch: int, record_shards: tuple[int, int] | None, stop_at_expected: bool,
    transform: Callable[[tf.Tensor, tf.Tensor], Any] | None = None,
) -> Callable[[tf.Tensor, tf.Tensor, tf.Tensor], tf.data.Dataset]:
    """Build the per-file reader used inside ``interleave``.

    tf.data cannot catch an error in-graph, so each file's records are read
    in batches of ``read_batch`` with ``ignore_errors`` (after ``batch``: one
    op per batch, not per record) and the number read is compared, at an end
    marker, with the count expected from the file's index or header walk; a
    shortfall fails with an error that names the file and the byte offset of
    the batch where reading failed. ``stop_at_expected`` (for
    ``ignore_errors=True``) stops before the first damaged record.
    ``record_shards`` keeps every ``n``-th record (record-level sharding).
    ``transform(batch, path)`` (such as parsing) is applied to each checked
    batch in the same function call as the check.

    The reader yields the end marker too, as an empty batch: ``rebatch`` and
    ``unbatch`` take it as no records, and leaving it in saves a ``filter``
    call per batch (each tf.data function call costs tens of microseconds).
    """
    end_marker = tf.data.Dataset.from_tensors(tf.constant([], tf.string))

    def read(path: tf.Tensor, compression: tf.Tensor, expected: tf.Tensor) -> tf.data.Dataset:
        records = tf.data.TFRecordDataset(
            path, compression_type=compression)
        if stop_at_expected:
            records = records.take(expected)

        def step(state: tuple[tf.Tensor, tf.Tensor], batch: tf.Tensor):
            count, offset = state
            size = tf.size(batch, out_type=tf.int64)
            complete = tf.logical_or(size > 0, tf.equal(count, expected))

            def fail() -> tf.Tensor:
                message = tf.strings.join([
                    "safeloader: TFRecord file ", path, " is corrupt or changed: read ",
                    tf.strings.as_string(count), " of ", tf.strings.as_string(expected),
                    " records; a record from ",
                    tf.where(tf.equal(compression, ""), "", "decompressed "),
                    "byte offset ", tf.strings.as_string(offset),
                    " on fails its checksum, or the file changed after the dataset was built",
                ])
                with tf.control_dependencies([tf.debugging.Assert(False, [message])]):
                    return tf.identity(count)

            count = tf.cond(complete, lambda: count, fail)
            lengths = tf.cast(tf.strings.length(batch), tf.int64)
            new_state = (count + size, offset + tf.reduce_sum(lengths) + FRAME_BYTES * size)
            if record_shards is not None:
                num_shards, shard_index = record_shards
                start = tf.math.floormod(shard_index - count, num_shards)
                batch = batch[start::num_shards]
            return new_state, batch if transform is None else transform(batch, path)

        zero = tf.constant(0, tf.int64)
        batches = records.batch(read_batch).ignore_errors().concatenate(end_marker)
        return batches.scan((zero, zero), step)

    return read


def _share_records(expected: list[int], shard: tuple[int, int] | None, by_file: bool) -> int:
    """Return how many records one epoch of this worker's share holds."""
    if shard is None:
        return sum(expected)
    if by_file:
        return sum(expected[shard[1]::shard[0]])
    num_shards, shard_index = shard
    return sum(max(0, count - shard_index + num_shards - 1) // num_shards for count in expected)


def _parallelism() -> int:
    """Parallel reads and parse calls: one per core, at least 4, at most 16.

    At least 4: measured on a busy 2-core machine, 4 reads and 4 parse calls
    kept closer to the raw read ceiling than 2 (a reader waiting on I/O or
    on the scheduler should not leave a core idle); more than 16 only adds
    threads.
    """
    # The CPUs this process may run on (a container's or taskset's share), not the machine's.
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(4, min(cores or 1, 16))


def _prefetch_device(prefetch_to_device: str | None) -> str | None:
    if prefetch_to_device != "auto":
        return prefetch_to_device
    gpus = tf.config.list_logical_devices("GPU")
    return gpus[0].name if gpus else None


def _interleaved_reads(
    checks: list[FileCheck], expected: list[int], *, by_file: tuple[int, int] | None,
    by_record: tuple[int, int] | None, shuffle: bool, seed: int | None, read_batch: int,
    ignore_errors: bool, unbatch: bool,
    transform: Callable[[tf.Tensor, tf.Tensor], Any] | None,
    parallel: int, deterministic: bool,
) -> tf.data.Dataset:
    """Read the files in parallel: checked batches of serialized records (or records).

    ``transform(batch, path)``, when given, runs on each file's
    read batches inside the interleave's parallel calls, in the checking
    call: parsing there lets ``rebatch`` cut dense tensors, not strings.
    """
    sources = tf.data.Dataset.from_tensor_slices(
        ([c.path for c in checks], [c.compression for c in checks],
         tf.constant(expected, tf.int64))
    )
    if by_file is not None:
        sources = sources.shard(*by_file)
    if shuffle:
        sources = sources.shuffle(len(checks), seed=seed, reshuffle_each_iteration=True)
    read = _checked_file_reader(read_batch, by_record, stop_at_expected=ignore_errors,
                                transform=transform)

    def read_file(*source: tf.Tensor) -> tf.data.Dataset:
        batches = read(*source)
        return batches.unbatch() if unbatch else batches

    readers = min(len(checks), parallel)
    return sources.interleave(read_file, cycle_length=readers, num_parallel_calls=readers,
                              deterministic=deterministic)


def tfrecord_dataset(
    files: FilesArg,
    *,
    batch_size: int,
    features: Mapping[str, Any] | None = None,
    parse_fn: Callable[[tf.Tensor], Any] | None = None,
    label_key: str | None = None,
    shuffle_buffer: int = 0,
    seed: int | None = None,
    repeat: bool | int = False,
    compression: str | None = "auto",
    cache: bool | str = False,
    deterministic: bool = False,
    num_shards: int | None = None,
    shard_index: int | None = None,
    ignore_errors: bool = False,
    service: str | None = None,
    service_timeout: float = DEFAULT_SERVICE_TIMEOUT,
    prefetch_to_device: str | None = None,
    drop_remainder: bool = False,
) -> tf.data.Dataset:
    """Return a ``tf.data.Dataset`` of parsed batches read from TFRecord files.

    Elements are dicts of tensors, or ``(features, label)`` tuples when
    ``label_key`` names the label feature: ready for ``model.fit``.

    ``files`` is a path, a glob, or a list of either (a string that names an
    existing file is that file, ``[`` and all; only strings that name nothing
    are globs). ``features`` is a
    ``tf.io`` feature spec, parsed a whole batch at a time with
    ``tf.io.parse_example``; when it and ``parse_fn`` are both ``None`` the
    spec comes from the index ``write_tfrecords`` wrote. ``parse_fn(record)``
    instead parses one serialized record at a time (custom formats).

    Files are read in parallel (``interleave``), one per core (at least 4), and parsed in
    parallel; ``deterministic`` fixes the order. ``shuffle_buffer`` > 0
    shuffles file order and records (``seed``; a buffer larger than the
    records read is capped at their number); ``repeat`` is ``True``
    (forever) or a number of epochs; ``cache`` is ``True`` (memory) or a
    file path (not a directory; its directory must exist and be writable,
    checked before reading); ``compression`` is ``"auto"`` (told per file),
    ``None``, ``"GZIP"`` or ``"ZLIB"``: one that does not fit a file raises
    ``ValueError`` naming it and the compression its first bytes show.

    ``num_shards``/``shard_index`` give this worker its share: whole files
    when there are at least ``num_shards`` files, every ``num_shards``-th
    record of each file otherwise. ``service="host:port"`` (or
    ``"grpc://host:port"``; an IPv6 host in brackets) runs the
    pipeline on tf.data service workers (``distributed_epoch``: each record
    once per epoch across them); it fails with ``ServiceTimeoutError`` naming
    the service when the dispatcher does not answer or has no worker within
    ``service_timeout`` seconds (here), or when an epoch gets no batch for that
    long (while iterating: a dead worker). ``prefetch_to_device`` is a device string or
    ``"auto"`` (the first GPU, nothing on a machine without one).
    tf.data's autotuning model is off (the parallelism is fixed, and the
    model would time every record read); turn it back on with your own
    ``tf.data.Options`` if you append ops for it to tune.

    Every file's framing is checked before reading (its index, or a walk over
    the record headers): a truncated file raises ``DataLossError`` naming it,
    and a record that fails its checksum while reading raises
    ``InvalidArgumentError`` naming the file and byte offset, also inside
    ``model.fit``. With ``ignore_errors=True`` each file is read once up front
    and the damaged parts are skipped with a :class:`RecordsSkippedWarning`
    per file, counting the records lost (exactly when the file has the
    writer's index). A feature spec that does not fit the records raises
    ``InvalidArgumentError`` naming the file (``Name: <path>``). Bad arguments
    raise ``ValueError`` before any reading; missing files raise
    ``FileNotFoundError``.
    """
    _validate(batch_size, shuffle_buffer, repeat, num_shards, shard_index,
              features, parse_fn, service, cache)
    service_timeout = check_timeout(service_timeout, "service_timeout")
    codec = normalise_compression(compression)
    cache_file = None if cache is False else "" if cache is True else os.fspath(cache)
    if cache_file:
        check_cache_location(cache_file)
    paths = resolve_files(files)
    checks = [check_file(path, codec) for path in paths]
    expected, losses = _expected_records(checks, ignore_errors)
    features = _resolve_features(features, parse_fn, checks, label_key)
    for message in losses:
        warnings.warn(message, RecordsSkippedWarning, stacklevel=2)

    parallel = _parallelism()
    by_file = num_shards is not None and len(paths) >= num_shards
    by_record = (num_shards, shard_index) if num_shards is not None and not by_file else None
    per_record = shuffle_buffer > 0 or parse_fn is not None
    share = (num_shards, shard_index) if num_shards is not None else None
    records = _share_records(expected, share, by_file)
    # Dense features are parsed per file, in the parallel reads; rebatch then
    # cuts dense tensors. Ragged/sparse ones are parsed after rebatch.
    parse_per_file = not per_record and all(
        isinstance(feature, tf.io.FixedLenFeature) for feature in features.values())

    def split_label(parsed: dict) -> Any:
        if label_key is None:
            return parsed
        parsed = dict(parsed)
        label = parsed.pop(label_key)
        return parsed, label

    def parse_batch(batch: tf.Tensor) -> Any:
        return split_label(tf.io.parse_example(batch, features))

    def check_in_read(batch: tf.Tensor, path: tf.Tensor) -> tf.Tensor:
        # parse_example names a record's file in its errors only through
        # example_names, and a name for every record (a copy of the path
        # each, carried past the shuffle) cost 20% there. So the first
        # record of each read batch is parsed here with its path: a
        # spec that does not fit the data fails naming the file. tf.data
        # drops control dependencies on stateless ops: the batch goes on
        # through a slice whose end depends on the parse (the whole batch,
        # not copied).
        first = batch[:1]
        parsed = tf.io.parse_example(first, features, example_names=tf.fill(tf.shape(first), path))
        rows = tf.shape(tf.nest.flatten(parsed, expand_composites=True)[0], out_type=tf.int64)[0]
        return batch[:tf.size(batch, out_type=tf.int64) + tf.minimum(rows, 0)]

    def parse_in_read(batch: tf.Tensor, path: tf.Tensor) -> Any:
        return parse_batch(check_in_read(batch, path))

    dataset = _interleaved_reads(
        checks, expected, by_file=share if by_file else None,
        by_record=by_record, shuffle=shuffle_buffer > 0, seed=seed,
        read_batch=max(_READ_BATCH, min(batch_size, 2048)), ignore_errors=ignore_errors,
        unbatch=per_record, parallel=parallel, deterministic=deterministic,
        transform=parse_in_read if parse_per_file else check_in_read if parse_fn is None else None,
    )

    if per_record:
        if cache_file is not None:  # the raw records, before they are shuffled
            dataset = dataset.cache(cache_file)
        if shuffle_buffer:
            # A buffer beyond the share's records holds nothing more; tf.data
            # would try to reserve it (10**12 crashed the process).
            dataset = dataset.shuffle(min(shuffle_buffer, max(records, 1)), seed=seed,
                                      reshuffle_each_iteration=True)
        if parse_fn is not None:
            dataset = dataset.map(parse_fn, num_parallel_calls=parallel,
                                  deterministic=deterministic)
        dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
    else:
        dataset = dataset.rebatch(batch_size, drop_remainder=drop_remainder)
    if parse_fn is None and not parse_per_file:
        dataset = dataset.map(parse_batch, num_parallel_calls=parallel,
                              deterministic=deterministic)
    elif parse_fn is not None and label_key is not None:
        dataset = dataset.map(split_label)
    if service is None:
        # The counts are known, so Keras sees the epoch length (and the
        # count is checked once more).
        batches = records // batch_size if drop_remainder else -(-records // batch_size)
        dataset = dataset.apply(tf.data.experimental.assert_cardinality(batches))
    if cache_file is not None and not per_record:  # the parsed batches
        dataset = dataset.cache(cache_file)
    if service is not None:
        dataset = distribute_bounded(dataset, service, service_timeout)
    if repeat is not False:
        dataset = dataset.repeat(None if repeat is True else repeat)
    options = tf.data.Options()
    options.deterministic = deterministic
    # The pipeline's parallelism is fixed (one read per core, parsing in the
    # reads), so tf.data's autotuning model has nothing to tune here, yet it
    # times every record read: measured on 2 cores, turning it off cut the
    # CPU per record by 13% (6.3 to 5.5 us). prefetch(AUTOTUNE) still sizes
    # its buffer by itself, and ops appended with AUTOTUNE still run in
    # parallel; users turn the model back on with their own Options.
    options.autotune.enabled = False
    if num_shards is not None:
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
    dataset = dataset.with_options(options).prefetch(tf.data.AUTOTUNE)
    device = _prefetch_device(prefetch_to_device)
    if device is not None:  # prefetch_to_device must be the last transformation
        dataset = dataset.apply(tf.data.experimental.prefetch_to_device(device))
    return dataset
