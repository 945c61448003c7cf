"""The codemod through LibCST's own runner, ``python -m libcst.tool codemod``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

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


#: files LibCST's runner would not write back byte for byte, none with a fix to make
NOTHING_TO_FIX = {
    # no finding at all: a final lone CR; trailing whitespace-only lines
    "plain.py": b"import os\r\nprint(os.sep)\r",
    "blank_tail.py": b"x = 1\n\n   \n\t\n",
    # a finding (SLD104) that has no fix
    "no_fix.py": b"import tf_keras as keras\n\n\nclass Batches(keras.utils.Sequence):\n"
                 b"    def __getitem__(self, index):\n        self.seen += 1\n"
                 b"        return index\n  \n\n",
    # a finding (SLD103) whose unsafe fix is not asked for, or refused when it is
    "refused.py": b"import numpy as np\nimport tf_keras as keras\n\nrows = np.zeros((8, 2))\n"
                  b"\n\nclass Batches(keras.utils.Sequence):\n"
                  b"    def __getitem__(self, index):\n        return rows[index]\n\n\n"
                  b"model = keras.Sequential()\n"
                  b"model.fit(Batches(), epochs=1, workers=2, use_multiprocessing=True)\r",
}


@pytest.mark.parametrize("unsafe", [[], ["--unsafe-fixes", "--select", "SLD103"]])
def test_files_with_nothing_to_fix_are_skipped_byte_for_byte(
    tmp_path: Path, unsafe: list[str]
) -> None:
    for name, data in NOTHING_TO_FIX.items():
        (tmp_path / name).write_bytes(data)
    names = sorted(NOTHING_TO_FIX)
    result = _libcst_tool(
        tmp_path, "-x", "safeloader.fix.codemod.SafeloaderFixCommand", "--no-format",
        *unsafe, *names,
    )
    assert result.returncode == 0, result.stderr
    assert {name: (tmp_path / name).read_bytes() for name in names} == NOTHING_TO_FIX
    skipped = [name for name in names
               if f"Skipped codemodding {tmp_path / name}:" in result.stderr]
    assert skipped == names, result.stderr
    refusal = "'Batches', which worker processes run, reads the global 'rows'"
    assert (refusal in result.stderr) == bool(unsafe)
