"""What reading a notebook costs: linting and fixing a ``.ipynb`` against the same code
as a ``.py`` file.

The fixture training notebook (``fixtures/notebooks/train_tf_keras.ipynb``) is
written ``--files`` times into a temporary directory, and so is a ``.py``
file holding the module its code cells make (what the analysis sees). In one
run this measures, best of ``--repeat``:

- lint: :func:`safeloader.fix.runner.file_findings` on every file (read,
  parse, analyse; for a notebook also nbformat's read, the masking of
  IPython's lines and the cell separators);
- flake8: the flake8 plugin as flake8 runs it on a file named on its command
  line (``Plugin(tree, lines, filename).run()``, the tree flake8 parsed given:
  for a notebook, its JSON's), which for a notebook reads, parses and analyses
  the code cells and places each finding in the file;
- fix: :func:`safeloader.fix.runner.fix_file` (``--check``: nothing written)
  with the planned safe fixes (for a notebook also the cut back into cells, the
  cell-boundary check and the JSON rewrite of the changed sources);
- nbformat's import, once, in a fresh interpreter (paid once per process,
  only when a notebook is read).

It prints seconds per file and the notebook/script ratios.

Run: ``python benchmarks/bench_notebooks.py [--files N] [--repeat N]``
"""

from __future__ import annotations

import argparse
import ast
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

from safeloader.analysis.config import AnalysisConfig
from safeloader.flake8_plugin import Plugin
from safeloader.fix.runner import file_findings, fix_file, plan_file, read_module_file
from safeloader.fix.selection import FixSelection

NOTEBOOK = Path(__file__).resolve().parent.parent / "fixtures" / "notebooks" / \
    "train_tf_keras.ipynb"


def best(function: Callable[[], object], repeat: int) -> float:
    """The shortest of ``repeat`` timed calls of ``function``."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def measure(files: list[Path], repeat: int) -> dict[str, float]:
    """Seconds per file to lint, to run the flake8 plugin on and to fix ``files`` (best
    of ``repeat``)."""
    # safe fixes only: the same fix (SLD301) in both, where the unsafe ones differ (a
    # script gets the __main__ guard, a notebook the thread route)
    config, selection = AnalysisConfig(), FixSelection()
    plans = [plan_file(path, config, selection) for path in files]

    def lint() -> None:
        for path in files:
            file_findings(read_module_file(path), config)

    parsed = []
    for path in files:
        lines = path.read_text(encoding="utf-8").splitlines(True)
        parsed.append((ast.parse("".join(lines)), lines, str(path)))

    def flake8_plugin() -> None:
        for tree, lines, name in parsed:
            for _ in Plugin(tree, lines, name).run():
                pass

    def fix() -> None:
        for plan in plans:
            outcome = fix_file(plan.path, [(code, fix) for _, code, fix in plan.fixes],
                               write=False, keep_texts=False)
            assert outcome.changed, outcome.error

    return {"lint": best(lint, repeat) / len(files),
            "flake8": best(flake8_plugin, repeat) / len(files),
            "fix": best(fix, repeat) / len(files)}


def nbformat_import_seconds() -> float:
    """nbformat's import time in a fresh interpreter."""
    done = subprocess.run(
        [sys.executable, "-c", "import time; t = time.perf_counter(); import nbformat; "
         "print(time.perf_counter() - t)"], capture_output=True, text=True, check=True)
    return float(done.stdout)


def main() -> None:
    """Run the measurement and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        (root / ".git").mkdir()
        module = read_module_file(NOTEBOOK)
        notebooks, scripts = [], []
        for number in range(args.files):
            notebooks.append(root / f"train_{number}.ipynb")
            notebooks[-1].write_bytes(NOTEBOOK.read_bytes())
            scripts.append(root / f"train_{number}.py")
            scripts[-1].write_text(module.text, encoding="utf-8")
        # warm caches (imports, LibCST) before timing
        measure(notebooks[:1] + scripts[:1], 1)
        notebook, script = measure(notebooks, args.repeat), measure(scripts, args.repeat)
    print(f"{args.files} files of {len(module.lines)} module lines, best of {args.repeat}")
    print(f"{'':6} {'.ipynb ms':>10} {'.py ms':>10} {'ratio':>7}")
    for step in ("lint", "flake8", "fix"):
        print(f"{step:6} {notebook[step] * 1e3:10.2f} {script[step] * 1e3:10.2f} "
              f"{notebook[step] / script[step]:7.2f}")
    print(f"nbformat import, once per process: {nbformat_import_seconds() * 1e3:.0f} ms")


if __name__ == "__main__":
    main()
