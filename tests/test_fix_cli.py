"""``safeloader-fix`` on real files: in place, --check, --diff, exit codes,
walking, selection, encodings and line endings, permissions, -j, progress."""

from __future__ import annotations

import os
import re
import pty
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from safeloader.fix.cli import ANALYSIS_POOL_MIN_FILES, FIX_POOL_MIN_FILES, main

BAD = '''\
"""A training script."""
import numpy as np
from tf_keras.models import Sequential


def batches(size):
    while True:
        yield np.zeros((size, 2)), np.zeros(size)


model = Sequential()
model.fit(batches(8), steps_per_epoch=5, workers=3)
'''

GOOD = '''\
"""A training script."""
import numpy as np
from tf_keras.models import Sequential
from safeloader import threadsafe_generator


@threadsafe_generator
def batches(size):
    while True:
        yield np.zeros((size, 2)), np.zeros(size)


model = Sequential()
model.fit(batches(8), steps_per_epoch=5, workers=3)
'''

pytestmark = pytest.mark.usefixtures("outside_the_repository")

DEPRECATED = "model.fit_generator(batches(8), 5, workers=0)\n"
COOKIE = b"# -*- coding: latin-1 -*-\n"
CLEAN = "import os\n\nprint(os.getcwd())\n"


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, str):
        path.write_bytes(text.encode())
    else:
        path.write_bytes(text)
    return path


def age(path: Path) -> int:
    """Give ``path`` an old mtime; return it (ns)."""
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    return path.stat().st_mtime_ns


def test_fixes_in_place_and_a_second_run_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = write(tmp_path / "train.py", BAD)
    assert main([str(tmp_path), "-j", "1"]) == 0
    assert script.read_text() == GOOD
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines()[-1] == (
        "safeloader-fix: 1 files scanned, 1 changed; fixes: SLD101 x1"
    )
    mtime = age(script)
    assert main([str(tmp_path)]) == 0
    assert script.read_text() == GOOD
    assert script.stat().st_mtime_ns == mtime
    assert capsys.readouterr().err.endswith("1 files scanned, 0 changed; fixes: none\n")


def test_check_writes_nothing_and_exits_1_until_fixed(tmp_path: Path) -> None:
    script = write(tmp_path / "train.py", BAD)
    mtime = age(script)
    assert main(["--check", str(script)]) == 1
    assert script.read_text() == BAD and script.stat().st_mtime_ns == mtime
    assert main([str(script)]) == 0
    assert main(["--check", str(script)]) == 0


def test_diff_prints_a_patch_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    script = write(tmp_path / "train.py", BAD)
    monkeypatch.chdir(tmp_path)
    assert main(["--diff", "train.py"]) == 0
    assert script.read_text() == BAD
    assert capsys.readouterr().out == (
        "--- a/train.py\n+++ b/train.py\n@@ -1,8 +1,10 @@\n"
        ' """A training script."""\n import numpy as np\n'
        " from tf_keras.models import Sequential\n"
        "+from safeloader import threadsafe_generator\n \n \n"
        "+@threadsafe_generator\n def batches(size):\n"
        "     while True:\n         yield np.zeros((size, 2)), np.zeros(size)\n"
    )
    assert main(["--diff", "--check", "train.py"]) == 1


def test_diff_marks_a_last_line_without_newline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = write(tmp_path / "old.py", "model.fit_generator(data)")
    assert main(["--diff", str(script)]) == 0
    assert capsys.readouterr().out.endswith(
        "-model.fit_generator(data)\n\\ No newline at end of file\n"
        "+model.fit(data)\n\\ No newline at end of file\n"
    )


def test_diff_into_a_closed_pipe_is_not_an_error(tmp_path: Path) -> None:
    for index in range(3):
        write(tmp_path / f"m{index}.py", BAD)
    # `true` exits without reading: every write to the pipe fails
    pipeline = subprocess.run(
        ["bash", "-c", f'"{sys.executable}" -m safeloader.fix.cli --diff "{tmp_path}" | true; '
         'echo "status=${PIPESTATUS[0]}" >&2'],
        capture_output=True, text=True, timeout=120,
    )
    assert "Traceback" not in pipeline.stderr
    assert pipeline.stderr.endswith("3 would change; fixes: SLD101 x3\nstatus=0\n")


