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
        tmp_path, "-x", "safeloader.fix.codemod.SafeloaderFixCommand", "--no-format",
        "--unsafe-fixes", "train.py",
    )
    assert result.returncode == 0, result.stderr
    assert script.read_text() == SCRIPT.replace(
        "from tf_keras.models import Sequential\n",
        "from tf_keras.models import Sequential\nfrom safeloader import threadsafe_generator\n",
    ).replace("\ndef batches", "\n@threadsafe_generator\ndef batches").replace(
        "model = Sequential()\n"
        "model.fit_generator(batches(), 10, workers=3, use_multiprocessing=True)",
        'if __name__ == "__main__":\n'
        "    model = Sequential()\n"
        "    model.fit(batches(), steps_per_epoch=10, workers=3, use_multiprocessing=False)",
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


def test_a_fix_in_another_module_is_a_warning(tmp_path: Path) -> None:
    data = tmp_path / "data.py"
    data.write_text("def batches(size):\n    yield size\n")
    train = tmp_path / "train.py"
    train.write_text("from data import batches\n\nmodel.fit(batches(8), workers=3)\n")
    result = _libcst_tool(
        tmp_path, "-x", "safeloader.fix.codemod.SafeloaderFixCommand", "--no-format", "train.py"
    )
    assert result.returncode == 0, result.stderr
    assert (
        f"WARNING: SLD101: the fix belongs in {data}:1:1; run safeloader-fix, which fixes it there"
        in result.stderr
    )
    assert data.read_text() == "def batches(size):\n    yield size\n"
