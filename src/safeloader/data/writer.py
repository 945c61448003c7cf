"""``write_tfrecords``: sharded, atomic TFRecord writing with an inferred feature spec."""

from __future__ import annotations

import os
from typing import Any, Iterable, Mapping

import numpy as np
import tensorflow as tf

from safeloader.data.index import index_path, write_index

_COMPRESSIONS = {None: "", "": "", "GZIP": "GZIP", "ZLIB": "ZLIB"}


def shard_paths(path_prefix: str, num_shards: int) -> list[str]:
    """Return the shard names ``prefix-00000-of-000NN.tfrecord`` (5-digit numbers)."""
    return [f"{path_prefix}-{i:05d}-of-{num_shards:05d}.tfrecord" for i in range(num_shards)]


def _kind(array: np.ndarray, name: str, record_number: int) -> tf.DType:
    if array.dtype.kind in "biu":
        return tf.int64
    if array.dtype.kind == "f":
        return tf.float32
    if array.dtype.kind in "SU" or (
        array.dtype.kind == "O" and all(isinstance(v, (bytes, str)) for v in array.flat)
    ):
        return tf.string
    raise TypeError(
        f"record #{record_number}, feature {name!r}: cannot store values of type "
        f"{array.dtype} (use ints, floats, bytes or str, or numpy arrays of them)"
    )


def _feature(array: np.ndarray, dtype: tf.DType) -> tf.train.Feature:
    flat = array.ravel()
    if dtype == tf.int64:
        return tf.train.Feature(int64_list=tf.train.Int64List(value=flat.tolist()))
    if dtype == tf.float32:
        return tf.train.Feature(float_list=tf.train.FloatList(value=flat.tolist()))
    values = [v.encode("utf-8") if isinstance(v, str) else bytes(v) for v in flat.tolist()]
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=values))


class _SpecTracker:
    """Infers one feature spec from all records and rejects records that disagree."""

    def __init__(self) -> None:
        self.dtypes: dict[str, tf.DType] = {}
        self.shapes: dict[str, tuple[int, ...] | None] = {}

    def encode(self, record: Mapping[str, Any], record_number: int) -> bytes:
        if not isinstance(record, Mapping) or not record:
            raise TypeError(
                f"record #{record_number}: expected a non-empty dict of feature values, "
                f"got {type(record).__name__}"
            )
        if self.dtypes and record.keys() != self.dtypes.keys():
            missing = sorted(self.dtypes.keys() - record.keys())
            extra = sorted(record.keys() - self.dtypes.keys())
            raise ValueError(
                f"record #{record_number}: features differ from record #0 "
                f"(missing {missing}, unexpected {extra})"
            )
        features = {}
        for name, value in record.items():
            array = np.asarray(value)
            dtype = _kind(array, name, record_number)
            if name not in self.dtypes:
                self.dtypes[name], self.shapes[name] = dtype, array.shape
            elif self.dtypes[name] != dtype:
                raise TypeError(
                    f"record #{record_number}, feature {name!r}: {dtype.name} values where "
                    f"earlier records had {self.dtypes[name].name}"
                )
            elif self.shapes[name] != array.shape:
                self.shapes[name] = None
            features[name] = _feature(array, dtype)
        return tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString()

    def spec(self) -> dict[str, Any]:
        spec: dict[str, Any] = {}
        for name, dtype in self.dtypes.items():
            shape = self.shapes[name]
            if shape is None:
                spec[name] = tf.io.RaggedFeature(dtype, row_splits_dtype=tf.int64)
            else:
                spec[name] = tf.io.FixedLenFeature(list(shape), dtype)
        return spec


def write_tfrecords(
    records: Iterable[Mapping[str, Any]],
    path_prefix: str,
    *,
    num_shards: int = 1,
    compression: str | None = None,
    return_spec: bool = False,
) -> list[str] | tuple[list[str], dict[str, Any]]:
    """Write ``records`` as ``tf.train.Example`` protos into ``num_shards`` TFRecord files.

    ``records`` yields dicts of Python scalars, bytes/str or numpy arrays; record
    ``i`` goes to shard ``i % num_shards``. Each shard is written under a
    temporary name and renamed to ``prefix-0000i-of-000NN.tfrecord`` only when
    complete, so an interrupted write leaves no partial shard under a final
    name; an index (``<shard>.index.json``) with the record count and feature
    spec goes beside it. The spec is inferred: integers and bools become
    ``int64``, floats ``float32``, bytes and str ``string``; a feature whose
    shape is the same in every record is a ``FixedLenFeature`` of that shape,
    otherwise a ``RaggedFeature`` of its flattened values.

    Returns the shard paths, or ``(paths, spec)`` with ``return_spec=True``.
    Raises ``ValueError`` for a bad ``num_shards``/``compression`` or an empty
    ``records``, and ``TypeError``/``ValueError`` naming the record and feature
    when records disagree.
    """
    if isinstance(num_shards, bool) or not isinstance(num_shards, int) or num_shards < 1:
        raise ValueError(f"num_shards must be a positive integer, got {num_shards!r}")
    if compression not in _COMPRESSIONS:
        raise ValueError(f"compression must be None, 'GZIP' or 'ZLIB', got {compression!r}")
    codec = _COMPRESSIONS[compression]
    paths = shard_paths(path_prefix, num_shards)
    parent = os.path.dirname(path_prefix)
    if parent:
        tf.io.gfile.makedirs(parent)
    temporaries = [f"{path}.tmp-{os.getpid()}" for path in paths]
    counts = [0] * num_shards
    tracker = _SpecTracker()
    writers = [tf.io.TFRecordWriter(t, options=tf.io.TFRecordOptions(codec)) for t in temporaries]
    try:
        for number, record in enumerate(records):
            writers[number % num_shards].write(tracker.encode(record, number))
            counts[number % num_shards] += 1
        for writer in writers:
            writer.close()
        if not any(counts):
            raise ValueError("records is empty: nothing to write")
    except BaseException:
        for writer, temporary in zip(writers, temporaries):
            writer.close()
            tf.io.gfile.remove(temporary)
        raise
    spec = tracker.spec()
    for path, temporary, count in zip(paths, temporaries, counts):
        if tf.io.gfile.exists(index_path(path)):
            tf.io.gfile.remove(index_path(path))
        tf.io.gfile.rename(temporary, path, overwrite=True)
        write_index(path, records=count, compression=codec, features=spec)
    return (paths, spec) if return_spec else paths
