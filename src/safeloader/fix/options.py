"""What ``safeloader-fix`` and ``safeloader lint`` share on their command lines:
the arguments that choose files and codes, the check of rule codes, and
flake8's command line for those choices (so that flake8 reads its
configuration and applies it as ``flake8`` itself would)."""

from __future__ import annotations

import argparse
from typing import Sequence

from safeloader.analysis.config import KERAS_VERSIONS
from safeloader.fix.flake8_reporting import Flake8Reporting
from safeloader.fix.selection import comma_separated
from safeloader.rules import RULES

#: the prefix every safeloader code starts with
CODE_FAMILY = "SLD"


def rule_codes(value: str) -> tuple[str, ...]:
    """``--select``/``--ignore``: comma-separated codes or prefixes, each naming at
    least one of safeloader's rules (a typo would otherwise select nothing)."""
    codes = comma_separated(value)
    for code in codes:
        if not any(known.startswith(code) for known in RULES):
            raise argparse.ArgumentTypeError(
                f"unknown code {code!r}: safeloader's codes are {', '.join(sorted(RULES))} "
                f"(or a prefix of them, such as {CODE_FAMILY}1)"
            )
    return codes


def flake8_arguments(
    paths: Sequence[str], select: Sequence[str] = (), ignore: Sequence[str] = (),
    keras_version: str | None = None, guards: Sequence[str] | None = None,
) -> list[str]:
    """flake8's command line for the same files and choices."""
    argv = [*paths]
    if select:
        argv.append("--select=" + ",".join(select))
    if ignore:
        argv.append("--ignore=" + ",".join(ignore))
    if keras_version is not None:
        argv.append("--safeloader-keras-version=" + keras_version)
    if guards is not None:
        argv.append("--safeloader-guards=" + ",".join(guards))
    return argv


def add_flake8_choices(parser: argparse.ArgumentParser, verb: str) -> None:
    """Add the arguments flake8 is given for a run: the paths, ``--select``,
    ``--ignore``, ``--exclude``, ``--keras-version`` and ``--guards``; ``verb``
    says what the command does to a selected code (``"fix"``, ``"report"``)."""
    parser.add_argument("paths", nargs="*", default=["."], metavar="PATH",
                        help="files or directories (default: the current directory)")
    parser.add_argument("--select", type=rule_codes, default=(), metavar="CODES",
                        help=f"comma-separated codes or prefixes to {verb} (default: what the "
                        "flake8 configuration selects, else the rules on by default)")
    parser.add_argument("--ignore", type=rule_codes, default=(), metavar="CODES",
                        help=f"comma-separated codes or prefixes not to {verb}")
    parser.add_argument("--exclude", type=comma_separated, default=(), metavar="GLOBS",
                        help="comma-separated globs of files and directories to skip, added to "
                        "flake8's exclude and extend-exclude")
    parser.add_argument("--keras-version", choices=KERAS_VERSIONS,
                        help="the Keras the code targets (default: safeloader-keras-version of "
                        "the flake8 configuration, else auto)")
    parser.add_argument("--guards", type=comma_separated, metavar="NAMES",
                        help="comma-separated extra names that make a generator thread-safe "
                        "(default: safeloader-guards of the flake8 configuration)")


def flake8_reporting(args: argparse.Namespace) -> Flake8Reporting:
    """flake8's reporting for the choices :func:`add_flake8_choices` parsed into ``args``;
    raises :class:`~safeloader.fix.flake8_reporting.Flake8ConfigurationError` when flake8
    rejects its configuration."""
    return Flake8Reporting.from_arguments(
        flake8_arguments(args.paths, args.select, args.ignore, args.keras_version, args.guards),
        extra_exclude=args.exclude,
    )
