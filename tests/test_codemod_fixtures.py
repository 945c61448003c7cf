"""Every fixture with an expected output: fixed by ``safeloader-fix``, it must equal
``fixtures/expected/<name>.py`` byte for byte, lint clean of fixable findings of its
rule afterwards, and a second run must change nothing.

A fixture's rule is the prefix of its name (``sld105_pydataset_init.py`` fixes
SLD105); it runs with that rule selected and unsafe fixes allowed, so that rules off
by default (SLD203) and unsafe fixes (SLD102) are covered too, and with the Keras
version and guards of its ``# fixture-options:`` line (see ``fixtures/README.md``).
An expected file equal to its fixture is a no-change case; a fixable finding may
remain only where the run warned that it left the code alone; and a fix may not
leave a name undefined (pyflakes).
"""

from __future__ import annotations

import ast
import re
import shutil
from pathlib import Path

import pytest
from pyflakes.checker import Checker
from pyflakes.messages import UndefinedName

from safeloader.analysis import AnalysisConfig, analyze_source
from safeloader.fix.cli import main
from safeloader.fix.selection import FixSelection

pytestmark = pytest.mark.usefixtures("outside_the_repository")

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
EXPECTED = sorted((FIXTURES / "expected").glob("*.py"))
_OPTIONS = re.compile(r"#\s*fixture-options:(.*)$", re.M)


def fixture_options(source: str) -> dict[str, str]:
    """The ``key=value`` pairs of a ``# fixture-options:`` line in the first five lines."""
    match = _OPTIONS.search("".join(source.splitlines(keepends=True)[:5]))
    return dict(pair.split("=", 1) for pair in match.group(1).split()) if match else {}


def cli_options(options: dict[str, str]) -> list[str]:
    """The ``safeloader-fix`` flags that mirror a fixture's analysis options."""
    flags = ["--keras-version", options.get("keras_version", "auto")]
    if "guards" in options:
        flags += ["--guards", options["guards"]]
    return flags


def undefined_names(source: str) -> set[str]:
    """The names pyflakes reports as undefined in ``source``."""
    checker = Checker(ast.parse(source))
    return {
        message.message_args[0]
        for message in checker.messages
        if isinstance(message, UndefinedName)
    }


def test_there_are_expected_outputs_for_the_fixable_rules() -> None:
    codes = {path.name.split("_")[0].upper() for path in EXPECTED}
    assert {"SLD101", "SLD102", "SLD105", "SLD201", "SLD202", "SLD203", "SLD301"} <= codes


@pytest.mark.parametrize("expected", EXPECTED, ids=[path.name for path in EXPECTED])
def test_fixture_is_fixed_as_expected(
    expected: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = expected.name.split("_")[0].upper()
    fixture = tmp_path / expected.name
    shutil.copyfile(FIXTURES / expected.name, fixture)
    options = fixture_options(fixture.read_text())
    flags = ["--select", code, "--unsafe-fixes", "-j", "1", *cli_options(options)]

    assert main([*flags, str(fixture)]) == 0
    assert fixture.read_text() == expected.read_text()
    assert undefined_names(fixture.read_text()) <= undefined_names(
        (FIXTURES / expected.name).read_text()
    )
    warning = re.compile(rf"^{re.escape(str(fixture))}:(\d+):", re.M)
    warned = {int(line) for line in warning.findall(capsys.readouterr().err)}

    config = AnalysisConfig(
        keras_version=options.get("keras_version", "auto"),  # type: ignore[arg-type]
        extra_guards=frozenset(filter(None, options.get("guards", "").split(","))),
    )
    findings = analyze_source(fixture.read_text(), fixture, config)
    remaining = FixSelection((code,), (), unsafe_fixes=True).fixes_to_apply(findings)
    assert {fix.span.line for _, fix in remaining} <= warned

    mtime = fixture.stat().st_mtime_ns
    assert main([*flags, "--check", str(fixture)]) == 0
    assert fixture.stat().st_mtime_ns == mtime


def test_generators_of_a_project_package_are_fixed_in_their_own_modules(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES / "project_pkg", tmp_path / "project_pkg")
    package = tmp_path / "project_pkg"
    flags = ["--keras-version", "2", "-j", "1"]

    assert main([*flags, str(package)]) == 0
    expected_dir = FIXTURES / "expected" / "project_pkg"
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package)
        expected = expected_dir / relative
        reference = expected if expected.exists() else FIXTURES / "project_pkg" / relative
        assert path.read_text() == reference.read_text(), relative
    assert main([*flags, "--check", str(package)]) == 0