def test_files_without_fixable_findings_are_never_rewritten(tmp_path: Path) -> None:
    clean = write(tmp_path / "clean.py", CLEAN)
    unfixable = write(
        tmp_path / "spawn.py",
        "model.fit(data, workers=2, use_multiprocessing=True)\n",  # SLD103, no fix
    )
    write(tmp_path / "train.py", BAD)
    times = {path: age(path) for path in (clean, unfixable)}
    assert main([str(tmp_path)]) == 0
    for path, mtime in times.items():
        assert path.stat().st_mtime_ns == mtime
    assert clean.read_text() == CLEAN


def test_unprocessable_files_are_named_left_alone_and_the_rest_is_fixed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = write(tmp_path / "a_broken.py", "model.fit(\n")
    latin = write(tmp_path / "b_latin.py", b"model.fit(x)  # caf\xe9\n")
    script = write(tmp_path / "c_train.py", BAD)
    assert main([str(tmp_path)]) == 2
    assert script.read_text() == GOOD
    assert broken.read_text() == "model.fit(\n"
    assert latin.read_bytes() == b"model.fit(x)  # caf\xe9\n"
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith(f"{broken}: syntax error: ")
    assert err[0].endswith("(line 1); left unchanged")
    assert err[1].startswith(f"{latin}: cannot decode: ")
    assert err[-1].endswith("1 changed; fixes: SLD101 x1; 2 could not be processed")


def test_a_missing_path_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path / "nope.py")]) == 2
    assert f"{tmp_path / 'nope.py'}: no such file or directory" in capsys.readouterr().err


def test_walk_skips_flake8s_default_excludes_exactly_and_the_given_ones(tmp_path: Path) -> None:
    skipped = [
        ".svn/x.py", "CVS/x.py", ".bzr/x.py", ".hg/x.py", ".git/hook.py", "__pycache__/x.py",
        ".tox/x.py", ".nox/x.py", ".eggs/x.py", "dist.egg/x.py", "generated/x.py",
        "pkg/skip_me.py",
    ]
    entered = ["venv/x.py", "build/x.py", "pkg/train.py"]  # flake8 enters them too
    for name in skipped + entered:
        write(tmp_path / name, BAD)
    not_python = write(tmp_path / "pkg" / "notes.txt", BAD)
    assert main([str(tmp_path), "--exclude", "generated,skip_*.py"]) == 0
    assert not_python.read_text() == BAD
    for name in skipped:
        assert (tmp_path / name).read_text() == BAD, name
    for name in entered:
        assert (tmp_path / name).read_text() == GOOD, name


def test_select_and_ignore_choose_the_rules(tmp_path: Path) -> None:
    source = BAD + DEPRECATED
    script = write(tmp_path / "train.py", source)
    assert main(["--select", "SLD3", str(script)]) == 0
    assert script.read_text() == BAD + "model.fit(batches(8), steps_per_epoch=5, workers=0)\n"
    write(script, source)
    assert main(["--ignore", "SLD301", str(script)]) == 0
    assert script.read_text() == GOOD + DEPRECATED
    write(script, source)
    assert main(["--select", "SLD", "--ignore", "SLD1", str(script)]) == 0
    assert "@threadsafe_generator" not in script.read_text()


def test_unsafe_fix_needs_the_flag(tmp_path: Path) -> None:
    source = BAD.replace("workers=3", "workers=3, use_multiprocessing=True")
    script = write(tmp_path / "train.py", "def main():\n    pass\n" + source)
    before = script.read_text()
    assert main(["--select", "SLD102", str(script)]) == 0
    assert script.read_text() == before
    assert main(["--select", "SLD102", "--unsafe-fixes", str(script)]) == 0
    fixed = script.read_text()
    assert "use_multiprocessing=False" in fixed and "@threadsafe_generator\ndef batches" in fixed


@pytest.mark.parametrize(
    ("name", "before", "after"),
    [
        ("crlf", BAD.replace("\n", "\r\n").encode(), GOOD.replace("\n", "\r\n").encode()),
        ("bom", b"\xef\xbb\xbf" + BAD.encode(), b"\xef\xbb\xbf" + GOOD.encode()),
        (
            "cookie",
            COOKIE + BAD.replace("A training", "Caf\xe9").encode("latin-1"),
            COOKIE + GOOD.replace("A training", "Caf\xe9").encode("latin-1"),
        ),
        (
            "form_feed",
            BAD.replace("\n\n\ndef", "\n\n\x0c\ndef").encode(),
            GOOD.replace("\n\n\n@", "\n\n\x0c\n@").encode(),
        ),
        (
            "tabs_and_comments",
            BAD.replace("    ", "\t").replace("import numpy as np", "import numpy as np  # np!")
            .encode(),
            GOOD.replace("    ", "\t").replace("import numpy as np", "import numpy as np  # np!")
            .encode(),
        ),
    ],
)
def test_encodings_line_endings_tabs_and_comments_survive(
    tmp_path: Path, name: str, before: bytes, after: bytes
) -> None:
    script = write(tmp_path / f"{name}.py", before)
    assert main([str(script)]) == 0
    assert script.read_bytes() == after


