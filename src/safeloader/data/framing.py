"""TFRecord framing: detect compression and walk record headers without reading bodies.

A TFRecord file is a sequence of records framed as::

    uint64 length | uint32 masked_crc32c(length) | data[length] | uint32 masked_crc32c(data)

``tf.data.TFRecordDataset`` checks every CRC while it reads, but it stops
silently at a file cut in the middle of a record, and its errors do not name
the file. TensorFlow has no public op that walks the headers alone, so this
module does it by hand: for an uncompressed file it reads each 12-byte header
and seeks over the body (one ``pread`` per record, no second read of the
data). Compressed files cannot be walked without decompressing; for them the
walk streams the decompressed bytes once through :mod:`zlib`, and the writer's
index (see :mod:`safeloader.data.index`) saves even that.
"""

from __future__ import annotations

import dataclasses
import os
import struct
import zlib
from typing import Callable, Iterator

import tensorflow as tf

HEADER_BYTES = 12
FOOTER_BYTES = 4
FRAME_BYTES = HEADER_BYTES + FOOTER_BYTES

_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 20


def _crc32c_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


# Only the 8-byte length of each record is checksummed here (the bodies are
# checked by TFRecordDataset itself), so a table-driven CRC-32C in Python is
# fast enough and spares a dependency.
_CRC32C_TABLE = _crc32c_table()


def masked_crc32c(data: bytes) -> int:
    """Return the CRC-32C of ``data`` masked the way TFRecord headers store it."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _CRC32C_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    crc ^= 0xFFFFFFFF
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _header_is_valid(header: bytes) -> bool:
    length_bytes, (stored_crc,) = header[:8], struct.unpack("<I", header[8:12])
    return masked_crc32c(length_bytes) == stored_crc


@dataclasses.dataclass(frozen=True)
class FileLayout:
    """What a walk over one TFRecord file found.

    ``records`` counts the complete, well-framed records from the start;
    ``intact_bytes`` is where the last of them ends (in the decompressed
    stream for a compressed file); ``problem`` describes what follows them
    when the file does not end cleanly there (``None`` for a healthy file).
    """

    path: str
    compression: str
    records: int
    intact_bytes: int
    total_bytes: int
    problem: str | None


def detect_compression(path: str) -> str:
    """Tell ``""`` (none), ``"GZIP"`` or ``"ZLIB"`` from the first bytes of ``path``.

    A gzip or zlib magic number could also begin the length of an
    uncompressed record, so a valid uncompressed header wins.
    """
    with tf.io.gfile.GFile(path, "rb") as handle:
        head = handle.read(HEADER_BYTES)
    if len(head) == HEADER_BYTES and _header_is_valid(head):
        return ""
    if head[:2] == _GZIP_MAGIC:
        return "GZIP"
    if len(head) >= 2 and head[0] & 0x0F == 8 and (head[0] << 8 | head[1]) % 31 == 0:
        return "ZLIB"
    return ""


def _local_reader(path: str) -> tuple[Callable[[int, int], bytes], Callable[[], None]]:
    fd = os.open(path, os.O_RDONLY)
    return (lambda size, offset: os.pread(fd, size, offset)), (lambda: os.close(fd))


def _gfile_reader(path: str) -> tuple[Callable[[int, int], bytes], Callable[[], None]]:
    handle = tf.io.gfile.GFile(path, "rb")

    def read_at(size: int, offset: int) -> bytes:
        handle.seek(offset)
        return handle.read(size)

    return read_at, handle.close


def _walk_uncompressed(path: str, size: int) -> FileLayout:
    opener = _gfile_reader if "://" in path else _local_reader
    read_at, close = opener(path)
    offset = records = 0
    problem = None
    try:
        while offset < size:
            header = read_at(HEADER_BYTES, offset)
            if len(header) < HEADER_BYTES:
                problem = f"file ends inside the header of record #{records} at byte {offset}"
                break
            if not _header_is_valid(header):
                problem = f"corrupt length header of record #{records} at byte {offset}"
                break
            (length,) = struct.unpack("<Q", header[:8])
            end = offset + FRAME_BYTES + length
            if end > size:
                problem = (
                    f"file ends inside record #{records} at byte {offset} "
                    f"({size - offset} of its {length + FRAME_BYTES} bytes present)"
                )
                break
            offset = end
            records += 1
    finally:
        close()
    return FileLayout(path, "", records, offset, size, problem)


def _decompressed_chunks(path: str, compression: str) -> Iterator[bytes]:
    """Yield the decompressed bytes of ``path``; raise ``EOFError`` if the stream is cut."""
    wbits = 16 + zlib.MAX_WBITS if compression == "GZIP" else zlib.MAX_WBITS
    decompressor = zlib.decompressobj(wbits)
    with tf.io.gfile.GFile(path, "rb") as handle:
        while not decompressor.eof:
            chunk = handle.read(_CHUNK)
            if not chunk:
                raise EOFError("compressed stream ends early")
            yield decompressor.decompress(chunk)
    yield decompressor.flush()


def _walk_compressed(path: str, size: int, compression: str) -> FileLayout:
    buffer = bytearray()
    position = 0  # decompressed offset of buffer[0]
    intact = records = 0
    problem = None
    skip = 0  # body bytes of the current record still to pass over
    try:
        for chunk in _decompressed_chunks(path, compression):
            buffer += chunk
            while True:
                if skip:
                    step = min(skip, len(buffer))
                    del buffer[:step]
                    position += step
                    skip -= step
                    if skip:
                        break
                    records += 1
                    intact = position
                if len(buffer) < HEADER_BYTES:
                    break
                header = bytes(buffer[:HEADER_BYTES])
                if not _header_is_valid(header):
                    raise ValueError(
                        f"corrupt length header of record #{records} "
                        f"at decompressed byte {position}"
                    )
                (length,) = struct.unpack("<Q", header[:8])
                skip = length + FRAME_BYTES
        if skip or buffer:
            problem = f"decompressed stream ends inside record #{records} at byte {intact}"
    except (EOFError, zlib.error) as error:
        problem = f"{error} after record #{records} (decompressed byte {intact})"
    except ValueError as error:
        problem = str(error)
    return FileLayout(path, compression, records, intact, size, problem)


def walk_file(path: str, compression: str) -> FileLayout:
    """Walk the record headers of ``path`` (compression ``""``, ``"GZIP"`` or ``"ZLIB"``)."""
    size = tf.io.gfile.stat(path).length
    if compression:
        return _walk_compressed(path, size, compression)
    return _walk_uncompressed(path, size)
