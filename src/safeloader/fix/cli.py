"""The ``safeloader-fix`` command: apply safeloader's fixes to files in place.

Exit status: 0 when nothing needed fixing or everything was fixed, 1 with
``--check`` when a file would change, 2 when a file could not be processed
(it is named on stderr with the reason and left untouched; the other files
are still processed).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
from collections import Counter
from concurrent.futures import Executor, ProcessPoolExecutor
from functools import partial
from pathlib import Path
from typing import Callable, Iterable, Sequence, TypeVar

from safeloader.analysis.config import AnalysisConfig
from safeloader.findings import Fix
from safeloader.flake8_config import safeloader_settings
from safeloader.fix.runner import FileOutcome, FilePlan, fix_file, plan_file
from safeloader.fix.selection import FixSelection, comma_separated
from safeloader.fix.progress import ProgressBar
from safeloader.fix.source_files import python_files
from safeloader.fix.unified_diff import unified_diff

#: below this many files a process pool costs more than it saves: analysing a
#: file takes about a millisecond, rewriting one with LibCST tens of them
ANALYSIS_POOL_MIN_FILES = 64
FIX_POOL_MIN_FILES = 8

_T = TypeVar("_T")
_R = TypeVar("_R")


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``safeloader-fix``."""
    parser = argparse.ArgumentParser(
        prog="safeloader-fix",
        description="Fix thread-unsafe generators fed to Keras and deprecated *_generator "
        "calls, in place, changing nothing else.",
    )
    parser.add_argument("paths", nargs="*", default=["."], metavar="PATH",
                        help="files or directories (default: the current directory)")
    parser.add_argument("--diff", action="store_true",
                        help="print a unified diff of the fixes instead of writing them")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 when a file would change")
    parser.add_argument("--select", type=comma_separated, default=(), metavar="CODES",
                        help="comma-separated codes or prefixes to fix (default: the rules "
                        "on by default)")
    parser.add_argument("--ignore", type=comma_separated, default=(), metavar="CODES",
                        help="comma-separated codes or prefixes not to fix")
    parser.add_argument("--unsafe-fixes", action="store_true",
                        help="also apply fixes that may change behaviour (SLD102)")
    parser.add_argument("--exclude", type=comma_separated, default=(), metavar="GLOBS",
                        help="comma-separated globs of files and directories to skip")
    parser.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1, metavar="N",
                        help="processes to use for many files (default: one per CPU)")
    parser.add_argument("--keras-version", choices=("2", "3", "auto"),
                        help="the Keras the code targets (default: safeloader-keras-version of "
                        "the flake8 configuration, else auto)")
    parser.add_argument("--guards", type=comma_separated, metavar="NAMES",
                        help="comma-separated extra names that make a generator thread-safe "
                        "(default: safeloader-guards of the flake8 configuration)")
    return parser


def _process_pool(jobs: int) -> ProcessPoolExecutor:
    """A pool of ``jobs`` processes, started from a clean server process where the
    platform has one (forking a process that runs threads, such as a test runner
    that has imported TensorFlow, can deadlock the child)."""
    methods = multiprocessing.get_all_start_methods()
    method = "forkserver" if "forkserver" in methods else None
    return ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context(method))


