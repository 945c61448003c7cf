"""End to end: the classic forum training script crashes under tf_keras with
``workers=3``; ``safeloader-fix`` rewrites it; the fixed script really trains.

The script is the copy bundled for ``safeloader demo``. Its generator sleeps
while preparing a batch (standing for a disk read), so a second worker thread
always finds it running: the crash is certain, not likely.
"""

from __future__ import annotations

import os
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest

pytest.importorskip("tf_keras")

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


def _python(script: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(script)], cwd=script.parent, capture_output=True, text=True,
        timeout=300, env=ENV,
    )


def test_classic_script_trains_after_the_fix(tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text(
        resources.files("safeloader.demo").joinpath("classic_script.py.txt").read_text()
    )
    before = _python(script)
    assert before.returncode != 0
    assert "Your generator is NOT thread-safe" in before.stderr
    assert "trained" not in before.stdout

    fixer = subprocess.run(
        [str(Path(sys.executable).with_name("safeloader-fix")), str(script)],
        capture_output=True, text=True, timeout=300, env=ENV,
    )
    assert fixer.returncode == 0, fixer.stderr
    assert fixer.stderr.endswith("1 changed; fixes: SLD101 x1, SLD301 x1\n")
    fixed = script.read_text()
    assert "from safeloader import threadsafe_generator\n" in fixed
    assert "@threadsafe_generator\ndef batch_generator(" in fixed
    assert "model.fit(batch_generator(x, y, 8), steps_per_epoch=8, epochs=2, verbose=0, " \
        "workers=3)\n" in fixed

    after = _python(script)
    assert after.returncode == 0, after.stderr[-3000:]
    assert after.stdout.splitlines()[-1] == "trained"
