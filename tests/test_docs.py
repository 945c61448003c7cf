"""The committed rule pages are exactly what the registry generates."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from safeloader.docs_gen import expected_pages, main, stale_pages
from safeloader.rules import RULES

DOCS = Path(__file__).resolve().parent.parent / "docs" / "rules"


def test_committed_pages_match_the_registry() -> None:
    stale = stale_pages(DOCS)
    assert stale == [], f"regenerate with: python -m safeloader.docs_gen ({stale})"


def test_one_page_per_rule() -> None:
    assert sorted(path.stem for path in DOCS.glob("SLD*.md")) == sorted(RULES)


def test_check_mode_reports_a_changed_missing_and_orphan_page(tmp_path: Path) -> None:
    assert main(["--out", str(tmp_path)]) == 0
    assert stale_pages(tmp_path) == []
    (tmp_path / "SLD101.md").write_text("edited by hand\n", encoding="utf-8")
    (tmp_path / "SLD102.md").unlink()
    (tmp_path / "SLD999.md").write_text("no such rule\n", encoding="utf-8")
    assert stale_pages(tmp_path) == ["SLD101.md", "SLD102.md", "SLD999.md"]
    assert main(["--out", str(tmp_path), "--check"]) == 1


def test_module_entry_point_writes_the_pages(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "safeloader.docs_gen", "--out", str(tmp_path / "rules")],
        check=True,
    )
    written = {path.name: path.read_text(encoding="utf-8")
               for path in (tmp_path / "rules").iterdir()}
    assert written == expected_pages()
