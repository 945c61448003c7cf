"""The index file ``write_tfrecords`` puts beside each shard.

``<shard>.index.json`` records the shard's size in bytes, its record count,
its compression and the feature spec of its records. The reader trusts it
while the shard still has that size, which makes the framing check free for
files this package wrote (and the only cheap one for compressed files).
"""

from __future__ import annotations

import json
from typing import Any, Mapping

import tensorflow as tf

INDEX_SUFFIX = ".index.json"
_FORMAT = "safeloader-tfrecord-index/1"

FeatureSpec = Mapping[str, Any]


def index_path(shard_path: str) -> str:
    """Return the path of the index that belongs to ``shard_path``."""
    return shard_path + INDEX_SUFFIX


def spec_to_json(features: FeatureSpec) -> dict[str, dict[str, Any]]:
    """Describe a spec of ``FixedLenFeature``/``RaggedFeature`` values as JSON data."""
    described = {}
    for name, feature in features.items():
        if isinstance(feature, tf.io.FixedLenFeature):
            described[name] = {
                "kind": "fixed", "dtype": feature.dtype.name, "shape": list(feature.shape)
            }
        elif isinstance(feature, tf.io.RaggedFeature):
            described[name] = {"kind": "ragged", "dtype": feature.dtype.name}
        else:
            raise TypeError(f"feature {name!r}: cannot record {type(feature).__name__} in an index")
    return described


def spec_from_json(described: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Rebuild the feature spec that :func:`spec_to_json` described."""
    features: dict[str, Any] = {}
    for name, item in described.items():
        dtype = tf.as_dtype(item["dtype"])
        if item["kind"] == "fixed":
            features[name] = tf.io.FixedLenFeature(item["shape"], dtype)
        else:
            features[name] = tf.io.RaggedFeature(dtype, row_splits_dtype=tf.int64)
    return features


def write_index(
    path: str, *, shard_bytes: int, records: int, compression: str, features: FeatureSpec
) -> None:
    """Write the index of a finished shard of ``shard_bytes`` bytes to ``path``.

    The writer writes it under a temporary name and commits it together
    with its shard (see :mod:`safeloader.data.shard_files`).
    """
    body = {
        "format": _FORMAT,
        "records": records,
        "bytes": shard_bytes,
        "compression": compression,
        "features": spec_to_json(features),
    }
    with tf.io.gfile.GFile(path, "w") as handle:
        handle.write(json.dumps(body, indent=1, sort_keys=True))


def read_index(shard_path: str) -> dict[str, Any] | None:
    """Return the index of ``shard_path``, or ``None`` when there is none or it is unreadable."""
    path = index_path(shard_path)
    if not tf.io.gfile.exists(path):
        return None
    try:
        with tf.io.gfile.GFile(path, "r") as handle:
            body = json.loads(handle.read())
    except (ValueError, tf.errors.OpError):
        return None
    if not isinstance(body, dict) or body.get("format") != _FORMAT:
        return None
    return body
