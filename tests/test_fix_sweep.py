"""Byte for byte: ``safeloader-fix --check`` over every ``.py`` file of the installed
``keras`` and ``tf_keras`` packages. A file may only be reported as changing when
the analysis has a fixable finding in it; nothing may crash; a file may be refused
(exit 2) only when it really does not parse; and nothing is written (the trees'
modification times are compared before and after)."""

from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path

import pytest

from safeloader.analysis import analyze_source
from safeloader.fix.cli import main
from safeloader.fix.selection import FixSelection
from safeloader.source_text import read_source


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        pytest.skip(f"{name} is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def _snapshot(roots: list[Path]) -> dict[Path, int]:
    return {path: path.stat().st_mtime_ns for root in roots for path in root.rglob("*.py")}


@pytest.mark.slow
def test_installed_keras_sources_change_only_where_a_fix_applies(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)  # flake8's configuration: none (not this repository's)
    roots = [_package_dir("keras"), _package_dir("tf_keras")]
    before = _snapshot(roots)
    assert len(before) > 1000

    status = main(["--check", "--diff", "-j", "2", *map(str, roots)])
    captured = capsys.readouterr()

    assert _snapshot(roots) == before
    # outside the current directory, a diff header keeps the absolute path
    changed = [Path(name) for name in re.findall(r"^\+\+\+ (/.+)$", captured.out, re.M)]
    assert len(changed) == captured.out.count("\n+++ ") + captured.out.startswith("+++ ")
    for path in changed:
        findings = analyze_source(read_source(path).text, path)
        assert FixSelection().fixes_to_apply(findings), f"{path} changed without a fixable finding"
    refused = [line for line in captured.err.splitlines() if line.endswith("; left unchanged")]
    for line in refused:
        name, _, reason = line.partition(": ")
        assert reason.startswith("syntax error"), line
        with pytest.raises(SyntaxError):
            ast.parse(read_source(Path(name)).text)
    summary = captured.err.splitlines()[-1]
    assert summary.startswith(f"safeloader-fix: {len(before)} files scanned, {len(changed)} ")
    assert status == (2 if refused else 1 if changed else 0)
    print(f"swept {len(before)} files: {len(changed)} would change, {len(refused)} refused")
