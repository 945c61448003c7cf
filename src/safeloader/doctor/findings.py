"""What the doctor reports at a call site: a rule's code, its message, two places.

Codes and message templates come from the rule registry
(:mod:`safeloader.rules`), the one the lint reads: the doctor fills a rule's
template with what it saw at run time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from safeloader.doctor.callsite import SourcePosition
from safeloader.rules import RULES


@dataclass(frozen=True)
class RuntimeFinding:
    """A hazard seen at run time.

    ``position`` is the call's line; ``definition`` the line that made the
    offending object (a generator's function, a class), when known.
    ``defused`` says what the doctor changed in this call so that the run
    could go on (``None``: nothing).
    """

    code: str
    message: str
    position: SourcePosition
    definition: SourcePosition | None = None
    defused: str | None = None


def rule_message(code: str, fields: Mapping[str, str]) -> str:
    """The registry's message of ``code`` filled with ``fields`` (without the code):
    the lint's own words, so that the doctor and flake8 cannot drift apart."""
    return RULES[code].message.format(**fields)
