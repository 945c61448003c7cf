"""Resolving the reader's ``files`` argument and checking each file's framing once."""

from __future__ import annotations

import dataclasses
import functools
import os
import re
from typing import Sequence, Union

import tensorflow as tf

from safeloader.data.framing import FRAME_BYTES, FileLayout, detect_compression, walk_file
from safeloader.data.index import INDEX_SUFFIX, read_index

PathLike = Union[str, "os.PathLike[str]"]
FilesArg = Union[PathLike, Sequence[PathLike]]

COMPRESSIONS = ("auto", "", "GZIP", "ZLIB")
_GLOB_CHARS = frozenset("*?[")
_TEMPORARY = re.compile(r"\.tmp-\d+$")  # write_tfrecords' files before their rename


def normalise_compression(compression: str | None) -> str:
    """Map the ``compression`` argument to ``"auto"``, ``""``, ``"GZIP"`` or ``"ZLIB"``."""
    value = "" if compression is None else compression
    if not isinstance(value, str) or value.upper() not in {c.upper() for c in COMPRESSIONS}:
        raise ValueError(
            f"compression must be 'auto', None, 'GZIP' or 'ZLIB', got {compression!r}"
        )
    return "auto" if value.lower() == "auto" else value.upper()


def resolve_files(files: FilesArg) -> list[str]:
    """Expand ``files`` (a path, a glob, or a list of either) into a list of file paths.

    Glob matches are sorted (so every worker sees the same order) and skip the
    index and temporary files of :func:`~safeloader.data.write_tfrecords`.
    Raises ``FileNotFoundError`` naming a pattern that matches nothing or a
    listed file that does not exist, and ``ValueError`` for an empty list.
    """
    items = [files] if isinstance(files, (str, os.PathLike)) else list(files)
    if not items:
        raise ValueError("files is empty: give a path, a glob, or a list of them")
    paths: list[str] = []
    for item in items:
        name = os.fspath(item)
        if _GLOB_CHARS & set(name):
            matches = sorted(
                match for match in tf.io.gfile.glob(name)
                if not match.endswith(INDEX_SUFFIX) and not _TEMPORARY.search(match)
                and not tf.io.gfile.isdir(match)
            )
            if not matches:
                raise FileNotFoundError(f"no file matches the pattern {name!r}")
            paths.extend(matches)
        elif not tf.io.gfile.exists(name):
            raise FileNotFoundError(f"TFRecord file not found: {name!r}")
        elif tf.io.gfile.isdir(name):
            raise IsADirectoryError(
                f"{name!r} is a directory: pass a glob such as {os.path.join(name, '*.tfrecord')!r}"
            )
        else:
            paths.append(name)
    return paths


@dataclasses.dataclass(frozen=True)
class FileCheck:
    """What the reader expects of one file before reading it.

    ``records`` is the number of complete records the file holds according to
    its index or a header walk; ``layout`` is the walk's result (``None`` when
    the index was trusted); ``features`` is the spec from the index, if any.
    """

    path: str
    compression: str
    records: int
    layout: FileLayout | None
    features: dict | None


def check_file(path: str, compression: str) -> FileCheck:
    """Return the :class:`FileCheck` of ``path``, computed once per path, size and mtime.

    ``compression`` is ``"auto"`` or a codec name. A matching index (same size)
    answers at once; otherwise the headers are walked (see
    :mod:`safeloader.data.framing`).
    """
    stat = tf.io.gfile.stat(path)
    return _check_file_cached(path, stat.length, stat.mtime_nsec, compression)


@functools.lru_cache(maxsize=4096)
def _check_file_cached(path: str, size: int, mtime_nsec: int, compression: str) -> FileCheck:
    index = read_index(path)
    if index is not None and index.get("bytes") == size:
        codec = index.get("compression", "")
        if compression not in ("auto", codec):
            raise ValueError(
                f"{path!r} was written with compression {codec or 'None'!r} "
                f"but compression={compression!r} was given"
            )
        return FileCheck(path, codec, int(index["records"]), None, index.get("features"))
    codec = detect_compression(path) if compression == "auto" else compression
    layout = walk_file(path, codec)
    if index is not None and not layout.problem and layout.records < index.get("records", 0):
        # Cut exactly between two records: only the index can tell.
        layout = dataclasses.replace(layout, problem=(
            f"the file has {size} bytes and {layout.records} records, but its index says "
            f"{index.get('bytes')} bytes and {index['records']} records: it was cut or "
            f"changed after it was written"
        ))
    features = index.get("features") if index is not None else None
    return FileCheck(path, codec, layout.records, layout, features)


@functools.lru_cache(maxsize=4096)
def _readable_cached(
    path: str, size: int, mtime_nsec: int, compression: str
) -> tuple[int, int]:
    records = tf.data.TFRecordDataset(path, compression_type=compression).ignore_errors()
    sizes = records.map(lambda record: tf.cast(tf.strings.length(record), tf.int64))
    count, body_bytes = sizes.batch(4096).reduce(
        (tf.constant(0, tf.int64), tf.constant(0, tf.int64)),
        lambda state, lengths: (state[0] + tf.size(lengths, out_type=tf.int64),
                                state[1] + tf.reduce_sum(lengths)),
    )
    return int(count), int(body_bytes)


def readable_prefix(check: FileCheck) -> tuple[int, int]:
    """Read ``check.path`` fully; return how many records from the start are readable and
    the byte offset (in the decompressed stream) where they end.

    Used only with ``ignore_errors=True``, to report and skip exactly what is
    lost: ``TFRecordDataset`` stops a file at its first corrupt record.
    """
    stat = tf.io.gfile.stat(check.path)
    count, body_bytes = _readable_cached(
        check.path, stat.length, stat.mtime_nsec, check.compression
    )
    return count, body_bytes + FRAME_BYTES * count
