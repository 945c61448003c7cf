"""Atomic replacement: old or new content, never half, no temporary file left."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from safeloader.fix.atomic_write import replace_file


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
