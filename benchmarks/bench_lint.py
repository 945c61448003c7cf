"""Lint cost against parsing: safeloader's analysis and pyflakes on parsed trees.

For every ``.py`` file of the installed tensorflow, keras and tf_keras
packages (files that do not parse are skipped), this measures in one run:
the time ``ast.parse`` takes (the cost flake8 already pays), the time of
safeloader's flake8 plugin on the already-parsed tree (its text pre-filter,
then the analysis), and pyflakes' ``Checker`` on the same tree, for scale.
It prints both ratios to the parse time (the target for safeloader is
<= 0.02), with the pre-filter and the analysis apart, and the parts of the
analysis each measured alone: the call-site rules, the class rules, and the
Keras target (:mod:`safeloader.analysis.keras_version`).

Run: ``python benchmarks/bench_lint.py [--repeat N] [--packages tensorflow keras tf_keras]``
"""

from __future__ import annotations

import argparse
import ast
import os
import importlib.util
import time
import warnings
from pathlib import Path
from typing import Callable, Iterator

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


def _call_site_rules(tree: ast.Module, lines: list[str], path: Path, config: AnalysisConfig,
                     ) -> CallChecker:
    checker = CallChecker(tree, lines, path, config)
    list(checker.findings())
    return checker


def measure(files: list[Path], repeat: int) -> dict[str, float]:
    """Return total CPU seconds of parsing, safeloader and pyflakes over ``files``.

    Each file is parsed once untimed to obtain its tree, then each part is
    timed ``repeat`` times on it and the best time is kept. Times are this
    process's CPU time (``time.process_time``), so the time other processes
    on a shared machine take from it is not counted.
    """
    totals = dict.fromkeys(("parse", "prefilter", "analysis", "pyflakes", "calls", "classes",
                            "target", "files", "findings", "prefiltered"), 0.0)
    config = AnalysisConfig()
    for path in files:
        source = path.read_text(encoding="utf-8", errors="replace")
        try:
            tree = ast.parse(source, filename=str(path))
        except (SyntaxError, ValueError):
            continue
        lines = source.splitlines(keepends=True)
        best: dict[str, float] = {}

        def timed(key: str, work: Callable[[], object]) -> object:
            start = time.process_time()
            result = work()
            best[key] = min(best.get(key, float("inf")), time.process_time() - start)
            return result

        passes = might_have_findings(source)
        found: list[object] = []
        for _ in range(repeat):
            timed("parse", lambda: ast.parse(source, filename=str(path)))
            # what the flake8 plugin runs: the text pre-filter, then the analysis
            timed("prefilter", lambda: might_have_findings("".join(lines)))
            if passes:
                found = timed("analysis", lambda: analyze_module(tree, lines, path, config))
            timed("pyflakes", lambda: Checker(tree, filename=str(path)))
            if not passes:
                continue
            # the analysis' parts: the call-site rules (with the Keras target where
            # they ask for it), the class rules, and the Keras target decided for
            # every file (the rules ask only where it matters)
            checker = timed("calls", lambda: _call_site_rules(tree, lines, path, config))
            if class_rules_might_fire(source):
                timed("classes", lambda: list(check_classes(tree, checker.target)))
            fresh = CallChecker(tree, lines, path, config)
            fresh.loader_calls()
            timed("target", fresh.target)
        for key, seconds in best.items():
            totals[key] += seconds
        totals["files"] += 1
        totals["findings"] += len(found)
        totals["prefiltered"] += passes
    return totals


def main() -> None:
    """Measure and print the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packages", nargs="+", default=["tensorflow", "keras", "tf_keras"])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    warnings.simplefilter("ignore", SyntaxWarning)
    files = list(package_files(args.packages))
    load = os.getloadavg()[0]
    totals = measure(files, args.repeat)
    parse = totals["parse"]
    safeloader = totals["prefilter"] + totals["analysis"]
    print(f"files parsed: {int(totals['files'])} of {len(files)} in {', '.join(args.packages)}")
    print(f"files passing the text pre-filter: {int(totals['prefiltered'])}")
    print(f"safeloader findings: {int(totals['findings'])}")
    print(f"load average: {load:.1f} before, {os.getloadavg()[0]:.1f} after")
    print(f"ast.parse:  {parse:.2f} s CPU (best of {args.repeat} per file)")
    print(f"safeloader: {safeloader:.3f} s  ratio to parse {safeloader / parse:.4f} "
          "(target <= 0.02)")
    for key, label in (("prefilter", "the text pre-filter, every file"),
                       ("analysis", "the analysis of the files that pass it"),
                       ("calls", "  call-site rules (CallChecker, all of it)"),
                       ("classes", "  class rules"),
                       ("target", "  Keras target, decided for every such file")):
        print(f"  {label + ':':45s} {totals[key]:.3f} s  ratio {totals[key] / parse:.4f}")
    print(f"pyflakes:   {totals['pyflakes']:.2f} s  ratio to parse "
          f"{totals['pyflakes'] / parse:.3f}")


if __name__ == "__main__":
    main()
