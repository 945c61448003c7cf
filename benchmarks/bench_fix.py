"""safeloader-fix: how fast is ``--check`` on a large tree, and how fast does it fix?

1. ``check``: ``safeloader-fix --check`` against ``flake8 --select SLD`` over the
   installed ``keras`` and ``tf_keras`` packages, same ``-j``, both as the
   commands a user runs (subprocesses, start-up included), interleaved, best of
   ``--rounds``. Target: safeloader-fix takes at most 0.3x flake8's wall time
   (flake8 reads, tokenises and parses every file; the fixer's text pre-filter
   skips files no rule can fire on, and LibCST parses only files with fixable
   findings).
2. ``rate``: files per second on a generated tree where every file needs fixes
   (SLD101 and SLD301), fixed in place, with ``-j 1`` and with ``-j N``, against
   the same codemod run whole-module by LibCST's own runner (``python -m
   libcst.tool codemod -j 1``) on a copy. Target: >= 20 files/s at ``-j 1``.
3. ``big``: one generated module of 20,000 and of 50,000 lines with two fixes
   (an SLD101 generator near the top, an SLD301 call at the end): the wall
   time of ``safeloader-fix`` on it (a subprocess), its peak memory (the growth
   of a fresh process's resident memory while it plans and fixes the module,
   read from Linux's ``/proc``) against the size of the file's LibCST tree (the
   same growth while LibCST parses it), and LibCST's own cost on the whole
   file (parse, positions, scopes), the least a whole-module codemod pays.
   Targets: 20,000 lines in at most 15 s, peak memory at most 5x the tree.

Run: ``python benchmarks/bench_fix.py [--cases check,rate,big] [-j N] [--rounds R]
[--files F] [--lines 20000,50000]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import resource
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


BIG_HEAD = '''\
"""A large generated module with two fixes."""
import numpy as np
from tf_keras.models import Sequential


def batches(size):
    while True:
        yield np.zeros((size, 4)), np.zeros((size, 1))


'''

BIG_BLOCK = '''\
class Model{index}:
    """Model number {index}."""

    def __init__(self, size):
        self.size = size
        self.items = [x * 2 for x in range(size)]

    def compute(self, value):
        if value > self.size:
            return value - self.size
        for item in self.items:
            value += item  # accumulate
        return value


def helper_{index}(data, scale=1.0):
    # add the rows up
    total = 0
    for row in data:
        total += sum(row) * scale
    return {{"total": total, "name": "helper_{index}"}}


'''

BIG_TAIL = """\
model = Sequential()
model.fit_generator(batches(32), 100, 5, workers=3)
"""


def big_module(lines: int) -> str:
    """A module of about ``lines`` lines that needs one SLD101 and one SLD301 fix."""
    blocks = (lines - BIG_HEAD.count("\n") - BIG_TAIL.count("\n")) // BIG_BLOCK.count("\n")
    return BIG_HEAD + "".join(BIG_BLOCK.format(index=index) for index in range(blocks)) + BIG_TAIL


def package_dir(name: str) -> Path:
    """Where ``name`` is installed, without importing it."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"{name} is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def timed(command: list[str], expect: set[int], cwd: Path | None = None) -> float:
    """Wall time of ``command`` (output discarded); its exit status must be in ``expect``."""
    return timed_with_cpu(command, expect, cwd)[0]


def timed_with_cpu(command: list[str], expect: set[int], cwd: Path | None = None
                   ) -> tuple[float, float]:
    """Wall time and CPU time (user + system) of ``command``, whose exit status
    must be in ``expect``: CPU time tells the work apart from the machine's load."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    status = subprocess.run(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=cwd
    ).returncode
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if status not in expect:
        raise SystemExit(f"{command[0]} exited {status}")
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return elapsed, cpu


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
            elapsed, cpu = timed_with_cpu(command, {0})
            check = subprocess.run([*command, "--check"], capture_output=True)
            if check.returncode != 0:
                raise SystemExit("the generated tree was not fully fixed")
            rates[job_count] = files / elapsed
            # a pool's workers are not this process's children: their CPU is not counted
            used = f" ({cpu:6.2f} s CPU)" if job_count == 1 else ""
            print(f"  safeloader-fix -j {job_count}: {elapsed:6.2f} s{used}, "
                  f"{rates[job_count]:7.1f} files/s")
        if jobs > 1:
            print(f"  speed-up -j {jobs} over -j 1: {rates[jobs] / rates[1]:.2f}x")
        tree = Path(scratch) / "libcst"
        shutil.copytree(template, tree)
        libcst_command = [
            sys.executable, "-m", "libcst.tool", "codemod",
            "-x", "safeloader.fix.codemod.SafeloaderFixCommand", "-j", "1", "--no-format", ".",
        ]
        elapsed, cpu = timed_with_cpu(libcst_command, {0}, cwd=tree)
        if (tree / "train_0000.py").read_text() != (Path(scratch) / "j1" / "train_0000.py"
                                                    ).read_text():
            raise SystemExit("LibCST's runner fixed the tree differently")
        print(f"  LibCST's runner, whole modules, -j 1: {elapsed:6.2f} s ({cpu:6.2f} s CPU), "
              f"{files / elapsed:7.1f} files/s")
        print(f"  ratio safeloader-fix / LibCST's runner (-j 1): "
              f"{rates[1] / (files / elapsed):.2f}x the files per second  (target >= 20 files/s)")


#: run in a fresh process with a module's path: the process's resident memory
#: (Linux's /proc/self/status, in KiB) once its imports are done, its peak
#: since, and what it measured
MEMORY_PROBE = """\
import sys, time
from pathlib import Path


