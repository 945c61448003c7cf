"""Lint cost against parsing: safeloader's flake8 plugin and pyflakes on parsed trees.

For every ``.py`` file of the installed tensorflow, keras and tf_keras
packages (or of the ``--tree`` directories; files that do not parse are
skipped), this measures in one run the time ``ast.parse`` takes (the cost
flake8 already pays) and, on the already-parsed tree:

* safeloader's flake8 plugin as flake8 runs it (``Plugin(tree, lines,
  filename).run()``, end to end: what a user pays), and its two stages: the
  pre-filter (the lines joined, then :func:`~safeloader.analysis.rule_groups`,
  every file) and the analysis (:func:`~safeloader.analysis.analyze_module`
  given the pre-filter's answer, the files that pass it). The target is the
  analysis' ratio to the parse time, <= 0.02;
* the analysis' parts, each measured alone where its group passes: the
  call-site rules (the whole ``CallChecker``, with the Keras target where a
  rule asks for it), the class rules, SLD103 through imported project
  functions, and the Keras target decided for every file the analysis runs
  on (an upper bound: the rules ask for it only where it matters);
* pyflakes' ``Checker``, for scale.

Times are this process's CPU time (``time.process_time``), best of
``--repeat`` per file, so the time other processes on a shared machine take
from it is not counted.

``--plugin-only`` times the parse, the plugin and pyflakes alone, with any
safeloader version (``PYTHONPATH=<another checkout>/src``), to compare commits.

Run: ``python benchmarks/bench_lint.py [--repeat N] [--packages ...] [--tree DIR ...]
[--plugin-only]``
"""

from __future__ import annotations

import argparse
import ast
import functools
import importlib.util
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Iterator

from pyflakes.checker import Checker

from safeloader.flake8_plugin import Plugin

_PARTS = ("parse", "plugin", "prefilter", "analysis", "calls", "classes", "imports", "target",
          "pyflakes")


def package_files(packages: list[str]) -> Iterator[Path]:
    """Yield every ``.py`` file of the installed ``packages`` (never importing them)."""
    for package in packages:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            continue
        for location in spec.submodule_search_locations:
            yield from sorted(Path(location).rglob("*.py"))


class _Stages:
    """The plugin's stages and the analysis' parts, each run alone (imported only when
    measured: ``--plugin-only`` runs against any safeloader version, to compare commits)."""

    def __init__(self) -> None:
        from safeloader.analysis import analyze_module, rule_groups
        from safeloader.analysis.calls import CallChecker
        from safeloader.analysis.classes import check_classes
        from safeloader.analysis.config import AnalysisConfig
        from safeloader.analysis.generators import Classifier
        from safeloader.analysis.keras_version import keras_target
        from safeloader.analysis.process_starts import ProcessStartFinder, check_imported_starts
        from safeloader.analysis.project import LazyTextHints
        from safeloader.analysis.scopes import Scope

        self.config = config = AnalysisConfig()
        self.rule_groups = rule_groups

        def analysis(tree: ast.Module, lines: list[str], path: Path, text: str,
                     groups: Any) -> object:
            return analyze_module(tree, lines, path, config, text=text, groups=groups)

        def calls(tree: ast.Module, lines: list[str], path: Path, text: str,
                  groups: Any) -> object:
            checker = CallChecker(tree, lines, path, config, text=text,
                                  call_offsets=groups.call_offsets)
            return list(checker.findings())

        def classes(tree: ast.Module, lines: list[str], path: Path, text: str,
                    groups: Any) -> object:
            target = functools.cache(lambda: keras_target(
                tree, config.keras_version, path, CallChecker(
                    tree, lines, path, config, text=text,
                    call_offsets=groups.call_offsets).loader_calls()))
            return list(check_classes(tree, target, text))

        def imports(tree: ast.Module, path: Path, text: str) -> object:
            # as analyze_module runs it in a file without loader calls
            scope = Scope(tree, None, path, LazyTextHints(text))
            finder = ProcessStartFinder(Classifier(config.extra_guards, path, None), path,
                                        config.keras_version)
            return list(check_imported_starts(tree, scope, finder))

        def target(tree: ast.Module, lines: list[str], path: Path, text: str,
                   groups: Any) -> Callable[[], object]:
            checker = CallChecker(tree, lines, path, config, text=text,
                                  call_offsets=groups.call_offsets)
            checker.loader_calls()
            return checker.target

        self.analysis, self.calls, self.classes = analysis, calls, classes
        self.imports, self.target = imports, target


