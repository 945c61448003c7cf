"""Every fixture gives exactly the findings its markers expect: no more, no fewer."""

from __future__ import annotations

import ast
import re
import string
from dataclasses import dataclass
from pathlib import Path

import pytest

from safeloader.analysis import AnalysisConfig, analyze_source, might_have_findings
from safeloader.rules import RULES

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

#: a trailing ``# SLD101`` or ``# SLD101 SLD301`` comment
MARKER = re.compile(r"#\s*(SLD\d{3}(?:\s+SLD\d{3})*)\s*$")
#: ``# fixture-options: key=value key=value`` in the first lines
OPTIONS = re.compile(r"^#\s*fixture-options:(.*)$")
OPTION_LINES = 5
KNOWN_OPTIONS = frozenset({"keras_version", "guards", "select"})


@dataclass(frozen=True)
class FixtureSpec:
    """What a fixture file asks for: the analysis settings and the expected findings."""

    config: AnalysisConfig
    selected: frozenset[str]
    expected: frozenset[tuple[int, str]]


#: folders whose files carry no markers: expected outputs, and the migration projects,
#: whose findings ``test_migration_projects.py`` compares with real flake8's, line for
#: line (their source is quoted in docs/keras3-migration.md, so it stays as users write it)
UNMARKED = frozenset({"expected", "migration"})


def fixture_files() -> list[Path]:
    """Every fixture source file with markers, subdirectories included."""
    return sorted(
        path for path in FIXTURES.rglob("*.py")
        if not UNMARKED & set(path.relative_to(FIXTURES).parts)
    )


def parse_options(source: str) -> dict[str, str]:
    """Read the ``# fixture-options:`` line, if any, as a dict."""
    for line in source.splitlines()[:OPTION_LINES]:
        match = OPTIONS.match(line.strip())
        if match:
            options = dict(item.split("=", 1) for item in match.group(1).split())
            unknown = set(options) - KNOWN_OPTIONS
            if unknown:
                raise ValueError(f"unknown fixture options {sorted(unknown)}")
            return options
    return {}


def read_fixture(path: Path) -> FixtureSpec:
    """Return the settings and expected findings written in the fixture at ``path``."""
    source = path.read_text(encoding="utf-8")
    options = parse_options(source)
    guards = frozenset(filter(None, options.get("guards", "").split(",")))
    config = AnalysisConfig(
        keras_version=options.get("keras_version", "auto"),  # type: ignore[arg-type]
        extra_guards=guards,
        project_root=FIXTURES,
    )
    expected = set()
    for number, line in enumerate(source.splitlines(), start=1):
        match = MARKER.search(line)
        if match:
            expected.update((number, code) for code in match.group(1).split())
    selected = frozenset(filter(None, options.get("select", "").split(",")))
    return FixtureSpec(config, selected, frozenset(expected))


def reported(path: Path, spec: FixtureSpec) -> set[tuple[int, str]]:
    """The ``(line, code)`` pairs a user sees: default-off codes only when selected."""
    findings = analyze_source(path.read_text(encoding="utf-8"), path, spec.config)
    return {
        (finding.line, finding.code)
        for finding in findings
        if RULES[finding.code].default_enabled or finding.code in spec.selected
    }


def _id(path: Path) -> str:
    return str(path.relative_to(FIXTURES))


@pytest.mark.parametrize("path", fixture_files(), ids=_id)
def test_fixture_gives_exactly_the_marked_findings(path: Path) -> None:
    spec = read_fixture(path)
    assert sorted(reported(path, spec)) == sorted(spec.expected)


@pytest.mark.parametrize("path", fixture_files(), ids=_id)
def test_prefilter_passes_every_fixture_with_findings(path: Path) -> None:
    spec = read_fixture(path)
    if spec.expected:
        assert might_have_findings(path.read_text(encoding="utf-8"))


def template_pattern(template: str) -> re.Pattern[str]:
    """A regex matching what ``template`` formats to, with any text for each field."""
    parts = []
    for literal, field, _, _ in string.Formatter().parse(template):
        parts.append(re.escape(literal))
        if field is not None:
            parts.append(".+?")
    return re.compile("".join(parts), re.DOTALL)


