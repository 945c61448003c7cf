"""Which fixes ``safeloader-fix`` applies: ``--select``, ``--ignore``, ``--unsafe-fixes``."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterable, Sequence

from safeloader.findings import Finding, Fix


def comma_separated(value: str | None) -> tuple[str, ...]:
    """A comma-separated option value (``"SLD101, SLD3"``) as a tuple (``("SLD101", "SLD3")``)."""
    return tuple(code.strip() for code in (value or "").split(",") if code.strip())


def fix_key(fix: Fix) -> tuple[object, ...]:
    """A hashable identity of ``fix``: two findings asking for one edit share it."""
    return (fix.kind, fix.span, fix.path, tuple(sorted(fix.params.items())))


@dataclass(frozen=True)
class FixSelection:
    """The user's choice of rules and fix safety.

    ``select`` and ``ignore`` hold codes or code prefixes, as flake8 reads them
    (``SLD1`` selects SLD101 to SLD105). An empty ``select`` means every rule
    that is on by default (all but SLD203). A rule's unsafe fixes (SLD102)
    apply only with ``unsafe_fixes``.
    """

    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    unsafe_fixes: bool = False

    def allows(self, code: str) -> bool:
        """Whether the fixes of rule ``code`` may be applied."""
        from safeloader.rules import RULES, FixSafety

        rule = RULES.get(code)
        if rule is None:
            return False
        if self.select:
            selected = _longest_prefix(code, self.select)
            if selected < 0:
                return False
        elif rule.default_enabled:
            selected = 0
        else:
            return False
        if _longest_prefix(code, self.ignore) >= selected:
            return False
        return rule.fix_safety is FixSafety.SAFE or (
            rule.fix_safety is FixSafety.UNSAFE and self.unsafe_fixes
        )

    def findings_to_fix(self, findings: Iterable[Finding]) -> list[Finding]:
        """The findings with fixes whose rules this selection allows."""
        return [finding for finding in findings if finding.fixes and self.allows(finding.code)]

    def fixes_to_apply(self, findings: Iterable[Finding]) -> list[tuple[str, Fix]]:
        """The ``(code, fix)`` pairs of the allowed findings, each edit once."""
        seen: set[tuple[object, ...]] = set()
        chosen: list[tuple[str, Fix]] = []
        for finding in self.findings_to_fix(findings):
            for fix in finding.fixes:
                key = fix_key(fix)
                if key not in seen:
                    seen.add(key)
                    chosen.append((finding.code, fix))
        return chosen

    def held_back(self, findings: Sequence[Finding]) -> list[Finding]:
        """The findings with fixes that only ``unsafe_fixes`` lets be applied."""
        if self.unsafe_fixes:
            return []
        unsafe = replace(self, unsafe_fixes=True)
        return [finding for finding in unsafe.findings_to_fix(findings)
                if not self.allows(finding.code)]


def _longest_prefix(code: str, prefixes: tuple[str, ...]) -> int:
    """Length of the longest of ``prefixes`` that ``code`` starts with, or -1."""
    return max((len(prefix) for prefix in prefixes if code.startswith(prefix)), default=-1)