def test_a_file_libcst_would_not_write_back_byte_for_byte_is_fixed_around_those_bytes(
    tmp_path: Path,
) -> None:
    # LibCST drops a form feed that starts a statement's line; the fix is elsewhere
    source = BAD.replace("\nmodel =", "\n\x0cmodel =")
    script = write(tmp_path / "train.py", source)
    assert main([str(script)]) == 0
    assert script.read_text() == GOOD.replace("\nmodel =", "\n\x0cmodel =")


def test_a_fix_to_a_line_libcst_would_not_write_back_byte_for_byte_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = BAD + "\x0c" + DEPRECATED
    script = write(tmp_path / "train.py", source)
    assert main([str(script)]) == 2
    assert script.read_text() == source
    assert (
        f"{script}: a fix would change line 13, which LibCST would not write back byte for "
        "byte; left unchanged"
    ) in capsys.readouterr().err


def test_a_failing_analysis_is_reported_for_its_file_and_the_rest_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import safeloader.fix.runner as runner

    real = runner.analyze_module

    def analysis_with_a_bug(tree, lines, path, config, **cells):  # type: ignore[no-untyped-def]
        if path.name == "a_buggy.py":
            raise RuntimeError("boom")
        return real(tree, lines, path, config, **cells)

    monkeypatch.setattr(runner, "analyze_module", analysis_with_a_bug)
    buggy = write(tmp_path / "a_buggy.py", BAD)
    script = write(tmp_path / "b_train.py", BAD)
    assert main(["-j", "1", str(tmp_path)]) == 2
    assert buggy.read_text() == BAD and script.read_text() == GOOD
    assert f"{buggy}: internal error in the analysis: RuntimeError('boom'); left unchanged" in (
        capsys.readouterr().err
    )


def test_permission_bits_are_kept_and_no_temporary_file_is_left(tmp_path: Path) -> None:
    script = write(tmp_path / "train.py", BAD)
    script.chmod(0o751)
    assert main([str(script)]) == 0
    assert stat.S_IMODE(script.stat().st_mode) == 0o751
    assert sorted(path.name for path in tmp_path.iterdir()) == ["train.py"]


