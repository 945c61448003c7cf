"""The ``safeloader-fix`` command: apply safeloader's fixes to files in place.

Exit status: 0 when nothing needed fixing or everything was fixed, 1 with
``--check`` when a file would change, 2 when a file could not be processed
(it is named on stderr with the reason and left untouched; the other files
are still processed).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from dataclasses import dataclass, field
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path
from typing import Iterable, Sequence

from safeloader import __version__
from safeloader.findings import Fix
from safeloader.fix.dependency_note import missing_dependency_notes
from safeloader.fix.flake8_reporting import Flake8ConfigurationError, Flake8Reporting
from safeloader.fix.interruptible import Interruptible
from safeloader.fix.options import CODE_FAMILY, add_flake8_choices, flake8_reporting
from safeloader.fix.progress import ProgressBar
from safeloader.fix.runner import FileOutcome, FilePlan, fix_file, plan_file
from safeloader.fix.selection import FixSelection, fix_key
from safeloader.fix.unified_diff import unified_diff
from safeloader.rules import RULES

#: below this many files a process pool costs more than it saves: analysing a
#: file takes about a millisecond, rewriting one with LibCST tens of them
ANALYSIS_POOL_MIN_FILES = 64
FIX_POOL_MIN_FILES = 8
#: the exit status of a run stopped by Ctrl-C (128 + SIGINT, as shells report it)
EXIT_INTERRUPTED = 130


def positive_count(value: str) -> int:
    """``-j``: a whole number of processes, at least 1."""
    try:
        count = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
    if count < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1 process, got {count}")
    return count


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``safeloader-fix``."""
    parser = argparse.ArgumentParser(
        prog="safeloader-fix",
        description="Fix thread-unsafe generators fed to Keras and deprecated *_generator "
        "calls, in place, changing nothing else.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    add_flake8_choices(parser, "fix")
    parser.add_argument("--diff", action="store_true",
                        help="print a unified diff of the fixes instead of writing them")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 when a file would change")
    parser.add_argument("--unsafe-fixes", action="store_true",
                        help="also apply fixes that may change behaviour (SLD102, SLD103)")
    parser.add_argument("-j", "--jobs", type=positive_count, default=os.cpu_count() or 1,
                        metavar="N", help="processes to use for many files (default: one per CPU)")
    return parser


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


def fixed_findings(plans: Iterable[FilePlan], outcomes: Iterable[FileOutcome]) -> Counter[str]:
    """How many findings of each code the run fixed: one per finding flake8 shows,
    counted when every edit it asks for (in whichever file) was made, however
    many edits that is and however many findings share one."""
    made = {
        (outcome.path.resolve(), fix_key(fix))
        for outcome in outcomes if outcome.changed for _, fix in outcome.applied
    }
    counts: Counter[str] = Counter()
    for plan in plans:
        for finding in plan.findings:
            if all((target.resolve(), fix_key(fix)) in made for target, fix in finding.fixes):
                counts[finding.code] += 1
    return counts


def _write_diff(text: str) -> None:
    """Print a diff; a reader that stopped reading (``| head``) is not an error."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        # Python's recommended way out: point stdout at devnull so that the
        # interpreter's final flush does not fail again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


@dataclass
class RunSummary:
    """The counts the last line of a run reports (``by_code``: findings fixed,
    ``held_back``: findings only ``--unsafe-fixes`` would fix)."""

    scanned: int
    errors: int = 0
    changed: int = 0
    held_back: int = 0
    by_code: Counter[str] = field(default_factory=Counter)

    def line(self, *, check: bool, interrupted: bool) -> str:
        """``safeloader-fix: N files scanned, M changed; fixes: SLD101 x2; ...``."""
        verb = "would change" if check else "changed"
        fixes = ", ".join(
            f"{code} x{count}" for code, count in sorted(self.by_code.items())
        ) or "none"
        text = f"safeloader-fix: {self.scanned} files scanned, {self.changed} {verb}; " \
               f"fixes: {fixes}"
        if self.held_back:
            text += f"; {self.held_back} more with --unsafe-fixes"
        if self.errors:
            text += f"; {self.errors} could not be processed"
        if interrupted:
            text += "; interrupted, the other files left as they were"
        return text


def _plan_and_fix(
    files: Sequence[Path], reporting: Flake8Reporting, selection: FixSelection,
    args: argparse.Namespace, runner: Interruptible,
) -> tuple[list[FilePlan], list[FileOutcome]]:
    """Analyse ``files``, then rewrite the files the plans target (in a process pool
    when there are enough of either), unless Ctrl-C stopped the analysis."""
    write = not (args.check or args.diff)
    jobs = args.jobs
    pool: ProcessPoolExecutor | None = None
    outcomes: list[FileOutcome] = []
    try:
        if jobs > 1 and len(files) >= ANALYSIS_POOL_MIN_FILES:
            pool = runner.pool(jobs)
        plans = runner.map(
            partial(plan_file, config=reporting.analysis_config(), selection=selection,
                    reporting=reporting),
            files, pool, jobs, ProgressBar(sys.stderr, len(files), "files analysed"),
        )
        targets = list(_group_by_target(plans).items())
        if not runner.interrupted:
            if pool is None and jobs > 1 and len(targets) >= FIX_POOL_MIN_FILES:
                pool = runner.pool(jobs)
            outcomes = runner.map(
                partial(_fix_job, write=write, keep_texts=args.diff), targets,
                pool if len(targets) >= FIX_POOL_MIN_FILES else None, jobs,
                ProgressBar(sys.stderr, len(targets), "files fixed"),
            )
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    return plans, outcomes


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``safeloader-fix``; return its exit status."""
    args = build_parser().parse_args(argv)
    try:
        reporting = flake8_reporting(args)
    except Flake8ConfigurationError as error:
        print(f"safeloader-fix: {error}", file=sys.stderr)
        return 2
    if reporting.selects_none_of(RULES):
        print("safeloader-fix: flake8's configuration selects none of the SLD codes "
              "(see its select/ignore); nothing to fix", file=sys.stderr)
    # which codes is flake8's decision (``reporting``); the selection adds fix safety
    selection = FixSelection(select=(CODE_FAMILY,), unsafe_fixes=args.unsafe_fixes)
    files = reporting.files(notebooks=True)
    missing = [path for path in files if not os.path.lexists(path)]
    for path in missing:
        print(f"{path}: no such file or directory", file=sys.stderr)
    files = [path for path in files if os.path.lexists(path)]

    runner = Interruptible()
    with runner.catching():
        plans, outcomes = _plan_and_fix(files, reporting, selection, args, runner)

    summary = RunSummary(scanned=len(plans), errors=len(missing))
    for plan in plans:
        summary.held_back += plan.held_back
        if plan.error is not None:
            summary.errors += 1
            print(f"{plan.path}: {plan.error}; left unchanged", file=sys.stderr)
        if plan.note is not None:
            print(f"{plan.path}: {plan.note}", file=sys.stderr)
    for outcome in outcomes:
        for warning in outcome.warnings:
            print(f"{outcome.path}:{warning}", file=sys.stderr)
        if outcome.error is not None:
            summary.errors += 1
            print(f"{outcome.path}: {outcome.error}; left unchanged", file=sys.stderr)
        if outcome.changed:
            summary.changed += 1
            for change in outcome.changes:
                _write_diff(unified_diff(outcome.path, change.before, change.after, change.part))
    summary.by_code = fixed_findings(plans, outcomes)
    for note in missing_dependency_notes(
        outcome.path for outcome in outcomes if outcome.changed and outcome.adds_safeloader_import
    ):
        print(note, file=sys.stderr)
    print(summary.line(check=args.check or args.diff, interrupted=runner.interrupted),
          file=sys.stderr)
    if runner.interrupted:
        return EXIT_INTERRUPTED
    if summary.errors:
        return 2
    return 1 if args.check and summary.changed else 0


if __name__ == "__main__":
    sys.exit(main())
