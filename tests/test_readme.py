"""The README's rule table lists exactly the registry's rules, each linked to its page."""

from __future__ import annotations

import re
from pathlib import Path

from safeloader.rules import RULES

ROOT = Path(__file__).resolve().parent.parent


def test_readme_rule_table_matches_the_registry():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    linked = re.findall(r"^\| \[(SLD\d{3})\]\(docs/rules/(SLD\d{3})\.md\) \|", readme, re.M)
    assert [code for code, _ in linked] == list(RULES)
    for code, page in linked:
        assert code == page
        assert (ROOT / "docs" / "rules" / f"{page}.md").is_file()
