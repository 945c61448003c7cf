"""The codemod through LibCST's own runner, ``python -m libcst.tool codemod``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = '''\
from tf_keras.models import Sequential


def batches():
    while True:
        yield 1


model = Sequential()
model.fit_generator(batches(), 10, workers=3, use_multiprocessing=True)
'''


def _libcst_tool(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run(
        [sys.executable, "-m", "libcst.tool", "codemod", *args],
        cwd=cwd, capture_output=True, text=True, timeout=300, env=env,
    )


def test_external_command_with_its_options(tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    result = _libcst_tool(
        tmp_path, "-x", "safeloader.codemod.SafeloaderFixCommand", "--no-format",
        "--unsafe-fixes", "train.py",
    )
    assert result.returncode == 0, result.stderr
    assert script.read_text() == SCRIPT.replace(
        "from tf_keras.models import Sequential\n",
        "from tf_keras.models import Sequential\nfrom safeloader import threadsafe_generator\n",
    ).replace("\ndef batches", "\n@threadsafe_generator\ndef batches").replace(
        "model.fit_generator(batches(), 10, workers=3, use_multiprocessing=True)",
        "model.fit(batches(), steps_per_epoch=10, workers=3, use_multiprocessing=False)",
    )


def test_configured_module_and_select(tmp_path: Path) -> None:
    (tmp_path / ".libcst.codemod.yaml").write_text("modules:\n  - safeloader\n")
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    result = _libcst_tool(
        tmp_path, "codemod.SafeloaderFixCommand", "--no-format", "--select", "SLD301", "train.py"
    )
    assert result.returncode == 0, result.stderr
    assert script.read_text() == SCRIPT.replace(
        "model.fit_generator(batches(), 10, workers=3, use_multiprocessing=True)",
        "model.fit(batches(), steps_per_epoch=10, workers=3, use_multiprocessing=True)",
    )
