"""safeloader-fix: how fast is ``--check`` on a large tree, and how fast does it fix?

1. ``safeloader-fix --check`` against ``flake8 --select SLD`` over the installed
   ``keras`` and ``tf_keras`` packages, same ``-j``, both as the commands a user
   runs (subprocesses, start-up included), interleaved, best of ``--rounds``.
   Target: safeloader-fix takes at most 0.3x flake8's wall time (flake8 reads,
   tokenises and parses every file; the fixer's text pre-filter skips files no
   rule can fire on, and LibCST parses only files with fixable findings).
2. Files per second on a generated tree where every file needs fixes (SLD101
   and SLD301), fixed in place, with ``-j 1`` and with ``-j N``.

Run: ``python benchmarks/bench_fix.py [-j N] [--rounds R] [--files F]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent

TEMPLATE = '''\
"""Generated training script {index}."""
import numpy as np
from tf_keras.models import Sequential


def batches_{index}(size):
    while True:
        yield np.zeros((size, 4)), np.zeros((size, 1))


def evaluate_batches_{index}(size):
    for _ in range(10):
        yield np.zeros((size, 4)), np.zeros((size, 1))


model = Sequential()
model.fit_generator(batches_{index}(32), 100, 5, workers=3)
model.evaluate_generator(evaluate_batches_{index}(32), 10, workers=2)
'''


def package_dir(name: str) -> Path:
    """Where ``name`` is installed, without importing it."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"{name} is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def timed(command: list[str], expect: set[int]) -> float:
    """Wall time of ``command`` (output discarded); its exit status must be in ``expect``."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    start = time.perf_counter()
    status = subprocess.run(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
    ).returncode
    elapsed = time.perf_counter() - start
    if status not in expect:
        raise SystemExit(f"{command[0]} exited {status}")
    return elapsed


def compare_with_flake8(jobs: int, rounds: int) -> None:
    trees = [str(package_dir("keras")), str(package_dir("tf_keras"))]
    count = sum(1 for tree in trees for _ in Path(tree).rglob("*.py"))
    fixer = [str(BIN / "safeloader-fix"), "--check", "-j", str(jobs), *trees]
    flake8 = [str(BIN / "flake8"), "--select", "SLD", "-j", str(jobs), *trees]
    fixer_times, flake8_times = [], []
    for _ in range(rounds):
        flake8_times.append(timed(flake8, {0, 1}))
        fixer_times.append(timed(fixer, {0, 1}))
    best_fixer, best_flake8 = min(fixer_times), min(flake8_times)
    print(f"installed keras + tf_keras: {count} .py files, -j {jobs}, best of {rounds}")
    print(f"  flake8 --select SLD      {best_flake8:8.2f} s")
    print(f"  safeloader-fix --check   {best_fixer:8.2f} s")
    print(f"  ratio fixer/flake8       {best_fixer / best_flake8:8.3f}  (target <= 0.3)")


def fix_rate(jobs: int, files: int) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        template = Path(scratch) / "template"
        template.mkdir()
        for index in range(files):
            (template / f"train_{index:04}.py").write_text(TEMPLATE.format(index=index))
        print(f"generated tree: {files} files, each needing 2 SLD101 and 2 SLD301 fixes")
        rates = {}
        for job_count in sorted({1, jobs}):
            tree = Path(scratch) / f"j{job_count}"
            shutil.copytree(template, tree)
            command = [str(BIN / "safeloader-fix"), "-j", str(job_count), str(tree)]
            elapsed = timed(command, {0})
            check = subprocess.run([*command, "--check"], capture_output=True)
            if check.returncode != 0:
                raise SystemExit("the generated tree was not fully fixed")
            rates[job_count] = files / elapsed
            print(f"  safeloader-fix -j {job_count}: {elapsed:6.2f} s, "
                  f"{rates[job_count]:7.1f} files/s")
        if jobs > 1:
            print(f"  speed-up -j {jobs} over -j 1: {rates[jobs] / rates[1]:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--files", type=int, default=200)
    args = parser.parse_args()
    compare_with_flake8(args.jobs, args.rounds)
    fix_rate(args.jobs, args.files)


if __name__ == "__main__":
    main()
