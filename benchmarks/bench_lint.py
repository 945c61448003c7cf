"""Lint cost against parsing: safeloader's analysis and pyflakes on parsed trees.

For every ``.py`` file of the installed tensorflow, keras and tf_keras
packages (files that do not parse are skipped), this measures in one run:
the time ``ast.parse`` takes (the cost flake8 already pays), the time of
safeloader's flake8 plugin on the already-parsed tree (its text pre-filter,
then the analysis), and pyflakes' ``Checker`` on the same tree, for scale.
It prints both ratios to the parse time (the target for safeloader is
<= 0.10), and the share of safeloader's two halves: the call-site rules and
the class rules, each measured alone.

Run: ``python benchmarks/bench_lint.py [--repeat N] [--packages tensorflow keras tf_keras]``
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import time
import warnings
from pathlib import Path
from typing import Iterator

from pyflakes.checker import Checker

from safeloader.analysis import analyze_module, might_have_findings
from safeloader.analysis.calls import CallChecker
from safeloader.analysis.classes import check_classes
from safeloader.analysis.config import AnalysisConfig
from safeloader.analysis.prefilter import class_rules_might_fire


def package_files(packages: list[str]) -> Iterator[Path]:
    """Yield every ``.py`` file of the installed ``packages`` (never importing them)."""
    for package in packages:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            continue
        for location in spec.submodule_search_locations:
            yield from sorted(Path(location).rglob("*.py"))


def measure(files: list[Path], repeat: int) -> dict[str, float]:
    """Return total seconds of parsing, safeloader and pyflakes over ``files``.

    Each file is parsed once untimed to obtain its tree, then each of the
    three is timed ``repeat`` times on it and the best time is kept, so
    noise from other processes on the machine counts as little as possible.
    """
    totals = {"parse": 0.0, "safeloader": 0.0, "pyflakes": 0.0, "calls": 0.0, "classes": 0.0,
              "files": 0.0, "findings": 0.0, "prefiltered": 0.0}
    config = AnalysisConfig()
    for path in files:
        source = path.read_text(encoding="utf-8", errors="replace")
        try:
            tree = ast.parse(source, filename=str(path))
        except (SyntaxError, ValueError):
            continue
        lines = source.splitlines(keepends=True)
        best = dict.fromkeys(("parse", "safeloader", "pyflakes", "calls", "classes"),
                             float("inf"))
        text = "".join(lines)
        for _ in range(repeat):
            start = time.perf_counter()
            ast.parse(source, filename=str(path))
            best["parse"] = min(best["parse"], time.perf_counter() - start)

            start = time.perf_counter()
            found = []
            if might_have_findings("".join(lines)):
                found = analyze_module(tree, lines, path, config)
            best["safeloader"] = min(best["safeloader"], time.perf_counter() - start)

            start = time.perf_counter()
            Checker(tree, filename=str(path))
            best["pyflakes"] = min(best["pyflakes"], time.perf_counter() - start)

            # the two halves of the analysis, each behind its own pre-filter
            start = time.perf_counter()
            if might_have_findings(text):
                list(CallChecker(tree, lines, path, config).findings())
            best["calls"] = min(best["calls"], time.perf_counter() - start)

            start = time.perf_counter()
            if might_have_findings(text) and class_rules_might_fire(text):
                list(check_classes(tree, config))
            best["classes"] = min(best["classes"], time.perf_counter() - start)
        for key, seconds in best.items():
            totals[key] += seconds
        totals["files"] += 1
        totals["findings"] += len(found)
        totals["prefiltered"] += might_have_findings(text)
    return totals


def main() -> None:
    """Measure and print the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packages", nargs="+", default=["tensorflow", "keras", "tf_keras"])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    warnings.simplefilter("ignore", SyntaxWarning)
    files = list(package_files(args.packages))
    totals = measure(files, args.repeat)
    print(f"files parsed: {int(totals['files'])} of {len(files)} in {', '.join(args.packages)}")
    print(f"files passing the text pre-filter: {int(totals['prefiltered'])}")
    print(f"safeloader findings: {int(totals['findings'])}")
    print(f"ast.parse:  {totals['parse']:.2f} s (best of {args.repeat} per file)")
    print(f"safeloader: {totals['safeloader']:.2f} s  ratio to parse "
          f"{totals['safeloader'] / totals['parse']:.3f} (target <= 0.10)")
    print(f"  of which call-site rules (SLD101-103, SLD301-302): {totals['calls']:.2f} s  "
          f"ratio {totals['calls'] / totals['parse']:.3f}")
    print(f"  of which class rules (SLD104-105, SLD201-203):     {totals['classes']:.2f} s  "
          f"ratio {totals['classes'] / totals['parse']:.3f}")
    print(f"pyflakes:   {totals['pyflakes']:.2f} s  ratio to parse "
          f"{totals['pyflakes'] / totals['parse']:.3f}")


if __name__ == "__main__":
    main()
