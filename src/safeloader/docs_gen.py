"""Write ``docs/rules/SLDnnn.md`` from the rule registry: ``python -m safeloader.docs_gen``.

``--check`` writes nothing and exits 1 when a committed page differs from the
registry (or is missing, or belongs to no rule).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from safeloader.rules import RULES, render_markdown


def expected_pages() -> dict[str, str]:
    """Return every rule page's file name and its content."""
    return {f"{code}.md": render_markdown(rule) for code, rule in RULES.items()}


def stale_pages(directory: Path) -> list[str]:
    """Return the names of pages in ``directory`` that differ from, or lack, the registry's."""
    expected = expected_pages()
    stale = [
        name for name, text in expected.items()
        if not (directory / name).is_file()
        or (directory / name).read_text(encoding="utf-8") != text
    ]
    stale += sorted(
        path.name for path in directory.glob("SLD*.md") if path.name not in expected
    )
    return stale


def write_pages(directory: Path) -> None:
    """Write every rule page into ``directory`` (created if missing)."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in expected_pages().items():
        (directory / name).write_text(text, encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    """Write or check the rule pages; return the exit status."""
    parser = argparse.ArgumentParser(prog="python -m safeloader.docs_gen", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("docs/rules"),
                        help="directory of the pages (default: docs/rules)")
    parser.add_argument("--check", action="store_true",
                        help="report stale pages instead of writing them")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_pages(args.out)
        for name in stale:
            print(f"stale: {args.out / name}", file=sys.stderr)
        return 1 if stale else 0
    write_pages(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
