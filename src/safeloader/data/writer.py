"""``write_tfrecords``: sharded, atomic TFRecord writing with an inferred feature spec."""

from __future__ import annotations

import os
from typing import Any, Iterable, Mapping

import numpy as np
import tensorflow as tf

from safeloader.data.index import index_path, write_index
from safeloader.data.shard_files import (
    check_prefix,
    commit,
    committed_files,
    remove_abandoned_temporaries,
    shard_paths,
    temporary_name,
)

_COMPRESSIONS = {None: "", "": "", "GZIP": "GZIP", "ZLIB": "ZLIB"}
_INT64 = np.iinfo(np.int64)
_FLOAT32 = np.finfo(np.float32)


def _as_array(value: Any) -> np.ndarray:
    """Return ``value`` as an array; bytes and str (alone or in lists) as ``object`` arrays.

    NumPy's ``S`` and ``U`` dtypes pad with NUL and strip trailing NULs on
    the way out, so ``np.asarray(b"ab\\x00")`` would lose a byte.
    """
    if isinstance(value, (bytes, str)):
        return np.array(value, dtype=object)
    array = np.asarray(value)
    if array.dtype.kind in "SU" and not isinstance(value, (np.ndarray, np.generic)):
        return np.array(value, dtype=object)
    return array


def _feature(value: Any, where: str) -> tuple[tf.DType, tuple[int, ...], tf.train.Feature]:
    """Encode one feature value; ``where`` (record and feature) starts every error."""
    array = _as_array(value)
    flat, kind = array.ravel(), array.dtype.kind
    if kind in "SU" or (kind == "O" and all(isinstance(v, (bytes, str)) for v in flat)):
        values = [v.encode("utf-8") if isinstance(v, str) else v for v in flat.tolist()]
        return tf.string, array.shape, tf.train.Feature(bytes_list=tf.train.BytesList(value=values))
    if kind == "f":
        with np.errstate(over="ignore"):  # overflow is reported below, naming the value
            floats = flat.astype(np.float32)
        wide = np.flatnonzero(np.isfinite(flat) & ~np.isfinite(floats))
        if wide.size:
            raise ValueError(
                f"{where}: {flat[wide[0]]} does not fit in float32, the type stored "
                f"(largest {_FLOAT32.max})"
            )
        return tf.float32, array.shape, tf.train.Feature(
            float_list=tf.train.FloatList(value=floats.tolist()))
    # Every bool and signed integer array fits in int64; uint64 values and
    # Python ints may not.
    if kind in "bi" or (kind == "u" and not (flat.size and flat.max() > _INT64.max)):
        ints = flat.astype(np.int64).tolist()
    elif kind == "u" or (kind == "O" and all(isinstance(v, (int, np.integer)) for v in flat)):
        ints = [int(v) for v in flat.tolist()]
        wide = next((v for v in ints if not _INT64.min <= v <= _INT64.max), None)
        if wide is not None:
            raise ValueError(f"{where}: {wide} does not fit in int64, the type stored")
    else:
        raise TypeError(
            f"{where}: cannot store values of type {array.dtype} (use ints, bools, floats, "
            f"bytes or str, or numpy arrays of them)"
        )
    return tf.int64, array.shape, tf.train.Feature(int64_list=tf.train.Int64List(value=ints))


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
        wrong_key = next((key for key in record if not isinstance(key, str)), None)
        if wrong_key is not None:
            raise TypeError(
                f"record #{record_number}: feature names must be str, got {wrong_key!r} "
                f"({type(wrong_key).__name__})"
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
            dtype, shape, features[name] = _feature(
                value, f"record #{record_number}, feature {name!r}")
            if name not in self.dtypes:
                self.dtypes[name], self.shapes[name] = dtype, shape
            elif self.dtypes[name] != dtype:
                raise TypeError(
                    f"record #{record_number}, feature {name!r}: {dtype.name} values where "
                    f"earlier records had {self.dtypes[name].name}"
                )
            elif self.shapes[name] != shape:
                self.shapes[name] = None
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
    path_prefix: str | os.PathLike[str],
    *,
    num_shards: int = 1,
    compression: str | None = None,
    return_spec: bool = False,
) -> list[str] | tuple[list[str], dict[str, Any]]:
    """Write ``records`` as ``tf.train.Example`` protos into ``num_shards`` TFRecord files.

    ``records`` yields dicts (str keys) of Python scalars, bytes/str or numpy
    arrays; record ``i`` goes to shard ``i % num_shards``. Each shard and its
    index (``<shard>.index.json``: record count, compression, feature spec)
    are written under temporary names and committed together, all shards or
    none, only when every record is written: an interrupted or failed write
    leaves the prefix as it was and no temporary file. Committing removes
    the shards and indexes an earlier write left under the same prefix (any
    shard count), so ``prefix-*.tfrecord`` then gives exactly these records;
    temporary files of a writer process that no longer runs are removed
    first.

    The spec is inferred: integers and bools become ``int64``, floats
    ``float32``, bytes and str ``string`` (kept byte for byte, trailing NULs
    included); a feature whose shape is the same in every record is a
    ``FixedLenFeature`` of that shape, otherwise a ``RaggedFeature`` of its
    flattened values.

    Returns the shard paths, or ``(paths, spec)`` with ``return_spec=True``.
    Raises ``ValueError`` for a bad ``num_shards``/``compression``, a prefix
    with no file name part (``"data/"``) or an empty ``records``, and
    ``TypeError``/``ValueError`` naming the record and feature when records
    disagree, a key is not a str, or a value does not fit ``int64``/``float32``.
    """
    path_prefix = os.fspath(path_prefix)
    check_prefix(path_prefix)
    if isinstance(num_shards, bool) or not isinstance(num_shards, int) or num_shards < 1:
        raise ValueError(f"num_shards must be a positive integer, got {num_shards!r}")
    if compression not in _COMPRESSIONS:
        raise ValueError(f"compression must be None, 'GZIP' or 'ZLIB', got {compression!r}")
    codec = _COMPRESSIONS[compression]
    paths = shard_paths(path_prefix, num_shards)
    parent = os.path.dirname(path_prefix)
    if parent:
        tf.io.gfile.makedirs(parent)
    remove_abandoned_temporaries(path_prefix)
    temporaries = [temporary_name(path) for path in paths]
    index_temporaries = [temporary_name(index_path(path)) for path in paths]
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
        spec = tracker.spec()
        for temporary, index_temporary, count in zip(temporaries, index_temporaries, counts):
            write_index(index_temporary, shard_bytes=tf.io.gfile.stat(temporary).length,
                        records=count, compression=codec, features=spec)
    except BaseException:
        for writer in writers:
            writer.close()
        for temporary in temporaries + index_temporaries:
            if tf.io.gfile.exists(temporary):
                tf.io.gfile.remove(temporary)
        raise
    pending = [
        pair for path, temporary, index_temporary in zip(paths, temporaries, index_temporaries)
        for pair in ((temporary, path), (index_temporary, index_path(path)))
    ]
    commit(pending, committed_files(path_prefix))
    return (paths, spec) if return_spec else paths
