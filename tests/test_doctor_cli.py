"""``safeloader doctor`` as a command: the script's own life, exit statuses, Ctrl-C.

Most scripts here import no Keras, so these runs are quick; the Ctrl-C test
trains a real Keras 3 model whose PyDataset loads in worker processes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from doctor_helpers import TIMEOUT, run_doctor, write_script

FAILING = """
    import argparse

    from helpers.maths import explode

    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1)
    args = parser.parse_args()


    def main():
        try:
            explode(args.n)
        except ValueError as error:
            raise RuntimeError("could not explode") from error


    if __name__ == "__main__":
        main()
"""


@pytest.fixture
def failing_script(tmp_path: Path) -> Path:
    (tmp_path / "helpers").mkdir()
    (tmp_path / "helpers" / "__init__.py").write_text("")
    (tmp_path / "helpers" / "maths.py").write_text(
        "def explode(n):\n    if n > 2:\n        raise ValueError(f'bad value {n}')\n")
    return write_script(tmp_path, "train.py", FAILING)


def test_a_failing_script_shows_its_traceback_exactly_as_python_does(failing_script):
    python = subprocess.run([sys.executable, failing_script.name, "--n", "3"],
                            cwd=failing_script.parent, capture_output=True, text=True,
                            timeout=TIMEOUT)
    doctor = run_doctor(failing_script, "--n", "3")
    assert python.returncode == 1 and doctor.returncode == 2
    assert "The above exception was the direct cause" in python.stderr
    assert doctor.stderr == python.stderr
    assert doctor.stdout.rstrip().endswith(
        "0 call sites, 0 hazards; the script failed: RuntimeError: could not explode.")


def test_a_failing_script_in_json(failing_script):
    result = run_doctor(failing_script, "--n", "3", options=("--json",))
    document = json.loads(result.stdout)
    assert result.returncode == 2
    assert (document["status"], document["error"]) == ("failed", "RuntimeError: could not explode")
    assert document["calls"] == [] and document["keras"] is None


def test_with_json_stdout_holds_the_report_alone(tmp_path):
    script = write_script(tmp_path, "noisy.py", """
        import os, sys
        print("a print")
        os.write(1, b"written to descriptor 1 as C code would\\n")
    """)
    result = run_doctor(script, options=("--json",))
    assert result.returncode == 0
    assert json.loads(result.stdout)["status"] == "completed"
    assert "a print\nwritten to descriptor 1 as C code would\n" in result.stderr


def test_the_scripts_own_arguments_are_untouched_even_when_they_look_like_the_doctors(tmp_path):
    script = write_script(tmp_path, "args.py", """
        import os, sys
        print("argv:", sys.argv, "name:", __name__, "path0:", sys.path[0])
        print("file:", __file__)
    """)
    result = run_doctor(script, "--json", "--steps", "0", "-h")
    assert result.returncode == 0, result.stderr
    assert f"argv: ['args.py', '--json', '--steps', '0', '-h'] name: __main__ path0: {tmp_path}" \
        in result.stdout
    assert f"file: {script}" in result.stdout
    assert "safeloader doctor: args.py (no Keras call)" in result.stdout


@pytest.mark.parametrize("ending, status, stderr", [
    ("sys.exit(0)", 0, ""),
    ("sys.exit()", 0, ""),
    ("sys.exit(3)", 2, ""),
    ("sys.exit('out of memory')", 2, "out of memory\n"),
])
def test_the_scripts_exit_status(tmp_path, ending, status, stderr):
    script = write_script(tmp_path, "ends.py", f"import sys\n{ending}\n")
    result = run_doctor(script)
    assert (result.returncode, result.stderr) == (status, stderr)
    if status:
        assert "the script failed" in result.stdout


@pytest.mark.parametrize("options, message", [
    (("--steps", "0"), "argument --steps: expected an integer >= 1, got '0'"),
    (("--warmup", "x"), "argument --warmup: expected an integer >= 0, got 'x'"),
    (("--max-input-bound", "1.5"), "argument --max-input-bound: expected a share between 0 and 1"),
])
def test_bad_arguments_are_named_and_exit_2(tmp_path, options, message):
    script = write_script(tmp_path, "ok.py", "print('ran')\n")
    result = run_doctor(script, options=options)
    assert result.returncode == 2
    assert message in result.stderr
    assert "ran" not in result.stdout


def test_a_missing_script_is_named(tmp_path):
    result = subprocess.run([sys.executable, "-m", "safeloader", "doctor", "nowhere.py"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 2
    assert result.stderr == "safeloader doctor: nowhere.py: no such file\n"


def test_the_doctor_imports_no_tensorflow_until_the_script_does():
    probe = ("import sys, safeloader.cli, safeloader.doctor.session\n"
             "print([m for m in sys.modules if m.split('.')[0] in "
             "('tensorflow', 'keras', 'tf_keras')])\n")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=True, timeout=TIMEOUT)
    assert result.stdout.strip() == "[]"


SLOW_WORKERS = """
    import time

    import keras
    import numpy as np


    class Slow(keras.utils.PyDataset):
        def __len__(self):
            return 100000

        def __getitem__(self, index):
            time.sleep(0.05)
            return np.zeros((8, 4), "float32"), np.zeros((8, 1), "float32")


    if __name__ == "__main__":
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
        model.compile(optimizer="sgd", loss="mse")
        try:
            model.fit(Slow(workers=2, use_multiprocessing=True), verbose=0)
        finally:
            print("the script's finally block ran", flush=True)
"""


def _group(leader: int) -> list[int]:
    """The processes of ``leader``'s process group, but the leader."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == leader:
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[2]) == leader:  # pgrp, after the state and the parent
            members.append(int(entry.name))
    return members


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_ctrl_c_stops_the_script_and_its_worker_processes(tmp_path):
    pytest.importorskip("keras")
    script = write_script(tmp_path, "slow.py", SLOW_WORKERS)
    process = subprocess.Popen(
        [sys.executable, "-m", "safeloader", "doctor", "--steps", "100000", script.name],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )
    try:
        deadline = time.monotonic() + TIMEOUT
        while len(_group(process.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        workers = _group(process.pid)
        assert len(workers) >= 2, "the worker processes never started"
        time.sleep(1.0)  # training under way
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
    assert process.returncode == 130, output
    assert "the script's finally block ran" in output
    assert "the script was interrupted (Ctrl-C)" in output
    deadline = time.monotonic() + 10
    while _group(process.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _group(process.pid) == []