def test_a_generator_imported_from_another_module_is_fixed_there(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write(tmp_path / "project" / "data.py", "def batches(size):\n    yield size\n")
    train = write(
        tmp_path / "project" / "train.py",
        "from data import batches\n\nmodel.fit(batches(8), workers=3)\n",
    )
    assert main([str(train)]) == 0
    assert train.read_text() == "from data import batches\n\nmodel.fit(batches(8), workers=3)\n"
    fixed = (
        "from safeloader import threadsafe_generator\n\n\n"
        "@threadsafe_generator\ndef batches(size):\n    yield size\n"
    )
    assert data.read_text() == fixed
    capsys.readouterr()
    # in the same process (an editor's, a test's), the analysis reads data.py as it is now
    assert main(["--check", str(train)]) == 0
    assert main([str(train)]) == 0
    assert data.read_text() == fixed
    assert capsys.readouterr().err.splitlines() == [
        "safeloader-fix: 1 files scanned, 0 would change; fixes: none",
        "safeloader-fix: 1 files scanned, 0 changed; fixes: none",
    ]


def test_processes_give_the_same_result_as_one(tmp_path: Path) -> None:
    # enough files for a pool in both phases (see ANALYSIS_POOL_MIN_FILES)
    count = ANALYSIS_POOL_MIN_FILES
    assert count // 6 >= FIX_POOL_MIN_FILES
    for job in ("one", "many"):
        for index in range(count):
            write(tmp_path / job / f"m{index:02}.py", CLEAN if index % 6 else BAD)
    assert main(["-j", "1", str(tmp_path / "one")]) == 0
    assert main(["-j", "2", str(tmp_path / "many")]) == 0
    for index in range(count):
        one = (tmp_path / "one" / f"m{index:02}.py").read_text()
        assert one == (tmp_path / "many" / f"m{index:02}.py").read_text()
        assert one == (CLEAN if index % 6 else GOOD)


def test_progress_bar_only_on_a_terminal(tmp_path: Path) -> None:
    for index in range(3):
        write(tmp_path / f"m{index}.py", BAD)
    piped = subprocess.run(
        [sys.executable, "-m", "safeloader.fix.cli", "--check", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )
    assert "\r" not in piped.stderr and "[" not in piped.stderr
    assert piped.stderr == "safeloader-fix: 3 files scanned, 3 would change; fixes: SLD101 x3\n"
    leader, follower = pty.openpty()
    try:
        subprocess.run(
            [sys.executable, "-m", "safeloader.fix.cli", "--check", str(tmp_path)],
            stderr=follower, stdout=subprocess.DEVNULL, timeout=120,
        )
        os.close(follower)
        terminal = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:
                break
            if not chunk:
                break
            terminal += chunk
    finally:
        os.close(leader)
    assert b"\r[##########" in terminal
    assert b"] 3/3 files analysed" in terminal
    assert b"3 files scanned, 3 would change" in terminal


def test_console_script_is_installed(tmp_path: Path) -> None:
    script = write(tmp_path / "train.py", BAD)
    command = Path(sys.executable).with_name("safeloader-fix")
    result = subprocess.run(
        [str(command), "--check", str(script)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 1, result.stderr


GUARDED_PROCESSES = '''\
import tf_keras as keras


@team_lock
def batches():
    yield 1


def main(model):
    model.fit(batches(), workers=2, use_multiprocessing=True)
'''

KERAS3_SEQUENCE = '''\
import keras


class Batches(keras.utils.Sequence):
    def __init__(self, x):
        super().__init__()
        self.x = x
'''


def test_guards_come_from_the_flake8_configuration_found_upwards(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "src" / "train.py", GUARDED_PROCESSES)
    monkeypatch.chdir(tmp_path / "src")
    check = ["--check", "--unsafe-fixes", "train.py"]
    assert main(check) == 0  # team_lock unknown: its result is not guessed at
    write(tmp_path / "setup.cfg", "[flake8]\nsafeloader-guards = team_lock\n")
    assert main(check) == 1  # a known guarded generator under processes: SLD102
    assert main([*check, "--guards", ""]) == 0  # the flag wins


def test_keras_version_comes_from_the_flake8_configuration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path / "data.py", KERAS3_SEQUENCE)
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".git").mkdir()
    assert main(["--check", "data.py"]) == 0  # auto: no evidence, never the installed Keras
    write(tmp_path / "requirements.txt", "keras>=3\n")
    assert main(["--check", "data.py"]) == 1  # auto: the declared Keras 3, SLD105
    write(tmp_path / "tox.ini", "[flake8]\nsafeloader_keras_version = 2\n")
    assert main(["--check", "data.py"]) == 0
    assert main(["--check", "--keras-version", "3", "data.py"]) == 1  # the flag wins
    write(tmp_path / "tox.ini", "[flake8]\nsafeloader-keras-version = 4\n")
    assert main(["--check", "data.py"]) == 2
    assert "--safeloader-keras-version: invalid choice: '4'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        (["--select", "SLD999"], "argument --select: unknown code 'SLD999'"),
        (["--select", "SLD101,E501"], "argument --select: unknown code 'E501'"),
        (["--ignore", "SLD4"], "argument --ignore: unknown code 'SLD4'"),
        (["-j", "0"], "argument -j/--jobs: expected at least 1 process, got 0"),
        (["-j", "-5"], "argument -j/--jobs: expected at least 1 process, got -5"),
        (["-j", "many"], "argument -j/--jobs: expected a whole number, got 'many'"),
    ],
)
def test_bad_arguments_are_errors_naming_the_argument(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], arguments: list[str], named: str
) -> None:
    script = write(tmp_path / "train.py", BAD)
    with pytest.raises(SystemExit) as exited:
        main([*arguments, "--check", str(script)])
    assert exited.value.code == 2
    assert named in capsys.readouterr().err
    assert script.read_text() == BAD


def test_prefixes_of_known_codes_are_accepted(tmp_path: Path) -> None:
    script = write(tmp_path / "train.py", BAD)
    assert main(["--select", "SLD1", "--ignore", "SLD10", "--check", str(script)]) == 0
    assert main(["--select", "SLD", "--check", str(script)]) == 1