def measure(files: list[Path], repeat: int, stages: _Stages | None) -> dict[str, float]:
    """Return total CPU seconds of each part over ``files`` (see the module docstring;
    only the parse, the plugin and pyflakes without ``stages``), and counts: ``files``,
    ``findings``, ``passed`` (files the pre-filter passes) and one per rule group."""
    totals = dict.fromkeys((*_PARTS, "files", "findings", "passed", "group_calls",
                            "group_classes", "group_imports"), 0.0)
    for path in files:
        source = path.read_text(encoding="utf-8", errors="replace")
        try:
            tree = ast.parse(source, filename=str(path))
        except (SyntaxError, ValueError):
            continue
        lines = source.splitlines(keepends=True)
        text = "".join(lines)
        groups = stages.rule_groups(text, path) if stages is not None else None
        best: dict[str, float] = {}

        def timed(key: str, work: Callable[[], Any]) -> Any:
            start = time.process_time()
            result = work()
            best[key] = min(best.get(key, float("inf")), time.process_time() - start)
            return result

        found: list[object] = []
        for _ in range(repeat):
            # on a tree just parsed, as flake8 runs a plugin (a tree parsed earlier would
            # no longer be in the processor's caches, one already walked would be): the
            # analysis, then the plugin end to end on another fresh tree, then the
            # pre-filter (its text now in the caches)
            fresh = timed("parse", lambda: ast.parse(source, filename=str(path)))
            if stages is not None and groups:
                timed("analysis", lambda: stages.analysis(fresh, lines, path, text, groups))
                fresh = ast.parse(source, filename=str(path))
            found = timed("plugin", lambda: list(Plugin(fresh, lines, str(path)).run()))
            timed("pyflakes", lambda: Checker(tree, filename=str(path)))
            if stages is None:
                continue
            timed("prefilter", lambda: stages.rule_groups("".join(lines), path))
            # the analysis' parts, each where its group passes
            if groups.calls:
                timed("calls", lambda: stages.calls(tree, lines, path, text, groups))
            if groups.classes:
                timed("classes", lambda: stages.classes(tree, lines, path, text, groups))
            if groups.imports and not groups.calls:
                timed("imports", lambda: stages.imports(tree, path, text))
            if groups:
                timed("target", stages.target(tree, lines, path, text, groups))
        for key, seconds in best.items():
            totals[key] += seconds
        totals["files"] += 1
        totals["findings"] += len(found)
        if groups is not None:
            totals["passed"] += bool(groups)
            for group in ("calls", "classes", "imports"):
                totals[f"group_{group}"] += getattr(groups, group)
    return totals


def main() -> None:
    """Measure and print the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packages", nargs="+", default=["tensorflow", "keras", "tf_keras"])
    parser.add_argument("--tree", nargs="+", type=Path, default=[],
                        help="measure the .py files under these directories instead")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--plugin-only", action="store_true",
                        help="time only ast.parse, the plugin end to end and pyflakes "
                        "(runs against any safeloader version)")
    args = parser.parse_args()
    warnings.simplefilter("ignore", SyntaxWarning)
    if args.tree:
        files = [file for tree in args.tree for file in sorted(tree.rglob("*.py"))]
        where = ", ".join(map(str, args.tree))
    else:
        files = list(package_files(args.packages))
        where = ", ".join(args.packages)
    stages = None if args.plugin_only else _Stages()
    load = os.getloadavg()[0]
    totals = measure(files, args.repeat, stages)
    parse = totals["parse"]
    plugin_file = sys.modules[Plugin.__module__].__file__ or "?"
    print(f"safeloader {Plugin.version} from {Path(plugin_file).parent}")
    print(f"files parsed: {int(totals['files'])} of {len(files)} in {where}")
    print(f"safeloader findings: {int(totals['findings'])}")
    print(f"load average: {load:.1f} before, {os.getloadavg()[0]:.1f} after")
    print(f"ast.parse:  {parse:.2f} s CPU (best of {args.repeat} per file)")
    print(f"plugin run(), end to end: {totals['plugin']:.3f} s  ratio "
          f"{totals['plugin'] / parse:.4f}")
    if stages is not None:
        print(f"files passing the pre-filter: {int(totals['passed'])} (call-site rules "
              f"{int(totals['group_calls'])}, class rules {int(totals['group_classes'])}, "
              f"SLD103 through imports {int(totals['group_imports'])})")
        print(f"analysis:   {totals['analysis']:.3f} s  ratio to parse "
              f"{totals['analysis'] / parse:.4f} (target <= 0.02)")
        for key, label in (("prefilter", "the pre-filter (join + rule_groups), every file"),
                           ("analysis", "the analysis of the files that pass it"),
                           ("calls", "  call-site rules (CallChecker, all of it)"),
                           ("classes", "  class rules"),
                           ("imports", "  SLD103 through imports (files without calls)"),
                           ("target", "  Keras target, decided for every such file")):
            print(f"  {label + ':':50s} {totals[key]:.3f} s  ratio {totals[key] / parse:.4f}")
    print(f"pyflakes:   {totals['pyflakes']:.2f} s  ratio to parse "
          f"{totals['pyflakes'] / parse:.3f}")


if __name__ == "__main__":
    main()
