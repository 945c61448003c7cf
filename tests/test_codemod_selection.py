"""Which findings' fixes are applied: --select/--ignore prefixes, defaults, fix safety."""

from __future__ import annotations

import pytest

from safeloader.findings import Finding, Fix, FixKind, Span
from safeloader.fix.selection import FixSelection, comma_separated

SPAN = Span(1, 0, 1, 5)


def finding(code: str, *fixes: Fix) -> Finding:
    return Finding(code, 1, 0, f"{code} message", fixes)


@pytest.mark.parametrize(
    ("selection", "code", "allowed"),
    [
        (FixSelection(), "SLD101", True),
        (FixSelection(), "SLD203", False),  # off by default
        (FixSelection(select=("SLD203",)), "SLD203", True),
        (FixSelection(), "SLD102", False),  # unsafe
        (FixSelection(unsafe_fixes=True), "SLD102", True),
        (FixSelection(select=("SLD1",)), "SLD301", False),
        (FixSelection(select=("SLD",), ignore=("SLD1",)), "SLD101", False),
        (FixSelection(select=("SLD101",), ignore=("SLD1",)), "SLD101", True),  # longer wins
        (FixSelection(ignore=("SLD301",)), "SLD301", False),
        (FixSelection(), "SLD103", False),  # no fix at all
        (FixSelection(), "E501", False),  # not ours
    ],
)
def test_allows(selection: FixSelection, code: str, allowed: bool) -> None:
    assert selection.allows(code) is allowed


def test_fixes_are_listed_once_with_the_code_that_first_asked() -> None:
    decorate = Fix(FixKind.DECORATE_GENERATOR, SPAN, params={"name": "batches"})
    disable = Fix(FixKind.DISABLE_MULTIPROCESSING, Span(2, 0, 2, 4), params={"keyword": "x"})
    findings = [finding("SLD101", decorate), finding("SLD102", disable, decorate)]
    chosen = FixSelection(unsafe_fixes=True).fixes_to_apply(findings)
    assert chosen == [("SLD101", decorate), ("SLD102", disable)]


def test_held_back_are_the_findings_only_unsafe_fixes_would_fix() -> None:
    decorate = Fix(FixKind.DECORATE_GENERATOR, SPAN, params={"name": "batches"})
    disable = Fix(FixKind.DISABLE_MULTIPROCESSING, Span(2, 0, 2, 4), params={"keyword": "x"})
    safe, unsafe = finding("SLD101", decorate), finding("SLD102", disable, decorate)
    # one per finding, however many edits its fix makes (flake8 shows one line)
    assert FixSelection().held_back([safe, unsafe]) == [unsafe]
    assert FixSelection(unsafe_fixes=True).held_back([safe, unsafe]) == []
    assert FixSelection().held_back([unsafe, finding("SLD103")]) == [unsafe]


def test_comma_separated() -> None:
    assert comma_separated(" SLD101, ,SLD3 ") == ("SLD101", "SLD3")
    assert comma_separated(None) == ()
