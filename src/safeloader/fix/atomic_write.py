"""Replacing a file's contents so that readers see the old file or the new, never half."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path


def replace_file(path: Path, data: bytes) -> None:
    """Write ``data`` over ``path`` atomically, keeping its permission bits.

    The bytes go to a temporary file in the same directory (the same file
    system, so the rename is atomic), are flushed to disk, and the temporary
    file is renamed over ``path``. On any error the temporary file is removed
    and ``path`` is untouched. A symbolic link is followed: the file it points
    at is replaced and the link stays.
    """
    path = Path(os.path.realpath(path))
    mode = stat.S_IMODE(path.stat().st_mode)
    descriptor, temporary = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".safeloader-tmp", dir=path.parent
    )
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
