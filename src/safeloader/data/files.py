"""The reader's file arguments: resolving ``files``, checking each file once, the cache location."""

from __future__ import annotations

import dataclasses
import functools
import os
import re
import tempfile
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

    A string that names an existing file is that file, even when it holds
    glob characters such as ``[``; only strings that name nothing are globs.
    Glob matches are sorted (so every worker sees the same order) and skip
    the index and temporary files of :func:`~safeloader.data.write_tfrecords`.
    Raises ``FileNotFoundError`` naming a pattern that matches nothing or a
    listed file that does not exist, and ``ValueError`` for an empty list.
    """
    items = [files] if isinstance(files, (str, os.PathLike)) else list(files)
    if not items:
        raise ValueError("files is empty: give a path, a glob, or a list of them")
    paths: list[str] = []
    for item in items:
        name = os.fspath(item)
        if tf.io.gfile.exists(name):
            if tf.io.gfile.isdir(name):
                raise IsADirectoryError(
                    f"{name!r} is a directory: pass a glob such as "
                    f"{os.path.join(name, '*.tfrecord')!r}"
                )
            paths.append(name)
        elif _GLOB_CHARS & set(name):
            matches = sorted(
                match for match in tf.io.gfile.glob(name)
                if not match.endswith(INDEX_SUFFIX) and not _TEMPORARY.search(match)
                and not tf.io.gfile.isdir(match)
            )
            if not matches:
                hint = (" (in a pattern '[' starts a set of characters: match a real '[' "
                        "with '[[]')" if "[" in name else "")
                raise FileNotFoundError(f"no file matches the pattern {name!r}{hint}")
            paths.extend(matches)
        else:
            raise FileNotFoundError(f"TFRecord file not found: {name!r}")
    return paths


def check_cache_location(path: str) -> None:
    """Check, before any reading, that tf.data can write its cache files at ``path``.

    ``Dataset.cache(path)`` writes ``<path>.index`` and ``<path>.data-*`` and
    fails only at the end of the first epoch when it cannot. Raises
    ``IsADirectoryError`` when ``path`` is a directory, ``FileNotFoundError``
    when its directory does not exist and ``PermissionError`` when a local
    directory cannot be written in (a complete cache, ``<path>.index``, is
    only read and needs no writing).
    """
    if tf.io.gfile.isdir(path):
        raise IsADirectoryError(
            f"cache={path!r} is a directory: give a file name inside it, such as "
            f"{os.path.join(path, 'train.cache')!r} (tf.data writes <name>.index and "
            f"<name>.data-* files)"
        )
    parent = os.path.dirname(path) or "."
    if not tf.io.gfile.isdir(parent):
        raise FileNotFoundError(f"cache={path!r}: the directory {parent!r} does not exist")
    if "://" in path or tf.io.gfile.exists(path + ".index"):
        return
    try:
        # A real file, not os.access: access() says yes to root on a
        # read-only file system.
        with tempfile.TemporaryFile(dir=parent):
            pass
    except OSError as error:
        raise PermissionError(
            f"cache={path!r}: cannot write in the directory {parent!r} ({error.strerror})"
        ) from error


@dataclasses.dataclass(frozen=True)
class FileCheck:
    """What the reader expects of one file before reading it.

    ``records`` is the number of complete records the file holds according to
    its index or a header walk; ``layout`` is the walk's result (``None`` when
    the index was trusted); ``features`` is the spec from the index, if any;
    ``written`` is the record count the index recorded when the file was
    written (``None`` without an index), which counts what a damaged file lost.
    """

    path: str
    compression: str
    records: int
    layout: FileLayout | None
    features: dict | None
    written: int | None = None


def check_file(path: str, compression: str) -> FileCheck:
    """Return the :class:`FileCheck` of ``path``, computed once per path, size and mtime.

    ``compression`` is ``"auto"`` or a codec name. A matching index (same size)
    answers at once; otherwise the headers are walked (see
    :mod:`safeloader.data.framing`). A codec that contradicts the index, or
    under which the file reads worse than under the codec its first bytes
    show, raises ``ValueError`` naming both.
    """
    stat = tf.io.gfile.stat(path)
    return _check_file_cached(path, stat.length, stat.mtime_nsec, compression)


def _described(codec: str) -> str:
    return f"{codec}-compressed" if codec else "not compressed"


def _argument(codec: str) -> str:
    return repr(codec) if codec else "None"


def _refuse_other_compression(given: FileLayout) -> None:
    """Raise ``ValueError`` when the file reads further with the codec its first bytes show."""
    detected = detect_compression(given.path)
    if detected == given.compression:
        return
    other = walk_file(given.path, detected)
    if other.records > given.records:
        raise ValueError(
            f"{given.path!r} is {_described(detected)} (its first bytes say so, and "
            f"{other.records} records read that way), but compression="
            f"{_argument(given.compression)} was given, which reads {given.records} "
            f"({given.problem}): pass compression='auto' or {_argument(detected)}"
        )


@functools.lru_cache(maxsize=4096)
def _check_file_cached(path: str, size: int, mtime_nsec: int, compression: str) -> FileCheck:
    index = read_index(path)
    written = index.get("records") if index is not None else None
    if index is not None and index.get("bytes") == size:
        codec = index.get("compression", "")
        if compression not in ("auto", codec):
            raise ValueError(
                f"{path!r} is {_described(codec)} (its index says so), but compression="
                f"{_argument(compression)} was given: pass compression='auto' or "
                f"{_argument(codec)}"
            )
        return FileCheck(path, codec, int(written), None, index.get("features"), written)
    codec = detect_compression(path) if compression == "auto" else compression
    layout = walk_file(path, codec)
    if layout.problem and compression != "auto":
        _refuse_other_compression(layout)
    if written is not None and not layout.problem and layout.records < written:
        # Cut exactly between two records: only the index can tell.
        layout = dataclasses.replace(layout, problem=(
            f"the file has {size} bytes and {layout.records} records, but its index says "
            f"{index.get('bytes')} bytes and {written} records: it was cut or "
            f"changed after it was written"
        ))
    features = index.get("features") if index is not None else None
    return FileCheck(path, codec, layout.records, layout, features, written)


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
