"""What the doctor reports at a call site: a rule's code, its message, two places.

Codes and message templates come from the rule registry
(:mod:`safeloader.rules`), the one the lint reads: the doctor fills a rule's
template with what it saw at run time. A code the registry does not hold (yet)
gets the doctor's own account of what it saw.
"""

from __future__ import annotations

import string
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


def rule_message(code: str, fields: Mapping[str, str], account: str) -> str:
    """The registry's message of ``code`` filled with ``fields`` (without the code);
    ``account`` when the registry has no such rule or its template wants other fields."""
    rule = RULES.get(code)
    if rule is None:
        return account
    wanted = {name for _, name, _, _ in string.Formatter().parse(rule.message) if name}
    if not wanted <= set(fields):
        return account
    return rule.message.format(**fields)