def _with_progress(
    function: Callable[[_T], _R], items: Sequence[_T], pool: Executor | None, jobs: int,
    label: str,
) -> list[_R]:
    """``[function(item) for item in items]``, in ``pool`` (of ``jobs`` processes) when
    given, with a progress bar."""
    progress = ProgressBar(sys.stderr, len(items), label)
    results: Iterable[_R]
    if pool is None:
        results = map(function, items)
    else:
        results = pool.map(function, items, chunksize=max(1, len(items) // (8 * jobs)))
    collected = []
    for result in results:
        collected.append(result)
        progress.advance()
    progress.close()
    return collected


def _fix_job(job: tuple[Path, list[tuple[str, Fix]]], *, write: bool, keep_texts: bool
             ) -> FileOutcome:
    path, fixes = job
    return fix_file(path, fixes, write=write, keep_texts=keep_texts)


def _group_by_target(plans: Iterable[FilePlan]) -> dict[Path, list[tuple[str, Fix]]]:
    """The fixes of all plans, grouped by the file each one edits (in first-seen order)."""
    grouped: dict[Path, list[tuple[str, Fix]]] = {}
    names: dict[Path, Path] = {}
    for plan in plans:
        for target, code, fix in plan.fixes:
            key = target.resolve()
            name = names.setdefault(key, target)
            grouped.setdefault(name, []).append((code, fix))
    return grouped


def _write_diff(text: str) -> None:
    """Print a diff; a reader that stopped reading (``| head``) is not an error."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        # Python's recommended way out: point stdout at devnull so that the
        # interpreter's final flush does not fail again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _summary(scanned: int, changed: int, by_code: Counter[str], errors: int, check: bool) -> str:
    verb = "would change" if check else "changed"
    fixes = ", ".join(f"{code} x{count}" for code, count in sorted(by_code.items())) or "none"
    text = f"safeloader-fix: {scanned} files scanned, {changed} {verb}; fixes: {fixes}"
    return text + (f"; {errors} could not be processed" if errors else "")


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``safeloader-fix``; return its exit status."""
    args = build_parser().parse_args(argv)
    configured = safeloader_settings(Path.cwd())
    keras_version = args.keras_version or configured.get("keras_version", "auto")
    if keras_version not in ("2", "3", "auto"):
        print(f"safeloader-fix: safeloader-keras-version = {keras_version!r} in the flake8 "
              "configuration; expected 2, 3 or auto", file=sys.stderr)
        return 2
    guards = args.guards if args.guards is not None else comma_separated(
        configured.get("guards")
    )
    config = AnalysisConfig(keras_version=keras_version, extra_guards=frozenset(guards))
    selection = FixSelection(args.select, args.ignore, args.unsafe_fixes)
    write = not (args.check or args.diff)
    files = list(dict.fromkeys(python_files(args.paths, args.exclude)))
    missing = [path for path in files if not path.exists()]
    errors = len(missing)
    for path in missing:
        print(f"{path}: no such file or directory", file=sys.stderr)
    files = [path for path in files if path.exists()]

    jobs = max(1, args.jobs)
    pool: ProcessPoolExecutor | None = None
    try:
        if jobs > 1 and len(files) >= ANALYSIS_POOL_MIN_FILES:
            pool = _process_pool(jobs)
        plans = _with_progress(
            partial(plan_file, config=config, selection=selection), files, pool, jobs,
            "files analysed",
        )
        for plan in plans:
            if plan.error is not None:
                errors += 1
                print(f"{plan.path}: {plan.error}; left unchanged", file=sys.stderr)
        targets = list(_group_by_target(plans).items())
        if pool is None and jobs > 1 and len(targets) >= FIX_POOL_MIN_FILES:
            pool = _process_pool(jobs)
        outcomes = _with_progress(
            partial(_fix_job, write=write, keep_texts=args.diff), targets,
            pool if len(targets) >= FIX_POOL_MIN_FILES else None, jobs, "files fixed",
        )
    finally:
        if pool is not None:
            pool.shutdown()

    by_code: Counter[str] = Counter()
    changed = 0
    for outcome in outcomes:
        for warning in outcome.warnings:
            print(f"{outcome.path}:{warning}", file=sys.stderr)
        if outcome.error is not None:
            errors += 1
            print(f"{outcome.path}: {outcome.error}; left unchanged", file=sys.stderr)
        if outcome.changed:
            changed += 1
            by_code.update(outcome.applied)
            if outcome.texts is not None:
                _write_diff(unified_diff(outcome.path, *outcome.texts))
    print(_summary(len(files), changed, by_code, errors, not write), file=sys.stderr)
    if errors:
        return 2
    return 1 if args.check and changed else 0


if __name__ == "__main__":
    sys.exit(main())
