"""Replacing a file's contents so that readers see the old file or the new, never half,
and only when the file is still what was read."""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path


class ChangedOnDiskError(Exception):
    """The file changed (size, modification time or content) since it was read."""


@dataclass(frozen=True)
class FileSnapshot:
    """What a file was when it was read: size, modification time, content hash."""

    size: int
    mtime_ns: int
    sha256: str

    @classmethod
    def read(cls, path: Path) -> tuple[FileSnapshot, bytes]:
        """Read ``path``; return its snapshot and its bytes (``OSError`` as ``open`` raises it).

        The status is taken from the open file before reading, so a write that
        lands while reading shows as a change later.
        """
        with open(path, "rb") as handle:
            status = os.fstat(handle.fileno())
            raw = handle.read()
        return cls(status.st_size, status.st_mtime_ns, hashlib.sha256(raw).hexdigest()), raw

    def matches(self, path: Path) -> bool:
        """Whether ``path`` still has this size, modification time and content."""
        try:
            current, _ = FileSnapshot.read(path)
        except OSError:
            return False
        return current == self


def replace_file(path: Path, data: bytes, expected: FileSnapshot | None = None) -> None:
    """Write ``data`` over ``path``, keeping its permission bits, owner and group.

    When ``expected`` is given and ``path`` no longer matches it (someone edited
    the file since it was read), nothing is written and
    :class:`ChangedOnDiskError` is raised.

    The bytes go to a temporary file in the same directory (the same file
    system, so the rename is atomic), are flushed to disk, and the temporary
    file is renamed over ``path``. On any error the temporary file is removed
    and ``path`` is untouched. A symbolic link is followed: the file it points
    at is replaced and the link stays. The owner and group are set on the
    temporary file as far as the process may (the owner needs privileges; the
    group only membership), before the rename. A file with more than one hard
    link is instead rewritten in place, so that its links stay one file: it
    is then not atomic (a reader may see it half written).
    """
    path = Path(os.path.realpath(path))
    if expected is not None and not expected.matches(path):
        raise ChangedOnDiskError(f"{path} changed since it was read")
    status = path.stat()
    if status.st_nlink > 1:
        _write_in_place(path, data)
        return
    descriptor, temporary = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".safeloader-tmp", dir=path.parent
    )
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        _keep_owner(temporary, status)
        os.chmod(temporary, stat.S_IMODE(status.st_mode))
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def _keep_owner(temporary: str, status: os.stat_result) -> None:
    """Give ``temporary`` the owner and group of ``status`` as far as permitted."""
    for uid in (status.st_uid, -1):
        try:
            os.chown(temporary, uid, status.st_gid)
            return
        except PermissionError:
            continue


def _write_in_place(path: Path, data: bytes) -> None:
    with open(path, "r+b") as handle:
        handle.write(data)
        handle.truncate()
        handle.flush()
        os.fsync(handle.fileno())
