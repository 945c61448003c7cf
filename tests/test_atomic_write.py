"""Atomic replacement: old or new content, never half, no temporary file left."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from safeloader.fix.atomic_write import ChangedOnDiskError, FileSnapshot, replace_file


def test_replaces_content_and_keeps_mode(tmp_path: Path) -> None:
    target = tmp_path / "train.py"
    target.write_bytes(b"old\n")
    target.chmod(0o640)
    replace_file(target, b"new\n")
    assert target.read_bytes() == b"new\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert [path.name for path in tmp_path.iterdir()] == ["train.py"]


def test_a_failed_rename_leaves_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "train.py"
    target.write_bytes(b"old\n")

    def interrupted(source: str, destination: str) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        replace_file(target, b"new\n")
    assert target.read_bytes() == b"old\n"
    assert [path.name for path in tmp_path.iterdir()] == ["train.py"]


def test_a_symbolic_link_is_followed_and_kept(tmp_path: Path) -> None:
    real = tmp_path / "real.py"
    real.write_bytes(b"old\n")
    link = tmp_path / "link.py"
    link.symlink_to(real)
    replace_file(link, b"new\n")
    assert link.is_symlink()
    assert real.read_bytes() == b"new\n"


def test_a_file_changed_since_it_was_read_is_left_alone(tmp_path: Path) -> None:
    target = tmp_path / "train.py"
    target.write_bytes(b"old\n")
    snapshot, raw = FileSnapshot.read(target)
    assert raw == b"old\n" and snapshot.matches(target)
    with target.open("ab") as handle:  # same size after the edit below: the hash tells
        handle.write(b"more\n")
    with pytest.raises(ChangedOnDiskError):
        replace_file(target, b"new\n", expected=snapshot)
    assert target.read_bytes() == b"old\nmore\n"
    target.write_bytes(b"new\n")
    os.utime(target, ns=(snapshot.mtime_ns, snapshot.mtime_ns))
    same_size_and_time = target.stat()
    assert (same_size_and_time.st_size, same_size_and_time.st_mtime_ns) == (
        snapshot.size, snapshot.mtime_ns
    )
    with pytest.raises(ChangedOnDiskError):
        replace_file(target, b"fixed\n", expected=snapshot)
    assert target.read_bytes() == b"new\n"


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                    reason="giving a file another owner needs root")
def test_owner_and_group_are_kept(tmp_path: Path) -> None:
    target = tmp_path / "train.py"
    target.write_bytes(b"old\n")
    os.chown(target, 12345, 23456)
    replace_file(target, b"new\n")
    status = target.stat()
    assert (status.st_uid, status.st_gid) == (12345, 23456)
    assert target.read_bytes() == b"new\n"


def test_group_is_kept_when_the_owner_cannot_be(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root may give any owner: see test_owner_and_group_are_kept")
    target = tmp_path / "train.py"
    target.write_bytes(b"old\n")
    group = os.getgroups()[-1]
    os.chown(target, -1, group)
    replace_file(target, b"new\n")
    assert target.stat().st_gid == group


def test_a_file_with_hard_links_is_written_in_place(tmp_path: Path) -> None:
    target = tmp_path / "train.py"
    target.write_bytes(b"old contents\n")
    other = tmp_path / "copy.py"
    os.link(target, other)
    inode = target.stat().st_ino
    snapshot, _ = FileSnapshot.read(target)
    replace_file(target, b"new\n", expected=snapshot)
    assert target.stat().st_ino == inode and target.stat().st_nlink == 2
    assert other.read_bytes() == b"new\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["copy.py", "train.py"]
    fresh, _ = FileSnapshot.read(target)
    with other.open("ab") as handle:
        handle.write(b"# edited through the other link\n")
    with pytest.raises(ChangedOnDiskError):
        replace_file(target, b"newer\n", expected=fresh)
    assert target.read_bytes() == b"new\n# edited through the other link\n"