def status(field):
    with open("/proc/self/status") as lines:
        return next(int(line.split()[1]) for line in lines if line.startswith(field + ":"))


import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider, ScopeProvider
from safeloader.analysis import AnalysisConfig
from safeloader.fix.runner import fix_file, plan_file
from safeloader.fix.selection import FixSelection
import safeloader.fix.engine

path = Path(sys.argv[2])
text = path.read_text()
base = status("VmRSS")
if sys.argv[1] == "fix":
    plan = plan_file(path, AnalysisConfig(), FixSelection())
    outcome = fix_file(path, [(code, fix) for _, code, fix in plan.fixes],
                       write=False, keep_texts=False)
    codes = sorted(code for code, _ in outcome.applied)
    assert outcome.changed and codes == ["SLD101", "SLD301"], outcome
    print(status("VmHWM") - base)
else:
    start = time.perf_counter()
    tree = cst.parse_module(text)
    parse = time.perf_counter() - start
    held = status("VmRSS") - base
    wrapper = MetadataWrapper(tree, unsafe_skip_copy=True)
    start = time.perf_counter()
    wrapper.resolve(PositionProvider)
    positions = time.perf_counter() - start
    start = time.perf_counter()
    wrapper.resolve(ScopeProvider)
    scopes = time.perf_counter() - start
    print(held, parse, positions, scopes)
"""


def _probe(kind: str, path: Path) -> list[float]:
    """The figures :data:`MEMORY_PROBE` prints for ``kind`` (``fix`` or ``tree``)."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run([sys.executable, "-c", MEMORY_PROBE, kind, str(path)],
                            capture_output=True, text=True, env=env, check=True)
    return [float(value) for value in result.stdout.split()]


def big_file(line_counts: list[int]) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        for lines in line_counts:
            text = big_module(lines)
            path = Path(scratch) / f"big_{lines}.py"
            path.write_text(text)
            print(f"one module of {text.count(chr(10))} lines with one SLD101 and one SLD301 fix")
            elapsed, cpu = timed_with_cpu([str(BIN / "safeloader-fix"), "-j", "1", str(path)], {0})
            if "@threadsafe_generator" not in path.read_text():
                raise SystemExit("the module was not fixed")
            print(f"  safeloader-fix -j 1 (subprocess)        {elapsed:8.2f} s ({cpu:.2f} s CPU)"
                  f"  (target <= 15 s at 20,000 lines)")
            path.write_text(text)
            (fix_peak,) = _probe("fix", path)
            tree_size, parse, positions, scopes = _probe("tree", path)
            print(f"  LibCST on the whole module, the least a whole-module codemod pays: "
                  f"parse {parse:.2f} s + positions {positions:.2f} s + scopes {scopes:.2f} s"
                  f" = {parse + positions + scopes:.2f} s")
            print(f"  the module's LibCST tree (resident)     {tree_size / 1024:8.1f} MiB")
            print(f"  fixer's peak (plan + fix, resident)     {fix_peak / 1024:8.1f} MiB"
                  f"  = {fix_peak / tree_size:.2f}x the tree  (target <= 5x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="check,rate,big",
                        help="comma-separated cases to run: check, rate, big")
    parser.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--lines", default="20000,50000",
                        help="comma-separated sizes of the big-module case")
    args = parser.parse_args()
    cases = set(args.cases.split(","))
    if "check" in cases:
        compare_with_flake8(args.jobs, args.rounds)
    if "rate" in cases:
        fix_rate(args.jobs, args.files)
    if "big" in cases:
        big_file([int(count) for count in args.lines.split(",")])


if __name__ == "__main__":
    main()
