"""Packaging promises: a light import, py.typed, and the README quick start that CI runs."""

from __future__ import annotations

import importlib.metadata
import importlib.resources
import json
import re
import subprocess
import sys
from pathlib import Path

import safeloader

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("tensorflow", "keras", "tf_keras")


def test_import_safeloader_imports_no_tensorflow_or_keras():
    probe = (
        "import json, sys, safeloader\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    modules = json.loads(result.stdout)
    heavy = [m for m in modules if m.split(".")[0] in HEAVY]
    assert "safeloader" in modules
    assert heavy == []


def test_py_typed_is_shipped():
    marker = importlib.resources.files("safeloader").joinpath("py.typed")
    assert marker.is_file()


def test_version_matches_the_installed_metadata():
    assert safeloader.__version__ == importlib.metadata.version("safeloader")


def _quick_start_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = re.search(r"^## Quick start\s*$(.*?)(?=^## |\Z)", readme, re.M | re.S)
    assert section, "README.md has no '## Quick start' section"
    block = re.search(r"```(?:sh|bash|console)?\n(.*?)```", section.group(1), re.S)
    assert block, "the quick start has no code block"
    return [
        line.strip()
        for line in block.group(1).splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]


def test_readme_quick_start_is_exactly_two_commands():
    commands = _quick_start_commands()
    assert len(commands) == 2, commands
    install_and_demo, install_and_test = commands
    assert install_and_demo.startswith("pip install") and "safeloader demo" in install_and_demo
    assert install_and_test.startswith("pip install") and "pytest" in install_and_test


def test_ci_runs_the_readme_test_command_verbatim():
    test_command = _quick_start_commands()[1]
    ci_lines = [
        line.strip()
        for line in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    assert test_command in ci_lines
