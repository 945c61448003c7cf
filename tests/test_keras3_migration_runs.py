"""The fixed programs run: each fix is proved on the real Keras it targets, no mocks.

Three small training scripts (a two-weight model, two or three steps), each
in a project of its own, are fixed by ``safeloader-fix`` as a user would
run it, then executed in a fresh interpreter:

* Keras 3, declared by ``requirements.txt``: ``fit(PyDataset, workers=2)``
  (a ``TypeError`` on Keras 3) becomes ``PyDataset(..., workers=2)`` and the
  class forwards ``**kwargs``; it trains and the dataset has two workers;
* Keras 3, configured in ``setup.cfg``: ``fit_generator(gen, ..., workers=2)``
  becomes ``fit(gen, ...)`` in one pass and trains;
* tf_keras: ``fit(Sequence, workers=2, use_multiprocessing=True)`` at module
  level under ``spawn`` fails before the unsafe SLD103 fix (every worker
  re-runs the script and dies starting processes while bootstrapping; the
  parent then waits forever, so the run is stopped as soon as a worker has
  reported that error) and trains after it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from migration_programs import PROGRAMS

from safeloader.fix.cli import main as safeloader_fix

pytest.importorskip("keras")
pytest.importorskip("tf_keras")

SRC = Path(__file__).resolve().parent.parent / "src"
#: a run gets this long at most: starting TensorFlow on a loaded 2-core machine is slow
RUN_LIMIT_S = 240

#: what a spawned worker says when it re-runs an unguarded script that starts processes
BOOTSTRAP_ERROR = "finished its bootstrapping phase"


def project(root: Path, script: str, files: dict[str, str]) -> Path:
    (root / ".git").mkdir()  # the project ends here: nothing above it is read
    for name, text in files.items():
        (root / name).write_text(text, encoding="utf-8")
    train = root / "train.py"
    train.write_text(script, encoding="utf-8")
    return train


def fix(train: Path, monkeypatch: pytest.MonkeyPatch, *flags: str) -> None:
    monkeypatch.chdir(train.parent)  # setup.cfg is read from where the fixer runs
    assert safeloader_fix([*flags, "train.py"]) == 0


def run(train: Path, stop_at: str | None = None) -> tuple[int | None, str]:
    """Run ``train`` in a fresh interpreter: its exit status (``None``: stopped) and output.

    With ``stop_at``, the run is stopped as soon as a line of its output shows
    that text. Either way it is stopped after :data:`RUN_LIMIT_S` (its
    status is then ``None``), worker processes included.
    """
    env = {**os.environ, "PYTHONPATH": str(SRC), "TF_CPP_MIN_LOG_LEVEL": "3"}
    process = subprocess.Popen(
        [sys.executable, str(train)], cwd=train.parent, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )
    output: list[str] = []
    done = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            if stop_at is not None and stop_at in line:
                break
        done.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        done.wait(RUN_LIMIT_S)
        try:
            status: int | None = process.wait(timeout=0 if stop_at else 5)
        except subprocess.TimeoutExpired:
            status = None
        return status, "".join(output)
    finally:
        stop_session(process.pid)
        process.wait()
        reader.join(timeout=5)


def _session_members(session: int) -> dict[int, bool]:
    """``{pid: is multiprocessing's resource tracker}`` of the processes in ``session``."""
    members = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue  # ended meanwhile
        fields = stat.rsplit(")", 1)[1].split()  # state, ppid, pgrp, session, ...
        if int(fields[3]) == session and fields[0] != "Z":  # a zombie is gone already
            members[int(entry.name)] = b"resource_tracker" in cmdline
    return members


def stop_session(session: int) -> None:
    """SIGKILL the processes of ``session`` (a run and its workers), the resource tracker last.

    The tracker is left to see its users gone first: it then unlinks the named
    semaphores they registered, which would stay in /dev/shm if it were killed
    with them. It gets a few seconds; then the whole session is killed.
    """
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        members = _session_members(session)
        if not members:
            return
        for pid, tracker in members.items():
            if not tracker:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(session, signal.SIGKILL)


def test_a_keras3_pydataset_gets_its_workers_and_trains(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    train = project(tmp_path, *PROGRAMS["pydataset"])
    fix(train, monkeypatch)
    fixed = train.read_text(encoding="utf-8")
    assert "data = Batches(3, workers=2)" in fixed
    assert "model.fit(data, epochs=1, verbose=0)" in fixed
    assert "super().__init__(**kwargs)" in fixed
    status, output = run(train)
    assert status == 0, output
    assert "trained with workers = 2" in output


def test_a_fit_generator_script_trains_on_keras3_after_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    train = project(tmp_path, *PROGRAMS["fit_generator"])
    fix(train, monkeypatch)
    fixed = train.read_text(encoding="utf-8")
    assert "model.fit(batches(), steps_per_epoch=2, epochs=1, verbose=0)\n" in fixed
    status, output = run(train)
    assert status == 0, output
    assert "trained" in output


def test_an_unguarded_multiprocessing_script_fails_under_spawn_until_the_unsafe_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script, files = PROGRAMS["spawn"]
    train = project(tmp_path, script, files)
    status, output = run(train, stop_at=BOOTSTRAP_ERROR)
    assert status != 0 and "trained" not in output
    fix(train, monkeypatch)
    assert train.read_text(encoding="utf-8") == script  # unsafe: not by default
    fix(train, monkeypatch, "--unsafe-fixes")
    assert 'if __name__ == "__main__":\n    multiprocessing.set_start_method' in (
        train.read_text(encoding="utf-8"))
    status, output = run(train)
    assert status == 0, output
    assert "trained" in output