@pytest.mark.parametrize("path", fixture_files(), ids=_id)
def test_messages_come_from_the_registry_templates(path: Path) -> None:
    spec = read_fixture(path)
    for finding in analyze_source(path.read_text(encoding="utf-8"), path, spec.config):
        code, _, text = finding.message.partition(" ")
        assert code == finding.code
        assert template_pattern(RULES[code].message).fullmatch(text), finding.message


LOADER_METHODS = {"fit", "evaluate", "predict", "fit_generator", "evaluate_generator",
                  "predict_generator"}


def loader_positions(
    tree: ast.Module,
) -> tuple[set[tuple[int, int]], set[tuple[int, int]], set[tuple[int, int]]]:
    """Starts of loader calls' arguments, of their method names, and of every called name
    (``train`` of ``train(...)`` and of ``lib.train(...)``)."""
    arguments, methods, callees = set(), set(), set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        if isinstance(node.func, ast.Name):
            callees.add((node.func.lineno, node.func.col_offset))
        elif isinstance(node.func, ast.Attribute):
            end_line, end_col = node.func.end_lineno, node.func.end_col_offset
            assert end_line is not None and end_col is not None
            callees.add((end_line, end_col - len(node.func.attr)))
            if node.func.attr in LOADER_METHODS:
                values = [*node.args, *(keyword.value for keyword in node.keywords)]
                arguments.update((value.lineno, value.col_offset) for value in values)
                methods.add((end_line, end_col - len(node.func.attr)))
    return arguments, methods, callees


@pytest.mark.parametrize("path", fixture_files(), ids=_id)
def test_call_site_findings_point_at_the_argument_or_the_method_name(path: Path) -> None:
    """SLD103 may also point at the called function that starts processes in another
    module (``train(model)`` at module level)."""
    spec = read_fixture(path)
    source = path.read_text(encoding="utf-8")
    arguments, methods, callees = loader_positions(ast.parse(source))
    for finding in analyze_source(source, path, spec.config):
        if finding.code in ("SLD101", "SLD102"):
            assert (finding.line, finding.col) in arguments, finding
        elif finding.code in ("SLD301", "SLD302"):
            assert (finding.line, finding.col) in methods, finding
        elif finding.code == "SLD103":
            assert (finding.line, finding.col) in methods | callees, finding


def test_every_rule_has_a_fixture_finding() -> None:
    codes = {code for path in fixture_files() for _, code in read_fixture(path).expected}
    assert codes == set(RULES)


def test_fixtures_include_clean_files_and_the_project_package() -> None:
    clean = [path for path in fixture_files() if not read_fixture(path).expected]
    assert len(clean) >= 3
    assert (FIXTURES / "project_pkg" / "train.py") in fixture_files()


def test_marker_regex_reads_one_or_several_codes_and_ignores_prose() -> None:
    assert MARKER.search("x = f()  # SLD101").group(1) == "SLD101"
    assert MARKER.search("x = f()  # SLD101 SLD301").group(1).split() == ["SLD101", "SLD301"]
    assert MARKER.search("# mentions SLD101 in prose") is None
    assert MARKER.search("x = 1  # SLD101 and more") is None


def test_unknown_fixture_option_is_an_error() -> None:
    with pytest.raises(ValueError, match="colour"):
        parse_options("# fixture-options: colour=blue\n")


def test_an_extra_finding_fails_the_comparison(tmp_path: Path) -> None:
    """The harness catches a false alarm: a finding on an unmarked line."""
    fixture = tmp_path / "extra.py"
    fixture.write_text(
        "def g():\n    yield 1\n\n\ndef t(m):\n    m.fit(g(), workers=4)\n", encoding="utf-8"
    )
    spec = read_fixture(fixture)
    assert spec.expected == frozenset()
    assert reported(fixture, spec) == {(6, "SLD101")}


def test_template_pattern_rejects_drifted_wording() -> None:
    pattern = template_pattern("generator {generator} feeds {call}(...)")
    assert pattern.fullmatch("generator 'g' feeds fit(...)")
    assert not pattern.fullmatch("generator 'g' reaches fit(...)")
