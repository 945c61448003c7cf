"""The lint benchmark runs (on the fixtures, to stay quick), with every stage and with
``--plugin-only``, and the plugin it times reports what the analysis finds."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("extra", [[], ["--plugin-only"]])
def test_bench_lint_runs_on_a_tree(extra: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_lint.py"), "--repeat", "1",
         "--tree", str(ROOT / "fixtures"), *extra],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )
    found = re.search(r"safeloader findings: (\d+)", done.stdout)
    assert found and int(found.group(1)) > 50, done.stdout
    assert re.search(r"plugin run\(\), end to end: [\d.]+ s  ratio [\d.]+", done.stdout)
    assert ("analysis:" in done.stdout) == (not extra)
