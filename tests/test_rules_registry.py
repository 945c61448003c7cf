"""The rule registry: complete, consistent, and its examples do what they claim."""

from __future__ import annotations

import re
import string
import subprocess
import sys

import pytest

from safeloader.analysis import AnalysisConfig, analyze_source
from safeloader.rules import RULES, FixSafety, Rule, print_rule_docs, render_markdown

DESIGN_CODES = [
    "SLD101", "SLD102", "SLD103", "SLD104", "SLD105",
    "SLD201", "SLD202", "SLD203", "SLD301", "SLD302", "SLD303", "SLD304", "SLD305", "SLD306",
]
HEADINGS = [
    "## What it does", "## Why is this bad?", "## Example", "## Use instead",
    "## Fix safety", "## References",
]


def visible_codes(source: str, rule: Rule) -> list[str]:
    """Codes a user sees for ``source`` with ``rule`` enabled (other default-off codes hidden)."""
    config = AnalysisConfig(keras_version="3" if rule.keras3_only else "2")
    return [
        finding.code for finding in analyze_source(source, None, config)
        if RULES[finding.code].default_enabled or finding.code == rule.code
    ]


def test_registry_holds_every_design_code_in_order() -> None:
    assert list(RULES) == DESIGN_CODES
    assert all(code == rule.code for code, rule in RULES.items())


@pytest.mark.parametrize("code", DESIGN_CODES)
def test_example_gives_exactly_its_rule(code: str) -> None:
    rule = RULES[code]
    found = visible_codes(rule.example, rule)
    assert found and set(found) == {code}


@pytest.mark.parametrize("code", DESIGN_CODES)
def test_use_instead_gives_nothing(code: str) -> None:
    rule = RULES[code]
    assert visible_codes(rule.use_instead, rule) == []


@pytest.mark.parametrize("code", DESIGN_CODES)
def test_rule_fields_are_well_formed(code: str) -> None:
    rule = RULES[code]
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)+", rule.name)
    assert "\n" not in rule.summary and rule.summary.endswith(".")
    fields = [name for _, name, _, _ in string.Formatter().parse(rule.message) if name]
    assert fields, "the message template names what it reports"
    assert rule.format(**{name: "X" for name in fields}).startswith(f"{code} ")
    assert (rule.fix_title is None) == (rule.fix_safety is FixSafety.NONE)
    assert rule.fix_safety_note and rule.what_it_does and rule.why_bad
    assert rule.references and all(url.startswith("https://") for url in rule.references)


def test_names_are_unique() -> None:
    assert len({rule.name for rule in RULES.values()}) == len(RULES)


def test_flags_match_the_design() -> None:
    assert [c for c, r in RULES.items() if not r.default_enabled] == ["SLD203"]
    assert [c for c, r in RULES.items() if r.keras3_only] == [
        "SLD302", "SLD303", "SLD304", "SLD305", "SLD306"]
    assert RULES["SLD102"].fix_safety is FixSafety.UNSAFE
    assert RULES["SLD103"].fix_safety is FixSafety.UNSAFE
    assert RULES["SLD203"].fix_safety is FixSafety.SAFE
    assert RULES["SLD302"].fix_safety is FixSafety.SAFE
    assert all(RULES[c].fix_safety is FixSafety.SAFE for c in ("SLD303", "SLD304", "SLD305"))
    assert {c for c, r in RULES.items() if r.fix_safety is FixSafety.NONE} == {"SLD104", "SLD306"}


@pytest.mark.parametrize("code", DESIGN_CODES)
def test_markdown_page_has_ruffs_headings_in_order(code: str) -> None:
    page = render_markdown(RULES[code])
    assert page.startswith(f"# {code} ({RULES[code].name})\n")
    positions = [page.index(heading) for heading in HEADINGS]
    assert positions == sorted(positions)
    assert RULES[code].example in page and RULES[code].use_instead in page


def test_default_off_and_keras3_rules_say_so_on_their_page() -> None:
    assert "--extend-select SLD203" in render_markdown(RULES["SLD203"])
    assert "Keras 3 is targeted" in render_markdown(RULES["SLD302"])
    assert "--extend-select" not in render_markdown(RULES["SLD101"])


def test_print_rule_docs_prints_the_page(capsys: pytest.CaptureFixture[str]) -> None:
    assert print_rule_docs("sld101") == 0
    assert capsys.readouterr().out == render_markdown(RULES["SLD101"])


def test_print_rule_docs_all_prints_every_rule(capsys: pytest.CaptureFixture[str]) -> None:
    assert print_rule_docs("all") == 0
    out = capsys.readouterr().out
    assert [line[2:8] for line in out.splitlines() if line.startswith("# SLD")] == DESIGN_CODES


def test_print_rule_docs_unknown_code(capsys: pytest.CaptureFixture[str]) -> None:
    assert print_rule_docs("SLD999") == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "SLD999" in captured.err and "SLD101" in captured.err


def test_safeloader_rule_command_in_a_subprocess() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "safeloader.cli", "rule", "SLD301"],
        capture_output=True, text=True, check=False,
    )
    assert done.returncode == 0
    assert done.stdout == render_markdown(RULES["SLD301"])
    unknown = subprocess.run(
        [sys.executable, "-m", "safeloader.cli", "rule", "NOPE"],
        capture_output=True, text=True, check=False,
    )
    assert unknown.returncode == 2 and "NOPE" in unknown.stderr
