"""Every fixture with an expected output: fixed by ``safeloader-fix``, it must equal
``fixtures/expected/<name>.py`` byte for byte, lint clean of fixable findings of its
rule afterwards, and a second run must change nothing.

A fixture's rule is the prefix of its name (``sld105_pydataset_init.py`` fixes
SLD105); it runs with that rule selected and unsafe fixes allowed, so that rules off
by default (SLD203) and unsafe fixes (SLD102) are covered too.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from safeloader.analysis import analyze_source
from safeloader.fix_cli import main
from safeloader.fix_selection import FixSelection

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
EXPECTED = sorted((FIXTURES / "expected").glob("*.py"))


def test_there_are_expected_outputs_for_the_fixable_rules() -> None:
    codes = {path.name.split("_")[0].upper() for path in EXPECTED}
    assert {"SLD101", "SLD102", "SLD301"} <= codes


@pytest.mark.parametrize("expected", EXPECTED, ids=[path.name for path in EXPECTED])
def test_fixture_is_fixed_as_expected(expected: Path, tmp_path: Path) -> None:
    code = expected.name.split("_")[0].upper()
    fixture = tmp_path / expected.name
    shutil.copyfile(FIXTURES / expected.name, fixture)
    options = ["--select", code, "--unsafe-fixes", "-j", "1"]

    assert main([*options, str(fixture)]) == 0
    assert fixture.read_text() == expected.read_text()

    findings = analyze_source(fixture.read_text(), fixture)
    selection = FixSelection((code,), (), unsafe_fixes=True)
    assert selection.fixes_to_apply(findings) == []

    mtime = fixture.stat().st_mtime_ns
    assert main([*options, "--check", str(fixture)]) == 0
    assert fixture.stat().st_mtime_ns == mtime