def test_summary_counts_the_findings_left_for_unsafe_fixes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = BAD.replace("workers=3", "workers=3, use_multiprocessing=True")
    script = write(tmp_path / "train.py", "def main():\n    pass\n" + source + DEPRECATED)
    assert main(["--check", str(script)]) == 1
    # SLD102 (two edits: the flag, the decorator) and SLD103: two findings
    assert capsys.readouterr().err.splitlines()[-1] == (
        "safeloader-fix: 1 files scanned, 1 would change; fixes: SLD301 x1; "
        "2 more with --unsafe-fixes"
    )
    assert main(["--check", "--unsafe-fixes", str(script)]) == 1
    assert capsys.readouterr().err.splitlines()[-1].endswith(
        "fixes: SLD102 x1, SLD103 x1, SLD301 x1")


KERAS3_DATASET = """\
import keras


class Batches(keras.utils.Sequence):
    def __init__(self, x):
        self.x = x

    def __len__(self):
        return 1

    def __getitem__(self, index):
        return self.x
"""


def test_summary_counts_one_per_finding_flake8_shows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # one keyword moved: SLD302's three edits (drop, add, the class's SLD105 fix)
    # and SLD105's own finding, which shares the class's edit
    write(tmp_path / "setup.cfg", "[flake8]\nsafeloader-keras-version = 3\n")
    script = write(tmp_path / "train.py", KERAS3_DATASET + (
        "\n\ndef train(model):\n    model.fit(Batches(1), workers=4)\n"))
    assert main(["train.py"]) == 0
    assert capsys.readouterr().err.splitlines()[-1] == (
        "safeloader-fix: 1 files scanned, 1 changed; fixes: SLD105 x1, SLD302 x1")
    assert "model.fit(Batches(1, workers=4))" in script.read_text()


def test_a_class_fixed_for_two_files_is_fixed_once_without_stale_advice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # data.py's SLD105 and train.py's SLD301 (whose Keras 3 fix moves workers into
    # Batches) both ask for the same edit of data.py
    write(tmp_path / "setup.cfg", "[flake8]\nsafeloader-keras-version = 3\n")
    data = write(tmp_path / "data.py", KERAS3_DATASET)
    write(tmp_path / "train.py", "from data import Batches\n\n\ndef train(model):\n"
          "    model.fit_generator(Batches(1), steps_per_epoch=10, workers=4)\n")
    assert main(["."]) == 0
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "safeloader-fix: 2 files scanned, 2 changed; fixes: SLD105 x1, SLD301 x1"]
    assert data.read_text().count("**kwargs") == 2


@pytest.mark.parametrize("command", [["safeloader-fix"], ["safeloader"]])
def test_version_flag(command: list[str]) -> None:
    import safeloader

    result = subprocess.run(
        [str(Path(sys.executable).with_name(command[0])), "--version"],
        capture_output=True, text=True, timeout=120,
    )
    assert (result.returncode, result.stdout) == (0, f"{command[0]} {safeloader.__version__}\n")


def test_python_m_safeloader_is_the_safeloader_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "safeloader", "rule", "SLD202"],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "SLD202" in result.stdout
    bad = subprocess.run([sys.executable, "-m", "safeloader", "nonsense"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "usage: safeloader" in bad.stderr


CROSS_MODULE = {
    "project/data.py": "def batches(size):\n    yield size\n",
    "project/train.py": "from data import batches\n\nmodel.fit(batches(8), workers=3)\n",
    "project/other.py": BAD,
}


@pytest.mark.parametrize("how", ["relative", "absolute"])
def test_every_diff_header_is_relative_and_git_apply_and_patch_take_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], how: str
) -> None:
    for name, text in CROSS_MODULE.items():
        write(tmp_path / name, text)
    named = ["project/train.py", "project/other.py"]
    if how == "absolute":
        named = [str(tmp_path / name) for name in named]
    assert main(["--diff", *named]) == 0
    patch_text = capsys.readouterr().out
    headers = re.findall(r"^(?:---|\+\+\+) (\S+)", patch_text, re.M)
    assert sorted(headers) == [
        "a/project/data.py", "a/project/other.py", "b/project/data.py", "b/project/other.py"
    ]
    (tmp_path / "fix.patch").write_text(patch_text)

    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True, timeout=60)
    applied = subprocess.run(["git", "apply", "--check", "fix.patch"], cwd=tmp_path,
                             capture_output=True, text=True, timeout=60)
    assert applied.returncode == 0, applied.stderr
    patched = subprocess.run(["patch", "-p1", "-i", "fix.patch"], cwd=tmp_path,
                             capture_output=True, text=True, timeout=60)
    assert patched.returncode == 0, patched.stdout + patched.stderr
    assert (tmp_path / "project/other.py").read_text() == GOOD
    assert "@threadsafe_generator\ndef batches" in (tmp_path / "project/data.py").read_text()
    assert main(["--check", *named]) == 0


