"""What ``safeloader-fix`` and ``safeloader lint`` share on their command lines:
the check of rule codes, and flake8's command line for their choices (so that
flake8 reads its configuration and applies it as ``flake8`` itself would)."""

from __future__ import annotations

import argparse
from typing import Sequence

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
