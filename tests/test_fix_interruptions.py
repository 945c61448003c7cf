"""``safeloader-fix`` when the world moves under it: a file edited while it is being
fixed, a file with several hard links, and Ctrl-C (a real SIGINT) in the middle
of a run with and without the process pool."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import safeloader.fix.runner as runner
from safeloader.fix.cli import main

from test_fix_cli import BAD, GOOD, write

pytestmark = pytest.mark.usefixtures("outside_the_repository")

EDIT = "# typed in an editor while the fixer ran\n"


def test_a_file_edited_while_being_fixed_is_left_with_the_edit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    script = write(tmp_path / "a_train.py", BAD)
    other = write(tmp_path / "b_train.py", BAD)
    real_fix_text = runner.fix_text

    def fix_text_while_someone_types(text, path, fixes):  # type: ignore[no-untyped-def]
        if path.name == script.name:
            with path.open("a") as handle:
                handle.write(EDIT)
        return real_fix_text(text, path, fixes)

    monkeypatch.setattr(runner, "fix_text", fix_text_while_someone_types)
    assert main(["-j", "1", str(tmp_path)]) == 2
    assert script.read_text() == BAD + EDIT
    assert other.read_text() == GOOD
    err = capsys.readouterr().err
    assert f"{script}: changed on disk while being fixed; left unchanged" in err
    assert err.splitlines()[-1].endswith("1 changed; fixes: SLD101 x1; 1 could not be processed")


def test_hard_links_stay_one_file(tmp_path: Path) -> None:
    script = write(tmp_path / "train.py", BAD)
    link = tmp_path / "same_train.py"
    os.link(script, link)
    inode = script.stat().st_ino
    assert main(["-j", "1", str(script)]) == 0
    assert link.read_text() == script.read_text() == GOOD
    assert script.stat().st_ino == link.stat().st_ino == inode


FILES = 200
_SUMMARY = re.compile(
    r"^safeloader-fix: (\d+) files scanned, (\d+) changed; fixes: SLD101 x(\d+); "
    r"interrupted, the other files left as they were$"
)


def _changed(paths: list[Path]) -> int:
    return sum(path.read_text() != BAD for path in paths)


@pytest.mark.parametrize("jobs", [1, 2])
def test_ctrl_c_stops_between_files_and_says_what_changed(tmp_path: Path, jobs: int) -> None:
    paths = [write(tmp_path / "tree" / f"m{index:03}.py", BAD) for index in range(FILES)]
    process = subprocess.Popen(
        [sys.executable, "-m", "safeloader.fix.cli", "-j", str(jobs), "tree"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )
    try:
        deadline = time.monotonic() + 120
        while (before := _changed(paths)) == 0 and process.poll() is None:
            assert time.monotonic() < deadline, "no file was ever fixed"
        # a terminal's Ctrl-C: SIGINT to the whole group, worker processes included
        os.killpg(process.pid, signal.SIGINT)
        _, err = process.communicate(timeout=60)  # stops promptly: a bound, not a measure
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, err
    assert "Traceback" not in err
    summary = _SUMMARY.match(err.splitlines()[-1])
    assert summary, err
    changed = int(summary.group(2))
    # every file is old or new, never half; the summary counts exactly the new ones
    contents = [path.read_text() for path in paths]
    assert all(text in (BAD, GOOD) for text in contents)
    assert contents.count(GOOD) == changed == int(summary.group(3))
    # no file started after the signal: at most the ones in flight (one a worker,
    # and one more each finished while the count above was being taken) were added
    assert before <= changed <= before + 2 * jobs
    assert changed < FILES
    assert sorted(path.name for path in (tmp_path / "tree").iterdir()) == [
        path.name for path in paths
    ]
