"""The files one ``write_tfrecords`` call owns under its prefix, and committing them.

A write of ``prefix`` with ``NN`` shards makes ``prefix-0000i-of-000NN.tfrecord``
and, beside each, ``<shard>.index.json``, first under temporary names
(``<name>.tmp-<pid>``). :func:`commit` renames them all or none, and sets
aside every file an earlier write left under the same prefix (whatever its
shard count) so that the prefix's glob then gives exactly the new write's
records. :func:`remove_abandoned_temporaries` clears what a killed writer
left behind.
"""

from __future__ import annotations

import os
import re
from typing import Sequence

import tensorflow as tf

_SHARD = r"-\d{5,}-of-\d{5,}\.tfrecord(?:\.index\.json)?"
_REPLACED = ".replaced"  # an earlier write's file while the new one is committed


def check_prefix(path_prefix: str) -> None:
    """Refuse a prefix with no file name part (``""``, ``"data/"``)."""
    if not os.path.basename(path_prefix):
        raise ValueError(
            f"path_prefix {path_prefix!r} has no file name part (it is empty or ends with "
            f"a separator): give a prefix such as 'data/train', which writes "
            f"'data/train-00000-of-00001.tfrecord'"
        )


def shard_paths(path_prefix: str, num_shards: int) -> list[str]:
    """Return the shard names ``prefix-00000-of-000NN.tfrecord`` (5-digit numbers)."""
    return [f"{path_prefix}-{i:05d}-of-{num_shards:05d}.tfrecord" for i in range(num_shards)]


def temporary_name(path: str) -> str:
    """Return the name ``path`` is written under until it is committed."""
    return f"{path}.tmp-{os.getpid()}"


def _listing(path_prefix: str) -> list[tuple[str, str]]:
    """Return ``(name, full path)`` of each entry in the prefix's directory.

    The directory is listed rather than globbed: a prefix may itself contain
    glob characters such as ``[``.
    """
    parent = os.path.dirname(path_prefix)
    if not tf.io.gfile.isdir(parent or "."):
        return []
    return [(name, os.path.join(parent, name)) for name in tf.io.gfile.listdir(parent or ".")]


def committed_files(path_prefix: str) -> list[str]:
    """Return the shards and indexes earlier writes of ``path_prefix`` left (any shard count)."""
    pattern = re.compile(re.escape(os.path.basename(path_prefix)) + _SHARD)
    return sorted(path for name, path in _listing(path_prefix) if pattern.fullmatch(name))


def _is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    return True


def remove_abandoned_temporaries(path_prefix: str) -> list[str]:
    """Remove the temporary files of this prefix whose writer process is gone; return them.

    Only on a local file system: a process id on remote storage may belong
    to any machine, so its files are left alone.
    """
    if "://" in path_prefix:
        return []
    pattern = re.compile(
        re.escape(os.path.basename(path_prefix)) + _SHARD + rf"(?:{re.escape(_REPLACED)})?"
        r"\.tmp-(\d+)"
    )
    removed = []
    for name, path in _listing(path_prefix):
        match = pattern.fullmatch(name)
        if match and int(match.group(1)) > 0 and not _is_running(int(match.group(1))):
            tf.io.gfile.remove(path)
            removed.append(path)
    return removed


def commit(pending: Sequence[tuple[str, str]], replaced: Sequence[str]) -> None:
    """Rename each ``(temporary, final)`` pair and remove the ``replaced`` files: all or none.

    The ``replaced`` files (an earlier write of the prefix) are first renamed
    aside, then the new files take their final names, then the set-aside
    files are removed. If any rename fails (or the process is interrupted
    with an exception), the new files already committed and every temporary
    are removed and the set-aside files are renamed back, and the error is
    raised again: the prefix holds the old write, complete, or the new one.
    Should the roll-back itself fail, an ``OSError`` names the files it
    could not restore or remove.
    """
    set_aside: list[tuple[str, str]] = []
    committed: list[str] = []
    try:
        for path in replaced:
            aside = temporary_name(path + _REPLACED)
            tf.io.gfile.rename(path, aside, overwrite=True)
            set_aside.append((path, aside))
        for temporary, final in pending:
            tf.io.gfile.rename(temporary, final, overwrite=True)
            committed.append(final)
    except BaseException as error:
        failures = _roll_back(committed, [t for t, _ in pending], set_aside)
        if failures:
            raise OSError(
                f"writing the shards failed ({error}) and so did rolling back: "
                + "; ".join(failures)
            ) from error
        raise
    for _, aside in set_aside:
        tf.io.gfile.remove(aside)


def _roll_back(
    committed: Sequence[str], temporaries: Sequence[str], set_aside: Sequence[tuple[str, str]]
) -> list[str]:
    """Undo a partial commit, every step attempted; return what could not be undone."""
    failures = []
    for path in [*committed, *temporaries]:
        try:
            if tf.io.gfile.exists(path):
                tf.io.gfile.remove(path)
        except tf.errors.OpError as error:
            failures.append(f"could not remove {path!r} ({error.message})")
    for path, aside in set_aside:
        try:
            tf.io.gfile.rename(aside, path, overwrite=True)
        except tf.errors.OpError as error:
            failures.append(f"the earlier {path!r} is still at {aside!r} ({error.message})")
    return failures
