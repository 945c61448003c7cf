"""A project that declares Keras 3 and still calls ``fit_generator`` is migrated in one pass.

Its module targets Keras 3 (the declaration beats the legacy call), so
``safeloader-fix``'s SLD301 rename also takes ``workers`` and
``max_queue_size`` out of the call (a ``TypeError`` on Keras 3's ``fit``)
in the same run, and the generator gets no lock it does not need (no SLD101:
Keras 3 reads it from one thread): afterwards ``safeloader-fix --check`` has nothing to do,
flake8 (every plugin, SLD included) reports nothing, and the program trains
on the real Keras 3. Everything runs as a user runs it: flake8 and the
fixer are subprocesses.
"""

from __future__ import annotations

import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

PYPROJECT = '[project]\nname = "migrating"\nversion = "0.1"\ndependencies = ["keras>=3"]\n'

TRAIN = '''\
import keras
import numpy as np


def batches():
    while True:
        yield np.zeros((4, 2), "float32"), np.zeros((4, 1), "float32")


def main():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    gen = batches()
    steps = 2
    model.fit_generator(gen, steps, workers=4, max_queue_size=8)
    print("trained", model.optimizer.iterations.numpy())


if __name__ == "__main__":
    main()
'''


def run(*command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, "-m", *command], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.filterwarnings("ignore:`shuffle=True` was passed:UserWarning")
def test_one_fix_run_leaves_code_that_trains_on_keras_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / ".git").mkdir()  # the project ends here
    (tmp_path / "pyproject.toml").write_text(PYPROJECT, encoding="utf-8")
    train = tmp_path / "train.py"
    train.write_text(TRAIN, encoding="utf-8")

    fixed = run("safeloader.fix.cli", "train.py", cwd=tmp_path)
    assert fixed.returncode == 0, fixed.stderr
    # no SLD101: Keras 3 reads the generator from one thread once workers is gone
    assert fixed.stderr.endswith("fixes: SLD301 x1\n")
    text = train.read_text(encoding="utf-8")
    assert "    model.fit(gen, steps_per_epoch=steps)\n" in text
    assert "workers" not in text and "max_queue_size" not in text
    assert "threadsafe_generator" not in text and "safeloader" not in text

    check = run("safeloader.fix.cli", "--check", "train.py", cwd=tmp_path)
    assert check.returncode == 0, check.stdout + check.stderr
    after = run("flake8", "train.py", cwd=tmp_path)
    assert (after.returncode, after.stdout) == (0, ""), after.stderr

    pytest.importorskip("keras", minversion="3")
    runpy.run_path(str(train), run_name="__main__")
    assert capsys.readouterr().out.splitlines()[-1] == "trained 2"