def test_a_file_outside_the_current_directory_keeps_its_absolute_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    script = write(tmp_path / "elsewhere" / "train.py", BAD)
    (tmp_path / "here").mkdir()
    monkeypatch.chdir(tmp_path / "here")
    assert main(["--diff", str(script)]) == 0
    assert capsys.readouterr().out.startswith(f"--- {script}\n+++ {script}\n")


def test_symlink_trouble_and_nul_bytes_are_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "dangling.py").symlink_to(tmp_path / "gone.py")
    (tmp_path / "loop_a.py").symlink_to(tmp_path / "loop_b.py")
    (tmp_path / "loop_b.py").symlink_to(tmp_path / "loop_a.py")
    nul = write(tmp_path / "nul.py", BAD.replace("model = ", "model = \0"))
    assert main(["-j", "1", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert (f"{tmp_path / 'dangling.py'}: cannot read: a dangling symbolic link "
            f"(to {tmp_path / 'gone.py'}); left unchanged") in err
    assert f"{tmp_path / 'loop_a.py'}: cannot read: a symbolic link loop; left unchanged" in err
    assert f"{nul}: contains a NUL byte (line 11): not Python source; left unchanged" in err
    assert "line None" not in err


def test_a_too_deeply_nested_file_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deep = write(tmp_path / "deep.py", BAD + "x = " + "+".join(["1"] * 30_000) + "\n")
    assert main([str(deep)]) == 2
    assert f"{deep}: too deeply nested to analyse" in capsys.readouterr().err
    assert deep.read_text().startswith(BAD)


@pytest.mark.parametrize(
    ("project_file", "content", "named"),
    [
        ("pyproject.toml", '[project]\nname = "p"\ndependencies = ["numpy"]\n', "pyproject.toml"),
        ("requirements.txt", "numpy\ntf-keras\n", "requirements.txt"),
        ("setup.py", "from setuptools import setup\nsetup(name='p')\n", "setup.py"),
    ],
)
def test_a_project_that_does_not_declare_safeloader_is_told_where_to(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], project_file: str, content: str,
    named: str,
) -> None:
    write(tmp_path / "proj" / project_file, content)
    first = write(tmp_path / "proj" / "src" / "train.py", BAD)
    second = write(tmp_path / "proj" / "src" / "more.py", BAD)
    assert main(["--check", str(first)]) == 1
    assert capsys.readouterr().err.splitlines()[-2] == (
        f"safeloader-fix: {first} imports safeloader now, which the project's declared "
        f"dependencies do not list: add safeloader to {tmp_path / 'proj' / named}"
    )
    assert main([str(first), str(second)]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err[-2].startswith("safeloader-fix: 2 fixed files import safeloader now")
    assert len(err) == 2


@pytest.mark.parametrize(
    ("project_file", "content"),
    [
        ("pyproject.toml", '[project]\nname = "p"\ndependencies = ["numpy", "SafeLoader>=0.1"]\n'),
        ("requirements.txt", "numpy\nsafeloader\n"),
    ],
)
def test_a_project_that_declares_safeloader_or_already_imports_it_is_not_told(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], project_file: str, content: str
) -> None:
    write(tmp_path / "proj" / project_file, content)
    script = write(tmp_path / "proj" / "train.py", BAD)
    assert main([str(script)]) == 0
    assert len(capsys.readouterr().err.splitlines()) == 1  # the summary only
    undeclared = write(tmp_path / "other" / "requirements.txt", "numpy\n")
    imported = write(undeclared.parent / "train.py", "import safeloader\n" + BAD)
    assert main([str(imported)]) == 0
    assert len(capsys.readouterr().err.splitlines()) == 1
    alone = write(tmp_path / "loose" / "train.py", BAD)  # no project file: nothing to name
    assert main([str(alone)]) == 0
    assert len(capsys.readouterr().err.splitlines()) == 1
